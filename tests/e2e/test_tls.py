"""The HTTPS that `issue` writes, measured from outside on the real stack: sslyze's Mozilla
check, HTTP/2 over ALPN, HSTS, the 308 redirect with real requests, status and doctor.

One stack for the module: mod_http2 enabled (as an administrator would), then
`issue -a -c --redirect --hsts`. Tests that change Apache put it back before they end.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ispa_acmewrap import tls
from tests.conftest import ToolRunner
from tests.factories import ADMIN, PORTAL
from tests.stack import ISPADMIN_DOCROOT, LOOPBACK, Stack, make_sandbox

pytestmark = pytest.mark.e2e

# Pebble issues 5-year certificates; Let's Encrypt's are 90 days. Nothing else is excused.
TEST_CA_FINDINGS = {"maximum_certificate_lifespan"}


@dataclass
class Issued:
    stack: Stack
    tool: ToolRunner


@pytest.fixture(scope="module")
def issued() -> Iterator[Issued]:
    root = make_sandbox()
    stack = Stack.start(root)
    try:
        enable_module(stack, "http2", "http2.load", "http2.conf")
        tool = ToolRunner(stack.tool_env())
        result = tool("issue", "-a", "-c", "--admin-domain", ADMIN, "--client-domain", PORTAL,
                      "--server-ip", "127.0.0.1", "--yes", "--redirect", "--hsts")
        assert result.returncode == 0, result.stdout + result.stderr
        yield Issued(stack, tool)
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


def enable_module(stack: Stack, module: str, *files: str) -> None:
    for file in files:
        (stack.paths.mods_enabled / file).symlink_to(f"../mods-available/{file}")
    stack.apache.ctl("graceful")


def mozilla_findings(stack: Stack, name: str, profile: str = "intermediate") -> dict[str, str]:
    """sslyze's deviations from Mozilla's profile, validating against Pebble's root."""
    target = f"{name}:{stack.apache.https_port}"
    result = subprocess.run(
        [sys.executable, "-m", "sslyze", f"--mozilla_config={profile}",
         "--certinfo_ca_file", str(stack.pebble_root_file), f"{target}{{{LOOPBACK}}}"],
        capture_output=True, text=True, timeout=180)
    report = result.stdout[result.stdout.index("COMPLIANCE AGAINST"):] if "COMPLIANCE AGAINST" in result.stdout else ""
    assert f"{target}: " in report, result.stdout[-3000:] + result.stderr[-3000:]
    if f"{target}: OK - Compliant" in report:
        return {}
    assert f"{target}: FAILED - Not compliant" in report, report
    return dict(re.findall(r"^\s+\* (\w+): (.*)$", report, re.MULTILINE))


def http_request(stack: Stack, method: str, path: str, name: str = ADMIN, body: bytes | None = None):
    connection = http.client.HTTPConnection(LOOPBACK, stack.apache.http_port, timeout=10)
    connection.request(method, path, body=body, headers={"Host": name})
    response = connection.getresponse()
    return response.status, response.getheader("Location"), response.read()


def tls_client(stack: Stack, name: str, alpn: list[str] | None = None,
               version: ssl.TLSVersion | None = None) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(stack.pebble_root_file))
    if alpn:
        context.set_alpn_protocols(alpn)
    if version:
        context.minimum_version = context.maximum_version = version
    raw = socket.create_connection((LOOPBACK, stack.apache.https_port), timeout=10)
    return context.wrap_socket(raw, server_hostname=name)


