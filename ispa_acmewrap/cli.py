"""The command line: one thin function per command → action → rendered result → exit code.

Every command runs in lifecycle.run, the one skeleton (root check → lock → recover for changing
commands, then act → render) and the place where errors become messages and exit codes; here
only doctor's UNKNOWN and a bad setting are. Actions are imported lazily, so that a command's
`--help` stays fast; help texts are in helptext.py, shared options in options.py, and the
top-level help is printed by overview.py (the entry point) without loading this module.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__, helptext as text, options as opt, terminal
from .errors import IspaError
from .options import Command
from .overview import COMPLETE_VARIABLE  # `=source_bash ispa-cert` prints the bash completion script
from .i18n import _, set_language

log = logging.getLogger("ispa_acmewrap")
DOCTOR_UNKNOWN = 3
GLOBAL = {"root": None, "verbose": False}  # what the global options decided


app, cron_app, backups_app = opt.app(text.PROGRAM), opt.app(text.CRON), opt.app(text.BACKUPS)
app.add_typer(cron_app, name="cron")
app.add_typer(backups_app, name="backups")


def _version(value: bool) -> None:
    if value:
        print(f"ispa-cert {__version__}")  # i18n: not a message (the version line scripts read)
        raise typer.Exit()


@app.callback()
def main_options(
    root: Annotated[Optional[str], opt.option("--root", envvar="ISPA_ROOT", metavar="DIR", show_envvar=False)] = None,
    verbose: opt.flag("--verbose", "-v") = False,
    version: Annotated[bool, opt.option("--version", callback=_version, is_eager=True)] = False,
    lang: Annotated[Optional[opt.Language], opt.option("--lang", metavar="cs|en")] = None,
) -> None:
    if lang is not None:  # read from the command line before the help texts were built (i18n.resolve)
        set_language(lang.value)
    GLOBAL.update(root=root, verbose=verbose)


def _load_settings(**overrides):
    """Settings from the global options and the environment; a bad ISPA_* value raises IspaError."""
    from dataclasses import replace
    from .settings import load_settings, validate
    settings = load_settings(GLOBAL["root"], GLOBAL["verbose"])
    return validate(replace(settings, **{key: value for key, value in overrides.items() if value not in (None, ())}))


def _settings(**overrides):
    """_load_settings, a bad value ending the command with its message and exit code (no log exists yet)."""
    from .lifecycle import say_error
    try:
        return _load_settings(**overrides)
    except IspaError as error:
        raise typer.Exit(say_error(error.message, error.hint, error.exit_code)) from None


def _console(yes: bool = False, quiet: bool = False):
    from .console import Console
    return Console(interactive=sys.stdin.isatty(), assume_yes=yes, quiet=quiet, verbose=GLOBAL["verbose"])


def _say(text_: str, stream=None) -> None:
    """Print; a reader that closed the pipe (`ispa-cert status | head`) silences the output, never the run."""
    terminal.write(stream or sys.stdout, text_)


def _run(settings, act: Callable[[], object], render: Callable[[object], int | None] = lambda _: None, **how):
    """Run a command in lifecycle.run's skeleton and exit with the code it settles on."""
    from .lifecycle import run
    raise typer.Exit(run(settings, act, render, **how))


# --- the commands --------------------------------------------------------------------------

@app.command(cls=Command, help=text.INSTALL, epilog=text.CHANGE)
def install(email: opt.Email = None) -> None:
    from .actions.acme_home import install_acme
    settings = _settings()
    _run(settings, lambda: install_acme(settings, _console(), email), changes="install")


