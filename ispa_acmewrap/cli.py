"""The command line: one thin function per command → action → rendered result + exit code.

Only this module catches IspaError: it prints `error:` and `hint:`, logs the
traceback, and exits with the error's code. Actions are imported lazily so that
`ispa-cert --help` stays fast.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
from collections.abc import Callable
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand

from . import __version__
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_UNEXPECTED, IspaError

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

# `_ISPA_CERT_COMPLETE=source_bash ispa-cert` prints the bash completion script (make install ships it).
COMPLETE_VARIABLE = "_ISPA_CERT_COMPLETE"

app = typer.Typer(help=HELP, rich_markup_mode=None, no_args_is_help=True, add_completion=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
cron_app = typer.Typer(help="Manage the one /etc/crontab entry that runs `ispa-cert renew --cron`.",
                       rich_markup_mode=None, no_args_is_help=True)
backups_app = typer.Typer(help="List and restore the backups made before every Apache change.",
                          rich_markup_mode=None, no_args_is_help=True)
app.add_typer(cron_app, name="cron")
app.add_typer(backups_app, name="backups")


class KeyType(str, Enum):
    ec = "ec"
    rsa = "rsa"


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


def _load_settings(**overrides):
    """Settings from the global options and the environment; a bad ISPA_* value raises IspaError."""
    from dataclasses import replace

    from .settings import load_settings, validate

    settings = load_settings(GLOBAL.root, GLOBAL.verbose)
    given = {key: value for key, value in overrides.items() if value not in (None, (), [])}
    return validate(replace(settings, **given))


def _settings(**overrides):
    """_load_settings for the commands with the usual exit codes (no log exists yet to write to)."""
    try:
        return _load_settings(**overrides)
    except IspaError as error:
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        raise typer.Exit(error.exit_code) from None


def _console(yes: bool = False, quiet: bool = False):
    from .console import Console

    return Console(interactive=sys.stdin.isatty(), assume_yes=yes, quiet=quiet)


def _setup_logging(settings, quiet: bool) -> Path | None:
    logging.raiseExceptions = False  # a log on a full disk must not print tracebacks to the admin
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
    signal.signal(signal.SIGTERM, _interrupt)  # cron and systemd stop with SIGTERM: roll back as for Ctrl-C
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
        log.info("interrupted", exc_info=True)
        print("\ninterrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise _unexpected(log_file) from error
        log.info("disk full", exc_info=True)
        print(f"error: {disk_full_message(error)}", file=sys.stderr)
        print("hint: free space there, then run the command again; files are written whole or not at all, "
              "and what this run changed in Apache was rolled back", file=sys.stderr)
        code = EXIT_FAILED
    except Exception:  # noqa: BLE001 - the one place an unexpected failure becomes a message
        code = _unexpected(log_file).exit_code
    raise typer.Exit(code)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _unexpected(log_file: Path | None) -> typer.Exit:
    log.exception("unexpected error")
    print(f"error: unexpected error — the details are in {log_file or 'the log'}", file=sys.stderr)
    return typer.Exit(EXIT_UNEXPECTED)


def disk_full_message(error: OSError) -> str:
    """Name the full disk: the file that could not be written and the mount point it lives on."""
    written = error.filename2 or error.filename  # shutil.copy names the source first, the target second
    path = Path(written) if written else None
    if path is None:
        return f"the disk is full ({error.strerror})"
    mount = path if path.is_dir() else path.parent
    while not mount.exists() or not os.path.ismount(mount):
        if mount == mount.parent:
            break
        mount = mount.parent
    return f"the disk is full: cannot write {path} (file system {mount}: {error.strerror})"


def _recover_interrupted(settings) -> None:
    from .transaction import recover

    if settings.paths.pending_marker.exists():
        message = recover(settings.paths)
        if message:
            print(f"notice: {message}", file=sys.stderr)
            log.warning(message)


def _report_pending_change(settings) -> None:
    """Read-only commands never act on an interrupted change: they only say it is there."""
    from .transaction import list_backups, pending_change

    marker = pending_change(settings.paths)
    if marker is None:
        return
    backup = marker.get("backup")
    if backup and backup in {found.id for found in list_backups(settings.paths)}:
        then = f"restores backup {backup} first"
    elif backup:
        then = (f"finds its backup {backup} gone: it keeps the current configuration if Apache accepts it, "
                "otherwise says how to restore another backup")
    elif marker.get("main_config_copy"):
        then = f"puts {settings.paths.apache_main_config.name} back as it was before acme.sh ran"
    else:
        then = f"removes the unreadable marker {settings.paths.pending_marker}"
    print(f"notice: an earlier run was interrupted while changing Apache ({marker.get('reason')}); the next "
          f"changing command (e.g. `ispa-cert renew`) {then}", file=sys.stderr)


def _locked(settings, command: str):
    """The run lock; waits at most ISPA_LOCK_WAIT seconds (default 30), then exit 5."""
    from .lock import exclusive
    from .settings import lock_wait_from_env

    return exclusive(settings.paths.lock_file, command, wait=lock_wait_from_env())


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
        from .actions.acme_home import install_acme

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
    redirect: Annotated[Optional[bool], typer.Option("--redirect/--no-redirect",
                        help="Send port-80 requests for every name with a certificate to HTTPS (HTTP-01 challenges excepted), "
                             "or stop doing so (which also stops HSTS). The redirect answers 308, so a POST stays a POST. "
                             "Default: keep the current setting.")] = None,
    hsts: Annotated[Optional[bool], typer.Option("--hsts/--no-hsts",
                    help="Send HSTS (Strict-Transport-Security, max-age two years) on the HTTPS virtual hosts; "
                         "only together with --redirect. Remembered; default: off.")] = None,
    tls_profile: Annotated[Optional[str], typer.Option(metavar="intermediate|modern",
                           help="Mozilla's TLS profile for the HTTPS virtual hosts: intermediate (TLS 1.2 and 1.3, "
                                "for every browser of the last ten years) or modern (TLS 1.3 only). Remembered; "
                                "default: intermediate.")] = None,
    profile: Annotated[Optional[str], typer.Option(metavar="NAME", help=(
        "The CA's certificate profile, e.g. Let's Encrypt's classic (90 days; 64 from 2027-02-10), tlsserver "
        "(45 days) or shortlived (6 days). Checked against the profiles the CA offers; remembered per name "
        "and kept on renewal. A name that changes profile gets a new certificate. Default: the one "
        "remembered, else the CA's default."))] = None,
    key_type: Annotated[Optional[KeyType], typer.Option("--key-type", help=(
        "Key of the new certificates: ec (ECDSA P-256) or rsa (RSA 2048). Default: the key the name's "
        "certificate has (an RSA certificate from certificate.pl stays RSA), ec for a new name."))] = None,
    admin_docroot: Annotated[Optional[str], typer.Option(metavar="DIR", help="Document root of the administration "
                             "interface, when its name has no port-80 virtual host of its own (remembered).")] = None,
    client_docroot: Annotated[Optional[str], typer.Option(metavar="DIR", help="Document root of the client portal, "
                              "when its name has no port-80 virtual host of its own (remembered).")] = None,
    dealer_docroot: Annotated[Optional[str], typer.Option(metavar="DIR", help="Document root of the dealer portal, "
                              "when its name has no port-80 virtual host of its own (remembered).")] = None,
    server: Annotated[Optional[str], typer.Option(metavar="URL", envvar="ISPA_ACME_SERVER",
                      help="ACME CA (acme.sh --server): letsencrypt (the default) or a directory URL "
                           "https://HOST/...; a test CA's URL for tests.")] = None,
    ca_bundle: Annotated[Optional[Path], typer.Option(metavar="FILE", envvar="ISPA_CA_BUNDLE",
                         help="CA certificates that sign the ACME server's HTTPS (acme.sh --ca-bundle); tests only.")] = None,
) -> None:
    """Get certificates for the chosen interfaces and install them into Apache.

    The guided flow: ask the domain names (or take them from options), check
    their DNS against this server's addresses, make sure Apache answers HTTP-01
    challenges (temp_isp.conf for names without a virtual host), test port 80
    the way the CA will, issue with acme.sh, install into Apache with a backup,
    and add the renewal entry to /etc/crontab.

    Each acme.sh run against the CA may take ISPA_CA_TIMEOUT seconds (default 600).
    Ctrl-C or SIGTERM rolls back what the run changed (exit 130).

    Before the CA is asked, Apache's configuration is read as it will be with
    mod_ssl on: each name's HTTPS vhost is copied from its own port-80 vhost
    (rules that redirect to https:// are left out and shown), an existing SSL
    vhost of the name gets only its certificate lines changed, and anything that
    would shadow or break it refuses the name, naming the file and line. A name
    without a port-80 vhost needs --admin/--client/--dealer-docroot. The diff of
    every file ispa-cert did not write alone is shown before the install question.
    """
    settings = _settings(server_ips=tuple(server_ip or ()), dns_server=dns_server, dns_timeout=dns_timeout,
                         acme_server=server, ca_bundle=ca_bundle)
    roles = tuple(role for role, chosen in (("admin", admin), ("client", client), ("dealer", dealer)) if chosen)
    console = _console(yes)

    def body() -> None:
        from .actions import issue as action

        options = action.IssueOptions(
            roles=roles, domains={"admin": admin_domain, "client": client_domain, "dealer": dealer_domain},
            email=email, skip_dns_check=skip_dns_check, ignore_self_test=ignore_self_test, force=force,
            redirect=redirect, profile=profile, hsts=hsts,
            tls_profile=tls_profile.lower() if tls_profile else None, key_type=key_type.value if key_type else None,
            docroots={"admin": admin_docroot, "client": client_docroot, "dealer": dealer_docroot})
        action.check_options(options)
        with _locked(settings, "issue"):
            result = action.run(settings, console, options)
        from .report import issue_summary

        console.say(issue_summary(settings, result))
        action.raise_for_failures(result)

    _execute(settings, body)


# --- renew, cron, upgrade, repair ------------------------------------------------------------

@app.command(epilog=EXIT_CODES)
def renew(
    force: Annotated[bool, typer.Option("--force", help="Renew every certificate now, due or not.")] = False,
    cron: Annotated[bool, typer.Option("--cron", help="For /etc/crontab: no questions, all output to the log; "
                                       "silent when nothing is due, one summary line otherwise, errors on stderr "
                                       "(so cron mails only news and trouble).")] = False,
) -> None:
    """Renew the certificates that are due, as the CA's renewal window (ARI) or their lifetime says.

    Renewed are the certificates of the names on record and every certificate Apache serves
    from /data/ispadmin_cert (what the guide's --renewAll renewed), each in its own acme.sh
    layout: RSA stays RSA. For each certificate the CA's suggested renewal window (ARI, RFC 9773)
    is read (again only after the CA's Retry-After); the certificate is due at a moment chosen at
    random inside the window, at once when the CA moved the window into the past (its explanation
    is shown), and never later than 2/3 of its own lifetime: day 60 of a 90-day certificate, day
    30 of a 45-day one, day 4 of a 6-day one. Without ARI, or when the CA cannot be reached, the
    2/3 rule decides. Each due certificate is renewed with acme.sh --renew (which names the
    certificate it replaces) and Apache reloaded; then ispa-cert checks that Apache serves the new
    certificate. A name that failed validation 5 times in the last hour is not sent to the CA
    (exit 4 says when to try again). Shows the next renewal date of every certificate. A run
    that finds another one holding the lock waits up to ISPA_LOCK_WAIT seconds (default 30),
    then exits 5. Each acme.sh run may take ISPA_CA_TIMEOUT seconds (default 600); a CA that
    cannot be reached or answers with an error is named and never counts as a failed validation.

    \b
    Examples:
      ispa-cert renew              renew what is due
      ispa-cert renew --force      renew every certificate now
      ispa-cert renew --cron       what the /etc/crontab entry runs
    """
    settings = _settings()
    console = _console(yes=True, quiet=cron)

    def body() -> None:
        from .actions import renew as action
        from .report import renew_cron_line, renew_summary

        with _locked(settings, "renew"):
            result = action.run(settings, console, action.RenewOptions(force=force))
        if not cron:
            console.say(renew_summary(settings, result))
        elif result.attempted:
            print(renew_cron_line(result), flush=True)
        action.raise_for_failures(result)

    _execute(settings, body, quiet=cron)


def _change_crontab(verb: str, *arguments: object) -> None:
    """actions.cron.install, .update or .remove under the lock; says what changed."""
    settings = _settings()

    def body() -> None:
        from .actions import cron as action
        from .report import cron_change_text

        with _locked(settings, f"cron {verb}"):
            change = getattr(action, verb)(settings, *arguments)
        print(cron_change_text(settings, change))

    _execute(settings, body)


@cron_app.command("install")
def cron_install(
    schedule: Annotated[Optional[str], typer.Option(metavar="'M H DOM MON DOW'", help=(
        "When to run, in crontab syntax. Default: daily at 05:MM with a random minute chosen once "
        "and kept (the CA asks clients to spread their load), more often when the shortest certificate "
        "lifetime on record needs it (two attempts within its last third); an existing entry keeps its "
        "schedule unless it is too sparse for that. @reboot and schedules that never run are refused; "
        "a given schedule that is too sparse is kept with a warning."))] = None,
    update_only: Annotated[bool, typer.Option("--update-only", help=(
        "Only point an existing entry at this installation's command, keeping its schedule; add none "
        "and leave every other line alone (what `make install` runs when ispa-cert is upgraded)."))] = False,
    adopt: Annotated[bool, typer.Option("--adopt", help=(
        "Also renew the certificates the old renewal job renews that no interface uses and Apache does not "
        "serve (otherwise the takeover is refused, naming them)."))] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Answer every question with its safe default: "
                                      "disable other acme.sh jobs, adopt nothing without --adopt.")] = False,
) -> None:
    """Add the entry that runs `ispa-cert renew --cron`, or bring it up to date.

    The guide's `acme.sh --renewAll ... #letsencrypt renew` line is replaced, not
    duplicated; every other byte of /etc/crontab stays as it was. Running it twice
    leaves one entry. Daily runs cost nothing: renew is silent when nothing is due.
    Daily is enough down to 6-day certificates, since renewal is due at 2/3 of the lifetime.
    It is replaced only when ispa-cert renews every certificate it renewed. Other
    acme.sh renewal jobs (/etc/cron.d/, root's crontab) are offered for disabling:
    commented out, byte for byte otherwise, with a backup.

    \b
    Examples:
      ispa-cert cron install
      ispa-cert cron install --schedule "00 05 * * 7"    the guide's Sunday 05:00
      ispa-cert cron install --update-only
      ispa-cert cron install --adopt --yes                 take over every certificate the old job renewed
    """
    if update_only and schedule is not None:
        print("error: --update-only keeps the entry's schedule; leave out --schedule", file=sys.stderr)
        raise typer.Exit(2)
    if update_only:
        _change_crontab("update")
        return
    settings = _settings()
    console = _console(yes)

    def body() -> None:
        from .actions import takeover as action
        from .errors import PreconditionMissing
        from .report import takeover_text

        with _locked(settings, "cron install"):
            takeover = action.install(settings, schedule, console, adopt=adopt)
        if takeover.change is None:
            raise PreconditionMissing(
                f"the old renewal job also renews {', '.join(takeover.left_alone)}, which ispa-cert does not renew "
                "(no interface uses it and Apache does not serve it): replacing the job would let it expire. "
                "Nothing was changed.",
                hint="`ispa-cert cron install --adopt` makes ispa-cert renew it too; or keep the old job")
        print(takeover_text(settings, takeover))

    _execute(settings, body)


@cron_app.command("remove")
def cron_remove(
    legacy: Annotated[bool, typer.Option("--legacy", help="Also remove the guide's acme.sh --renewAll line.")] = False,
) -> None:
    """Remove the entry (every other line of /etc/crontab stays as it was).

    \b
    Examples:
      ispa-cert cron remove
      ispa-cert cron remove --legacy    also the guide's `#letsencrypt renew` line
    """
    _change_crontab("remove", legacy)


@cron_app.command("show")
def cron_show() -> None:
    """Show the entry (and a leftover legacy line) and whether it is current.

    \b
    Example:
      ispa-cert cron show
    """
    settings = _settings()

    def body() -> None:
        from .actions import cron as action
        from .report import cron_view_text

        print(cron_view_text(settings, action.show(settings)))
        _report_pending_change(settings)

    _execute(settings, body, recover=False)


@app.command(epilog=EXIT_CODES)
def upgrade(
    online: Annotated[bool, typer.Option("--online", help="Run acme.sh's own --upgrade instead: downloads its "
                                         "development branch from GitHub (needs internet).")] = False,
) -> None:
    """Install the vendored acme.sh when it is newer than the installed one.

    The ACME account and the certificates are kept. An installed acme.sh whose
    version cannot be read is left alone (`ispa-cert install` replaces it). Says
    which version was and is installed. The guide's advice when renewal keeps failing.

    \b
    Examples:
      ispa-cert upgrade
      ispa-cert upgrade --online
    """
    settings = _settings()
    console = _console()

    def body() -> None:
        from .actions import upgrade as action
        from .report import upgrade_summary

        with _locked(settings, "upgrade"):
            result = action.run_online(settings, console) if online else action.run(settings, console)
        console.say(upgrade_summary(result))

    _execute(settings, body)


@app.command(epilog=EXIT_CODES)
def repair(
    reissue: Annotated[bool, typer.Option("--reissue", help="Then issue the certificates again for the names on record "
                                          "(refused when the CA's 5 certificates per name and week are used up).")] = False,
    new_account: Annotated[bool, typer.Option("--new-account", help="Do not put the ACME account back; acme.sh "
                                              "registers a new one at the next issuance.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (unattended).")] = False,
    server_ip: Annotated[Optional[list[str]], typer.Option(metavar="ADDR", help="With --reissue: a public address of "
                         "this server for the DNS check (repeatable; needed behind NAT).")] = None,
) -> None:
    """Reinstall acme.sh from scratch, as the guide's last resort, without losing anything.

    Archives /root/.acme.sh, /root/acme.sh and /data/ispadmin_cert/acme into a
    tarball (mode 0600) in /data/ispadmin_cert/backups, removes them, installs
    acme.sh from vendor/ and puts the ACME account back (unless --new-account).
    The installed certificates and Apache keep working throughout.

    \b
    Examples:
      ispa-cert repair
      ispa-cert repair --reissue --yes
    """
    settings = _settings(server_ips=tuple(server_ip or ()))
    console = _console(yes)

    def body() -> int:
        from .actions import issue as issue_action, repair as action
        from .report import repair_summary

        options = action.RepairOptions(reissue=reissue, new_account=new_account)
        with _locked(settings, "repair"):
            result = action.run(settings, console, options)
        console.say(repair_summary(settings, result))
        if result.issued is not None:
            issue_action.raise_for_failures(result.issued)
        return 1 if result.cancelled else 0

    _execute(settings, body)



# --- doctor, status ---------------------------------------------------------------------------

DOCTOR_EPILOG = """Exit status (monitoring-plugin convention, not the table of the other commands):
0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also when doctor itself cannot run or an option is wrong).
"""
DOCTOR_UNKNOWN = 3


class PluginCommand(TyperCommand):
    """A command whose usage errors exit 3 (UNKNOWN), as monitoring plugins do, instead of 2 (CRITICAL)."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except typer.TyperException as error:
            if getattr(error, "exit_code", None) == 2:
                error.exit_code = DOCTOR_UNKNOWN
            raise


@app.command()
def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of the table.")] = False,
) -> None:
    """Show the certificates: issuer, key, validity, next renewal, and whether Apache serves each.

    One row per name on record (and any other certificate acme.sh holds), with its profile and
    lifetime. Times are UTC; "renewal at" is the moment chosen inside the CA's renewal window
    (ARI) as the last issue or renew read it, else 2/3 of the lifetime ("no ARI"). A line below
    the table names a certificate the CA wants replaced early, with its explanation. Whether
    Apache serves exactly this certificate is checked over the network on the HTTPS port.
    Below the table: the TLS profile the HTTPS virtual hosts use, the redirect, HSTS, and
    whether Apache can serve HTTP/2. Changes nothing. Exit status 0 whenever it could look, also when there is no
    certificate yet (monitoring: use `ispa-cert doctor`); 3 when the state cannot be read.

    \b
    Examples:
      ispa-cert status
      ispa-cert status --json | jq -r '.certificates[] | "\\(.name) \\(.days_left)"'
    """
    settings = _settings()

    def body() -> None:
        from .actions import status as action
        from .report import status_document, status_table, to_json

        result = action.run(settings)
        print(to_json(status_document(result)) if json_output else status_table(result))

    _execute(settings, body, recover=False)


@app.command(cls=PluginCommand, epilog=DOCTOR_EPILOG)
def doctor(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of the text.")] = False,
    name: Annotated[Optional[list[str]], typer.Option("--name", metavar="NAME",
                    help="Check only this name (repeatable); default: every name on record.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Skip the network checks (DNS, port-80 self-test, "
                       "the certificate Apache serves): local files and processes only, interactive speed.")] = False,
    server_ip: Annotated[Optional[list[str]], typer.Option(metavar="ADDR", help="A public address of this server "
                         "(repeatable); needed behind NAT, where the public address is not on an interface.")] = None,
    dns_server: Annotated[Optional[str], typer.Option(metavar="HOST[:PORT]", envvar="ISPA_DNS_SERVER",
                          help="Resolver to ask for the DNS check (default: the system's).")] = None,
    dns_timeout: Annotated[Optional[float], typer.Option(metavar="SECONDS",
                           help="Time limit of the DNS and self-test checks (default 4).")] = None,
) -> None:
    """Check everything renewals depend on; a monitoring plugin (Nagios, Icinga, Zabbix).

    The ISPadmin guide's troubleshooting list, checked instead of asked: Apache running
    and listening on the HTTP and HTTPS ports; each name's DNS; the port-80 self-test;
    the cron entry; acme.sh installed, its version, the CA (Let's Encrypt) and the
    account; each certificate's expiry and renewal; Apache serving the certificate on
    disk; OCSP stapling switched on (Let's Encrypt ended OCSP); mod_http2 and the MPM;
    a temp_isp.conf left behind; an interrupted change; recent failed validations
    and the CA's rate limit; the last successful renewal. Each check is OK, WARN, CRIT
    or UNKNOWN, with the fix when it is not OK. Takes no lock and changes nothing.

    The first line is the plugin line: `ISPA-CERT OK|WARNING|CRITICAL|UNKNOWN - summary
    | perfdata`, with days left per name as perfdata ('NAME'=DAYSd;WARN:;CRIT:).

    \b
    Examples:
      ispa-cert doctor
      ispa-cert doctor --offline                  # quick, no network
      ispa-cert doctor --name isp.example.net --json
      ispa-cert doctor --server-ip 203.0.113.7    # behind NAT
    """
    try:
        settings = _load_settings(server_ips=tuple(server_ip or ()), dns_server=dns_server, dns_timeout=dns_timeout)
    except IspaError as error:
        from .report import doctor_failure_line

        print(doctor_failure_line(error.message))
        raise typer.Exit(DOCTOR_UNKNOWN) from None

    def body() -> int:
        from .actions.doctor import DoctorOptions

        with _quiet_commands(settings.verbose):
            return _doctor_outcome(settings, DoctorOptions(names=tuple(name or ()), offline=offline), json_output)

    _execute(settings, body, recover=False)


@contextmanager
def _quiet_commands(verbose: bool):
    """Without -v, the commands doctor runs (apache2ctl -S, ss, acme.sh --version) and their output stay
    out of the log: a monitoring system runs doctor every few minutes, and one line per run says enough."""
    runner_log = logging.getLogger("ispa_acmewrap.runner")
    previous = runner_log.level
    if not verbose:
        runner_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        runner_log.setLevel(previous)


def _doctor_outcome(settings, options, json_output: bool) -> int:
    """Print doctor's result; whatever breaks becomes UNKNOWN (exit 3) on the plugin line."""
    from . import report
    from .actions import doctor as action

    try:
        result = action.run(settings, options)
        output = report.to_json(report.doctor_document(result)) if json_output else report.doctor_text(result)
        code = result.severity.exit_code
    except Exception as error:  # noqa: BLE001 - doctor's contract: any failure is UNKNOWN, said on the first line
        log.exception("doctor could not run")
        message = error.message if isinstance(error, IspaError) else \
            f"unexpected error ({type(error).__name__}: {error}); the details are in {settings.paths.log_file}"
        document = report.doctor_failure_document(message)
        output = report.to_json(document) if json_output else report.doctor_failure_line(message)
        code = DOCTOR_UNKNOWN
        log.info("doctor: %s", report.doctor_failure_line(message))
    else:
        log.info("doctor: %s", report.plugin_line(result))
    print(output)
    return code



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

        from .transaction import damaged_backups

        print(backups_table(list_backups(settings.paths)))
        for directory, problem in damaged_backups(settings.paths):
            print(f"warning: backup {directory.name} is skipped: {problem}; delete {directory} when it is "
                  "not needed", file=sys.stderr)
        _report_pending_change(settings)

    _execute(settings, body, recover=False)


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

    _execute(settings, body, recover=False)  # the way out of an interrupted change whose backup is gone



def main() -> None:
    if COMPLETE_VARIABLE in os.environ:  # the shell asks for completions, or for the script (source_bash)
        from typer.completion import completion_init

        completion_init()
    app(prog_name="ispa-cert")
