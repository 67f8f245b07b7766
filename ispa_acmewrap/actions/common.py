"""Small steps several commands share."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from .. import acme, apache, ca, dns, renewal, runner, selftest, state as state_store, transaction
from ..certs import CertificateInfo, read_certificate
from ..command import Command
from ..console import Console
from ..errors import CommandFailed, IspaError, OperationFailed, PreconditionMissing, RateLimited, TimedOut
from ..files import atomic_write
from ..i18n import N_, _, english, ngettext
from ..lifecycle import require_root  # noqa: F401 - actions check it too when called directly
from ..moments import now, utc_minute  # noqa: F401 - the commands take the clock from here
from ..outcomes import Outcome
from .served import apache_rejects, virtual_hosts  # noqa: F401 - shared with the commands
from ..settings import DEFAULT_CA_TIMEOUT, ENV_CA_TIMEOUT, Settings
from ..state import IssuanceKind, State

log = logging.getLogger(__name__)

def require_apache(settings: Settings) -> None:
    paths = settings.paths
    if not paths.apache_confdir.is_dir():
        raise PreconditionMissing(_("Apache's configuration directory {directory} does not exist").format(
            directory=paths.apache_confdir), hint=_("install Apache 2.4 (apt-get install apache2)"))
    if not paths.ispadmin_site.exists():
        raise PreconditionMissing(_("{file} does not exist").format(file=paths.ispadmin_site),
                                  hint=_("create it with the ISPadmin port-80 virtual host, as the ISPadmin guide "
                                         "shows"))


def running_pid(pid_file: Path) -> int | None:
    """The live process whose PID the file holds, else None."""
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except PermissionError:  # alive, but not ours to signal
        return pid
    except (OSError, ValueError, IndexError):
        return None
    return pid


def require_apache_ready(settings: Settings, why: str) -> None:
    """Apache accepts its configuration (else PreconditionMissing quoting Apache's own words) and
    runs (else PreconditionMissing: ispa-cert never starts an Apache the admin stopped). When the
    PID file cannot be told, Apache is taken to run."""
    try:
        pid_file = transaction.configtest(settings.paths).pid_file
    except CommandFailed as failed:
        raise apache_rejects(failed) from None
    if pid_file is not None and running_pid(pid_file) is None:
        raise PreconditionMissing(_("Apache is not running: {why}. Nothing was changed and the CA was not "
                                    "contacted").format(why=why),
                                  hint=_("start it (systemctl start apache2; `apache2ctl configtest` shows why it "
                                         "stopped), then run the command again"))


def run_acme_apache(settings: Settings, console: Console, command: Command, ok_codes=(acme.EXIT_SUCCESS,),
                    echo=None):
    """Run acme.sh --issue or --renew: in webroot mode (prepare_webroot), or in the --apache mode a
    name was issued in before ispa-cert (its main-config edit undone afterwards). `echo` gets each output line.

    Returns (exit code, None) on success, (None, AcmeFailure) when acme.sh failed,
    with the CA's full reason read from acme.sh's log.
    """
    paths = settings.paths
    persist_challenge_dir(paths)
    prepare_webroot(paths)
    log_offset = paths.acme_log.stat().st_size if paths.acme_log.exists() else 0
    try:
        with transaction.acme_apache_run(paths, " ".join(command.argv[1:4])):
            result = runner.run(command, ok_codes=ok_codes, echo=echo or console.stream,
                                timeout=settings.ca_timeout)
    except CommandFailed as failed:
        failure = acme.explain_failure(failed.output, log_since(paths.acme_log, log_offset), last_header(paths))
        if failure.ca_problem:
            failure = replace(failure, detail=ca_problem_message(ca_url(settings, command), failure.ca_problem))
        return None, failure
    except TimedOut as late:
        raise OperationFailed(timeout_message(ca_url(settings, command), late.seconds,
                                              log_since(paths.acme_log, log_offset), last_header(paths)),
                              hint=_("check this server's connection to the CA (firewall, proxy, DNS) and the CA's "
                                     "status page, then run the command again; the limit is {variable} (seconds, "
                                     "default {default}). Nothing was changed and nothing counts against the CA's "
                                     "limits").format(variable=ENV_CA_TIMEOUT, default=f"{DEFAULT_CA_TIMEOUT:.0f}")) from late
    return result.returncode, None


OUTCOME_WORDS = {Outcome.FAILED: N_("validation failed"), Outcome.RATE_LIMITED: N_("refused by the CA for now"),
                 Outcome.ERROR: N_("failed")}


def announce(console: Console, message: str) -> None:
    """A step that has its own progress line: the `==>` line only with -v (logged always, for `make bench`)."""
    if console.verbose:
        console.step(message)
    else:
        log.info("step: %s", message)


def valid_until(settings: Settings, name: str) -> str:
    """The expiry date of the certificate acme.sh holds for name, "?" when it cannot be read."""
    held = acme.held_certificate(settings.paths, name)
    try:
        return f"{read_certificate(held.certificate_file).not_after:%Y-%m-%d}" if held else "?"
    except IspaError:
        return "?"


def ca_url(settings: Settings, command: Command) -> str:
    """The CA an acme.sh command talks to: its --server, else the one the name was issued by."""
    argv = command.argv
    if "--server" in argv:
        return argv[argv.index("--server") + 1]
    if "-d" in argv:
        return acme.read_domain_conf(settings.paths, argv[argv.index("-d") + 1]).get("Le_API") or settings.acme_server
    return settings.acme_server


def last_header(paths) -> str:
    """The header of the last HTTP response acme.sh received (it keeps it in http.header)."""
    try:
        return (paths.acme_home / "http.header").read_text(errors="replace")
    except OSError:
        return ""


def ca_problem_message(url: str, problem: str) -> str:
    """The admin's sentence for a CA that could not be reached or answered with an error."""
    if english(problem).startswith("HTTP"):
        return _("the CA at {url} answered with an error ({problem})").format(url=url, problem=problem)
    if english(problem).startswith("its answer"):
        return _("the CA at {url} answered, but not as an ACME server ({problem})").format(url=url, problem=problem)
    return _("the CA at {url} could not be reached ({problem})").format(url=url, problem=problem)


def timeout_message(url: str, seconds: float, log_text: str, header: str = "") -> str:
    """A run that hit ISPA_CA_TIMEOUT: what acme.sh saw until then, when it is known."""
    cause = acme.ca_unreachable(log_text) or acme.ca_error_status(log_text, header)
    if cause:
        return _("{problem}; acme.sh kept retrying and was stopped after {seconds} s").format(
            problem=ca_problem_message(url, cause), seconds=f"{seconds:.0f}")
    return _("the CA at {url} did not answer within {seconds} s; acme.sh was stopped").format(
        url=url, seconds=f"{seconds:.0f}")


def persist_challenge_dir(paths) -> None:
    """Write ACME_DIR into acme.sh's account.conf, which acme.sh reads on every run.

    The challenge Alias in the generated include sends /.well-known/acme-challenge/ to the
    challenge directory for every name; acme.sh typed by hand (the guide's manual --renewAll)
    must put its tokens there too, or its validations fail (its default is /home/.acme).
    """
    conf = paths.acme_account_conf
    if not conf.exists():
        return
    text = conf.read_text(errors="surrogateescape")
    wanted = acme.with_setting(text, "ACME_DIR", str(paths.challenge_dir))
    if wanted != text:
        atomic_write(conf, wanted.encode(errors="surrogateescape"))
        log.info("acme.sh's ACME_DIR set to %s in %s", paths.challenge_dir, conf)


def prepare_webroot(paths) -> None:
    """The webroot acme.sh validates through (acme.issue_command): its .well-known/acme-challenge is a
    link to the challenge directory, which the generated include's Alias serves for every name.

    acme.sh writes its token through the link and removes only the token afterwards. A directory in
    the link's place (acme.sh makes one when the link is gone) holds nothing but tokens: it is replaced."""
    link = paths.acme_webroot / ".well-known" / "acme-challenge"
    target = os.path.relpath(paths.challenge_dir, link.parent)
    if link.is_symlink() and os.readlink(link) == target:
        return
    paths.challenge_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    elif link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)
    log.info("acme.sh's webroot %s leads to the challenge directory %s", paths.acme_webroot, paths.challenge_dir)