@app.command(cls=Command, help=text.ISSUE, epilog=text.APACHE_CHANGE)
def issue(
    admin: opt.flag("--admin", "-a") = False, client: opt.flag("--client", "-c") = False,
    dealer: opt.flag("--dealer", "-d") = False, admin_domain: opt.value("--admin-domain", "NAME") = None,
    client_domain: opt.value("--client-domain", "NAME") = None,
    dealer_domain: opt.value("--dealer-domain", "NAME") = None,
    yes: opt.Yes = False, email: opt.Email = None, server_ip: opt.ServerIps = None,
    dns_server: opt.DnsServer = None, dns_timeout: opt.DnsTimeout = None,
    skip_dns_check: opt.flag("--skip-dns-check") = False, ignore_self_test: opt.flag("--ignore-self-test") = False,
    force: opt.flag("--force", key="issue --force") = False,
    redirect: Annotated[Optional[bool], opt.option("--redirect/--no-redirect", show_default=False)] = None,
    hsts: Annotated[Optional[bool], opt.option("--hsts/--no-hsts", show_default=False)] = None,
    tls_profile: opt.value("--tls-profile", "intermediate|modern") = None,
    profile: opt.value("--profile", "NAME") = None,
    key_type: Annotated[Optional[opt.KeyType], opt.option("--key-type", metavar="ec|rsa")] = None,
    admin_docroot: opt.value("--admin-docroot", "DIR") = None,
    client_docroot: opt.value("--client-docroot", "DIR") = None,
    dealer_docroot: opt.value("--dealer-docroot", "DIR") = None,
    # The test stack's CA: hidden from --help, documented in the README ("Settings for tests and the demo").
    server: Annotated[Optional[str], typer.Option(metavar="URL", envvar="ISPA_ACME_SERVER", hidden=True)] = None,
    ca_bundle: Annotated[Optional[Path], typer.Option(metavar="FILE", envvar="ISPA_CA_BUNDLE", hidden=True)] = None,
) -> None:
    from .actions import issue as action
    from .report import issue_summary
    settings = _settings(server_ips=tuple(server_ip or ()), dns_server=dns_server, dns_timeout=dns_timeout,
                         acme_server=server, ca_bundle=ca_bundle)
    console = _console(yes)
    options = action.IssueOptions(
        roles=tuple(role for role, chosen in (("admin", admin), ("client", client), ("dealer", dealer)) if chosen),
        domains={"admin": admin_domain, "client": client_domain, "dealer": dealer_domain},
        email=email, skip_dns_check=skip_dns_check, ignore_self_test=ignore_self_test, force=force,
        redirect=redirect, profile=profile, hsts=hsts,
        tls_profile=tls_profile.lower() if tls_profile else None, key_type=key_type.value if key_type else None,
        docroots={"admin": admin_docroot, "client": client_docroot, "dealer": dealer_docroot})

    def render(result) -> None:
        console.say(issue_summary(settings, result))
        action.raise_for_failures(result)

    _run(settings, lambda: action.run(settings, console, options), render, changes="issue",
         check=lambda: action.check_options(options))


@app.command(cls=Command, help=text.RENEW, epilog=text.APACHE_CHANGE)
def renew(force: opt.flag("--force", key="renew --force") = False, cron: opt.flag("--cron") = False) -> None:
    from .actions import renew as action
    from .report import renew_cron_line, renew_summary
    settings = _settings()
    console = _console(yes=True, quiet=cron)

    def render(result) -> None:
        if not cron:
            console.say(renew_summary(settings, result))
        elif result.attempted:
            _say(renew_cron_line(result))
        action.raise_for_failures(result)

    _run(settings, lambda: action.run(settings, console, action.RenewOptions(force=force)), render,
         changes="renew", quiet=cron)


@cron_app.command("install", cls=Command, help=text.CRON_INSTALL, epilog=text.CHANGE)
def cron_install(schedule: opt.value("--schedule", "'M H DOM MON DOW'") = None,
                 update_only: opt.flag("--update-only") = False, adopt: opt.flag("--adopt") = False,
                 yes: opt.Yes = False) -> None:
    from .actions import cron as action, takeover
    from .report import cron_change_text, takeover_text
    if update_only and schedule is not None:
        raise typer.BadParameter(_("--update-only keeps the entry's schedule; leave out --schedule"))
    settings = _settings()
    if update_only:
        return _run(settings, lambda: action.update(settings),
                    lambda change: _say(cron_change_text(settings, change)), changes="cron update")
    console = _console(yes)

    def render(result) -> None:
        takeover.raise_if_refused(result)
        _say(takeover_text(settings, result))

    _run(settings, lambda: takeover.install(settings, schedule, console, adopt=adopt), render, changes="cron install")


@cron_app.command("remove", cls=Command, help=text.CRON_REMOVE, epilog=text.CHANGE)
def cron_remove(legacy: opt.flag("--legacy") = False) -> None:
    from .actions import cron as action
    from .report import cron_change_text
    settings = _settings()
    _run(settings, lambda: action.remove(settings, legacy), lambda change: _say(cron_change_text(settings, change)),
         changes="cron remove")


@cron_app.command("show", cls=Command, help=text.CRON_SHOW, epilog=text.READ)
def cron_show() -> None:
    from .actions import cron as action
    from .report import cron_view_text
    settings = _settings()
    _run(settings, lambda: action.show(settings), lambda view: _say(cron_view_text(settings, view)))


@app.command(cls=Command, help=text.UPGRADE, epilog=text.CHANGE)
def upgrade(online: opt.flag("--online") = False) -> None:
    from .actions import upgrade as action
    from .report import upgrade_summary
    settings = _settings()
    console = _console()
    _run(settings, lambda: (action.run_online if online else action.run)(settings, console),
         lambda result: console.say(upgrade_summary(result)), changes="upgrade")


@app.command(cls=Command, help=text.REPAIR, epilog=text.APACHE_CHANGE)
def repair(reissue: opt.flag("--reissue") = False, new_account: opt.flag("--new-account") = False,
           yes: opt.Yes = False, server_ip: opt.ServerIps = None) -> None:
    from .actions import issue as issue_action, repair as action
    from .report import repair_summary
    settings = _settings(server_ips=tuple(server_ip or ()))
    console = _console(yes)
    options = action.RepairOptions(reissue=reissue, new_account=new_account)

    def render(result) -> None:  # a "no" to the question is no failure: nothing was changed, exit 0
        console.say(repair_summary(settings, result))
        if result.issued is not None:
            issue_action.raise_for_failures(result.issued)

    _run(settings, lambda: action.run(settings, console, options), render, changes="repair")


