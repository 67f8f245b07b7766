"""`ispa-cert doctor`: the guide's troubleshooting list, checked instead of asked.

Gathers the facts (apache2ctl -S, ss, acme.sh --version, ispa-cert's and acme.sh's files and,
unless offline, DNS, the HTTP-01 self-test and the certificates Apache serves) and lets
health.py judge them. Takes no lock and changes nothing; the self-test's token file lives
for one request. A group of checks that fails to gather its facts becomes an UNKNOWN
finding, so one broken piece never hides the others.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from .. import acme, apache, cron, health, runner, tls, transaction, verify
from ..errors import IspaError, PreconditionMissing
from ..health import DoctorReport, Finding, RateLimit, Severity
from ..i18n import _
from ..listeners import listening_command, parse_listeners, programs_on
from ..names import normalize_name
from ..settings import Settings
from ..state import State, blocked_until, failures_in_last_hour, load_state
from .acme_home import script_version
from .common import addresses_found, now, probe_dns, probe_self_test, running_pid
from .served import CertificateRow, certificate_rows, http2_support, known_names

log = logging.getLogger(__name__)

NETWORK_CHECKS = ("dns", "self-test", "served")


@dataclass(frozen=True)
class DoctorOptions:
    names: tuple[str, ...] = ()  # only these names (default: every name on record or held by acme.sh)
    offline: bool = False  # skip NETWORK_CHECKS


def run(settings: Settings, options: DoctorOptions) -> DoctorReport:
    """Every check of the guide's troubleshooting list, gathered in parallel; changes nothing.

    Returns the findings, certificate expiries, rate-limit state and the overall severity
    (the plugin's exit code). A group of checks that cannot gather its facts becomes an
    UNKNOWN finding instead of raising; only BadInput (a --name that is not a domain name)
    is raised.
    """
    moment = now()
    record, state_error = _state(settings)
    names = _selected(known_names(settings, record), [normalize_name(name) for name in options.names], record)
    rows = certificate_rows(settings, names, record)
    online = not options.offline
    groups: dict[str, Callable[[], list[Finding]]] = {
        "apache": lambda: apache_findings(settings),
        "ports": lambda: port_findings(settings, rows),
        "tls": lambda: tls_findings(settings),
        "temp-site": lambda: [_temp_site(settings)],
        "pending-change": lambda: [health.pending_change_finding(transaction.pending_change(settings.paths))],
        "cron": lambda: [_cron(settings, rows), _other_cron_jobs(settings)],
        "acme": lambda: acme_findings(settings, rows),
        **({"dns": lambda: network_findings(settings, [row.name for row in rows])} if online else {}),
        "certificate": lambda: certificate_findings(rows, moment),
        "renewal-info": lambda: [health.renewal_info_finding(row.name, row.profile, row.certificate, row.renewal, moment)
                                 for row in rows if row.certificate and row.renewal],
        **({"served": lambda: served_findings(settings, rows)} if online else {}),
    }
    failed = set() if options.names else set(record.failures)
    limits = rate_limits(record, {row.name for row in rows} | failed, moment)
    findings = [health.state_finding(*state_error, len(names)), *_gather(groups),
                *health.rate_limit_findings(limits), _renewal(record, rows, moment)]
    expiries = tuple(health.expiry(row.name, row.certificate, moment, row.renewal) for row in rows if row.certificate)
    return DoctorReport(tuple(findings), expiries, tuple(limits), record.last_renewal, moment,
                        options.offline, () if online else NETWORK_CHECKS)


def _gather(groups: dict[str, Callable[[], list[Finding]]]) -> list[Finding]:
    """Run the groups at once (they wait on processes and the network); findings in the groups' order."""
    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="doctor") as pool:
        futures = [pool.submit(_guarded, check, gather) for check, gather in groups.items()]
        return [finding for future in futures for finding in future.result()]


