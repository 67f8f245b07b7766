"""The DNS check against a real DNS server (pebble-challtestsrv) and a resolver that never answers."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from ispa_acmewrap.dns import Verdict, check_names

SERVER = {"127.0.0.1"}


def unique(label: str = "host") -> str:
    """A name no other test touches (the DNS server lives for the whole session)."""
    return f"{label}-{uuid.uuid4().hex[:10]}.ispa.test"


def check(dns_server, *names: str, server_addresses=SERVER, timeout: float = 3.0):
    return check_names(list(names), server_addresses=server_addresses, nameserver=dns_server.dns_server,
                       timeout=timeout)


@pytest.fixture
def dead_resolver():
    """A UDP socket on loopback that receives queries and never answers: a black-hole resolver."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{hole.getsockname()[1]}"


def test_a_record_of_this_server_is_ok(dns_server):
    name = unique()
    dns_server.set_a(name, ["127.0.0.1"])
    [finding] = check(dns_server, name)
    assert finding.verdict is Verdict.OK and finding.ok
    assert finding.a == ("127.0.0.1",) and finding.aaaa == () and finding.cname_chain == ()


def test_a_record_elsewhere(dns_server):
    name = unique()
    dns_server.set_a(name, ["192.0.2.10"])
    [finding] = check(dns_server, name)
    assert finding.verdict is Verdict.ELSEWHERE and not finding.ok
    assert finding.a == ("192.0.2.10",)
    assert "points to 192.0.2.10, but this server is 127.0.0.1" in finding.message


def test_foreign_aaaa_beside_a_right_a(dns_server):
    name = unique()
    dns_server.set_a(name, ["127.0.0.1"])
    dns_server.set_aaaa(name, ["2001:db8::1"])
    [finding] = check(dns_server, name)
    assert finding.verdict is Verdict.AAAA_ELSEWHERE
    assert finding.aaaa == ("2001:db8::1",)
    assert "2001:db8::1" in finding.message


def test_matching_aaaa_is_ok(dns_server):
    name = unique()
    dns_server.set_aaaa(name, ["2001:db8::5"])
    [finding] = check(dns_server, name, server_addresses={"127.0.0.1", "2001:db8::5"})
    assert finding.verdict is Verdict.OK
    assert finding.aaaa == ("2001:db8::5",)


def test_cname_chain_is_followed_and_shown(dns_server):
    alias, target = unique("alias"), unique("target")
    dns_server.set_cname(alias, target)
    dns_server.set_a(target, ["192.0.2.20"])
    [finding] = check(dns_server, alias)
    assert finding.cname_chain == (target,)
    assert finding.a == ("192.0.2.20",)
    assert finding.verdict is Verdict.ELSEWHERE and "192.0.2.20" in finding.message


def test_caa_forbidding_letsencrypt_on_the_parent_domain(dns_server):
    parent = unique("zone")
    name = f"admin.{parent}"
    dns_server.set_caa(parent, [{"tag": "issue", "value": "sectigo.com"}])
    [finding] = check(dns_server, name)
    assert finding.verdict is Verdict.CAA_FORBIDS
    assert finding.caa == ('0 issue "sectigo.com"',) and finding.caa_domain == parent
    assert parent in finding.message and 'issue "sectigo.com"' in finding.message


def test_caa_allowing_letsencrypt(dns_server):
    name = unique()
    dns_server.set_caa(name, [{"tag": "issue", "value": "letsencrypt.org"}, {"tag": "issue", "value": "sectigo.com"}])
    [finding] = check(dns_server, name)
    assert finding.verdict is Verdict.OK
    assert finding.caa_domain == name and len(finding.caa) == 2


def test_servfail(dns_server):
    name = unique()
    dns_server.set_servfail(name)
    [finding] = check(dns_server, name)
    assert finding.verdict is Verdict.SERVFAIL
    assert "SERVFAIL" in finding.message


def test_records_cleared_fall_back_to_the_servers_default_answer(dns_server):
    """challtestsrv answers every name with 127.0.0.1 by default: it cannot produce NXDOMAIN or
    "no address" (those are covered with a stub resolver in tests/unit/test_dns_verdicts.py)."""
    name = unique()
    dns_server.set_a(name, ["192.0.2.10"])
    dns_server.clear_a(name)
    [finding] = check(dns_server, name)
    assert finding.a == ("127.0.0.1",) and finding.verdict is Verdict.OK


def test_every_name_gets_its_own_verdict_in_order(dns_server):
    good, elsewhere, failing = unique("good"), unique("elsewhere"), unique("failing")
    dns_server.set_a(elsewhere, ["192.0.2.10"])
    dns_server.set_servfail(failing)
    findings = check(dns_server, good, elsewhere, failing)
    assert [(f.name, f.verdict) for f in findings] == [
        (good, Verdict.OK), (elsewhere, Verdict.ELSEWHERE), (failing, Verdict.SERVFAIL)]


def test_dead_resolver_times_out_within_about_one_timeout(dead_resolver):
    names = [unique("a"), unique("b"), unique("c")]
    started = time.monotonic()
    findings = check_names(names, server_addresses=SERVER, nameserver=dead_resolver, timeout=1.0)
    elapsed = time.monotonic() - started
    assert [f.verdict for f in findings] == [Verdict.TIMEOUT] * 3
    assert all("within 1 s" in f.message for f in findings)
    assert elapsed < 1.5, f"the DNS check took {elapsed:.2f} s against a dead resolver with a 1 s timeout"
