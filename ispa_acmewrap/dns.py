"""DNS findings for the names to certify: do they point at this server, may Let's Encrypt issue?

A, AAAA and CAA of every name are queried in parallel under one deadline, so the whole
check takes about one timeout even when the resolver never answers. The verdict of each
name is a pure function of what the lookups returned (`judge`). Never prints, never exits.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from . import runner
from .command import Command
from .errors import BadInput, PreconditionMissing
from .i18n import N_, Worded, _
from .names import split_host_port  # noqa: F401 - also dns.split_host_port for callers

log = logging.getLogger(__name__)

LETSENCRYPT_CAA_DOMAIN = "letsencrypt.org"
KNOWN_CAA_TAGS = frozenset({"issue", "issuewild", "iodef", "issuemail", "issuevmc", "contactemail", "contactphone"})
CRITICAL_FLAG = 128
DEADLINE_GRACE = 0.05  # seconds past the deadline for answers already on their way
MAX_WORKERS = 64
Key = tuple[str, str]  # (name, record type)


class Verdict(Worded):
    OK = N_("ok")
    ELSEWHERE = N_("points elsewhere")
    NXDOMAIN = N_("does not exist")
    NO_ADDRESS = N_("no address")
    SERVFAIL = N_("DNS server failure")
    TIMEOUT = N_("timeout")
    AAAA_ELSEWHERE = N_("AAAA points elsewhere")
    CAA_FORBIDS = N_("CAA forbids Let's Encrypt")



@dataclass(frozen=True)
class Lookup:
    """What one query returned: rendered records and the CNAME chain, or a fault."""

    records: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()
    fault: Verdict | None = None
    detail: str = ""
    domain: str | None = None  # CAA only: where the CAA set was found


@dataclass(frozen=True)
class NameLookups:
    a: Lookup
    aaaa: Lookup
    caa: Lookup


@dataclass(frozen=True)
class NameFinding:
    name: str
    a: tuple[str, ...]
    aaaa: tuple[str, ...]
    cname_chain: tuple[str, ...]  # CNAME targets in order, from the name to its canonical name
    caa: tuple[str, ...]
    caa_domain: str | None
    verdict: Verdict
    message: str

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK


# --- this server's addresses ---------------------------------------------------------

def addresses_command() -> Command:
    return Command(["ip", "-j", "address", "show"])


def local_addresses() -> set[str]:
    """Global-scope addresses of this host's interfaces (no loopback, no link-local)."""
    return global_addresses(runner.run(addresses_command()).output)


def global_addresses(ip_json: str) -> set[str]:
    """The global-scope addresses in the output of `ip -j address show`."""
    found = set()
    for interface in json.loads(ip_json or "[]"):
        for info in interface.get("addr_info", []):
            address = ipaddress.ip_address(info["local"])
            if info.get("scope") == "global" and not (address.is_loopback or address.is_link_local):
                found.add(str(address))
    return found


# --- the check ---------------------------------------------------------------------

def check_names(
    names: Iterable[str],
    *,
    server_addresses: set[str],
    nameserver: str | None = None,
    timeout: float,
) -> list[NameFinding]:
    """Look up every name in parallel and judge it; the whole check takes about `timeout`."""
    names = list(names)
    lookups = lookup_names(names, make_resolver(nameserver), timeout)
    return [judge(name, lookups[name], server_addresses, timeout) for name in names]


def lookup_names(names: list[str], resolver: dns.resolver.Resolver, timeout: float) -> dict[str, NameLookups]:
    """A, AAAA and CAA of every name, all at once; what is not back by the deadline is a TIMEOUT."""
    deadline = time.monotonic() + timeout
    tasks: dict[Key, Callable[[], Lookup]] = {}
    for name in names:
        tasks[(name, "A")] = lambda name=name: query(resolver, name, "A", deadline)
        tasks[(name, "AAAA")] = lambda name=name: query(resolver, name, "AAAA", deadline)
        tasks[(name, "CAA")] = lambda name=name: relevant_caa(resolver, name, deadline)
    late = Lookup(fault=Verdict.TIMEOUT, detail=_("no answer within {seconds} s").format(seconds=f"{timeout:g}"))
    results = _run_until(tasks, deadline, late)
    return {name: NameLookups(results[(name, "A")], results[(name, "AAAA")], results[(name, "CAA")]) for name in names}


