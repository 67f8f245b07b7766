"""DNS verdicts as pure functions of what the lookups returned; lookups against a stub resolver."""

from __future__ import annotations

import json

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from ispa_acmewrap.dns import (
    Lookup,
    NameLookups,
    Verdict,
    caa_refusal,
    global_addresses,
    judge,
    lookup_names,
    parent_domains,
    split_host_port,
)

OURS = {"198.51.100.4"}
NAME = "admin.example.cz"


def lookups(a=(), aaaa=(), caa=(), caa_domain=None, chain=(), a_fault=None, aaaa_fault=None, caa_fault=None):
    return NameLookups(
        Lookup(tuple(a), tuple(chain), a_fault, detail="SERVFAIL" if a_fault else ""),
        Lookup(tuple(aaaa), tuple(chain), aaaa_fault),
        Lookup(tuple(caa), (), caa_fault, domain=caa_domain),
    )


# --- verdicts ----------------------------------------------------------------------

def test_a_record_of_this_server_is_ok():
    finding = judge(NAME, lookups(a=["198.51.100.4"]), OURS, timeout=4)
    assert finding.verdict is Verdict.OK and finding.ok
    assert finding.a == ("198.51.100.4",)
    assert "198.51.100.4" in finding.message


def test_a_record_elsewhere_says_where_and_what_it_should_be():
    finding = judge(NAME, lookups(a=["203.0.113.9"]), OURS, timeout=4)
    assert finding.verdict is Verdict.ELSEWHERE and not finding.ok
    assert finding.message == ("points to 203.0.113.9, but this server is 198.51.100.4: "
                               "change the A record at your DNS provider")


def test_one_foreign_a_among_several_is_elsewhere():
    finding = judge(NAME, lookups(a=["198.51.100.4", "203.0.113.9"]), OURS, timeout=4)
    assert finding.verdict is Verdict.ELSEWHERE
    assert "points to 203.0.113.9," in finding.message


def test_unknown_server_address_points_to_server_ip_option():
    finding = judge(NAME, lookups(a=["203.0.113.9"]), set(), timeout=4)
    assert finding.verdict is Verdict.ELSEWHERE
    assert "--server-ip" in finding.message


def test_only_a_matching_aaaa_is_ok_and_ipv6_is_compared_as_addresses():
    finding = judge(NAME, lookups(aaaa=["2001:db8:0:0::5"]), {"2001:DB8::5"}, timeout=4)
    assert finding.verdict is Verdict.OK


def test_only_a_foreign_aaaa_is_elsewhere():
    finding = judge(NAME, lookups(aaaa=["2001:db8::1"]), OURS, timeout=4)
    assert finding.verdict is Verdict.ELSEWHERE
    assert "change the AAAA record" in finding.message


def test_foreign_aaaa_beside_a_right_a_is_aaaa_elsewhere():
    finding = judge(NAME, lookups(a=["198.51.100.4"], aaaa=["2001:db8::1"]), OURS, timeout=4)
    assert finding.verdict is Verdict.AAAA_ELSEWHERE and not finding.ok
    assert "2001:db8::1" in finding.message and "IPv6" in finding.message


def test_no_address_says_what_to_add():
    finding = judge(NAME, lookups(), OURS, timeout=4)
    assert finding.verdict is Verdict.NO_ADDRESS
    assert "no A or AAAA record" in finding.message and "198.51.100.4" in finding.message


@pytest.mark.parametrize(("fault", "words"), [
    (Verdict.NXDOMAIN, "does not exist"),
    (Verdict.SERVFAIL, "SERVFAIL"),
    (Verdict.TIMEOUT, "within 3 s"),
])
def test_each_lookup_fault_has_its_own_message(fault, words):
    finding = judge(NAME, lookups(a_fault=fault), OURS, timeout=3)
    assert finding.verdict is fault
    assert words in finding.message


def test_caa_fault_counts_and_names_the_domain():
    finding = judge(NAME, lookups(a=["198.51.100.4"], caa_fault=Verdict.SERVFAIL, caa_domain="example.cz"), OURS, timeout=4)
    assert finding.verdict is Verdict.SERVFAIL
    assert "CAA query of example.cz" in finding.message


