"""The HTTP-01 self-test against a real (sandboxed) Apache on loopback ports."""

from __future__ import annotations

import http.client
import os
import stat
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from ispa_acmewrap import selftest
from ispa_acmewrap.selftest import SelfTestVerdict, self_test
from tests.stack import SandboxApache

LOOPBACK = "127.0.0.1"
CHALLENGE = "/.well-known/acme-challenge"


# --- helpers -----------------------------------------------------------------------

def status_of(apache: SandboxApache, host: str, path: str) -> int | None:
    connection = http.client.HTTPConnection(LOOPBACK, apache.http_port, timeout=2)
    try:
        connection.request("GET", path, headers={"Host": host})
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def reload_until(apache: SandboxApache, ready: Callable[[], bool], timeout: float = 10.0) -> None:
    apache.ctl("graceful")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if ready():
            return
    raise AssertionError(f"Apache did not pick up the new configuration:\n{apache.error_log.read_text()[-2000:]}")


def add_site(apache: SandboxApache, name: str, body: str, port: int | None = None) -> None:
    """A vhost for one name in its own file under sites-enabled."""
    site = apache.paths.sites_enabled / f"zz-{name}.conf"
    site.write_text(f"<VirtualHost *:{port or apache.http_port}>\n ServerName {name}\n{body}\n</VirtualHost>\n")


def run(apache: SandboxApache, names: dict[str, list[str]], **options):
    return self_test(names, challenge_dir=apache.paths.challenge_dir, http_port=apache.http_port,
                     https_port=apache.https_port, timeout=options.pop("timeout", 3.0), **options)


def leftovers(apache: SandboxApache) -> list[str]:
    directory = apache.paths.challenge_dir
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


@pytest.fixture
def challenge_alias(apache: SandboxApache) -> Path:
    """The challenge Alias the tool writes into its vhost include, live in Apache."""
    challenge_dir = apache.paths.challenge_dir
    challenge_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    with apache.paths.vhost_include.open("a") as include:
        include.write(f"Alias {CHALLENGE} {challenge_dir}\n<Directory {challenge_dir}>\n"
                      "    Require all granted\n</Directory>\n")
    probe = challenge_dir / "probe"
    probe.write_text("probe")
    probe.chmod(0o644)
    reload_until(apache, lambda: status_of(apache, apache.admin_name, f"{CHALLENGE}/probe") == 200)
    probe.unlink()
    return challenge_dir


# --- cases -------------------------------------------------------------------------

def test_served_and_token_removed(apache, challenge_alias):
    [result] = run(apache, {apache.admin_name: [LOOPBACK]})
    assert result.verdict is SelfTestVerdict.SERVED and result.ok
    assert result.name == apache.admin_name and result.address == LOOPBACK
    assert leftovers(apache) == []


def test_every_name_is_tested_in_order(apache, challenge_alias):
    results = run(apache, {apache.admin_name: [LOOPBACK], apache.portal_name: [LOOPBACK]})
    assert [(r.name, r.verdict) for r in results] == [
        (apache.admin_name, SelfTestVerdict.SERVED), (apache.portal_name, SelfTestVerdict.SERVED)]
    assert leftovers(apache) == []


def test_missing_challenge_directory_is_created_world_readable(apache, challenge_alias):
    challenge_alias.rmdir()
    [result] = run(apache, {apache.admin_name: [LOOPBACK]})
    assert result.verdict is SelfTestVerdict.SERVED
    assert stat.S_IMODE(challenge_alias.stat().st_mode) == 0o755


def test_token_is_written_0644_with_the_content_fetched(apache, challenge_alias, monkeypatch):
    seen = {}
    real_follow = selftest._follow

    def spying_follow(start, address, content, context):
        token_file = challenge_alias / start.path.rsplit("/", 1)[-1]
        seen["mode"] = stat.S_IMODE(token_file.stat().st_mode)
        seen["content"] = token_file.read_text()
        return real_follow(start, address, content, context)

    monkeypatch.setattr(selftest, "_follow", spying_follow)
    old = os.umask(0o077)  # a strict umask must not make the token unreadable for Apache
    try:
        [result] = run(apache, {apache.admin_name: [LOOPBACK]})
    finally:
        os.umask(old)
    assert result.ok
    assert seen["mode"] == 0o644 and seen["content"].endswith(".ispa-cert-self-test")
    assert leftovers(apache) == []


def test_apache_stopped_is_unreachable(apache, challenge_alias):
    apache.stop()
    [result] = run(apache, {apache.admin_name: [LOOPBACK]})
    assert result.verdict is SelfTestVerdict.UNREACHABLE and not result.ok
    assert f"port {apache.http_port} at {LOOPBACK}" in result.detail
    assert "not listening" in result.detail
    assert leftovers(apache) == []


def test_without_the_alias_the_challenge_is_not_found(apache):
    [result] = run(apache, {apache.admin_name: [LOOPBACK]})
    assert result.verdict is SelfTestVerdict.NOT_FOUND and not result.ok
    assert "HTTP 404" in result.detail and "Alias" in result.detail
    assert leftovers(apache) == []


