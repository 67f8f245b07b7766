"""The doctor's verdicts: severities, findings, and the pure judges that turn facts into findings.

Nothing here runs a process, reads a file or looks at the clock: actions/doctor.py gathers
the facts, these functions judge them, report.py renders the result. Severities follow the
monitoring-plugin convention (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN); the run's
severity is the worst finding, ranked CRIT > WARN > UNKNOWN > OK, so one check that cannot
tell does not hide a real problem, and never turns a green run into a red one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from packaging.version import Version

from .certs import CertificateInfo, lifetime_text
from .findings import Finding, Severity, worst  # noqa: F401 - doctor's vocabulary, defined apart for light importers
from .cron import CronStatus
from .renewal import RenewalPlan, plan as renewal_plan
from .dns import NameFinding, Verdict
from .moments import utc_minute
from .selftest import SelfTestResult, SelfTestVerdict
from .settings import LETSENCRYPT, LETSENCRYPT_DIRECTORY

CRITICAL_DAYS = 7  # a certificate with fewer days left is CRIT (a sixth of the lifetime for short ones)
RENEWAL_GAP = timedelta(days=8)  # renew runs daily, or weekly with the guide's schedule: longer is a gap
APACHE_PROGRAMS = frozenset({"apache2", "httpd"})
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
ROLE_FLAGS = {"admin": "-a", "client": "-c", "dealer": "-d"}


@dataclass(frozen=True)
class Expiry:
    """A certificate's clock, as the perfdata and the JSON show it."""

    name: str
    days_left: int
    warn_days: int  # days left when renewal becomes due (1/3 of the lifetime)
    not_after: datetime
    renewal_due_at: datetime
    critical_days: int = CRITICAL_DAYS


@dataclass(frozen=True)
class RateLimit:
    name: str
    failures_last_hour: int
    blocked_until: datetime | None


@dataclass(frozen=True)
class DoctorReport:
    findings: tuple[Finding, ...]
    expiries: tuple[Expiry, ...]
    rate_limits: tuple[RateLimit, ...]
    last_renewal: datetime | None
    checked_at: datetime
    offline: bool = False
    skipped: tuple[str, ...] = ()

    @property
    def severity(self) -> Severity:
        return worst(finding.severity for finding in self.findings)

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)