def remove_stale_acme_aliases(settings: Settings, console: Console) -> list[str]:
    """Remove the challenge Alias blocks earlier acme.sh runs left in Apache's main config.

    The first Alias for /.well-known/acme-challenge wins: a stale one pointing at another
    directory makes every later acme.sh --apache validation a 404. Removed inside a backed-up
    transaction (configtest, reload, or restore). Returns the directories they pointed at.
    """
    main = settings.paths.apache_main_config
    if not main.exists():
        return []
    text = main.read_text(errors="surrogateescape")
    stale = apache.stale_acme_aliases(text)
    if not stale:
        return []
    console.step(ngettext("Removing {count} challenge Alias block acme.sh left in {file} (backup, configtest, reload)",
                          "Removing {count} challenge Alias blocks acme.sh left in {file} (backup, configtest, "
                          "reload)", len(stale)).format(count=len(stale), file=main))
    with transaction.apache_change(settings.paths, "remove challenge Aliases acme.sh left behind"):
        atomic_write(main, apache.without_stale_acme_aliases(text).encode(errors="surrogateescape"))
    return stale


def failure_outcome(failure: acme.AcmeFailure) -> tuple[Outcome, str]:
    """RATE_LIMITED (the CA refuses for now), FAILED (a validation failed), or ERROR (anything else)."""
    if failure.rate_limited:
        return Outcome.RATE_LIMITED, failure.detail
    return (Outcome.FAILED if failure.validation_failed else Outcome.ERROR), failure.detail


