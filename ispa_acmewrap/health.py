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
from .i18n import N_, _, ngettext
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


def _days(days: int) -> str:
    return ngettext("{count} day", "{count} days", days).format(count=days)


# --- Apache ---------------------------------------------------------------------------

def apache_config_finding(error: str | None, installed: bool = True, configtest: bool = False) -> Finding:
    """`configtest`: the error is configtest's (-S read the files, but a file they name is wrong)."""
    if not installed:
        return Finding("apache-config", Severity.CRIT, _("Apache is not installed: {error}").format(error=error),
                       "apt-get install apache2")
    if error is None:
        return Finding("apache-config", Severity.OK, _("apache2ctl -S reads the configuration"))
    if configtest:
        return Finding("apache-config", Severity.CRIT,
                       _("apache2ctl configtest fails, so the next reload will fail: {error}").format(error=error),
                       _("fix the file and line Apache names (a missing certificate or key: "
                         "`ispa-cert renew --force`); `ispa-cert backups restore` puts back the configuration from "
                         "before ispa-cert's last change"))
    return Finding("apache-config", Severity.CRIT, _("Apache's configuration cannot be read: {error}").format(error=error),
                   _("run `apache2ctl configtest` to see the error; `ispa-cert backups restore` puts back "
                     "the configuration from before ispa-cert's last change"))


def apache_running_finding(pid_file: Path | None, pid: int | None) -> Finding:
    if pid_file is None:
        return Finding("apache-running", Severity.UNKNOWN, _("cannot tell whether Apache runs: "
                       "apache2ctl -S gave no PidFile"),
                       _("make Apache's configuration readable first (see apache-config)"))
    if pid is None:
        return Finding("apache-running", Severity.CRIT,
                       _("Apache is not running (no live process in {pid_file})").format(pid_file=pid_file),
                       _("start it: systemctl start apache2 (why it stopped: journalctl -u apache2)"))
    return Finding("apache-running", Severity.OK, _("Apache runs (pid {pid})").format(pid=pid))


def port_finding(check: str, port: int, programs: Iterable[str] | None, certificates_installed: bool) -> Finding:
    """programs: who listens on the port; '' for a listener `ss` could not name (not root); None: unknown."""
    if programs is None:
        return Finding(check, Severity.UNKNOWN, _("cannot list the sockets listening on port {port}").format(port=port),
                       _("install iproute2 (the `ss` command) and run ispa-cert as root"))
    found = set(programs)
    if found & APACHE_PROGRAMS:
        return Finding(check, Severity.OK, _("Apache listens on port {port}").format(port=port))
    if "" in found:
        return Finding(check, Severity.OK,
                       _("something listens on port {port} (run as root to see which program)").format(port=port))
    if found:
        programs_text = ", ".join(sorted(found))
        return Finding(check, Severity.CRIT,
                       _("port {port} is taken by {programs}, not by Apache").format(port=port, programs=programs_text),
                       _("stop {programs} or move it to another port, then start Apache").format(programs=programs_text))
    if check == "https-port" and not certificates_installed:
        return Finding(check, Severity.WARN,
                       _("nothing listens on port {port} yet: no certificate is installed").format(port=port),
                       _("ispa-cert issue -a -c enables mod_ssl and the HTTPS virtual hosts"))
    fix = (_("start Apache, with `Listen {port}` in its ports.conf and mod_ssl enabled (a2enmod ssl)")
           if check == "https-port" else _("start Apache, with `Listen {port}` in its ports.conf"))
    return Finding(check, Severity.CRIT, _("nothing listens on port {port}").format(port=port), fix.format(port=port))


def temp_site_finding(temp_site: Path, left_over: bool) -> Finding:
    if not left_over:
        return Finding("temp-site", Severity.OK, _("no temp_isp.conf left behind"))
    return Finding("temp-site", Severity.WARN, _("{file} is left over from an earlier run").format(file=temp_site),
                   _("`ispa-cert issue` removes it; or by hand: a2dissite temp_isp; "
                     "rm {file}; systemctl reload apache2").format(file=temp_site))