def _run_until(tasks: dict[Key, Callable[[], Lookup]], deadline: float, late: Lookup) -> dict[Key, Lookup]:
    if not tasks:
        return {}
    executor = ThreadPoolExecutor(max_workers=min(len(tasks), MAX_WORKERS), thread_name_prefix="dns")
    futures = {key: executor.submit(task) for key, task in tasks.items()}
    wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()) + DEADLINE_GRACE)
    executor.shutdown(wait=False, cancel_futures=True)  # stragglers end by themselves at their lifetime
    return {key: future.result() if future.done() else late for key, future in futures.items()}


def make_resolver(nameserver: str | None) -> dns.resolver.Resolver:
    """The system resolver, or one aimed at HOST, HOST:PORT or [V6]:PORT."""
    if nameserver is None:
        try:
            return dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration as missing:
            raise PreconditionMissing(_("this server has no DNS resolver configured (resolv.conf)")) from missing
    resolver = dns.resolver.Resolver(configure=False)
    try:
        host, port = split_host_port(nameserver)
        resolver.nameservers = [host]
    except ValueError as bad:
        raise BadInput(_("DNS server {server} is not an IP address with an optional :PORT").format(
            server=repr(nameserver))) from bad
    resolver.port = port
    return resolver


def query(resolver: dns.resolver.Resolver, name: str, rdtype: str, deadline: float) -> Lookup:
    """One query, bounded by the deadline; faults become a Lookup, never an exception."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return Lookup(fault=Verdict.TIMEOUT, detail=_("no time left"))
    try:
        answer = resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False, lifetime=remaining)
    except dns.resolver.NXDOMAIN:
        return Lookup(fault=Verdict.NXDOMAIN, detail="NXDOMAIN")
    except dns.resolver.NoNameservers as failure:
        return Lookup(fault=Verdict.SERVFAIL, detail=_server_answers(failure))
    except dns.exception.Timeout:
        return Lookup(fault=Verdict.TIMEOUT, detail=_("no answer in time"))
    except dns.exception.DNSException as failure:
        return Lookup(fault=Verdict.SERVFAIL, detail=str(failure))
    records = tuple(rdata.to_text() for rdata in answer.rrset or ())
    chain = tuple(str(rrset[0].target).rstrip(".") for rrset in answer.chaining_result.cnames)
    log.debug("%s %s: records %s, CNAME chain %s", name, rdtype, records, chain)
    return Lookup(records=records, chain=chain)


def _server_answers(failure: dns.resolver.NoNameservers) -> str:
    """SERVFAIL, REFUSED...: what the servers answered."""
    answers = sorted({str(error[3]) for error in failure.kwargs.get("errors") or []})
    return ", ".join(answers) or "SERVFAIL"


def relevant_caa(resolver: dns.resolver.Resolver, name: str, deadline: float) -> Lookup:
    """The CAA set a CA uses (RFC 8659): the first non-empty one climbing from the name up."""
    for domain in parent_domains(name):
        found = query(resolver, domain, "CAA", deadline)
        if found.fault is Verdict.NXDOMAIN and domain != name:
            continue
        if found.fault is not None or found.records:
            return Lookup(found.records, found.chain, found.fault, found.detail, domain)
    return Lookup()


def parent_domains(name: str) -> list[str]:
    """The name and its parents, without the root: a.b.example.com, b.example.com, example.com, com."""
    labels = name.rstrip(".").split(".")
    return [".".join(labels[index:]) for index in range(len(labels))]


# --- verdicts (pure) ----------------------------------------------------------------

def judge(name: str, lookups: NameLookups, server_addresses: set[str], timeout: float) -> NameFinding:
    """The verdict and an admin-readable message for one name, from its lookups."""
    verdict, message = _verdict(name, lookups, _normalised(server_addresses), timeout)
    chain = lookups.a.chain or lookups.aaaa.chain
    return NameFinding(name, lookups.a.records, lookups.aaaa.records, chain, lookups.caa.records,
                       lookups.caa.domain, verdict, message)


def _verdict(name: str, lookups: NameLookups, ours: set[str], timeout: float) -> tuple[Verdict, str]:
    for record, lookup in (("A", lookups.a), ("AAAA", lookups.aaaa), ("CAA", lookups.caa)):
        if lookup.fault is not None:
            return lookup.fault, _fault_message(name, record, lookup, timeout)
    a, aaaa = _normalised(lookups.a.records), _normalised(lookups.aaaa.records)
    if not a and not aaaa:
        return Verdict.NO_ADDRESS, _("{name} exists but has no A or AAAA record: {records} at your DNS "
                                     "provider").format(name=name, records=_records_to_add(ours))
    refusal = caa_refusal(lookups.caa.records)
    if refusal is not None:
        return Verdict.CAA_FORBIDS, _("the CAA record of {domain} ({refusal}) does not allow Let's "
                                      "Encrypt: add 0 issue \"{ca}\" there at your DNS provider").format(
            domain=lookups.caa.domain, refusal=refusal, ca=LETSENCRYPT_CAA_DOMAIN)
    foreign_a, foreign_aaaa = a - ours, aaaa - ours
    if foreign_a or (not a and foreign_aaaa):
        kind, foreign = ("A", foreign_a) if foreign_a else ("AAAA", foreign_aaaa)
        return Verdict.ELSEWHERE, _("points to {addresses}, but {this_server}: "
                                    "change the {kind} record at your DNS provider").format(
            addresses=_listing(foreign), this_server=_this_server(ours), kind=kind)
    if foreign_aaaa:
        return Verdict.AAAA_ELSEWHERE, _("the A record is right, but the AAAA record points to {addresses}, "
                                         "not this server, and Let's Encrypt prefers IPv6: correct or remove the AAAA "
                                         "record at your DNS provider").format(addresses=_listing(foreign_aaaa))
    return Verdict.OK, _("points to {addresses}, this server").format(addresses=_listing(a | aaaa))


def _fault_message(name: str, record: str, lookup: Lookup, timeout: float) -> str:
    if lookup.fault is Verdict.NXDOMAIN:
        return _("{name} does not exist in DNS (NXDOMAIN): create its A record at your DNS provider; "
                 "new records can take up to 48 h to be visible").format(name=name)
    if lookup.fault is Verdict.SERVFAIL:
        failed = (_("the DNS servers failed the {record} query of {domain} ({detail}): the domain's DNS is broken "
                    "(nameservers or DNSSEC): fix it at your DNS provider")
                  if lookup.domain and lookup.domain != name else
                  _("the DNS servers failed the {record} query ({detail}): the domain's DNS is broken "
                    "(nameservers or DNSSEC): fix it at your DNS provider"))
        return failed.format(record=record, domain=lookup.domain, detail=lookup.detail)
    return _("no answer to the {record} query within {seconds} s: check this server's resolver "
             "(resolv.conf) and that the domain's nameservers answer").format(record=record, seconds=f"{timeout:g}")


def caa_refusal(records: Iterable[str]) -> str | None:
    """The CAA record(s) that keep Let's Encrypt from issuing for a (non-wildcard) name, or None."""
    parsed = [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.CAA, text) for text in records]
    for rdata in parsed:
        if rdata.flags & CRITICAL_FLAG and rdata.tag.decode().lower() not in KNOWN_CAA_TAGS:
            return rdata.to_text()
    issue = [rdata for rdata in parsed if rdata.tag.decode().lower() == "issue"]
    if not issue or any(_permits_letsencrypt(rdata.value.decode()) for rdata in issue):
        return None
    return "; ".join(rdata.to_text() for rdata in issue)