def critical_days(certificate: CertificateInfo) -> int:
    """Days left below which a certificate is CRIT: 7, or a sixth of the lifetime when that is less
    (a fresh 6-day certificate is not critical; one whose two daily attempts both failed is)."""
    return min(CRITICAL_DAYS, round(certificate.lifetime / timedelta(days=1)) // 6)


def expiry(name: str, certificate: CertificateInfo, now: datetime, plan: RenewalPlan | None = None) -> Expiry:
    due = (plan or renewal_plan(certificate)).due_at
    warn_days = (certificate.not_after - due) // timedelta(days=1)
    return Expiry(name, certificate.days_left(now), warn_days, certificate.not_after, due, critical_days(certificate))


def _issue_command(role: str | None) -> str:
    return f"ispa-cert issue {ROLE_FLAGS[role]}" if role in ROLE_FLAGS else "ispa-cert issue"


# --- Apache ---------------------------------------------------------------------------

def apache_config_finding(error: str | None, installed: bool = True, configtest: bool = False) -> Finding:
    """`configtest`: the error is configtest's (-S read the files, but a file they name is wrong)."""
    if not installed:
        return Finding("apache-config", Severity.CRIT, f"Apache is not installed: {error}", "apt-get install apache2")
    if error is None:
        return Finding("apache-config", Severity.OK, "apache2ctl -S reads the configuration")
    if configtest:
        return Finding("apache-config", Severity.CRIT, f"apache2ctl configtest fails, so the next reload will fail: "
                       f"{error}", "fix the file and line Apache names (a missing certificate or key: "
                       "`ispa-cert renew --force`); `ispa-cert backups restore` puts back the configuration from "
                       "before ispa-cert's last change")
    return Finding("apache-config", Severity.CRIT, f"Apache's configuration cannot be read: {error}",
                   "run `apache2ctl configtest` to see the error; `ispa-cert backups restore` puts back "
                   "the configuration from before ispa-cert's last change")


def apache_running_finding(pid_file: Path | None, pid: int | None) -> Finding:
    if pid_file is None:
        return Finding("apache-running", Severity.UNKNOWN, "cannot tell whether Apache runs: "
                       "apache2ctl -S gave no PidFile", "make Apache's configuration readable first (see apache-config)")
    if pid is None:
        return Finding("apache-running", Severity.CRIT, f"Apache is not running (no live process in {pid_file})",
                       "start it: systemctl start apache2 (why it stopped: journalctl -u apache2)")
    return Finding("apache-running", Severity.OK, f"Apache runs (pid {pid})")


def port_finding(check: str, port: int, programs: Iterable[str] | None, certificates_installed: bool) -> Finding:
    """programs: who listens on the port; '' for a listener `ss` could not name (not root); None: unknown."""
    if programs is None:
        return Finding(check, Severity.UNKNOWN, f"cannot list the sockets listening on port {port}",
                       "install iproute2 (the `ss` command) and run ispa-cert as root")
    found = set(programs)
    if found & APACHE_PROGRAMS:
        return Finding(check, Severity.OK, f"Apache listens on port {port}")
    if "" in found:
        return Finding(check, Severity.OK, f"something listens on port {port} (run as root to see which program)")
    if found:
        return Finding(check, Severity.CRIT, f"port {port} is taken by {', '.join(sorted(found))}, not by Apache",
                       f"stop {', '.join(sorted(found))} or move it to another port, then start Apache")
    if check == "https-port" and not certificates_installed:
        return Finding(check, Severity.WARN, f"nothing listens on port {port} yet: no certificate is installed",
                       "ispa-cert issue -a -c enables mod_ssl and the HTTPS virtual hosts")
    module = " and mod_ssl enabled (a2enmod ssl)" if check == "https-port" else ""
    return Finding(check, Severity.CRIT, f"nothing listens on port {port}",
                   f"start Apache, with `Listen {port}` in its ports.conf{module}")


def temp_site_finding(temp_site: Path, left_over: bool) -> Finding:
    if not left_over:
        return Finding("temp-site", Severity.OK, "no temp_isp.conf left behind")
    return Finding("temp-site", Severity.WARN, f"{temp_site} is left over from an earlier run",
                   "`ispa-cert issue` removes it; or by hand: a2dissite temp_isp; "
                   f"rm {temp_site}; systemctl reload apache2")


def pending_change_finding(marker: Mapping[str, object] | None) -> Finding:
    """A crash-recovery marker of a run that is gone (transaction.pending_change)."""
    if marker is None:
        return Finding("pending-change", Severity.OK, "no interrupted Apache change")
    fix = "run any changing ispa-cert command (e.g. `ispa-cert renew`): it finishes the recovery first"
    if marker.get("main_config_copy"):
        return Finding("pending-change", Severity.WARN, "an acme.sh run was interrupted: Apache's main "
                       "configuration may still hold its challenge Alias", fix)
    if marker.get("backup"):
        return Finding("pending-change", Severity.CRIT, f"an Apache change was interrupted ({marker.get('reason')}): "
                       f"Apache may run a half-changed configuration; backup {marker['backup']} holds the "
                       "previous one", fix)
    return Finding("pending-change", Severity.WARN, f"an interrupted run left a marker ({marker.get('reason')})", fix)


# --- DNS and the self-test ----------------------------------------------------------

_DNS_SEVERITY = {Verdict.OK: Severity.OK, Verdict.AAAA_ELSEWHERE: Severity.WARN, Verdict.TIMEOUT: Severity.UNKNOWN}
DNS_FIX = ("correct the record at your DNS provider; changes can take up to 48 hours to be seen, usually about 4")


def dns_finding(finding: NameFinding) -> Finding:
    severity = _DNS_SEVERITY.get(finding.verdict, Severity.CRIT)
    return Finding("dns", severity, finding.message, None if finding.ok else DNS_FIX, finding.name)


def self_test_finding(result: SelfTestResult) -> Finding:
    if result.ok:
        return Finding("self-test", Severity.OK, result.detail, subject=result.name)
    if result.verdict is SelfTestVerdict.NO_ADDRESS:
        return Finding("self-test", Severity.UNKNOWN, "not tested: DNS gave no address (see dns)",
                       DNS_FIX, result.name)
    return Finding("self-test", Severity.CRIT, f"{result.verdict.value}: {result.detail}",
                   "the CA's validation would fail the same way: open port 80 in the firewall and let Apache "
                   "serve /.well-known/acme-challenge/ for this name (`ispa-cert issue` sets that up)", result.name)


def challenge_dir_finding(directory: Path, taken_over: bool) -> Finding:
    """taken_over: ispa-cert has run here before (it has state), so the directory was there once."""
    if not taken_over:
        return Finding("self-test", Severity.WARN, f"not tested: ispa-cert's challenge directory {directory} does "
                       "not exist yet (acme.sh's own --apache runs do not need it)",
                       "`ispa-cert renew` or `ispa-cert issue` creates it; doctor then tests port 80 as the CA does")
    return Finding("self-test", Severity.CRIT, f"not tested: the challenge directory {directory} is missing, "
                   "so every validation would fail", "`ispa-cert issue` creates it again")


def stale_alias_finding(main_config: Path, directories: list[str]) -> Finding:
    """acme.sh's challenge Alias blocks left in Apache's main config (apache.stale_acme_aliases)."""
    if not directories:
        return Finding("acme-alias", Severity.OK, f"no challenge Alias of acme.sh left in {main_config.name}")
    count = len(directories)
    return Finding("acme-alias", Severity.WARN, f"{count} challenge Alias block{'s' if count > 1 else ''} acme.sh "
                   f"left in {main_config} ({', '.join(sorted(set(directories)))}): the first one wins, and one "
                   "pointing elsewhere than acme.sh's ACME_DIR makes every validation fail with 404",
                   "the next `ispa-cert renew` or `ispa-cert issue` removes them (backed up, configtested)")


# --- cron -------------------------------------------------------------------------------

CRON_FIX = "ispa-cert cron install"


def cron_finding(status: CronStatus, entry_runnable: bool, has_certificates: bool) -> Finding:
    """entry_runnable: the program of the entry found is an executable file."""
    state, detail = status.state, status.detail
    if state == "current":
        return Finding("cron", Severity.OK, detail)
    if state == "missing":
        severity = Severity.CRIT if has_certificates else Severity.WARN
        return Finding("cron", severity, f"{detail}: nothing renews the certificates", CRON_FIX)
    if state == "legacy-only":
        return Finding("cron", Severity.WARN, f"{detail} (the guide's line): renewals bypass ispa-cert's checks, "
                       "lock and failure ledger", f"{CRON_FIX} takes over: it replaces the legacy line in place once ispa-cert "
                       "renews every certificate the line renewed (`ispa-cert renew --force` tries it first; "
                       "README: Coming from certificate.pl)")
    if state == "legacy-also":
        return Finding("cron", Severity.WARN, f"{detail}: two renewals may run at once on one acme.sh home",
                       f"{CRON_FIX} (removes the legacy line)")
    if state == "differs" and entry_runnable:
        return Finding("cron", Severity.WARN, detail, CRON_FIX)
    return Finding("cron", Severity.CRIT, f"{detail}: the renewal cannot start", CRON_FIX)


def cron_cadence_finding(finding: Finding, sparse: str | None) -> Finding:
    """A good entry whose schedule is too sparse for the shortest lifetime on record becomes a WARN."""
    if sparse is None or finding.severity is not Severity.OK:
        return finding
    return Finding("cron", Severity.WARN, f"{finding.message}, but {sparse}: one failed run and the "
                   "certificate may expire", f"{CRON_FIX} (chooses a schedule that fits)")


def other_cron_jobs_finding(jobs: list[str]) -> Finding:
    """jobs: "FILE line N" of acme.sh renewal lines outside /etc/crontab (cron.d, root's crontab)."""
    if not jobs:
        return Finding("cron-other", Severity.OK, "no other acme.sh renewal job in /etc/cron.d or root's crontab")
    return Finding("cron-other", Severity.WARN, f"other acme.sh renewal jobs: {'; '.join(jobs)}: they renew the same "
                   "certificates without ispa-cert's checks, lock and failure ledger",
                   f"{CRON_FIX} (offers to disable them, with a backup)")


# --- acme.sh ------------------------------------------------------------------------------

def acme_installed_finding(script: Path, installed: bool) -> Finding:
    if installed:
        return Finding("acme-installed", Severity.OK, f"acme.sh is installed ({script})")
    return Finding("acme-installed", Severity.CRIT, f"acme.sh is not installed ({script} is missing)",
                   "ispa-cert install (from vendor/, no network needed)")


def acme_version_finding(installed: Version | None, vendored: Version | None, present: bool) -> Finding:
    if not present:
        return Finding("acme-version", Severity.UNKNOWN, "no installed acme.sh to compare", "ispa-cert install")
    if installed is None:
        return Finding("acme-version", Severity.UNKNOWN, "the installed acme.sh reports no readable version",
                       "ispa-cert upgrade (installs the vendored version)")
    if vendored is None:
        return Finding("acme-version", Severity.UNKNOWN, f"acme.sh {installed} installed; the vendored copy "
                       "is missing, nothing to compare with", "run `make install` in the ispa-cert checkout")
    if installed < vendored:
        return Finding("acme-version", Severity.WARN, f"acme.sh {installed} is older than the vendored {vendored}",
                       "ispa-cert upgrade")
    return Finding("acme-version", Severity.OK, f"acme.sh {installed} (vendored {vendored})")


def directory_url(server: str) -> str:
    """acme.sh's --server value as a directory URL (`letsencrypt` is Let's Encrypt's)."""
    return LETSENCRYPT_DIRECTORY if server == LETSENCRYPT else server


def ca_finding(certificate_cas: Mapping[str, str], default_server: str | None, configured: str,
               acme_home: Path) -> Finding:
    """certificate_cas: name -> acme.sh's Le_API; default_server: account.conf's DEFAULT_ACME_SERVER."""
    accepted = {LETSENCRYPT_DIRECTORY, directory_url(configured)}
    foreign = {name: url for name, url in certificate_cas.items() if directory_url(url) not in accepted}
    if foreign:
        listing = ", ".join(f"{name} ({_ca_label(url)})" for name, url in sorted(foreign.items()))
        return Finding("acme-ca", Severity.WARN, f"not Let's Encrypt: {listing}",
                       "issue them again from Let's Encrypt: ispa-cert issue --force with the interface flags")
    if default_server and directory_url(default_server) not in accepted:
        return Finding("acme-ca", Severity.WARN, f"not Let's Encrypt: acme.sh's default CA is {_ca_label(default_server)} "
                       "(acme.sh run by hand asks it)",
                       f"{acme_home}/acme.sh --set-default-ca --server letsencrypt --home {acme_home}")
    used = sorted({directory_url(url) for url in certificate_cas.values()}) or [directory_url(configured)]
    source = "Let's Encrypt" if used == [LETSENCRYPT_DIRECTORY] else f"the configured CA {', '.join(used)}"
    if not certificate_cas:
        return Finding("acme-ca", Severity.OK, f"no certificate yet; ispa-cert asks {source} explicitly")
    return Finding("acme-ca", Severity.OK, f"certificates come from {source}")


def _ca_label(url: str) -> str:
    if directory_url(url) == LETSENCRYPT_STAGING:
        return f"{url}, Let's Encrypt's staging CA, which browsers do not trust"
    return url


def account_finding(ca_url: str, account_key: Path, registered: bool) -> Finding:
    if registered:
        return Finding("acme-account", Severity.OK, f"an ACME account is registered with {ca_url}")
    return Finding("acme-account", Severity.WARN, f"no ACME account registered with {ca_url} ({account_key} "
                   "or its registration is missing)",
                   "`ispa-cert repair` restores an archived account; otherwise the next issue or renewal registers "
                   "a new one")


# --- certificates ----------------------------------------------------------------------

def certificate_finding(name: str, role: str | None, certificate: CertificateInfo | None, installed: bool,
                        now: datetime, error: str | None = None, hint: str | None = None,
                        plan: RenewalPlan | None = None) -> Finding:
    """error/hint: why the certificate file could not be read; plan: when it is due (default 2/3 of its lifetime)."""
    if error is not None:
        return Finding("certificate", Severity.UNKNOWN, error, hint, name)
    if certificate is None:
        return Finding("certificate", Severity.CRIT, f"no certificate for {name}" + (f" ({role})" if role else ""),
                       _issue_command(role), name)
    verdict = _expiry_finding(name, certificate, now, plan or renewal_plan(certificate))
    if installed or verdict.severity is not Severity.OK:
        return verdict
    return Finding("certificate", Severity.WARN, f"issued (valid until {utc_minute(certificate.not_after)}) but not "
                   "installed into Apache", f"{_issue_command(role)} (installs it)", name)


def _expiry_finding(name: str, certificate: CertificateInfo, now: datetime, plan: RenewalPlan) -> Finding:
    days, due = certificate.days_left(now), plan.due_at
    renew = "ispa-cert renew; if it fails, fix what the other findings report"
    if certificate.is_expired(now):
        return Finding("certificate", Severity.CRIT, f"expired on {utc_minute(certificate.not_after)}",
                       "ispa-cert renew --force, after fixing what the other findings report", name)
    if days < critical_days(certificate):
        return Finding("certificate", Severity.CRIT, f"expires on {utc_minute(certificate.not_after)}, in {days} days "
                       f"(renewal was due on {utc_minute(due)})", renew, name)
    if plan.is_due(now):
        return Finding("certificate", Severity.WARN, f"renewal overdue since {utc_minute(due)} ({plan.rule_text}); "
                       f"expires on {utc_minute(certificate.not_after)}, in {days} days", renew, name)
    return Finding("certificate", Severity.OK, f"valid until {utc_minute(certificate.not_after)} ({days} days); "
                   f"renewal from {utc_minute(due)}", subject=name)


def renewal_info_finding(name: str, profile: str | None, certificate: CertificateInfo, plan: RenewalPlan,
                         now: datetime) -> Finding:
    """Profile, lifetime, the CA's window (ARI) and the chosen moment; WARN while the CA asks for early replacement."""
    lifetime = f"profile {profile or 'the CA default'}, {lifetime_text(certificate)}"
    info = plan.info
    if info is None or not info.has_window:
        return Finding("renewal-info", Severity.OK, f"{lifetime}; no ARI (the CA's renewal window is not known): "
                       f"renewal at {utc_minute(plan.due_at)}, 2/3 of the lifetime", subject=name)
    window = f"the CA's window {utc_minute(info.window_start)} to {utc_minute(info.window_end)}"
    if info.early(now):
        why = f": {info.explanation_url}" if info.explanation_url else ""
        return Finding("renewal-info", Severity.WARN, f"the CA asks for this certificate to be replaced early{why} "
                       f"({window})", "ispa-cert renew (renews it now; cron does at its next run)", name)
    chosen = "chosen inside the window" if plan.rule == "ari" else "2/3 of the lifetime, before the window ends"
    return Finding("renewal-info", Severity.OK, f"{lifetime}; {window}; renewal at {utc_minute(plan.due_at)} ({chosen})",
                   subject=name)


def served_finding(name: str, port: int, on_disk: CertificateInfo | None, served: CertificateInfo | None) -> Finding:
    if served is None:
        return Finding("served", Severity.CRIT, f"nothing answers HTTPS for {name} on port {port}",
                       "start Apache with mod_ssl (see apache-running, https-port); `ispa-cert issue` installs "
                       "the HTTPS virtual hosts", name)
    if on_disk is not None and served.fingerprint_sha256 == on_disk.fingerprint_sha256:
        return Finding("served", Severity.OK, f"Apache serves this certificate on port {port}", subject=name)
    disk = f"serial {on_disk.serial_hex}" if on_disk else "none on disk"
    return Finding("served", Severity.WARN, f"Apache serves another certificate on port {port} (serial "
                   f"{served.serial_hex}, for {', '.join(served.names) or served.subject}, until "
                   f"{utc_minute(served.not_after)}) than the one on disk ({disk})",
                   "reload Apache (systemctl reload apache2); if that does not help, `ispa-cert issue` "
                   "installs it again", name)


# --- failures, rate limit, renewals -------------------------------------------------------

def rate_limit_findings(limits: Iterable[RateLimit]) -> list[Finding]:
    found = [limit for limit in limits if limit.failures_last_hour]
    if not found:
        return [Finding("rate-limit", Severity.OK, "no failed validation in the last hour")]
    return [_rate_limit_finding(limit) for limit in found]


def _rate_limit_finding(limit: RateLimit) -> Finding:
    see = "fix the cause first (see dns and self-test, and the log)"
    if limit.blocked_until is not None:
        return Finding("rate-limit", Severity.WARN, f"{limit.failures_last_hour} failed validations in the last hour: "
                       f"the CA refuses {limit.name} until {utc_minute(limit.blocked_until)}",
                       f"{see}, then retry after {limit.blocked_until:%H:%M} UTC", limit.name)
    return Finding("rate-limit", Severity.WARN, f"{limit.failures_last_hour} failed validations in the last hour "
                   "(the CA refuses a name for an hour after 5)", see, limit.name)


def renewal_finding(last_renewal: datetime | None, last_issue: datetime | None, overdue: Mapping[str, datetime],
                    now: datetime) -> Finding:
    """last_renewal: the last `renew` run that ended well (also when nothing was due); last_issue: the last
    certificate `issue` obtained; overdue: name -> when its renewal became due, for certificates past it."""
    last = (f"last successful renewal run {utc_minute(last_renewal)} ({(now - last_renewal).days} days ago)"
            if last_renewal else "no renewal run has succeeded yet")
    fix = ("check that cron runs `ispa-cert renew --cron` (`ispa-cert cron show`), then run `ispa-cert renew` "
           "and read its errors")
    if overdue:
        return Finding("renewal", Severity.WARN, f"renewal gap: {', '.join(sorted(overdue))} overdue since "
                       f"{utc_minute(min(overdue.values()))}; {last}", fix)
    since = max((moment for moment in (last_renewal, last_issue) if moment), default=None)
    if since is not None and now - since > RENEWAL_GAP:
        return Finding("renewal", Severity.WARN, f"renewal gap: {last}; renew runs at least weekly: was the "
                       "server off, or does renew fail?", fix)
    return Finding("renewal", Severity.OK, last)


def state_finding(error: str | None, hint: str | None, names: int) -> Finding:
    if error is not None:
        return Finding("state", Severity.UNKNOWN, error, hint)
    if names == 0:
        return Finding("state", Severity.WARN, "no certificate on record", "ispa-cert issue -a -c")
    return Finding("state", Severity.OK, f"{names} name{'s' if names != 1 else ''} on record")
