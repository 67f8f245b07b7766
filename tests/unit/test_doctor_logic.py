"""doctor's pure logic: severities and their aggregation, the plugin line, perfdata, the judges."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from packaging.version import Version

from ispa_acmewrap import acme, apache, health, report
from ispa_acmewrap.certs import CertificateInfo
from ispa_acmewrap.cron import CronEntry, CronStatus
from ispa_acmewrap.dns import NameFinding, Verdict
from ispa_acmewrap.health import DoctorReport, Expiry, Finding, RateLimit, Severity, worst
from ispa_acmewrap.listeners import listening_command, parse_listeners, programs_on
from ispa_acmewrap.paths import Paths
from ispa_acmewrap.selftest import SelfTestResult, SelfTestVerdict
from ispa_acmewrap.settings import LETSENCRYPT, LETSENCRYPT_DIRECTORY
from tests.factories import NAME, certificate_info

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
PEBBLE = "https://127.0.0.1:14000/dir"
OK, WARN, CRIT, UNKNOWN = Severity.OK, Severity.WARN, Severity.CRIT, Severity.UNKNOWN


def certificate(age_days: float, lifetime_days: float = 90, name: str = NAME, fingerprint: str = "aa") -> CertificateInfo:
    return certificate_info(name, not_before=NOW - timedelta(days=age_days), lifetime=timedelta(days=lifetime_days),
                            fingerprint=fingerprint)


def doctor_report(*findings: Finding, expiries: tuple[Expiry, ...] = (), offline: bool = False) -> DoctorReport:
    return DoctorReport(tuple(findings), expiries, (), None, NOW, offline, ("dns", "self-test", "served") if offline else ())


# --- severities ---------------------------------------------------------------------------

@pytest.mark.parametrize("severities, expected", [
    ((), OK),
    ((OK, OK), OK),
    ((OK, UNKNOWN), UNKNOWN),
    ((UNKNOWN, WARN, OK), WARN),
    ((WARN, CRIT, UNKNOWN), CRIT),
    ((CRIT, OK), CRIT),
])
def test_the_worst_severity_wins_and_unknown_ranks_below_warn(severities, expected):
    assert worst(severities) is expected


def test_plugin_exit_codes_and_words():
    assert [(s.exit_code, s.word) for s in (OK, WARN, CRIT, UNKNOWN)] == [
        (0, "OK"), (1, "WARNING"), (2, "CRITICAL"), (3, "UNKNOWN")]


def test_a_report_is_as_bad_as_its_worst_finding():
    result = doctor_report(Finding("a", OK, "fine"), Finding("b", WARN, "hm"), Finding("c", UNKNOWN, "?"))
    assert result.severity is WARN and result.severity.exit_code == 1
    assert result.count(WARN) == 1 and result.count(CRIT) == 0


# --- the plugin line and perfdata -----------------------------------------------------------------

def test_perfdata_has_days_left_per_name_with_renewal_and_critical_thresholds():
    fresh = health.expiry("admin.example.net", certificate(age_days=10), NOW)
    expired = health.expiry("portal.example.net", certificate(age_days=95), NOW)
    assert fresh.days_left == 80 and fresh.warn_days == 30
    assert report.perfdata([fresh, expired]) == "'admin.example.net'=80d;30:;7: 'portal.example.net'=-5d;30:;7:"


def test_the_renewal_threshold_follows_the_lifetime():
    assert health.expiry("a.example.net", certificate(age_days=1, lifetime_days=45), NOW).warn_days == 15
    assert health.expiry("a.example.net", certificate(age_days=1, lifetime_days=1826), NOW).warn_days == 608


def test_ok_line_names_the_next_renewal_and_carries_perfdata():
    expiries = (health.expiry("admin.example.net", certificate(10), NOW),
                health.expiry("portal.example.net", certificate(20), NOW))
    line = report.plugin_line(doctor_report(Finding("a", OK, "fine"), Finding("b", OK, "fine"), expiries=expiries))
    assert line == ("ISPA-CERT OK - 2 checks OK; 2 certificates, next renewal 2026-04-10 (portal.example.net) "
                    "| 'admin.example.net'=80d;30:;7: 'portal.example.net'=70d;30:;7:")


def test_one_certificate_is_one_certificate():
    expiries = (health.expiry("admin.example.net", certificate(10), NOW),)
    line = report.plugin_line(doctor_report(Finding("a", OK, "fine"), expiries=expiries))
    assert "; 1 certificate, next renewal 2026-" in line


def test_problem_line_counts_and_lists_the_worst_first():
    result = doctor_report(
        Finding("cron", WARN, "legacy line", "ispa-cert cron install"),
        Finding("acme-version", UNKNOWN, "unreadable"),
        Finding("apache-running", CRIT, "Apache is not running"),
        Finding("certificate", CRIT, "expired", subject="isp.example.net"),
        Finding("temp-site", WARN, "left over"),
        Finding("state", OK, "fine"))
    line = report.plugin_line(result)
    assert line == ("ISPA-CERT CRITICAL - 2 critical, 2 warning, 1 unknown: apache-running: Apache is not running; "
                    "certificate isp.example.net: expired; cron: legacy line (+2 more)")


def test_the_first_line_stays_one_line_and_keeps_the_pipe_for_perfdata():
    result = doctor_report(Finding("apache-config", CRIT, "Syntax error\non line 3 | near <VirtualHost>"))
    line = report.plugin_line(result)
    assert "\n" not in line and line.count("|") == 0
    assert line == "ISPA-CERT CRITICAL - 1 critical: apache-config: Syntax error on line 3 / near <VirtualHost>"


def test_offline_is_said_on_the_first_line_and_at_the_end():
    text = report.doctor_text(doctor_report(Finding("state", OK, "fine"), offline=True))
    lines = text.splitlines()
    assert lines[0] == "ISPA-CERT OK - 1 checks OK; offline"
    assert lines[-1] == "(offline: not checked: dns, self-test, served)"


def test_one_line_per_check_with_the_fix_only_when_not_ok():
    text = report.doctor_text(doctor_report(Finding("cron", WARN, "legacy line", "ispa-cert cron install"),
                                            Finding("state", OK, "3 names", "unused")))
    assert text.splitlines()[1:] == ["WARN    cron: legacy line -- fix: ispa-cert cron install", "OK      state: 3 names"]


def test_json_document_has_stable_keys():
    limit = RateLimit("isp.example.net", 5, NOW + timedelta(minutes=20))
    result = DoctorReport((Finding("cron", WARN, "legacy", "ispa-cert cron install"),),
                          (health.expiry("isp.example.net", certificate(10), NOW),), (limit,), NOW - DAY, NOW)
    document = json.loads(report.to_json(report.doctor_document(result)))
    assert set(document) == {"version", "status", "exit_code", "summary", "perfdata", "checked_at", "offline",
                             "skipped", "checks", "certificates", "rate_limits", "last_renewal"}
    assert (document["status"], document["exit_code"]) == ("WARNING", 1)
    assert document["checks"] == [{"check": "cron", "subject": None, "state": "WARN", "message": "legacy",
                                   "fix": "ispa-cert cron install"}]
    assert document["certificates"][0]["days_left"] == 80
    assert document["rate_limits"] == [{"name": "isp.example.net", "failures_last_hour": 5,
                                        "blocked_until": "2026-03-01T12:20:00Z"}]
    assert document["last_renewal"] == "2026-02-28T12:00:00Z"
    failure = report.doctor_failure_document("boom")
    assert set(failure) == set(document) and failure["exit_code"] == 3


def test_a_doctor_that_cannot_run_says_unknown():
    assert report.doctor_failure_line("state | damaged\nbadly") == \
        "ISPA-CERT UNKNOWN - doctor could not run: state / damaged badly"


# --- certificates ----------------------------------------------------------------------------

@pytest.mark.parametrize("age, severity, words", [
    (10, OK, "valid until 2026-05-20 12:00 UTC (80 days); renewal from 2026-04-20 12:00 UTC"),
    (61, WARN, "renewal overdue since 2026-02-28 12:00 UTC"),
    (84, CRIT, "in 6 days"),
    (91, CRIT, "expired on 2026-02-28 12:00 UTC"),
])
def test_certificate_expiry(age, severity, words):
    finding = health.certificate_finding("isp.example.net", "admin", certificate(age), True, NOW)
    assert finding.severity is severity and words in finding.message
    assert finding.subject == "isp.example.net"
    assert (finding.fix is None) == (severity is OK)


def test_a_short_lifetime_is_due_earlier_than_day_60():
    finding = health.certificate_finding("isp.example.net", "admin", certificate(31, lifetime_days=45), True, NOW)
    assert finding.severity is WARN and "overdue" in finding.message


def test_missing_not_installed_and_unreadable_certificates():
    missing = health.certificate_finding("portal.example.net", "client", None, False, NOW)
    assert missing.severity is CRIT and missing.fix == "ispa-cert issue -c"
    issued_only = health.certificate_finding("isp.example.net", "admin", certificate(10), False, NOW)
    assert issued_only.severity is WARN and "not installed" in issued_only.message
    expired_only = health.certificate_finding("isp.example.net", "admin", certificate(95), False, NOW)
    assert expired_only.severity is CRIT
    unreadable = health.certificate_finding("isp.example.net", None, None, True, NOW, "cannot read", "run as root")
    assert (unreadable.severity, unreadable.message, unreadable.fix) == (UNKNOWN, "cannot read", "run as root")


def test_served_certificate():
    on_disk, other = certificate(10, fingerprint="aa"), certificate(70, fingerprint="bb")
    assert health.served_finding("a.example.net", 443, on_disk, on_disk).severity is OK
    different = health.served_finding("a.example.net", 443, on_disk, other)
    assert different.severity is WARN and "another certificate" in different.message
    assert health.served_finding("a.example.net", 443, on_disk, None).severity is CRIT


# --- cron ----------------------------------------------------------------------------------

def cron_status(state: str, legacy: bool = False) -> CronStatus:
    entry = CronEntry(3, "20 5 * * *", "root", "/usr/bin/ispa-cert renew --cron", legacy, "line")
    return CronStatus(state, None if state == "missing" else entry, f"/etc/crontab line 3 ({state})")


@pytest.mark.parametrize("state, runnable, certificates, severity", [
    ("current", True, True, OK),
    ("missing", False, True, CRIT),
    ("missing", False, False, WARN),
    ("legacy-only", True, True, WARN),
    ("legacy-also", True, True, WARN),
    ("differs", True, True, WARN),
    ("differs", False, True, CRIT),
    ("not-executable", False, True, CRIT),
])
def test_cron_entry(state, runnable, certificates, severity):
    finding = health.cron_finding(cron_status(state, legacy=state == "legacy-only"), runnable, certificates)
    assert finding.severity is severity
    if severity is not OK:
        assert finding.fix.startswith("ispa-cert cron install")


# --- acme.sh --------------------------------------------------------------------------------

@pytest.mark.parametrize("installed, vendored, present, severity", [
    (Version("3.1.1"), Version("3.1.1"), True, OK),
    (Version("3.1.2"), Version("3.1.1"), True, OK),
    (Version("3.0.7"), Version("3.1.1"), True, WARN),
    (None, Version("3.1.1"), True, UNKNOWN),
    (Version("3.1.1"), None, True, UNKNOWN),
    (None, Version("3.1.1"), False, UNKNOWN),
])
def test_acme_version(installed, vendored, present, severity):
    assert health.acme_version_finding(installed, vendored, present).severity is severity


def test_acme_installed():
    assert health.acme_installed_finding(Path("/x/acme.sh"), True).severity is OK
    assert health.acme_installed_finding(Path("/x/acme.sh"), False).fix.startswith("ispa-cert install")


@pytest.mark.parametrize("cas, default, configured, severity", [
    ({"a.example.net": LETSENCRYPT_DIRECTORY}, None, LETSENCRYPT, OK),
    ({"a.example.net": PEBBLE}, None, PEBBLE, OK),
    ({"a.example.net": PEBBLE}, None, LETSENCRYPT, WARN),
    ({"a.example.net": health.LETSENCRYPT_STAGING}, None, LETSENCRYPT, WARN),
    ({}, "https://acme.zerossl.com/v2/DV90", LETSENCRYPT, WARN),
    ({}, LETSENCRYPT, LETSENCRYPT, OK),
    ({}, None, LETSENCRYPT, OK),
])
def test_the_ca_is_lets_encrypt_or_the_configured_one(cas, default, configured, severity):
    finding = health.ca_finding(cas, default, configured, Path("/acme"))
    assert finding.severity is severity
    if severity is WARN:
        assert finding.message.startswith("not Let's Encrypt")


def test_staging_is_named_as_untrusted():
    finding = health.ca_finding({"a.example.net": health.LETSENCRYPT_STAGING}, None, LETSENCRYPT, Path("/acme"))
    assert "staging" in finding.message and "do not trust" in finding.message


def test_account_dirs_follow_acme_sh(tmp_path):
    paths = Paths.from_root(tmp_path)
    ca = paths.acme_ca_dir
    assert acme.account_dirs(paths, LETSENCRYPT_DIRECTORY) == (ca / "acme-v02.api.letsencrypt.org/directory",
                                                             ca / "acme-v02.api.letsencrypt.org")
    assert acme.account_dirs(paths, PEBBLE) == (ca / "127.0.0.1/dir", ca / "127.0.0.1")
    assert not acme.account_registered(paths, PEBBLE)
    account = ca / "127.0.0.1" / "dir"
    account.mkdir(parents=True)
    (account / "account.key").write_text("key")
    (account / "ca.conf").write_text("CA_KEY_HASH='x'\n")
    assert not acme.account_registered(paths, PEBBLE)
    (account / "ca.conf").write_text("ACCOUNT_URL='https://127.0.0.1:14000/my-account/1'\n")
    assert acme.account_registered(paths, PEBBLE)


# --- Apache, ports and files -------------------------------------------------------------------

SS_OUTPUT = """LISTEN 0      511          0.0.0.0:80        0.0.0.0:*    users:(("apache2",pid=12,fd=3),("apache2",pid=11,fd=3))
LISTEN 0      511             [::]:443          [::]:*    users:(("nginx",pid=40,fd=7))
LISTEN 0      511        127.0.0.1:8080      0.0.0.0:*
"""


def test_ss_argv_and_parse():
    assert listening_command([80, 443]).argv == ("ss", "-H", "-l", "-t", "-n", "-p", "sport", "=", ":80", "or",
                                                 "sport", "=", ":443")
    listeners = parse_listeners(SS_OUTPUT)
    assert [(item.address, item.port, item.programs) for item in listeners] == [
        ("0.0.0.0", 80, ("apache2",)), ("[::]", 443, ("nginx",)), ("127.0.0.1", 8080, ())]
    assert programs_on(listeners, 80) == ["apache2"] and programs_on(listeners, 8080) == [""]
    assert programs_on(listeners, 25) == []


@pytest.mark.parametrize("check, programs, installed, severity", [
    ("http-port", ["apache2"], False, OK),
    ("http-port", [""], False, OK),
    ("http-port", ["nginx"], True, CRIT),
    ("http-port", [], False, CRIT),
    ("https-port", [], False, WARN),
    ("https-port", [], True, CRIT),
    ("https-port", None, True, UNKNOWN),
])
def test_ports(check, programs, installed, severity):
    assert health.port_finding(check, 443, programs, installed).severity is severity


def test_apache_pid_file_from_apache2ctl_s():
    output = 'ServerRoot: "/etc/apache2"\nMutex default: dir="/run/apache2/"\nPidFile: "/run/apache2/apache2.pid"\n'
    assert apache.parse_pid_file(output) == Path("/run/apache2/apache2.pid")
    assert apache.parse_pid_file("AH00526: Syntax error on line 3") is None


def test_apache_findings():
    assert health.apache_config_finding(None).severity is OK
    assert health.apache_config_finding("AH00526: Syntax error").severity is CRIT
    assert health.apache_config_finding("no apache2ctl", installed=False).fix == "apt-get install apache2"
    assert health.apache_running_finding(Path("/run/apache2.pid"), 42).severity is OK
    assert health.apache_running_finding(Path("/run/apache2.pid"), None).severity is CRIT
    assert health.apache_running_finding(None, None).severity is UNKNOWN


def test_temp_site_and_pending_marker():
    assert health.temp_site_finding(Path("/x/temp_isp.conf"), True).severity is WARN
    assert health.temp_site_finding(Path("/x/temp_isp.conf"), False).severity is OK
    assert health.pending_change_finding(None).severity is OK
    assert health.pending_change_finding({"reason": "install", "backup": "20260301-120000"}).severity is CRIT
    assert health.pending_change_finding({"reason": "acme.sh", "main_config_copy": "/x"}).severity is WARN
    assert health.pending_change_finding({"reason": "unreadable marker", "backup": None}).severity is WARN


# --- DNS and the self-test ------------------------------------------------------------------------

@pytest.mark.parametrize("verdict, severity", [
    (Verdict.OK, OK), (Verdict.ELSEWHERE, CRIT), (Verdict.NXDOMAIN, CRIT), (Verdict.NO_ADDRESS, CRIT),
    (Verdict.SERVFAIL, CRIT), (Verdict.CAA_FORBIDS, CRIT), (Verdict.AAAA_ELSEWHERE, WARN), (Verdict.TIMEOUT, UNKNOWN),
])
def test_dns_verdicts(verdict, severity):
    finding = health.dns_finding(NameFinding("a.example.net", (), (), (), (), None, verdict, "message"))
    assert (finding.severity, finding.subject, finding.message) == (severity, "a.example.net", "message")


def test_self_test_results():
    assert health.self_test_finding(SelfTestResult("a.example.net", "1.2.3.4", SelfTestVerdict.SERVED, "ok")).severity is OK
    refused = health.self_test_finding(SelfTestResult("a.example.net", "1.2.3.4", SelfTestVerdict.UNREACHABLE,
                                                      "connection refused on port 80"))
    assert refused.severity is CRIT and "connection refused" in refused.message
    assert health.self_test_finding(SelfTestResult("a.example.net", None, SelfTestVerdict.NO_ADDRESS, "")).severity \
        is UNKNOWN


# --- failures, rate limit and renewals -------------------------------------------------------------

def test_rate_limit_shows_when_retry_is_allowed():
    assert [f.severity for f in health.rate_limit_findings([RateLimit("a.example.net", 0, None)])] == [OK]
    some, blocked = health.rate_limit_findings([RateLimit("a.example.net", 2, None),
                                                RateLimit("b.example.net", 5, NOW + timedelta(minutes=42))])
    assert some.severity is WARN and "2 failed validations" in some.message
    assert blocked.severity is WARN and blocked.subject == "b.example.net"
    assert "until 2026-03-01 12:42 UTC" in blocked.message and "retry after 12:42 UTC" in blocked.fix


def test_renewal_gap():
    overdue = health.renewal_finding(NOW - 20 * DAY, None, {"a.example.net": NOW - 3 * DAY}, NOW)
    assert overdue.severity is WARN and "renewal gap" in overdue.message and "20 days ago" in overdue.message
    stale = health.renewal_finding(NOW - 9 * DAY, NOW - 30 * DAY, {}, NOW)
    assert stale.severity is WARN and "renewal gap" in stale.message
    assert health.renewal_finding(NOW - 9 * DAY, NOW - 2 * DAY, {}, NOW).severity is OK
    assert health.renewal_finding(None, None, {}, NOW).message == "no renewal run has succeeded yet"
    assert health.renewal_finding(NOW - DAY, None, {}, NOW).severity is OK


def test_state():
    assert health.state_finding(None, None, 3).severity is OK
    assert health.state_finding(None, None, 0).severity is WARN
    damaged = health.state_finding("the state file is damaged", "move it aside", 0)
    assert (damaged.severity, damaged.fix) == (UNKNOWN, "move it aside")


# --- the command: whatever breaks is UNKNOWN ------------------------------------------------------

def test_an_unexpected_error_in_doctor_is_unknown_on_the_first_line(monkeypatch, capsys, tmp_path):
    from ispa_acmewrap import cli
    from ispa_acmewrap.actions import doctor as action
    from ispa_acmewrap.settings import Settings

    def broken(settings, options):
        raise RuntimeError("boom")

    monkeypatch.setattr(action, "run", broken)
    settings = Settings(Paths.from_root(tmp_path))
    assert cli._doctor_outcome(settings, action.DoctorOptions(), json_output=False) == 3
    assert capsys.readouterr().out.startswith("ISPA-CERT UNKNOWN - doctor could not run: unexpected error "
                                              "(RuntimeError: boom)")
    assert cli._doctor_outcome(settings, action.DoctorOptions(), json_output=True) == 3
    assert json.loads(capsys.readouterr().out)["status"] == "UNKNOWN"


def test_a_wrong_option_of_doctor_is_unknown_not_critical():
    from typer.testing import CliRunner

    from ispa_acmewrap.cli import app

    result = CliRunner().invoke(app, ["doctor", "--no-such-option"])
    assert result.exit_code == 3