def _permits_letsencrypt(value: str) -> bool:
    """An issue value permits Let's Encrypt's HTTP-01: its domain, and no validationmethods without http-01."""
    domain, _separator, parameters = value.partition(";")
    if domain.strip().lower() != LETSENCRYPT_CAA_DOMAIN:
        return False
    for parameter in parameters.split(";"):
        key, _separator, methods = parameter.partition("=")
        if key.strip().lower() == "validationmethods" and "http-01" not in methods.strip().lower().split(","):
            return False
    return True


def _normalised(addresses: Iterable[str]) -> set[str]:
    return {str(ipaddress.ip_address(address)) for address in addresses}


def _listing(addresses: Iterable[str]) -> str:
    parsed = sorted((ipaddress.ip_address(text) for text in addresses), key=lambda ip: (ip.version, ip))
    return ", ".join(str(ip) for ip in parsed)


def _records_to_add(ours: set[str]) -> str:
    """"add an A record pointing to 192.0.2.2 (and an AAAA record pointing to 2001:db8::2)": each family its record."""
    v4 = [address for address in ours if ipaddress.ip_address(address).version == 4]
    v6 = [address for address in ours if ipaddress.ip_address(address).version == 6]
    if not v4 and not v6:
        return _("add an A record pointing to this server's public IPv4 address")
    if not v4:
        return _("add an AAAA record pointing to {addresses} (or an A record with this server's public IPv4 "
                 "address)").format(addresses=_listing(v6))
    if v6:
        return _("add an A record pointing to {addresses} (and an AAAA record pointing to {v6})").format(
            addresses=_listing(v4), v6=_listing(v6))
    return _("add an A record pointing to {addresses}").format(addresses=_listing(v4))


def _this_server(ours: set[str]) -> str:
    if ours:
        return _("this server is {addresses}").format(addresses=_listing(ours))
    return _("this server's address is unknown (behind NAT? give its public address with --server-ip)")