def _guarded(check: str, gather: Callable[[], list[Finding]]) -> list[Finding]:
    """The findings of one group of checks, or one UNKNOWN finding saying why they are missing."""
    try:
        return gather()
    except (IspaError, OSError) as error:
        log.info("doctor: the %s checks failed", check, exc_info=True)
        message = error.message if isinstance(error, IspaError) else \
            " ".join(str(part) for part in (error.strerror or error, error.filename) if part)
        hint = error.hint if isinstance(error, IspaError) else _("run ispa-cert as root")
        return [Finding(check, Severity.UNKNOWN, _("could not check: {error}").format(error=message), hint)]


# --- names and state -------------------------------------------------------------------

def _state(settings: Settings) -> tuple[State, tuple[str | None, str | None]]:
    try:
        return load_state(settings.paths.state_file), (None, None)
    except PreconditionMissing as error:
        return State(), (error.message, error.hint)


def _selected(known: list[tuple[str, str | None]], wanted: list[str], record: State) -> list[tuple[str, str | None]]:
    if not wanted:
        return known
    roles = {name: role for role, name in record.roles.items()}
    return [(name, roles.get(name)) for name in wanted]


# --- Apache --------------------------------------------------------------------------------

def apache_findings(settings: Settings) -> list[Finding]:
    paths = settings.paths
    if not paths.apache_confdir.is_dir():
        missing = _("its configuration directory {directory} does not exist").format(directory=paths.apache_confdir)
        return [health.apache_config_finding(missing, installed=False), health.apache_running_finding(None, None)]
    try:  # -S only reads the files; the configtest also checks what they name (certificates, keys)
        result, test = runner.run_side_by_side(apache.ctl_command(paths, "-S"), apache.configtest_command(paths))
    except IspaError as error:  # apache2ctl is not installed
        return [health.apache_config_finding(error.message, installed=False), health.apache_running_finding(None, None)]
    error = None if result.returncode == 0 else _last_lines(result.output)
    configtest = None
    if error is None:
        configtest = None if test.returncode == 0 else _last_lines(transaction.apache_message(test.output))
    pid_file = apache.parse_pid_file(result.output)
    main = paths.apache_main_config
    stale = apache.stale_acme_aliases(main.read_text(errors="replace")) if main.exists() else []
    return [health.apache_config_finding(error or configtest, configtest=configtest is not None),
            health.apache_running_finding(pid_file, running_pid(pid_file) if pid_file else None),
            health.stale_alias_finding(main, stale)]


def _last_lines(output: str, count: int = 3) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return " ".join(lines[-count:]) or _("no output")


def tls_findings(settings: Settings) -> list[Finding]:
    """OCSP stapling switched on anywhere Apache reads; whether it can serve HTTP/2."""
    findings = []
    result = runner.run(apache.ctl_command(settings.paths, "-t", "-D", "DUMP_INCLUDES"), ok_codes=runner.ALL_EXIT_CODES)
    files = tls.parse_included_files(result.output)
    if files:
        places = [(file, line) for file in files if file.is_file()
                  for line in tls.stapling_lines(file.read_text(errors="replace"))]
        findings.append(tls.stapling_finding(places))
    support = http2_support(settings)
    if support is not None:
        findings.append(tls.http2_finding(support))
    return findings


def port_findings(settings: Settings, rows: list[CertificateRow]) -> list[Finding]:
    ports = (("http-port", settings.http_port), ("https-port", settings.https_port))
    try:
        listeners = parse_listeners(runner.run(listening_command(port for _, port in ports)).output)
    except IspaError:
        listeners = None
    installed = any(row.installed for row in rows)
    return [health.port_finding(check, port, None if listeners is None else programs_on(listeners, port), installed)
            for check, port in ports]


def _temp_site(settings: Settings) -> Finding:
    paths = settings.paths
    left_over = paths.temp_site.exists() or paths.temp_site_enabled.is_symlink()
    return health.temp_site_finding(paths.temp_site, left_over)