def pending_change_finding(marker: Mapping[str, object] | None) -> Finding:
    """A crash-recovery marker of a run that is gone (transaction.pending_change)."""
    if marker is None:
        return Finding("pending-change", Severity.OK, _("no interrupted Apache change"))
    fix = _("run any changing ispa-cert command (e.g. `ispa-cert renew`): it finishes the recovery first")
    if marker.get("main_config_copy"):
        return Finding("pending-change", Severity.WARN, _("an acme.sh run was interrupted: Apache's main "
                       "configuration may still hold its challenge Alias"), fix)
    if marker.get("backup"):
        return Finding("pending-change", Severity.CRIT, _("an Apache change was interrupted ({reason}): "
                       "Apache may run a half-changed configuration; backup {backup} holds the "
                       "previous one").format(reason=marker.get("reason"), backup=marker["backup"]), fix)
    return Finding("pending-change", Severity.WARN,
                   _("an interrupted run left a marker ({reason})").format(reason=marker.get("reason")), fix)


# --- DNS and the self-test ----------------------------------------------------------

_DNS_SEVERITY = {Verdict.OK: Severity.OK, Verdict.AAAA_ELSEWHERE: Severity.WARN, Verdict.TIMEOUT: Severity.UNKNOWN}
DNS_FIX = N_("correct the record at your DNS provider; changes can take up to 48 hours to be seen, usually about 4")


def dns_finding(finding: NameFinding) -> Finding:
    severity = _DNS_SEVERITY.get(finding.verdict, Severity.CRIT)
    return Finding("dns", severity, finding.message, None if finding.ok else _(DNS_FIX), finding.name)


def self_test_finding(result: SelfTestResult) -> Finding:
    if result.ok:
        return Finding("self-test", Severity.OK, result.detail, subject=result.name)
    if result.verdict is SelfTestVerdict.NO_ADDRESS:
        return Finding("self-test", Severity.UNKNOWN, _("not tested: DNS gave no address (see dns)"),
                       _(DNS_FIX), result.name)
    return Finding("self-test", Severity.CRIT, _("{verdict}: {detail}").format(verdict=result.verdict.label,
                                                                               detail=result.detail),
                   _("the CA's validation would fail the same way: open port 80 in the firewall and let Apache "
                     "serve /.well-known/acme-challenge/ for this name (`ispa-cert issue` sets that up)"), result.name)


def challenge_dir_finding(directory: Path, taken_over: bool) -> Finding:
    """taken_over: ispa-cert has run here before (it has state), so the directory was there once."""
    if not taken_over:
        return Finding("self-test", Severity.WARN, _("not tested: ispa-cert's challenge directory {directory} does "
                       "not exist yet (acme.sh's own --apache runs do not need it)").format(directory=directory),
                       _("`ispa-cert renew` or `ispa-cert issue` creates it; doctor then tests port 80 as the CA does"))
    return Finding("self-test", Severity.CRIT, _("not tested: the challenge directory {directory} is missing, "
                   "so every validation would fail").format(directory=directory),
                   _("`ispa-cert issue` creates it again"))


def stale_alias_finding(main_config: Path, directories: list[str]) -> Finding:
    """acme.sh's challenge Alias blocks left in Apache's main config (apache.stale_acme_aliases)."""
    if not directories:
        return Finding("acme-alias", Severity.OK,
                       _("no challenge Alias of acme.sh left in {file}").format(file=main_config.name))
    count = len(directories)
    return Finding("acme-alias", Severity.WARN, ngettext(
        "{count} challenge Alias block acme.sh left in {file} ({directories}): the first one wins, and one "
        "pointing elsewhere than acme.sh's ACME_DIR makes every validation fail with 404",
        "{count} challenge Alias blocks acme.sh left in {file} ({directories}): the first one wins, and one "
        "pointing elsewhere than acme.sh's ACME_DIR makes every validation fail with 404", count).format(
            count=count, file=main_config, directories=", ".join(sorted(set(directories)))),
        _("the next `ispa-cert renew` or `ispa-cert issue` removes them (backed up, configtested)"))


# --- cron -------------------------------------------------------------------------------

CRON_FIX = "ispa-cert cron install"


def cron_finding(status: CronStatus, entry_runnable: bool, has_certificates: bool) -> Finding:
    """entry_runnable: the program of the entry found is an executable file."""
    state, detail = status.state, status.detail
    if state == "current":
        return Finding("cron", Severity.OK, detail)
    if state == "missing":
        severity = Severity.CRIT if has_certificates else Severity.WARN
        return Finding("cron", severity, _("{detail}: nothing renews the certificates").format(detail=detail), CRON_FIX)
    if state == "legacy-only":
        return Finding("cron", Severity.WARN, _("{detail} (the guide's line): renewals bypass ispa-cert's checks, "
                       "lock and failure ledger").format(detail=detail),
                       _("{command} takes over: it replaces the legacy line in place once ispa-cert "
                         "renews every certificate the line renewed (`ispa-cert renew --force` tries it first; "
                         "README: Coming from certificate.pl)").format(command=CRON_FIX))
    if state == "legacy-also":
        return Finding("cron", Severity.WARN,
                       _("{detail}: two renewals may run at once on one acme.sh home").format(detail=detail),
                       _("{command} (removes the legacy line)").format(command=CRON_FIX))
    if state == "differs" and entry_runnable:
        return Finding("cron", Severity.WARN, detail, CRON_FIX)
    return Finding("cron", Severity.CRIT, _("{detail}: the renewal cannot start").format(detail=detail), CRON_FIX)


