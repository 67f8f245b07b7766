"""`ispa-cert status` and `ispa-cert doctor` against the real stack: Pebble, pebble-challtestsrv,
Apache and acme.sh. Certificates are issued once for the module; every test turns one check red,
asserts the status word, the exit code and the JSON, and puts everything back (green again)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509

from ispa_acmewrap import cron, state
from ispa_acmewrap.paths import Paths
from tests.conftest import ToolRunner
from tests.factories import ADMIN, DEALER, PORTAL, write_pem, x509_certificate
from tests.stack import Stack, make_sandbox

pytestmark = pytest.mark.e2e

NAMES = (ADMIN, PORTAL, DEALER)
LEGACY_LINE = ("00 05 * * 7   root  /data/ispadmin_cert/acme/acme.sh --apache --renewAll --home "
               "/data/ispadmin_cert/acme --certhome /data/ispadmin_cert #letsencrypt renew\n")


@dataclass
class Issued:
    stack: Stack
    tool: ToolRunner

    @property
    def paths(self) -> Paths:
        return self.stack.paths


@pytest.fixture(scope="module")
def issued() -> Iterator[Issued]:
    """One stack for the module, with certificates issued for all three interfaces."""
    root = make_sandbox()
    stack = Stack.start(root)
    try:
        tool = ToolRunner(stack.tool_env())
        dealer_site = root / "srv" / "dealer"  # the dealer portal has no port-80 vhost of its own
        dealer_site.mkdir(parents=True)
        (dealer_site / "index.html").write_text("<h1>dealer portal</h1>\n")
        result = tool("issue", "-a", "-c", "-d", "--admin-domain", ADMIN, "--client-domain", PORTAL,
                      "--dealer-domain", DEALER, "--dealer-docroot", str(dealer_site), "--server-ip", "127.0.0.1",
                      "--yes")
        assert result.returncode == 0, result.stdout + result.stderr
        yield Issued(stack, tool)
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- helpers ------------------------------------------------------------------------------------

def doctor(issued: Issued, *args: str) -> subprocess.CompletedProcess:
    return issued.tool("doctor", "--server-ip", "127.0.0.1", "--dns-timeout", "2", *args)


def doctor_json(issued: Issued, *args: str) -> tuple[int, dict]:
    result = doctor(issued, "--json", *args)
    assert result.stderr == "", result.stderr
    return result.returncode, json.loads(result.stdout)


def checks(document: dict, check: str) -> list[dict]:
    return [entry for entry in document["checks"] if entry["check"] == check]


def state_of(document: dict, check: str, subject: str | None = None) -> str:
    found = [entry["state"] for entry in checks(document, check) if subject is None or entry["subject"] == subject]
    assert len(found) == 1, (check, subject, document["checks"])
    return found[0]


def not_ok(document: dict) -> list[tuple[str, str | None, str]]:
    return [(entry["check"], entry["subject"], entry["state"]) for entry in document["checks"] if entry["state"] != "OK"]


def assert_green(issued: Issued, *args: str) -> None:
    result = doctor(issued, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ISPA-CERT OK - "), result.stdout


@contextmanager
def restored(*files: Path) -> Iterator[None]:
    """Put the files back byte for byte (or remove them if they did not exist)."""
    saved = {file: file.read_bytes() if file.exists() else None for file in files}
    try:
        yield
    finally:
        for file, content in saved.items():
            if content is None:
                file.unlink(missing_ok=True)
            else:
                file.write_bytes(content)


def write_certificate(path: Path, name: str, not_before: datetime, lifetime: timedelta) -> x509.Certificate:
    """A certificate with chosen dates where the live one was (Apache keeps serving the real one)."""
    certificate = x509_certificate(name, issuer="Aged Test CA", not_before=not_before, lifetime=lifetime)
    write_pem(path, certificate)
    return certificate


def openssl_facts(path: Path) -> dict[str, str]:
    output = subprocess.run(["openssl", "x509", "-noout", "-serial", "-startdate", "-enddate", "-issuer",
                             "-in", str(path)], capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in output.splitlines())


def openssl_time(text: str) -> datetime:
    return datetime.strptime(text, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=timezone.utc)


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- status ---------------------------------------------------------------------------------------

def test_status_matches_openssl_on_the_same_files(issued):
    result = issued.tool("status", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"version", "checked_at", "https_port", "certificates", "tls"}
    rows = {row["name"]: row for row in document["certificates"]}
    assert list(rows) == list(NAMES)
    for name, role in zip(NAMES, ("admin", "client", "dealer")):
        row = rows[name]
        assert set(row) == {"name", "role", "file", "installed", "issuer", "key_type", "serial",
                            "fingerprint_sha256", "not_before", "not_after", "days_left", "renewal_due_at",
                            "renewal_due", "expired", "served", "served_fingerprint_sha256", "error",
                            "renewal_rule", "profile", "lifetime_days", "ari", "early_replacement"}
        facts = openssl_facts(issued.paths.live(name).cert)
        not_before, not_after = openssl_time(facts["notBefore"]), openssl_time(facts["notAfter"])
        assert row["file"] == str(issued.paths.live(name).cert) and row["installed"] is True
        assert row["role"] == role and row["key_type"] == "ECDSA P-256"
        assert row["serial"] == facts["serial"]
        assert iso(row["not_before"]) == not_before and iso(row["not_after"]) == not_after
        assert facts["issuer"].endswith(f"CN = {row['issuer']}") and row["issuer"].startswith("Pebble")
        assert abs(row["days_left"] - (not_after - iso(document["checked_at"])).days) <= 1
        due = not_before + (not_after - not_before) * 2 / 3  # the moment in Pebble's window is never later
        assert due - timedelta(days=1, seconds=1) <= iso(row["renewal_due_at"]) <= due + timedelta(seconds=1)
        assert row["renewal_rule"] == "ari" and row["ari"]["renew_at"] == row["renewal_due_at"]
        assert (row["renewal_due"], row["expired"], row["error"]) == (False, False, None)
        assert row["served"] is True and row["served_fingerprint_sha256"] == row["fingerprint_sha256"]

    text = issued.tool("status", "--wide")
    assert text.returncode == 0, text.stderr
    for name in NAMES:
        line = next(line for line in text.stdout.splitlines() if line.startswith(name))
        assert rows[name]["issuer"] in line and line.rstrip().endswith("yes")


# --- doctor: green, then each check red and back ------------------------------------------------------

def test_doctor_is_green_after_issuing(issued):
    result = doctor(issued)
    assert result.returncode == 0, result.stdout
    first = result.stdout.splitlines()[0]
    assert first.startswith("ISPA-CERT OK - ")
    summary, perfdata = first.split(" | ")
    for name in NAMES:
        assert f"'{name}'=182" in perfdata  # Pebble: five years, 1825 or 1826 days
    assert all(line.startswith("OK ") for line in result.stdout.splitlines()[1:])

    code, document = doctor_json(issued)
    assert code == 0 and document["status"] == "OK" and document["exit_code"] == 0
    assert set(document) == {"version", "status", "exit_code", "summary", "perfdata", "checked_at", "offline",
                             "skipped", "checks", "certificates", "rate_limits", "last_renewal"}
    for check in ("apache-config", "apache-running", "http-port", "https-port", "temp-site", "pending-change",
                  "cron", "acme-installed", "acme-version", "acme-ca", "acme-account", "rate-limit", "renewal"):
        assert state_of(document, check) == "OK"
    for check in ("dns", "self-test", "certificate", "served"):
        assert {entry["subject"] for entry in checks(document, check)} == set(NAMES)
    assert [entry["name"] for entry in document["certificates"]] == list(NAMES)

    code, offline = doctor_json(issued, "--offline")
    assert code == 0 and offline["offline"] is True and offline["skipped"] == ["dns", "self-test", "served"]
    assert not checks(offline, "dns") and not checks(offline, "served")


def test_apache_stopped_is_critical_until_started(issued):
    issued.stack.apache.stop()
    try:
        result = doctor(issued)
        assert result.returncode == 2 and result.stdout.startswith("ISPA-CERT CRITICAL - "), result.stdout
        code, document = doctor_json(issued)
        assert code == 2 and document["status"] == "CRITICAL"
        for check in ("apache-running", "http-port", "https-port"):
            assert state_of(document, check) == "CRIT"
        assert {state_of(document, "served", name) for name in NAMES} == {"CRIT"}
        assert {state_of(document, "self-test", name) for name in NAMES} == {"CRIT"}
        assert "systemctl start apache2" in checks(document, "apache-running")[0]["fix"]
    finally:
        issued.stack.apache.start()
    assert_green(issued)


def test_cron_entry_removed_then_legacy_line(issued):
    crontab = issued.paths.crontab
    with restored(crontab):
        cron.remove(crontab)
        code, document = doctor_json(issued, "--offline")
        assert (code, document["status"]) == (2, "CRITICAL")
        assert not_ok(document) == [("cron", None, "CRIT")]
        assert checks(document, "cron")[0]["fix"] == "ispa-cert cron install"

        crontab.write_text(crontab.read_text() + LEGACY_LINE)
        result = doctor(issued, "--offline")
        assert result.returncode == 1 and result.stdout.startswith("ISPA-CERT WARNING - "), result.stdout
        code, document = doctor_json(issued, "--offline")
        assert (code, document["status"]) == (1, "WARNING")
        assert not_ok(document) == [("cron", None, "WARN")]
        assert "ispa-cert cron install" in checks(document, "cron")[0]["fix"]
    assert_green(issued, "--offline")


def test_aged_and_expired_certificates(issued):
    live = issued.paths.live(ADMIN).cert
    now = datetime.now(timezone.utc)
    with restored(live):
        write_certificate(live, ADMIN, now - timedelta(days=70), timedelta(days=90))
        code, document = doctor_json(issued, "--offline")
        assert (code, document["status"]) == (1, "WARNING")
        assert state_of(document, "certificate", ADMIN) == "WARN"
        assert "overdue" in checks(document, "certificate")[0]["message"]
        assert "renewal gap" in checks(document, "renewal")[0]["message"]
        assert set(not_ok(document)) == {("certificate", ADMIN, "WARN"), ("renewal", None, "WARN")}

        write_certificate(live, ADMIN, now - timedelta(days=95), timedelta(days=90))
        result = doctor(issued)
        assert result.returncode == 2 and result.stdout.startswith("ISPA-CERT CRITICAL - "), result.stdout
        assert f"'{ADMIN}'=-6d;30:;7:" in result.stdout.splitlines()[0]
        code, document = doctor_json(issued)
        assert (code, document["status"]) == (2, "CRITICAL")
        assert state_of(document, "certificate", ADMIN) == "CRIT"
        assert "expired" in [entry for entry in checks(document, "certificate") if entry["subject"] == ADMIN][0]["message"]
        assert state_of(document, "served", ADMIN) == "WARN"  # Apache still serves the real one
        admin = [entry for entry in document["certificates"] if entry["name"] == ADMIN][0]
        assert admin["days_left"] == -6 and admin["warn_days"] == 30

        status = json.loads(issued.tool("status", "--json").stdout)
        row = [row for row in status["certificates"] if row["name"] == ADMIN][0]
        assert (row["expired"], row["served"], row["issuer"]) == (True, False, "Aged Test CA")
    assert_green(issued)


def test_leftover_temp_site(issued):
    temp_site = issued.paths.temp_site
    with restored(temp_site):
        temp_site.write_text("# left behind by an interrupted run\n")
        code, document = doctor_json(issued, "--offline")
        assert (code, document["status"]) == (1, "WARNING")
        assert not_ok(document) == [("temp-site", None, "WARN")]
        assert str(temp_site) in checks(document, "temp-site")[0]["message"]
    assert_green(issued, "--offline")


def test_recorded_failures_show_the_rate_limit_and_retry_time(issued):
    state_file = issued.paths.state_file
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with restored(state_file):
        record = state.load_state(state_file)
        for minutes in (50, 40, 30, 20, 10):
            record = state.record_failure(record, PORTAL, now - timedelta(minutes=minutes))
        record = state.record_failure(record, DEALER, now - timedelta(minutes=5))
        state.save_state(state_file, record)

        result = doctor(issued, "--offline")
        assert result.returncode == 1 and result.stdout.startswith("ISPA-CERT WARNING - "), result.stdout
        retry = now - timedelta(minutes=50) + timedelta(hours=1)
        assert f"retry after {retry:%H:%M} UTC" in result.stdout
        code, document = doctor_json(issued, "--offline")
        assert (code, document["status"]) == (1, "WARNING")
        limits = {entry["name"]: entry for entry in document["rate_limits"]}
        assert limits[PORTAL]["failures_last_hour"] == 5 and iso(limits[PORTAL]["blocked_until"]) == retry
        assert limits[DEALER] == {"name": DEALER, "failures_last_hour": 1, "blocked_until": None}
        assert limits[ADMIN]["failures_last_hour"] == 0
        assert set(not_ok(document)) == {("rate-limit", PORTAL, "WARN"), ("rate-limit", DEALER, "WARN")}
    assert_green(issued, "--offline")


def test_interrupted_apache_change(issued):
    marker = issued.paths.pending_marker
    with restored(marker):
        marker.write_text(json.dumps({"reason": "install certificates", "backup": "20260101-000000"}))
        code, document = doctor_json(issued, "--offline")
        assert (code, document["status"]) == (2, "CRITICAL")
        assert not_ok(document) == [("pending-change", None, "CRIT")]
        assert marker.exists()  # doctor recovers nothing: it only reports
    assert_green(issued, "--offline")


def test_dns_pointing_elsewhere_is_critical_for_that_name(issued):
    issued.stack.dns.set_a(PORTAL, ["127.0.0.2"])
    try:
        code, document = doctor_json(issued, "--name", PORTAL)
        assert (code, document["status"]) == (2, "CRITICAL")
        assert set(not_ok(document)) == {("dns", PORTAL, "CRIT"), ("self-test", PORTAL, "CRIT")}
        assert "127.0.0.2" in checks(document, "dns")[0]["message"]
        assert {entry["subject"] for entry in checks(document, "certificate")} == {PORTAL}
    finally:
        issued.stack.dns.clear_a(PORTAL)
    assert_green(issued, "--name", PORTAL)


# --- a fresh machine -------------------------------------------------------------------------------

def test_doctor_on_a_fresh_machine_says_what_is_missing():
    root = make_sandbox()
    try:
        tool = ToolRunner({"ISPA_ROOT": str(root)})
        result = tool("doctor")
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stdout.startswith("ISPA-CERT CRITICAL - ") and "Traceback" not in result.stderr
        as_json = tool("doctor", "--json")
        assert as_json.returncode == 2, as_json.stderr
        document = json.loads(as_json.stdout)
        assert state_of(document, "apache-config") == "CRIT"
        assert state_of(document, "acme-installed") == "CRIT"
        assert state_of(document, "state") == "WARN"
        assert all(entry["fix"] for entry in document["checks"] if entry["state"] != "OK")
        status = tool("status")
        assert status.returncode == 0 and "No certificates yet" in status.stdout
        created = sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
        assert created == ["var/log/ispa-cert.log"]
    finally:
        shutil.rmtree(root, ignore_errors=True)