# --- cron and acme.sh -------------------------------------------------------------------------

def _cron(settings: Settings, rows: list[CertificateRow]) -> Finding:
    status = cron.entry_status(settings.paths.crontab, cron.default_command(settings.paths))
    program = status.entry.command.split()[0] if status.entry else ""
    runnable = os.path.isfile(program) and os.access(program, os.X_OK)
    finding = health.cron_finding(status, runnable, any(row.certificate for row in rows))
    lifetimes = [row.certificate.lifetime for row in rows if row.certificate]
    sparse = cron.sparse_warning(status.entry.schedule, min(lifetimes)) \
        if status.entry is not None and not status.entry.legacy and lifetimes else None
    return health.cron_cadence_finding(finding, sparse)


def _other_cron_jobs(settings: Settings) -> Finding:
    jobs = cron.other_renewal_jobs(settings.paths)
    return health.other_cron_jobs_finding([f"{job.file} line {job.line_number}" for job in jobs])


def acme_findings(settings: Settings, rows: list[CertificateRow]) -> list[Finding]:
    paths = settings.paths
    present = paths.acme_script.exists()
    installed = script_version(paths.acme_script) if present else None
    findings = [health.acme_installed_finding(paths.acme_script, present),
                health.acme_version_finding(installed, script_version(paths.vendor_acme_script), present)]
    cas = {row.name: url for row in rows if (url := acme.read_domain_conf(paths, row.name).get("Le_API"))}
    default = acme.read_account_conf(paths).get("DEFAULT_ACME_SERVER")
    findings.append(health.ca_finding(cas, default, settings.acme_server, paths.acme_home))
    for url in sorted(set(cas.values())) or [health.directory_url(settings.acme_server)]:
        key = acme.account_dirs(paths, url)[0] / "account.key"
        findings.append(health.account_finding(url, key, acme.account_registered(paths, url)))
    return findings


# --- the network: DNS, self-test ---------------------------------------------------------------

def network_findings(settings: Settings, names: list[str]) -> list[Finding]:
    if not names:
        return []
    _server, found = probe_dns(settings, names)
    findings = [health.dns_finding(finding) for finding in found]
    challenge_dir = settings.paths.challenge_dir
    if not challenge_dir.is_dir():  # the self-test would create it: doctor changes nothing
        taken_over = settings.paths.state_file.exists()
        return [*findings, health.challenge_dir_finding(challenge_dir, taken_over)]
    results = probe_self_test(settings, addresses_found(found))
    return [*findings, *(health.self_test_finding(result) for result in results)]


# --- certificates, failures, renewals ------------------------------------------------------------

def certificate_findings(rows: list[CertificateRow], moment: datetime) -> list[Finding]:
    return [health.certificate_finding(row.name, row.role, row.certificate, row.installed, moment, row.error, row.hint,
                                       row.renewal)
            for row in rows]


def served_findings(settings: Settings, rows: list[CertificateRow]) -> list[Finding]:
    """For each installed certificate: does Apache serve exactly it (asked over the network)?"""
    findings = []
    for row in rows:
        if row.installed and row.certificate:
            serving = verify.check(settings, row.name, file=row.file)
            findings.append(health.served_finding(row.name, settings.https_port, row.certificate, serving.served))
    return findings


def rate_limits(record: State, names: set[str], moment: datetime) -> list[RateLimit]:
    return [RateLimit(name, failures_in_last_hour(record, name, moment), blocked_until(record, name, moment))
            for name in sorted(names)]


def _renewal(record: State, rows: list[CertificateRow], moment: datetime) -> Finding:
    overdue = {row.name: row.renewal.due_at for row in rows
               if row.certificate and row.renewal and row.renewal.is_due(moment)}
    last_issue = max((issuance.at for issuance in record.issuances), default=None)
    return health.renewal_finding(record.last_renewal, last_issue, overdue, moment)