@app.command(cls=Command, help=text.STATUS, epilog=text.READ)
def status(json_output: opt.Json = False, wide: opt.flag("--wide") = False) -> None:
    from .actions import status as action
    from .report import status_document, status_table, to_json
    settings = _settings()

    def render(result) -> None:
        if json_output:
            return _say(to_json(status_document(result)))
        shown = status_table(result, wide)  # the notes below the narrow table wrapped on a terminal
        _say(shown if wide else terminal.wrap(shown, terminal.columns(sys.stdout), indent="  "))

    _run(settings, lambda: action.run(settings), render)


@app.command(cls=opt.PluginCommand, help=text.DOCTOR, epilog=text.DOCTOR_EXITS)
def doctor(json_output: opt.Json = False,
           name: Annotated[Optional[list[str]], opt.option("--name", metavar="NAME")] = None,
           offline: opt.flag("--offline") = False, server_ip: opt.ServerIps = None, dns_server: opt.DnsServer = None,
           dns_timeout: opt.DnsTimeout = None) -> None:
    from .actions.doctor import DoctorOptions
    from .report import doctor_failure_line
    try:
        settings = _load_settings(server_ips=tuple(server_ip or ()), dns_server=dns_server, dns_timeout=dns_timeout)
    except IspaError as error:
        _say(doctor_failure_line(error.message))
        raise typer.Exit(DOCTOR_UNKNOWN) from None
    options = DoctorOptions(names=tuple(name or ()), offline=offline)
    _run(settings, lambda: _doctor_outcome(settings, options, json_output), lambda code: code, pending=False)


def _doctor_outcome(settings, options, json_output: bool) -> int:
    """Print doctor's result; whatever breaks is UNKNOWN (exit 3), said on the plugin line. Without -v the
    commands doctor runs stay out of the log: monitoring runs it every few minutes, one line says enough."""
    from . import report
    from .actions import doctor as action
    runner_log = logging.getLogger("ispa_acmewrap.runner")
    runner_log.setLevel(logging.NOTSET if settings.verbose else logging.WARNING)
    try:
        result = action.run(settings, options)
        output = report.to_json(report.doctor_document(result)) if json_output else \
            terminal.wrap(report.doctor_text(result, terminal.colour_wanted(sys.stdout)), terminal.columns(sys.stdout),
                          indent="        ")
        code, line = result.severity.exit_code, report.plugin_line(result)
    except Exception as error:  # noqa: BLE001 - doctor's contract: any failure is UNKNOWN, said on the first line
        log.exception("doctor could not run")
        message = (error.message if isinstance(error, IspaError) else
                   f"permission denied: {error.filename or error}; run doctor as root"
                   if isinstance(error, PermissionError) and os.geteuid() != 0 else
                   f"unexpected error ({type(error).__name__}: {error}); the details are in {settings.paths.log_file}")
        code, line = DOCTOR_UNKNOWN, report.doctor_failure_line(message)
        output = report.to_json(report.doctor_failure_document(message)) if json_output else line
    finally:
        runner_log.setLevel(logging.NOTSET)
    log.info("doctor: %s", line)
    _say(output)
    return code


@backups_app.command("list", cls=Command, help=text.BACKUPS_LIST, epilog=text.READ)
def backups_list() -> None:
    from .actions import backups as action
    from .report import backups_table, damaged_backup_warnings
    settings = _settings()

    def render(listing) -> None:
        _say(backups_table(listing.backups))
        for warning in damaged_backup_warnings(listing.damaged):
            _say(terminal.labelled("warning", warning), sys.stderr)

    _run(settings, lambda: action.list_all(settings), render)


@backups_app.command("restore", cls=Command, help=text.BACKUPS_RESTORE, epilog=text.RESTORE)
def backups_restore(yes: opt.Yes = False,  # ID is described in the text: typer would show it as "<str>"
                    backup_id: Annotated[Optional[str], typer.Argument(metavar="ID", hidden=True)] = None) -> None:
    from .actions import backups as action
    from .report import restore_summary
    settings = _settings()
    console = _console(yes)
    # No recovery first: restoring is the way out of an interrupted change whose backup is gone.
    _run(settings, lambda: action.restore(settings, console, backup_id),
         lambda restored: console.say(restore_summary(restored)), changes="backups restore", recover=False)


def main() -> None:
    if COMPLETE_VARIABLE in os.environ:  # the shell asks for completions, or for the script (source_bash)
        from typer.completion import completion_init
        completion_init()
    app(prog_name="ispa-cert")
