"""`ispa-cert issue` against the real stack: Pebble, pebble-challtestsrv, Apache, acme.sh."""

from __future__ import annotations

import ssl

import pytest
from cryptography import x509

from ispa_acmewrap import apache as apache_config, state as state_store
from ispa_acmewrap.paths import Paths

pytestmark = pytest.mark.e2e

from tests.factories import ADMIN, DEALER, PORTAL


def issue(ispa_cert, *extra: str):
    return ispa_cert("issue", "-a", "-c", "--admin-domain", ADMIN, "--client-domain", PORTAL,
                     "--server-ip", "127.0.0.1", "--yes", *extra)


def served_over_https(stack, name: str) -> tuple[x509.Certificate, bytes]:
    """Fetch a page through the sandbox Apache, verifying against Pebble's issuing root."""
    der, response = stack.https_get(name)
    return x509.load_der_x509_certificate(der), response


def on_disk(paths: Paths, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(paths.live(name).cert.read_bytes())


def test_issue_installs_certificates_that_apache_serves(stack, ispa_cert):
    result = issue(ispa_cert)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "now answer over HTTPS" in result.stdout

    for name, page in ((ADMIN, b"<h1>admin.ispa.test</h1>"), (PORTAL, b"<h1>portal.ispa.test</h1>")):
        served, response = served_over_https(stack, name)
        file = on_disk(stack.paths, name)
        assert served.serial_number == file.serial_number
        assert served.subject == file.subject
        assert served.issuer == file.issuer
        assert "Pebble" in served.issuer.rfc4514_string()
        assert file.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName) == [name]
        assert response.startswith(b"HTTP/1.1 200") and page in response

    live = stack.paths.live(ADMIN)
    assert live.key.stat().st_mode & 0o777 == 0o600
    assert live.directory.stat().st_mode & 0o777 == 0o700
    assert apache_config.site_includes_generated(stack.paths.ispadmin_site.read_text(), stack.paths)
    assert "ispa-cert renew" in stack.paths.crontab.read_text()
    # acme.sh's Alias in the main config is gone again, and no challenge token is left behind
    assert "acme-challenge" not in stack.paths.apache_main_config.read_text()
    assert list(stack.paths.challenge_dir.iterdir()) == []


def test_second_run_is_idempotent(stack, ispa_cert):
    first = issue(ispa_cert)
    assert first.returncode == 0, first.stdout + first.stderr
    include = stack.paths.vhost_include.read_bytes()
    site = stack.paths.ispadmin_site.read_bytes()
    crontab = stack.paths.crontab.read_bytes()
    serial = on_disk(stack.paths, ADMIN).serial_number

    second = issue(ispa_cert)
    assert second.returncode == 0, second.stdout + second.stderr
    assert stack.paths.vhost_include.read_bytes() == include
    assert stack.paths.ispadmin_site.read_bytes() == site
    assert stack.paths.crontab.read_bytes() == crontab
    assert on_disk(stack.paths, ADMIN).serial_number == serial
    assert "configuration is unchanged" in second.stdout
    text = include.decode()
    assert text.count(f"ServerName {ADMIN}") == 1 and text.count(f"ServerName {PORTAL}") == 1
    assert "Listen" not in text
    dump = stack.apache.ctl("-S").stdout
    assert dump.count(f"namevhost {ADMIN}") == 2  # one on port 80, one on the HTTPS port


