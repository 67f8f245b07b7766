"""The command line: one thin function per command → action → rendered result + exit code.

Only this module catches IspaError: it prints `error:` and `hint:`, logs the
traceback, and exits with the error's code. Actions are imported lazily so that
`ispa-cert --help` stays fast.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__
from .errors import EXIT_INTERRUPTED, EXIT_UNEXPECTED, IspaError

log = logging.getLogger("ispa_acmewrap")

HELP = """Let's Encrypt certificates for the web interfaces of an ISPadmin server.

Checks DNS and port 80 before the CA is asked, issues certificates with acme.sh
over HTTP-01, installs them into Apache with a backup (rolled back if Apache
rejects the change) and renews them from /etc/crontab.

Typical first run:  ispa-cert issue -a -c
"""

EXIT_CODES = """
Exit codes: 0 success (also "nothing due"), 1 failed and rolled back, 2 bad input,
3 precondition missing, 4 rate-limited (wait), 5 locked by another run,
6 rollback failed (manual action needed), 70 unexpected error, 130 interrupted.
"""

app = typer.Typer(help=HELP, rich_markup_mode=None, no_args_is_help=True, add_completion=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
cron_app = typer.Typer(help="Manage the one /etc/crontab entry that runs `ispa-cert renew --cron`.",
                       rich_markup_mode=None, no_args_is_help=True)
backups_app = typer.Typer(help="List and restore the backups made before every Apache change.",
                          rich_markup_mode=None, no_args_is_help=True)
app.add_typer(cron_app, name="cron")
app.add_typer(backups_app, name="backups")


class Context:
    """What the global options decided, handed to each command."""

    root: Optional[str] = None
    verbose: bool = False


GLOBAL = Context()


def _version(value: bool) -> None:
    if value:
        print(f"ispa-cert {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    root: Annotated[Optional[str], typer.Option(
        "--root", envvar="ISPA_ROOT", metavar="DIR",
        help="Prefix of every system path (/etc, /data, /var, /run). Default: /. "
             "Tests and the demo use a sandbox directory.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every command run and its output.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    GLOBAL.root = root
    GLOBAL.verbose = verbose


def _settings(**overrides):
    from dataclasses import replace

    from .settings import load_settings

    settings = load_settings(GLOBAL.root, GLOBAL.verbose)
    given = {key: value for key, value in overrides.items() if value not in (None, (), [])}
    return replace(settings, **given)


def _console(yes: bool = False, quiet: bool = False):
    from .report import Console

    return Console(interactive=sys.stdin.isatty(), assume_yes=yes, quiet=quiet)


def _setup_logging(settings, quiet: bool) -> Path | None:
    log.setLevel(logging.DEBUG)
    log.handlers.clear()
    log_file = settings.paths.log_file
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
    except OSError as error:
        print(f"warning: cannot write the log {log_file}: {error}", file=sys.stderr)
        log_file = None
    if settings.verbose and not quiet:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.INFO)
        stream.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(stream)
    return log_file


def _execute(settings, body: Callable[[], int | None], quiet: bool = False, recover: bool = True) -> None:
    """Run a command body; turn every outcome into a message and an exit code."""
    log_file = _setup_logging(settings, quiet)
    log.info("ispa-cert %s: %s", __version__, " ".join(sys.argv[1:]))
    try:
        if recover:
            _recover_interrupted(settings)
        code = body() or 0
    except IspaError as error:
        log.info("failed: %s", error.message, exc_info=True)
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        code = error.exit_code
    except KeyboardInterrupt:
        log.info("interrupted")
        print("\ninterrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 - the one place an unexpected failure becomes a message
        log.exception("unexpected error")
        where = log_file or "the log"
        print(f"error: unexpected error — the details are in {where}", file=sys.stderr)
        code = EXIT_UNEXPECTED
    raise typer.Exit(code)


def _recover_interrupted(settings) -> None:
    from .transaction import recover

    if settings.paths.pending_marker.exists():
        message = recover(settings.paths)
        if message:
            print(f"notice: {message}", file=sys.stderr)
            log.warning(message)


def _locked(settings, command: str):
    from .lock import exclusive

    return exclusive(settings.paths.lock_file, command)


# --- install ------------------------------------------------------------------------------

@app.command()
def install(
    email: Annotated[Optional[str], typer.Option(help="Contact e-mail for the ACME account (optional).")] = None,
) -> None:
    """Install acme.sh from vendor/ into /data/ispadmin_cert/acme (no network needed).

    `issue` does this on demand; run it by hand to check the set-up.
    """
    settings = _settings()

    def body() -> None:
        from .actions.common import require_root
        from .actions.install import install_acme

        require_root()
        with _locked(settings, "install"):
            install_acme(settings, _console(), email)

    _execute(settings, body)


# --- issue -------------------------------------------------------------------------------

@app.command(epilog=EXIT_CODES)
def issue(
    admin: Annotated[bool, typer.Option("--admin", "-a", help="Certificate for the ISPadmin administration interface.")] = False,
    client: Annotated[bool, typer.Option("--client", "-c", help="Certificate for the client portal.")] = False,
    dealer: Annotated[bool, typer.Option("--dealer", "-d", help="Certificate for the dealer portal.")] = False,
    admin_domain: Annotated[Optional[str], typer.Option(metavar="NAME", help="Domain of the administration interface (instead of asking).")] = None,
    client_domain: Annotated[Optional[str], typer.Option(metavar="NAME", help="Domain of the client portal (instead of asking).")] = None,
    dealer_domain: Annotated[Optional[str], typer.Option(metavar="NAME", help="Domain of the dealer portal (instead of asking).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Answer every question with its safe default (unattended). "
                                      "Proceeds only when every DNS record is right.")] = False,
    email: Annotated[Optional[str], typer.Option(help="Contact e-mail for the ACME account (optional).")] = None,
    server_ip: Annotated[Optional[list[str]], typer.Option(metavar="ADDR", help="A public address of this server "
                         "(repeatable); needed behind NAT, where the public address is not on an interface.")] = None,
    dns_server: Annotated[Optional[str], typer.Option(metavar="HOST[:PORT]", envvar="ISPA_DNS_SERVER",
                          help="Resolver to ask for the DNS check (default: the system's).")] = None,
    dns_timeout: Annotated[Optional[float], typer.Option(metavar="SECONDS", help="Time limit of each DNS query (default 4).")] = None,
    skip_dns_check: Annotated[bool, typer.Option(help="Look up the names but do not stop on wrong records "
                              "(experts: a wrong record then fails at the CA and counts against its limits).")] = False,
    ignore_self_test: Annotated[bool, typer.Option(help="Send names to the CA even when the port-80 self-test failed.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Issue a new certificate even when the current one is not due.")] = False,
    server: Annotated[Optional[str], typer.Option(metavar="URL", envvar="ISPA_ACME_SERVER",
                      help="ACME CA (acme.sh --server). Default: letsencrypt. A test CA's directory URL for tests.")] = None,
    ca_bundle: Annotated[Optional[Path], typer.Option(metavar="FILE", envvar="ISPA_CA_BUNDLE",
                         help="CA certificates that sign the ACME server's HTTPS (acme.sh --ca-bundle); tests only.")] = None,
) -> None:
    """Get certificates for the chosen interfaces and install them into Apache.

    The guided flow: ask the domain names (or take them from options), check
    their DNS against this server's addresses, make sure Apache answers HTTP-01
    challenges (temp_isp.conf for names without a virtual host), test port 80
    the way the CA will, issue with acme.sh, install into Apache with a backup,
    and add the renewal entry to /etc/crontab.
    """
    settings = _settings(server_ips=tuple(server_ip or ()), dns_server=dns_server, dns_timeout=dns_timeout,
                         acme_server=server, ca_bundle=ca_bundle)
    roles = tuple(role for role, chosen in (("admin", admin), ("client", client), ("dealer", dealer)) if chosen)
    console = _console(yes)

    def body() -> None:
        from .actions import issue as action

        options = action.IssueOptions(
            roles=roles, domains={"admin": admin_domain, "client": client_domain, "dealer": dealer_domain},
            email=email, skip_dns_check=skip_dns_check, ignore_self_test=ignore_self_test, force=force)
        action.check_options(options)
        with _locked(settings, "issue"):
            result = action.run(settings, console, options)
        from .report import issue_summary

        console.say(issue_summary(settings, result))
        action.raise_for_failures(result)

    _execute(settings, body)


# --- renew, cron, upgrade, repair ------------------------------------------------------------

# (end of renew, cron, upgrade, repair)


# --- doctor, status ---------------------------------------------------------------------------

# (end of doctor, status)


# --- backups ----------------------------------------------------------------------------------

@backups_app.command("list")
def backups_list() -> None:
    """List the backups, newest first: id, when, why, and the files each holds.

    Example:  ispa-cert backups list
    """
    settings = _settings()

    def body() -> None:
        from .report import backups_table
        from .transaction import list_backups

        print(backups_table(list_backups(settings.paths)))

    _execute(settings, body)


@backups_app.command("restore")
def backups_restore(
    backup_id: Annotated[Optional[str], typer.Argument(metavar="[ID]", help="The backup to restore (default: the newest).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Put the Apache files of a backup back, then configtest and reload.

    The current files are backed up first, so a restore can itself be undone.
    If Apache rejects the restored configuration, the current one is put back.

    Example:  ispa-cert backups restore 20250302-051307
    """
    settings = _settings()
    console = _console(yes)

    def body() -> None:
        from .actions.common import require_root
        from .transaction import apache_change, find_backup, restore_files

        require_root()
        with _locked(settings, "backups restore"):
            backup = find_backup(settings.paths, backup_id)
            if not console.confirm(f"Restore the Apache files of backup {backup.id} ({backup.reason})?", default=True):
                return 1
            with apache_change(settings.paths, f"restore backup {backup.id}"):
                restore_files(backup)
        console.say(f"Backup {backup.id} restored; Apache reloaded.")
        return 0

    _execute(settings, body)

# (end of backups)


def main() -> None:
    app()