def test_name_without_vhost_is_answered_by_another_vhost(apache):
    [result] = run(apache, {f"novhost-{uuid.uuid4().hex[:8]}.ispa.test": [LOOPBACK]})
    assert result.verdict is SelfTestVerdict.NOT_FOUND
    assert "another virtual host" in result.detail


def self_test_redirecting_vhost(apache: SandboxApache, redirect_to: str, prepare=lambda name: None, **options):
    """Self-test a new name whose port-80 vhost says `Redirect / REDIRECT_TO` (NAME is replaced)."""
    name = f"redirect-{uuid.uuid4().hex[:8]}.ispa.test"
    prepare(name)
    add_site(apache, name, f" Redirect / {redirect_to.replace('NAME', name)}")
    reload_until(apache, lambda: status_of(apache, name, "/") == 302)
    [result] = run(apache, {name: [LOOPBACK]}, **options)
    assert leftovers(apache) == []
    return name, result


def test_vhost_redirecting_everything_elsewhere(apache, challenge_alias):
    _, result = self_test_redirecting_vhost(apache, "http://elsewhere.invalid/", timeout=2.0)
    assert result.verdict is SelfTestVerdict.REDIRECT_BROKEN and not result.ok
    assert "redirects to elsewhere.invalid" in result.detail
    assert f"exempt {CHALLENGE}/ from the vhost's redirect" in result.detail


def test_vhost_redirecting_to_itself_is_a_loop(apache, challenge_alias):
    _, result = self_test_redirecting_vhost(apache, "http://NAME/")
    assert result.verdict is SelfTestVerdict.REDIRECT_BROKEN
    assert "redirect loop" in result.detail and "redirects to itself" in result.detail


def test_redirect_to_https_where_nothing_listens(apache, challenge_alias):
    name, result = self_test_redirecting_vhost(apache, "https://NAME/")
    assert result.verdict is SelfTestVerdict.REDIRECT_BROKEN
    assert f"redirected to https://{name}:{apache.https_port}{CHALLENGE}/" in result.detail
    assert "connection refused" in result.detail


def test_redirect_to_https_that_serves_the_token_is_fine(apache, challenge_alias):
    def https_vhost(name: str) -> None:
        certificate, key = self_signed(apache.paths.root / "tls", name)
        for module in ("ssl.load", "ssl.conf", "socache_shmcb.load"):
            (apache.paths.mods_enabled / module).symlink_to(f"../mods-available/{module}")
        add_site(apache, f"{name}-tls", f" ServerAlias {name}\n SSLEngine on\n SSLCertificateFile {certificate}\n"
                 f" SSLCertificateKeyFile {key}", port=apache.https_port)

    _, result = self_test_redirecting_vhost(apache, "https://NAME/", prepare=https_vhost)
    assert result.verdict is SelfTestVerdict.REDIRECT_TO_HTTPS_OK and result.ok


def test_application_swallowing_the_path_is_wrong_content(apache, challenge_alias):
    name = f"app-{uuid.uuid4().hex[:8]}.ispa.test"
    page = apache.paths.root / "app" / "index.html"
    page.parent.mkdir(mode=0o755)
    page.write_text("<h1>Welcome to the application</h1>\n")
    page.chmod(0o644)
    add_site(apache, name, f" AliasMatch ^/ {page}\n <Directory {page.parent}>\n  Require all granted\n </Directory>")
    reload_until(apache, lambda: status_of(apache, name, "/anything") == 200)
    [result] = run(apache, {name: [LOOPBACK]})
    assert result.verdict is SelfTestVerdict.WRONG_CONTENT
    assert "Welcome to the application" in result.detail


def test_untraversable_parent_is_forbidden(apache, challenge_alias):
    cert_home = apache.paths.cert_home
    cert_home.chmod(0o700)
    [result] = run(apache, {apache.admin_name: [LOOPBACK]})
    assert result.verdict is SelfTestVerdict.FORBIDDEN
    assert "HTTP 403" in result.detail and "traversable" in result.detail
    assert leftovers(apache) == []


def test_name_without_address(tmp_path):
    [result] = self_test({"admin.example.cz": []}, challenge_dir=tmp_path / "challenge", timeout=3.0)
    assert result.verdict is SelfTestVerdict.NO_ADDRESS and result.address is None


def test_token_removed_even_when_the_fetch_crashes(tmp_path, monkeypatch):
    def crash(*_args):
        raise RuntimeError("boom")

    monkeypatch.setattr(selftest, "_follow", crash)
    challenge_dir = tmp_path / "challenge"
    with pytest.raises(RuntimeError):
        self_test({"admin.example.cz": [LOOPBACK]}, challenge_dir=challenge_dir, timeout=3.0)
    assert list(challenge_dir.iterdir()) == []


def test_ipv6_address_is_preferred_as_by_the_ca():
    assert selftest.preferred_address(["192.0.2.1", "2001:db8::1"]) == "2001:db8::1"
    assert selftest.preferred_address(["192.0.2.1", "192.0.2.2"]) == "192.0.2.1"


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    directory.mkdir(mode=0o755, parents=True)
    certificate, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(certificate), "-days", "1", "-subj", f"/CN={name}"],
                   check=True, capture_output=True)
    return certificate, key