def cron_cadence_finding(finding: Finding, sparse: str | None) -> Finding:
    """A good entry whose schedule is too sparse for the shortest lifetime on record becomes a WARN."""
    if sparse is None or finding.severity is not Severity.OK:
        return finding
    return Finding("cron", Severity.WARN, _("{detail}, but {sparse}: one failed run and the "
                   "certificate may expire").format(detail=finding.message, sparse=sparse),
                   _("{command} (chooses a schedule that fits)").format(command=CRON_FIX))


def other_cron_jobs_finding(jobs: list[str]) -> Finding:
    """jobs: "FILE line N" of acme.sh renewal lines outside /etc/crontab (cron.d, root's crontab)."""
    if not jobs:
        return Finding("cron-other", Severity.OK, _("no other acme.sh renewal job in /etc/cron.d or root's crontab"))
    return Finding("cron-other", Severity.WARN, _("other acme.sh renewal jobs: {jobs}: they renew the same "
                   "certificates without ispa-cert's checks, lock and failure ledger").format(jobs="; ".join(jobs)),
                   _("{command} (offers to disable them, with a backup)").format(command=CRON_FIX))


# --- acme.sh ------------------------------------------------------------------------------

def acme_installed_finding(script: Path, installed: bool) -> Finding:
    if installed:
        return Finding("acme-installed", Severity.OK, _("acme.sh is installed ({script})").format(script=script))
    return Finding("acme-installed", Severity.CRIT,
                   _("acme.sh is not installed ({script} is missing)").format(script=script),
                   _("ispa-cert install (from vendor/, no network needed)"))


def acme_version_finding(installed: Version | None, vendored: Version | None, present: bool) -> Finding:
    if not present:
        return Finding("acme-version", Severity.UNKNOWN, _("no installed acme.sh to compare"), "ispa-cert install")
    if installed is None:
        return Finding("acme-version", Severity.UNKNOWN, _("the installed acme.sh reports no readable version"),
                       _("ispa-cert upgrade (installs the vendored version)"))
    if vendored is None:
        return Finding("acme-version", Severity.UNKNOWN, _("acme.sh {installed} installed; the vendored copy "
                       "is missing, nothing to compare with").format(installed=installed),
                       _("run `make install` in the ispa-cert checkout"))
    if installed < vendored:
        return Finding("acme-version", Severity.WARN, _("acme.sh {installed} is older than the vendored "
                       "{vendored}").format(installed=installed, vendored=vendored), "ispa-cert upgrade")
    return Finding("acme-version", Severity.OK,
                   _("acme.sh {installed} (vendored {vendored})").format(installed=installed, vendored=vendored))


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
        return Finding("acme-ca", Severity.WARN, _("not Let's Encrypt: {listing}").format(listing=listing),
                       _("issue them again from Let's Encrypt: ispa-cert issue --force with the interface flags"))
    if default_server and directory_url(default_server) not in accepted:
        return Finding("acme-ca", Severity.WARN, _("not Let's Encrypt: acme.sh's default CA is {ca} "
                       "(acme.sh run by hand asks it)").format(ca=_ca_label(default_server)),
                       f"{acme_home}/acme.sh --set-default-ca --server letsencrypt --home {acme_home}")  # i18n: not a message
    used = sorted({directory_url(url) for url in certificate_cas.values()}) or [directory_url(configured)]
    source = "Let's Encrypt" if used == [LETSENCRYPT_DIRECTORY] else \
        _("the configured CA {ca}").format(ca=", ".join(used))
    if not certificate_cas:
        return Finding("acme-ca", Severity.OK,
                       _("no certificate yet; ispa-cert asks {ca} explicitly").format(ca=source))
    return Finding("acme-ca", Severity.OK, _("certificates come from {ca}").format(ca=source))