def curl(stack: Stack, *arguments: str) -> str:
    """curl through the sandbox Apache: both ports resolve to loopback, Pebble's root trusted."""
    resolve = [option for port in (stack.apache.http_port, stack.apache.https_port)
               for option in ("--resolve", f"{ADMIN}:{port}:{LOOPBACK}")]
    result = subprocess.run(["curl", "-sS", "--http1.1", "--cacert", str(stack.pebble_root_file), *resolve,
                             *arguments], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- TLS -----------------------------------------------------------------------------------

def test_sslyze_finds_every_https_vhost_compliant_with_mozilla_intermediate(issued):
    for name in (ADMIN, PORTAL):
        findings = mozilla_findings(issued.stack, name)
        assert set(findings) <= TEST_CA_FINDINGS, findings


def test_the_previous_tls_settings_fail_the_same_check(issued):
    """The vhosts without the profile lines (what issue wrote before: Debian's mod_ssl
    defaults) fail sslyze's check on ciphers and curves, so the check above can fail."""
    stack, include = issued.stack, issued.stack.paths.vhost_include
    written = include.read_text()
    profile_lines = {line.strip() for line in tls.snippet("intermediate").splitlines() if line.strip()}
    include.write_text("".join(line for line in written.splitlines(keepends=True) if line.strip() not in profile_lines))
    try:
        stack.apache.ctl("graceful")
        findings = mozilla_findings(stack, ADMIN)
        assert {"ciphers", "tls_curves"} <= set(findings), findings
        assert "X448" in findings["tls_curves"] and "secp521r1" in findings["tls_curves"]
    finally:
        include.write_text(written)
        stack.apache.ctl("graceful")
    assert set(mozilla_findings(stack, ADMIN)) <= TEST_CA_FINDINGS


def test_still_compliant_behind_another_sites_https_vhost_that_comes_first(issued):
    """Another site's *:443 vhost, loaded first, is the port's default: protocols and ciphers
    follow our vhost after SNI, the curves only because the include sets them server-wide."""
    stack = issued.stack
    other = stack.root / "other-site"
    other.mkdir(exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(other / "key.pem"), "-out", str(other / "cert.pem"), "-days", "2",
                    "-subj", "/CN=other.test"], check=True, capture_output=True)
    site = stack.paths.apache_confdir / "sites-enabled" / "000-other-ssl.conf"
    site.write_text(f"<VirtualHost *:{stack.apache.https_port}>\n    ServerName other.test\n    SSLEngine on\n"
                    f"    SSLCertificateFile {other}/cert.pem\n    SSLCertificateKeyFile {other}/key.pem\n</VirtualHost>\n")
    try:
        stack.apache.ctl("graceful")
        assert "default server other.test" in stack.apache.ctl("-S").stdout
        findings = mozilla_findings(stack, ADMIN)
        assert set(findings) <= TEST_CA_FINDINGS, findings
        assert "ciphers" in mozilla_findings(stack, "other.test")  # the other site keeps its own suites
    finally:
        site.unlink()
        stack.apache.ctl("graceful")


def test_http2_is_negotiated_over_alpn_and_http11_still_works(issued):
    with tls_client(issued.stack, ADMIN, alpn=["h2", "http/1.1"]) as connection:
        assert connection.selected_alpn_protocol() == "h2"
    with tls_client(issued.stack, ADMIN, alpn=["http/1.1"]) as connection:
        assert connection.selected_alpn_protocol() == "http/1.1"
        connection.sendall(f"GET / HTTP/1.1\r\nHost: {ADMIN}\r\nConnection: close\r\n\r\n".encode())
        assert connection.recv(65536).startswith(b"HTTP/1.1 200")
    # the port-80 vhost offers h2c; the HTTPS copy must not
    assert "h2c" not in issued.stack.paths.vhost_include.read_text()


def test_tls12_gets_an_aead_suite_and_no_session_ticket(issued):
    with tls_client(issued.stack, ADMIN, version=ssl.TLSVersion.TLSv1_2) as connection:
        name, version, _ = connection.cipher()
        assert version == "TLSv1.2" and ("GCM" in name or "CHACHA20" in name)
        assert connection.session is None or not connection.session.has_ticket


def test_hsts_header_on_https(issued):
    _, response = issued.stack.https_get(ADMIN)
    head = response.split(b"\r\n\r\n", 1)[0].decode()
    assert "\r\nStrict-Transport-Security: max-age=63072000\r\n" in head + "\r\n"


# --- the redirect ----------------------------------------------------------------------------

def test_redirect_is_308_and_keeps_encoded_question_marks_and_hashes(issued):
    stack = issued.stack
    target = f"https://{ADMIN}:{stack.apache.https_port}"
    path = "/q%3Fa%23b%20c.txt?x=%3F&y=1"
    assert http_request(stack, "POST", path, body=b"k=v")[:2] == (308, f"{target}{path}")
    assert http_request(stack, "GET", "/")[:2] == (308, f"{target}/")
    # followed by a real client, the encoded path reaches the file whose name holds ? and #
    (stack.apache.docroot(ISPADMIN_DOCROOT) / "q?a#b c.txt").write_text("the file with ? and # in its name\n")
    assert curl(stack, "-L", f"http://{ADMIN}:{stack.apache.http_port}{path}") == "the file with ? and # in its name\n"


def test_a_post_stays_a_post_across_the_redirect(issued):
    stack = issued.stack
    probe = uuid.uuid4().hex
    final = curl(stack, "-L", "-d", "field=value", "-o", "/dev/null", "-w", "%{http_code} %{url_effective}",
                 f"http://{ADMIN}:{stack.apache.http_port}/index.html?probe={probe}")
    assert final == f"200 https://{ADMIN}:{stack.apache.https_port}/index.html?probe={probe}"
    log = stack.paths.root / "var" / "log" / "apache2" / "access_support_ispadmin.log"
    requests = [line for line in log.read_text().splitlines() if probe in line]
    assert [re.search(r'"(\S+) \S+ HTTP/1.1" (\d+)', line).groups() for line in requests] == \
        [("POST", "308"), ("POST", "200")]