def test_name_without_vhost_gets_temporary_config_then_its_document_root(stack, ispa_cert):
    docroot = stack.root / "srv" / "dealer"
    docroot.mkdir(parents=True)
    (docroot / "index.html").write_text("<h1>dealer portal</h1>\n")
    result = ispa_cert("issue", "-d", "--dealer-domain", DEALER, "--dealer-docroot", str(docroot),
                       "--server-ip", "127.0.0.1", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "temp_isp.conf" in result.stdout
    assert not stack.paths.temp_site.exists() and not stack.paths.temp_site_enabled.exists()
    served, response = served_over_https(stack, DEALER)
    assert served.serial_number == on_disk(stack.paths, DEALER).serial_number
    assert b"<h1>dealer portal</h1>" in response
    # remembered: a re-run needs no option and changes nothing
    again = ispa_cert("issue", "-d", "--dealer-domain", DEALER, "--server-ip", "127.0.0.1", "--yes")
    assert again.returncode == 0 and "configuration is unchanged" in again.stdout, again.stdout + again.stderr


def test_leftover_temporary_config_is_reported_and_removed(stack, ispa_cert):
    stack.paths.temp_site.write_text("# left over from an earlier run\n")
    result = issue(ispa_cert)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "left over from an earlier run: it must be removed" in result.stdout
    assert not stack.paths.temp_site.exists()


def test_missing_include_line_is_added(stack, ispa_cert):
    site = stack.paths.ispadmin_site
    site.write_text(site.read_text().replace(apache_config.include_directive(stack.paths), ""))
    stack.apache.ctl("graceful")
    result = issue(ispa_cert)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "does not include" in result.stdout
    assert apache_config.site_includes_generated(site.read_text(), stack.paths)
    served_over_https(stack, ADMIN)


def test_wrong_dns_stops_before_anything_changes(stack, ispa_cert):
    stack.dns.set_a(PORTAL, ["192.0.2.44"])
    include = stack.paths.vhost_include.read_bytes()
    docroot = stack.root / "srv" / "dealer"
    docroot.mkdir(parents=True)
    result = issue(ispa_cert, "-d", "--dealer-domain", DEALER, "--dealer-docroot", str(docroot))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "192.0.2.44" in result.stderr
    record = state_store.load_state(stack.paths.state_file)  # the names are offered again, nothing is on record
    assert (record.roles, record.docroots) == ({}, {}) and record.typed["dealer"] == DEALER
    assert stack.paths.vhost_include.read_bytes() == include
    assert not stack.paths.acme_home.exists()
    assert not stack.paths.crontab.exists()
    assert stack.pebble.validation_attempts(PORTAL) == 0


def test_failed_apache_change_leaves_the_old_certificates_served(stack, ispa_cert):
    from ispa_acmewrap import transaction
    from ispa_acmewrap.errors import OperationFailed
    from ispa_acmewrap.files import atomic_write

    assert issue(ispa_cert).returncode == 0
    include = stack.paths.vhost_include.read_bytes()
    before, _ = served_over_https(stack, ADMIN)
    with pytest.raises(OperationFailed):
        with transaction.apache_change(stack.paths, "test: broken include"):
            atomic_write(stack.paths.vhost_include, include + b"\nSSLCertificateFile /nonexistent.pem\n")
    assert stack.paths.vhost_include.read_bytes() == include
    after, response = served_over_https(stack, ADMIN)
    assert after.serial_number == before.serial_number and response.startswith(b"HTTP/1.1 200")


def test_backups_restore_brings_back_the_previous_include(stack, ispa_cert):
    first = ispa_cert("issue", "-a", "--admin-domain", ADMIN, "--server-ip", "127.0.0.1", "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    admin_only = stack.paths.vhost_include.read_bytes()
    second = ispa_cert("issue", "-c", "--client-domain", PORTAL, "--server-ip", "127.0.0.1", "--yes")
    assert second.returncode == 0, second.stdout + second.stderr
    assert stack.paths.vhost_include.read_bytes() != admin_only
    served_over_https(stack, PORTAL)

    listing = ispa_cert("backups", "list")
    assert f"install certificates for {PORTAL}" in listing.stdout
    newest = listing.stdout.splitlines()[2].split()[0]  # the backup made before the portal was added
    restored = ispa_cert("backups", "restore", newest, "--yes")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert stack.paths.vhost_include.read_bytes() == admin_only
    served, _ = served_over_https(stack, ADMIN)
    assert served.serial_number == on_disk(stack.paths, ADMIN).serial_number
    with pytest.raises(ssl.SSLCertVerificationError):  # the portal has no HTTPS vhost any more
        served_over_https(stack, PORTAL)


def test_redirect_sends_port_80_to_https_but_keeps_challenges(stack, ispa_cert):
    import http.client

    def get(name: str, path: str) -> tuple[int, str | None]:
        connection = http.client.HTTPConnection("127.0.0.1", stack.apache.http_port, timeout=10)
        connection.request("GET", path, headers={"Host": name})
        response = connection.getresponse()
        return response.status, response.getheader("Location")

    assert issue(ispa_cert, "--redirect").returncode == 0
    assert get(ADMIN, "/page?x=1") == (308, f"https://{ADMIN}:{stack.apache.https_port}/page?x=1")
    token = stack.paths.challenge_dir / "probe-token"
    token.write_text("probe")
    assert get(ADMIN, "/.well-known/acme-challenge/probe-token") == (200, None)
    token.unlink()
    # the setting sticks on a plain re-run (the self-test still passes through the exemption) ...
    first = on_disk(stack.paths, PORTAL).serial_number
    again = issue(ispa_cert, "--force")
    assert again.returncode == 0, again.stdout + again.stderr
    assert get(PORTAL, "/")[0] == 308
    # the new certificates are served at once: issue reloads Apache itself (acme.sh's reload was held back)
    assert "Reloading Apache for the new certificates" in again.stdout
    assert served_over_https(stack, PORTAL)[0].serial_number == on_disk(stack.paths, PORTAL).serial_number != first
    # ... and --no-redirect removes it
    assert issue(ispa_cert, "--no-redirect").returncode == 0
    assert get(ADMIN, "/") == (200, None)