def _ca_label(url: str) -> str:
    if directory_url(url) == LETSENCRYPT_STAGING:
        return _("{url}, Let's Encrypt's staging CA, which browsers do not trust").format(url=url)
    return url


def account_finding(ca_url: str, account_key: Path, registered: bool) -> Finding:
    if registered:
        return Finding("acme-account", Severity.OK, _("an ACME account is registered with {ca}").format(ca=ca_url))
    return Finding("acme-account", Severity.WARN, _("no ACME account registered with {ca} ({key} "
                   "or its registration is missing)").format(ca=ca_url, key=account_key),
                   _("`ispa-cert repair` restores an archived account; otherwise the next issue or renewal registers "
                     "a new one"))


# --- certificates ----------------------------------------------------------------------

def certificate_finding(name: str, role: str | None, certificate: CertificateInfo | None, installed: bool,
                        now: datetime, error: str | None = None, hint: str | None = None,
                        plan: RenewalPlan | None = None) -> Finding:
    """error/hint: why the certificate file could not be read; plan: when it is due (default 2/3 of its lifetime)."""
    if error is not None:
        return Finding("certificate", Severity.UNKNOWN, error, hint, name)
    if certificate is None:
        missing = (_("no certificate for {name} ({role})").format(name=name, role=role) if role
                   else _("no certificate for {name}").format(name=name))
        return Finding("certificate", Severity.CRIT, missing, _issue_command(role), name)
    verdict = _expiry_finding(name, certificate, now, plan or renewal_plan(certificate))
    if installed or verdict.severity is not Severity.OK:
        return verdict
    return Finding("certificate", Severity.WARN, _("issued (valid until {date}) but not "
                   "installed into Apache").format(date=utc_minute(certificate.not_after)),
                   _("{command} (installs it)").format(command=_issue_command(role)), name)


def _expiry_finding(name: str, certificate: CertificateInfo, now: datetime, plan: RenewalPlan) -> Finding:
    days, due = certificate.days_left(now), plan.due_at
    renew = _("ispa-cert renew; if it fails, fix what the other findings report")
    if certificate.is_expired(now):
        return Finding("certificate", Severity.CRIT, _("expired on {date}").format(date=utc_minute(certificate.not_after)),
                       _("ispa-cert renew --force, after fixing what the other findings report"), name)
    if days < critical_days(certificate):
        return Finding("certificate", Severity.CRIT, _("expires on {date}, in {days} "
                       "(renewal was due on {due})").format(date=utc_minute(certificate.not_after), days=_days(days),
                                                             due=utc_minute(due)), renew, name)
    if plan.is_due(now):
        return Finding("certificate", Severity.WARN, _("renewal overdue since {due} ({rule}); "
                       "expires on {date}, in {days}").format(due=utc_minute(due), rule=plan.rule_text,
                                                              date=utc_minute(certificate.not_after), days=_days(days)),
                       renew, name)
    return Finding("certificate", Severity.OK, _("valid until {date} ({days}); renewal from {due}").format(
        date=utc_minute(certificate.not_after), days=_days(days), due=utc_minute(due)), subject=name)


def renewal_info_finding(name: str, profile: str | None, certificate: CertificateInfo, plan: RenewalPlan,
                         now: datetime) -> Finding:
    """Profile, lifetime, the CA's window (ARI) and the chosen moment; WARN while the CA asks for early replacement."""
    lifetime = _("profile {profile}, {lifetime}").format(profile=profile or _("the CA default"),
                                                         lifetime=lifetime_text(certificate))
    info = plan.info
    if info is None or not info.has_window:
        return Finding("renewal-info", Severity.OK, _("{lifetime}; no ARI (the CA's renewal window is not known): "
                       "renewal at {due}, 2/3 of the lifetime").format(lifetime=lifetime, due=utc_minute(plan.due_at)),
                       subject=name)
    window = _("the CA's window {start} to {end}").format(start=utc_minute(info.window_start), end=utc_minute(info.window_end))
    if info.early(now):
        message = (_("the CA asks for this certificate to be replaced early: {url} ({window})")
                   if info.explanation_url else _("the CA asks for this certificate to be replaced early ({window})"))
        return Finding("renewal-info", Severity.WARN, message.format(url=info.explanation_url, window=window),
                       _("ispa-cert renew (renews it now; cron does at its next run)"), name)
    chosen = _("chosen inside the window") if plan.rule == "ari" else _("2/3 of the lifetime, before the window ends")
    return Finding("renewal-info", Severity.OK, _("{lifetime}; {window}; renewal at {due} ({chosen})").format(
        lifetime=lifetime, window=window, due=utc_minute(plan.due_at), chosen=chosen), subject=name)


