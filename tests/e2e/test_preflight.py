"""DNS and port-80 faults are caught before the CA sees a validation (real DNS server,
real Apache, real Pebble): each case exits with its code, names the fault, changes nothing."""

from __future__ import annotations

import socket

import pytest

pytestmark = pytest.mark.e2e

from tests.factories import ADMIN, PORTAL


def issue(ispa_cert, *extra: str, env=None):
    return ispa_cert("issue", "-a", "-c", "--admin-domain", ADMIN, "--client-domain", PORTAL,
                     "--server-ip", "127.0.0.1", "--yes", *extra, extra_env=env)


def untouched(stack, include: bytes) -> None:
    assert stack.paths.vhost_include.read_bytes() == include
    assert not stack.paths.crontab.exists()
    assert not stack.paths.live_dir.exists()
    assert stack.pebble.validation_attempts(ADMIN) == stack.pebble.validation_attempts(PORTAL) == 0


@pytest.mark.parametrize("fault, expected", [
    (lambda dns: dns.set_a(PORTAL, ["192.0.2.44"]), "192.0.2.44"),
    (lambda dns: dns.set_aaaa(PORTAL, ["2001:db8::44"]), "2001:db8::44"),
    (lambda dns: dns.set_caa(PORTAL, [{"tag": "issue", "value": "sectigo.com"}]), "sectigo.com"),
    (lambda dns: dns.set_servfail(PORTAL), "SERVFAIL"),
])
def test_dns_fault_exits_3_naming_the_record(stack, ispa_cert, fault, expected):
    include = stack.paths.vhost_include.read_bytes()
    fault(stack.dns)
    result = issue(ispa_cert)
    assert result.returncode == 3, result.stdout + result.stderr
    assert expected in result.stdout + result.stderr
    assert "48 hours" in result.stderr
    assert "Traceback" not in result.stderr
    untouched(stack, include)


def test_dead_resolver_times_out_within_the_bound(stack, ispa_cert):
    include = stack.paths.vhost_include.read_bytes()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        server = f"127.0.0.1:{black_hole.getsockname()[1]}"
        result = issue(ispa_cert, "--dns-timeout", "1", env={"ISPA_DNS_SERVER": server})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "timeout" in result.stdout.lower()
    untouched(stack, include)


def test_cname_chain_is_shown(stack, ispa_cert):
    stack.dns.set_cname(PORTAL, "web.ispa.test")
    result = ispa_cert("issue", "-c", "--client-domain", PORTAL, "--server-ip", "127.0.0.1", "--yes",
                       "--dns-server", stack.dns.dns_server)
    assert "web.ispa.test" in result.stdout


def test_failed_self_test_keeps_the_name_away_from_the_ca(stack, ispa_cert):
    """A vhost that redirects everything to an application port: the CA would fail, so it is never asked."""
    site = stack.paths.ispadmin_site
    site.write_text(site.read_text().replace(f" ServerName {PORTAL}\n",
                                             f" ServerName {PORTAL}\n Redirect / http://portal.ispa.test:8081/\n"))
    stack.apache.ctl("graceful")
    result = ispa_cert("issue", "-c", "--client-domain", PORTAL, "--server-ip", "127.0.0.1", "--yes")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "8081" in result.stdout
    assert "not sent to the CA" in result.stderr
    assert stack.pebble.validation_attempts(PORTAL) == 0
    assert not stack.paths.live(PORTAL).cert.exists()
    assert list(stack.paths.challenge_dir.iterdir()) == []


def test_ca_validation_failure_shows_the_full_reason_and_is_recorded(stack, ispa_cert):
    """acme.sh cuts the CA's reason short on screen; the admin gets the whole of it."""
    from ispa_acmewrap import state

    stack.dns.set_a(PORTAL, ["127.0.0.2"])  # nothing listens there: the CA's connection is refused
    result = ispa_cert("issue", "-c", "--client-domain", PORTAL, "--server-ip", "127.0.0.2", "--yes",
                       "--ignore-self-test")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "connection refused" in result.stderr
    assert "Cannot update challenge" not in result.stderr
    ledger = state.load_state(stack.paths.state_file)
    assert len(ledger.failures.get(PORTAL, ())) == 1