def test_challenges_are_not_redirected(issued):
    token = issued.stack.paths.challenge_dir / f"probe-{uuid.uuid4().hex}"
    token.write_text("token body")
    try:
        status, location, body = http_request(issued.stack, "GET", f"/.well-known/acme-challenge/{token.name}")
        assert (status, location, body) == (200, None, b"token body")
    finally:
        token.unlink()


def test_hsts_without_the_redirect_is_refused_untouched(issued):
    include = issued.stack.paths.vhost_include.read_bytes()
    result = issued.tool("issue", "-a", "--admin-domain", ADMIN, "--yes", "--hsts", "--no-redirect")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--hsts needs --redirect" in result.stderr
    assert issued.stack.paths.vhost_include.read_bytes() == include


# --- status and doctor ---------------------------------------------------------------------------

def test_status_shows_the_tls_profile_and_http2(issued):
    result = issued.tool("status", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)["tls"]
    assert document["profile"] == "intermediate" and document["profile_version"] == tls.snippet_version("intermediate")
    assert document["redirect"] is True and document["hsts"] is True and document["ocsp_stapling"] is False
    assert document["http2"] == {"module_loaded": True, "mpm": "event", "can_serve": True}
    text = issued.tool("status").stdout
    assert "TLS: Mozilla's intermediate profile" in text and "HTTP/2: on (mod_http2 loaded, event MPM)" in text


def doctor_checks(issued: Issued) -> tuple[int, dict[str, dict]]:
    result = issued.tool("doctor", "--offline", "--json")
    return result.returncode, {entry["check"]: entry for entry in json.loads(result.stdout)["checks"]}


def test_doctor_flags_ocsp_stapling_and_an_mpm_without_http2(issued):
    stack = issued.stack
    code, checks = doctor_checks(issued)
    assert checks["ocsp-stapling"]["state"] == "OK" and checks["http2"]["state"] == "OK", checks
    stapling = stack.paths.apache_confdir / "conf-enabled" / "stapling.conf"
    stapling.write_text("<IfModule ssl_module>\n    SSLStaplingCache shmcb:/tmp/stapling(32768)\n"
                        "    SSLUseStapling on\n</IfModule>\n")
    mods = stack.paths.mods_enabled
    for file in ("mpm_event.load", "mpm_event.conf"):
        (mods / file).unlink()
        (mods / file.replace("event", "prefork")).symlink_to(f"../mods-available/{file.replace('event', 'prefork')}")
    try:
        code, checks = doctor_checks(issued)
        assert code == 1, checks
        assert checks["ocsp-stapling"]["state"] == "WARN" and f"{stapling}:3" in checks["ocsp-stapling"]["message"]
        assert "SSLUseStapling on" in checks["ocsp-stapling"]["fix"]
        assert checks["http2"]["state"] == "WARN" and "prefork" in checks["http2"]["message"]
        assert issued.tool("status", "--json").stdout.count('"can_serve": false') == 1
    finally:
        stapling.unlink()
        for file in ("mpm_prefork.load", "mpm_prefork.conf"):
            (mods / file).unlink()
            (mods / file.replace("prefork", "event")).symlink_to(f"../mods-available/{file.replace('prefork', 'event')}")
    assert doctor_checks(issued)[1]["http2"]["state"] == "OK"


# --- the modern profile (last: it changes the vhosts) -----------------------------------------------

def test_modern_profile_is_tls13_only_and_remembered(issued):
    stack = issued.stack
    result = issued.tool("issue", "-a", "-c", "--admin-domain", ADMIN, "--client-domain", PORTAL,
                         "--server-ip", "127.0.0.1", "--yes", "--tls-profile", "modern")
    assert result.returncode == 0, result.stdout + result.stderr
    with tls_client(stack, ADMIN, version=ssl.TLSVersion.TLSv1_3) as connection:
        assert connection.version() == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        tls_client(stack, ADMIN, version=ssl.TLSVersion.TLSv1_2)
    findings = mozilla_findings(stack, ADMIN, "modern")
    # modern accepts only ECDSA signatures; Pebble's intermediate signs with RSA (Let's Encrypt
    # signs ECDSA certificates with its ECDSA intermediates)
    assert set(findings) <= TEST_CA_FINDINGS | {"certificate_signatures"}, findings
    assert "sha256WithRSAEncryption" in findings.get("certificate_signatures", "sha256WithRSAEncryption")
    assert json.loads(stack.paths.state_file.read_text())["tls"] == {"profile": "modern", "hsts": True}
    assert json.loads(issued.tool("status", "--json").stdout)["tls"]["profile"] == "modern"
    # the redirect and HSTS stayed as they were
    assert http_request(stack, "GET", "/")[0] == 308
    assert b"Strict-Transport-Security: max-age=63072000" in stack.https_get(ADMIN)[1]