def record_outcome(settings: Settings, record: State, name: str, outcome: Outcome, kind: IssuanceKind) -> State:
    """Ledger and history: a new certificate is an issuance of `kind`; only what the CA counts
    (a failed validation, its own rate-limit refusal) counts against the name."""
    moment = now()
    if outcome.got_certificate:
        record = state_store.record_issuance(record, [name], kind, moment)
    elif outcome.counts_at_ca:
        record = state_store.record_failure(record, name, moment)
    state_store.save_state(settings.paths.state_file, record)
    return record


# --- the CA's failed-validation limit (the failure ledger in state.json) -------------------------

def rate_limit_rule() -> str:
    """The CA's rule on failed validations, in the administrator's language."""
    return _("Let's Encrypt allows {limit} failed validations per account, hostname and hour").format(
        limit=state_store.FAILURE_LIMIT)


def blocked_message(name: str, until: datetime) -> str:
    """Why a name is not sent to the CA now (state.blocked_until said until when)."""
    return _("{name} failed validation {limit} times in the last hour; it is not sent to the CA "
             "before {date} (Let's Encrypt refuses it until then)").format(name=name, limit=state_store.FAILURE_LIMIT,
                                                                          date=utc_minute(until))


def guard_rate_limits(record: State, names: list[str], command: str) -> None:
    """RateLimited for the first name the CA would refuse now: a refused run changes nothing."""
    moment = now()
    for name in names:
        until = state_store.blocked_until(record, name, moment)
        if until is not None:
            raise RateLimited(blocked_message(name, until),
                              hint=_("fix the cause (ispa-cert doctor), then run `{command}` again after "
                                     "{time} UTC").format(command=command, time=f"{until:%H:%M}"))


# --- the network probe: DNS and the HTTP-01 self-test (issue and doctor) ------------------------

def probe_dns(settings: Settings, names: list[str]) -> tuple[set[str], list[dns.NameFinding]]:
    """This server's addresses (found, and --server-ip), and every name's DNS records judged against them."""
    server = dns.local_addresses() | set(settings.server_ips)
    return server, dns.check_names(names, server_addresses=server, nameserver=settings.dns_server,
                                   timeout=settings.dns_timeout)


def addresses_found(findings: list[dns.NameFinding]) -> dict[str, list[str]]:
    """name -> the addresses its DNS records give (IPv6 first), what the self-test fetches from."""
    return {finding.name: [*finding.aaaa, *finding.a] for finding in findings}


def probe_self_test(settings: Settings, addresses: dict[str, list[str]]) -> list[selftest.SelfTestResult]:
    """Fetch a test token from every address of every name over port 80, as the CA will."""
    return selftest.self_test(addresses, challenge_dir=settings.paths.challenge_dir, http_port=settings.http_port,
                              https_port=settings.https_port, timeout=settings.dns_timeout,
                              nameserver=settings.dns_server)


def log_since(log_file: Path, offset: int) -> str:
    """What a program appended to its log file after `offset` (acme.sh's full error is only there)."""
    if not log_file.exists():
        return ""
    with log_file.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def directory_url_of(settings: Settings, name: str) -> str:
    """The CA that issued name's certificate (acme.sh's Le_API), else the configured one."""
    from ..health import directory_url

    return acme.read_domain_conf(settings.paths, name).get("Le_API") or directory_url(settings.acme_server)


def refresh_renewal_info(settings: Settings, record: State, name: str, certificate: CertificateInfo | None,
                         moment: datetime) -> State:
    """Ask the CA for the certificate's renewal window (ARI) unless its Retry-After has not passed.

    The moment inside the window is chosen once and kept while the window stays. A CA that cannot
    be asked leaves what was known (or the 2/3-lifetime rule): renewal never waits for the CA.
    """
    if certificate is None:
        return record
    previous = renewal.current_info(certificate, record.renewal_info.get(name))
    if previous is not None and moment < previous.next_check:
        return record
    try:
        answer = ca.renewal_info(directory_url_of(settings, name), certificate, moment, settings.ca_bundle)
    except ca.CaUnavailable as error:
        log.warning("renewal information (ARI) for %s not read: %s; %s", name,
                    english(error.args[0] if error.args else error),
                    "keeping the window read before" if previous else "renewal falls back to 2/3 of the lifetime")
        return record
    if answer is None:
        return record
    info = ca.updated(previous, answer, certificate.renewal_due_at())
    if info.has_window:
        log.info("ARI for %s: window %s to %s, renewal at %s%s", name, info.window_start, info.window_end,
                 info.renew_at, f"; the CA explains: {info.explanation_url}" if info.explanation_url else "")
    if info.early(moment):
        log.warning("the CA asks for the certificate of %s to be replaced early%s", name,
                    f": {info.explanation_url}" if info.explanation_url else "")
    return state_store.with_renewal_info(record, name, info)


def shortest_lifetime(settings: Settings) -> timedelta | None:
    """The shortest lifetime among the certificates acme.sh holds (served.installed_certificate of each)."""
    from .served import installed_certificate

    certificates = [installed_certificate(settings.paths, name) for name in acme.issued_names(settings.paths)]
    return min((certificate.lifetime for certificate in certificates if certificate), default=None)