def test_caa_forbidding_letsencrypt_names_the_record_and_where_it_is():
    finding = judge(NAME, lookups(a=["198.51.100.4"], caa=['0 issue "sectigo.com"'], caa_domain="example.cz"), OURS, timeout=4)
    assert finding.verdict is Verdict.CAA_FORBIDS
    assert finding.caa == ('0 issue "sectigo.com"',) and finding.caa_domain == "example.cz"
    assert 'example.cz (0 issue "sectigo.com")' in finding.message and "letsencrypt.org" in finding.message


def test_precedence_fault_then_no_address_then_caa_then_elsewhere_then_aaaa():
    forbidding = ['0 issue "sectigo.com"']
    assert judge(NAME, lookups(a_fault=Verdict.TIMEOUT, caa=forbidding), OURS, timeout=4).verdict is Verdict.TIMEOUT
    assert judge(NAME, lookups(caa=forbidding), OURS, timeout=4).verdict is Verdict.NO_ADDRESS
    everything_wrong = lookups(a=["203.0.113.9"], aaaa=["2001:db8::1"], caa=forbidding, caa_domain="example.cz")
    assert judge(NAME, everything_wrong, OURS, timeout=4).verdict is Verdict.CAA_FORBIDS
    assert judge(NAME, lookups(a=["203.0.113.9"], aaaa=["2001:db8::1"]), OURS, timeout=4).verdict is Verdict.ELSEWHERE


def test_cname_chain_is_reported():
    finding = judge("www.example.cz", lookups(a=["198.51.100.4"], chain=["web.example.net"]), OURS, timeout=4)
    assert finding.cname_chain == ("web.example.net",)


# --- CAA ---------------------------------------------------------------------------

@pytest.mark.parametrize("records", [
    [],
    ['0 issue "letsencrypt.org"'],
    ['0 issue "sectigo.com"', '0 issue "LetsEncrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1"'],
    ['0 issue "letsencrypt.org; validationmethods=dns-01,http-01"'],
    ['0 iodef "mailto:hostmaster@example.cz"'],
    ['0 issuewild ";"'],
])
def test_caa_sets_that_permit_letsencrypt(records):
    assert caa_refusal(records) is None


@pytest.mark.parametrize(("records", "named"), [
    (['0 issue "sectigo.com"'], '0 issue "sectigo.com"'),
    (['0 issue ";"'], '0 issue ";"'),
    (['0 issue "letsencrypt.org; validationmethods=dns-01"'], "validationmethods=dns-01"),
    (['128 tbs "unknown"', '0 issue "letsencrypt.org"'], '128 tbs "unknown"'),
])
def test_caa_sets_that_forbid_letsencrypt_name_the_record(records, named):
    assert named in caa_refusal(records)


def test_parent_domains_climb_to_the_top_level():
    assert parent_domains("a.b.example.cz") == ["a.b.example.cz", "b.example.cz", "example.cz", "cz"]


# --- plumbing ----------------------------------------------------------------------

def test_global_addresses_skip_loopback_link_local_and_host_scope():
    output = json.dumps([
        {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "scope": "host"},
                                       {"family": "inet6", "local": "::1", "scope": "host"}]},
        {"ifname": "eth0", "addr_info": [{"family": "inet", "local": "198.51.100.4", "scope": "global"},
                                         {"family": "inet6", "local": "2001:db8::5", "scope": "global"},
                                         {"family": "inet6", "local": "fe80::1", "scope": "link"}]},
        {"ifname": "eth1", "addr_info": []},
    ])
    assert global_addresses(output) == {"198.51.100.4", "2001:db8::5"}