def served_finding(name: str, port: int, on_disk: CertificateInfo | None, served: CertificateInfo | None) -> Finding:
    if served is None:
        return Finding("served", Severity.CRIT, _("nothing answers HTTPS for {name} on port {port}").format(
            name=name, port=port), _("start Apache with mod_ssl (see apache-running, https-port); `ispa-cert issue` "
                                     "installs the HTTPS virtual hosts"), name)
    if on_disk is not None and served.fingerprint_sha256 == on_disk.fingerprint_sha256:
        return Finding("served", Severity.OK,
                       _("Apache serves this certificate on port {port}").format(port=port), subject=name)
    disk = _("serial {serial}").format(serial=on_disk.serial_hex) if on_disk else _("none on disk")
    return Finding("served", Severity.WARN, _("Apache serves another certificate on port {port} (serial "
                   "{serial}, for {names}, until {date}) than the one on disk ({disk})").format(
                       port=port, serial=served.serial_hex, names=", ".join(served.names) or served.subject,
                       date=utc_minute(served.not_after), disk=disk),
                   _("reload Apache (systemctl reload apache2); if that does not help, `ispa-cert issue` "
                     "installs it again"), name)


# --- failures, rate limit, renewals -------------------------------------------------------

def rate_limit_findings(limits: Iterable[RateLimit]) -> list[Finding]:
    found = [limit for limit in limits if limit.failures_last_hour]
    if not found:
        return [Finding("rate-limit", Severity.OK, _("no failed validation in the last hour"))]
    return [_rate_limit_finding(limit) for limit in found]


def _rate_limit_finding(limit: RateLimit) -> Finding:
    see = _("fix the cause first (see dns and self-test, and the log)")
    failures = limit.failures_last_hour
    if limit.blocked_until is not None:
        return Finding("rate-limit", Severity.WARN, ngettext(
            "{count} failed validation in the last hour: the CA refuses {name} until {date}",
            "{count} failed validations in the last hour: the CA refuses {name} until {date}", failures).format(
                count=failures, name=limit.name, date=utc_minute(limit.blocked_until)),
            _("{see}, then retry after {time} UTC").format(see=see, time=f"{limit.blocked_until:%H:%M}"), limit.name)
    return Finding("rate-limit", Severity.WARN, ngettext(
        "{count} failed validation in the last hour (the CA refuses a name for an hour after 5)",
        "{count} failed validations in the last hour (the CA refuses a name for an hour after 5)", failures).format(
            count=failures), see, limit.name)


def renewal_finding(last_renewal: datetime | None, last_issue: datetime | None, overdue: Mapping[str, datetime],
                    now: datetime) -> Finding:
    """last_renewal: the last `renew` run that ended well (also when nothing was due); last_issue: the last
    certificate `issue` obtained; overdue: name -> when its renewal became due, for certificates past it."""
    if last_renewal:
        ago = (now - last_renewal).days
        last = ngettext("last successful renewal run {date} ({count} day ago)",
                        "last successful renewal run {date} ({count} days ago)", ago).format(
                            date=utc_minute(last_renewal), count=ago)
    else:
        last = _("no renewal run has succeeded yet")
    fix = _("check that cron runs `ispa-cert renew --cron` (`ispa-cert cron show`), then run `ispa-cert renew` "
            "and read its errors")
    if overdue:
        return Finding("renewal", Severity.WARN, _("renewal gap: {names} overdue since {date}; {last}").format(
            names=", ".join(sorted(overdue)), date=utc_minute(min(overdue.values())), last=last), fix)
    since = max((moment for moment in (last_renewal, last_issue) if moment), default=None)
    if since is not None and now - since > RENEWAL_GAP:
        return Finding("renewal", Severity.WARN, _("renewal gap: {last}; renew runs at least weekly: was the "
                       "server off, or does renew fail?").format(last=last), fix)
    return Finding("renewal", Severity.OK, last)


def state_finding(error: str | None, hint: str | None, names: int) -> Finding:
    if error is not None:
        return Finding("state", Severity.UNKNOWN, error, hint)
    if names == 0:
        return Finding("state", Severity.WARN, _("no certificate on record"), "ispa-cert issue -a -c")
    return Finding("state", Severity.OK, ngettext("{count} name on record", "{count} names on record",
                                                  names).format(count=names))