@pytest.mark.parametrize(("server", "expected"), [
    ("192.0.2.53", ("192.0.2.53", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("2001:db8::53", ("2001:db8::53", 53)),
    ("[2001:db8::53]:5353", ("2001:db8::53", 5353)),
])
def test_split_host_port(server, expected):
    assert split_host_port(server) == expected


# --- lookups through a stub resolver (faults the test DNS server cannot produce) ----

def answer(name: str, rdtype: str, *texts: str, cname_to: str | None = None) -> dns.resolver.Answer:
    query = dns.message.make_query(name, rdtype)
    response = dns.message.make_response(query)
    owner = dns.name.from_text(name)
    if cname_to:
        response.answer.append(dns.rrset.from_text(owner, 60, "IN", "CNAME", cname_to + "."))
        owner = dns.name.from_text(cname_to)
    if texts:
        response.answer.append(dns.rrset.from_text(owner, 60, "IN", rdtype, *texts))
    response = dns.message.from_wire(response.to_wire())  # as it arrives from a server
    return dns.resolver.Answer(dns.name.from_text(name), dns.rdatatype.from_text(rdtype), dns.rdataclass.IN, response)


class StubResolver:
    """Answers from a table (name, type) -> Answer or exception; anything else is an empty answer."""

    def __init__(self, table):
        self.table = table
        self.asked = []

    def resolve(self, name, rdtype, **_options):
        self.asked.append((name, rdtype))
        outcome = self.table.get((name, rdtype))
        if isinstance(outcome, Exception):
            raise outcome
        return outcome or answer(name, rdtype)


def test_nxdomain_from_the_resolver_is_the_nxdomain_verdict():
    stub = StubResolver({(n, t): dns.resolver.NXDOMAIN() for n in ["gone.example.cz"] for t in ("A", "AAAA", "CAA")})
    result = lookup_names(["gone.example.cz"], stub, timeout=2)
    finding = judge("gone.example.cz", result["gone.example.cz"], OURS, timeout=4)
    assert finding.verdict is Verdict.NXDOMAIN


def test_empty_answers_are_no_address():
    result = lookup_names(["empty.example.cz"], StubResolver({}), timeout=2)
    assert judge("empty.example.cz", result["empty.example.cz"], OURS, timeout=4).verdict is Verdict.NO_ADDRESS


def test_refused_arrives_as_no_nameservers_and_is_reported():
    request = dns.message.make_query("refused.example.cz", "A")
    refused = dns.resolver.NoNameservers(request=request, errors=[("192.0.2.53", False, 53, "REFUSED", None)])
    stub = StubResolver({("refused.example.cz", "A"): refused})
    finding = judge("refused.example.cz", lookup_names(["refused.example.cz"], stub, 2)["refused.example.cz"], OURS, timeout=4)
    assert finding.verdict is Verdict.SERVFAIL and "REFUSED" in finding.message


def test_timeout_from_the_resolver_is_the_timeout_verdict():
    stub = StubResolver({("slow.example.cz", "AAAA"): dns.resolver.LifetimeTimeout(timeout=2.0, errors=[]),
                         ("slow.example.cz", "A"): answer("slow.example.cz", "A", "198.51.100.4")})
    finding = judge("slow.example.cz", lookup_names(["slow.example.cz"], stub, 2)["slow.example.cz"], OURS, timeout=4)
    assert finding.verdict is Verdict.TIMEOUT and "AAAA" in finding.message


def test_caa_climbs_to_the_first_non_empty_set_past_nxdomain_parents():
    stub = StubResolver({
        ("a.b.example.cz", "A"): answer("a.b.example.cz", "A", "198.51.100.4"),
        ("b.example.cz", "CAA"): dns.resolver.NXDOMAIN(),
        ("example.cz", "CAA"): answer("example.cz", "CAA", '0 issue "sectigo.com"'),
    })
    finding = judge("a.b.example.cz", lookup_names(["a.b.example.cz"], stub, 2)["a.b.example.cz"], OURS, timeout=4)
    assert finding.verdict is Verdict.CAA_FORBIDS
    assert finding.caa_domain == "example.cz"
    assert ("cz", "CAA") not in stub.asked


def test_cname_chain_is_taken_from_the_response():
    stub = StubResolver({("www.example.cz", "A"): answer("www.example.cz", "A", "198.51.100.4",
                                                          cname_to="web.example.net")})
    finding = judge("www.example.cz", lookup_names(["www.example.cz"], stub, 2)["www.example.cz"], OURS, timeout=4)
    assert finding.verdict is Verdict.OK
    assert finding.cname_chain == ("web.example.net",) and finding.a == ("198.51.100.4",)
