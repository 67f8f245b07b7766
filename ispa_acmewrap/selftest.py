"""HTTP-01 self-test: the check the CA makes, made first by this server on itself.

For each name a random token goes into the challenge directory and is fetched from
http://NAME/.well-known/acme-challenge/TOKEN at the name's own address, with Host: NAME,
following redirects the way Let's Encrypt does (at most 10; http on port 80 or https on
port 443 only; certificates not verified). The token is always removed afterwards.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import os
import secrets
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import dns.exception
import dns.resolver

from .certs import unverified_context
from .dns import make_resolver
from .i18n import N_, Worded, _, english
from .paths import CHALLENGE_URL_PATH

log = logging.getLogger(__name__)

MAX_REDIRECTS = 10
MAX_BODY = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
EXEMPT_HINT = N_(": exempt {path}/ from the vhost's redirect, or make the target serve it")
USER_AGENT = "ispa-cert self-test (like Let's Encrypt's validation)"


class SelfTestVerdict(Worded):
    SERVED = N_("served")
    REDIRECT_TO_HTTPS_OK = N_("redirected to HTTPS, served there")
    UNREACHABLE = N_("unreachable")
    NOT_FOUND = N_("not found")
    FORBIDDEN = N_("forbidden")
    WRONG_CONTENT = N_("wrong content")
    HTTP_ERROR = N_("HTTP error")
    REDIRECT_BROKEN = N_("broken redirect")
    NO_ADDRESS = N_("no address")


GOOD = frozenset({SelfTestVerdict.SERVED, SelfTestVerdict.REDIRECT_TO_HTTPS_OK})


@dataclass(frozen=True)
class SelfTestResult:
    name: str
    address: str | None
    verdict: SelfTestVerdict
    detail: str

    @property
    def ok(self) -> bool:
        return self.verdict in GOOD


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int  # the port actually connected to (http_port / https_port)
    path: str

    @property
    def url(self) -> str:
        port = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}{self.path}"


@dataclass(frozen=True)
class _Context:
    """What every fetch of one self-test run shares."""

    names_to_addresses: dict[str, list[str]]
    http_port: int
    https_port: int
    timeout: float
    nameserver: str | None


class _Stop(Exception):
    """Ends a fetch with a verdict."""

    def __init__(self, verdict: SelfTestVerdict, detail: str) -> None:
        super().__init__(detail)
        self.verdict = verdict
        self.detail = detail


def self_test(
    names_to_addresses: dict[str, list[str]],
    *,
    challenge_dir: Path,
    http_port: int = 80,
    https_port: int = 443,
    timeout: float,
    nameserver: str | None = None,
) -> list[SelfTestResult]:
    """Self-test every name (in parallel); results in the order of the names.

    `nameserver` (HOST[:PORT]) resolves redirect targets that are not among the names;
    None means the system resolver.
    """
    context = _Context(dict(names_to_addresses), http_port, https_port, timeout, nameserver)
    names = list(names_to_addresses)
    if not names:
        return []
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="selftest") as executor:
        return list(executor.map(lambda name: _test_name(name, challenge_dir, context), names))


def preferred_address(addresses: list[str]) -> str | None:
    """The address the CA tries first: the first IPv6 one, else the first one."""
    for address in addresses:
        if ipaddress.ip_address(address).version == 6:
            return address
    return addresses[0] if addresses else None


def _test_name(name: str, challenge_dir: Path, context: _Context) -> SelfTestResult:
    address = preferred_address(context.names_to_addresses[name])
    if address is None:
        return SelfTestResult(name, None, SelfTestVerdict.NO_ADDRESS,
                              _("{name} has no address to test").format(name=name))
    token, content = secrets.token_urlsafe(32), f"{secrets.token_urlsafe(16)}.ispa-cert-self-test"
    token_file = _write_token(challenge_dir, token, content)
    try:
        start = _Target("http", name, context.http_port, f"{CHALLENGE_URL_PATH}/{token}")
        verdict, detail = _follow(start, address, content, context)
    finally:
        token_file.unlink(missing_ok=True)
    log.info("self-test %s at %s: %s (%s)", name, address, verdict.value, english(detail))
    return SelfTestResult(name, address, verdict, detail)


def _write_token(challenge_dir: Path, token: str, content: str) -> Path:
    challenge_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    token_file = challenge_dir / token
    descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "w") as stream:
        os.fchmod(stream.fileno(), 0o644)
        stream.write(content)
    return token_file


def _follow(start: _Target, address: str, content: str, context: _Context) -> tuple[SelfTestVerdict, str]:
    """Fetch and follow redirects; the verdict and its likely cause."""
    target, seen = start, [start.url]
    addresses = {start.host: address}
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            if target.host not in addresses:
                addresses[target.host] = _resolve(target.host, context)
            redirected = len(seen) > 1
            status, location, body = _fetch(target, addresses[target.host], context.timeout, redirected)
            if status not in REDIRECT_STATUSES:
                return _judge(status, body, content, target, addresses[target.host], redirected)
            previous, target = target, _next_target(target, location, context)
            if target.url in seen:
                loop = (_("redirect loop: {url} redirects to itself") if target == previous else
                        _("redirect loop: {url} redirects to {target}, which redirected here before"))
                raise _Stop(SelfTestVerdict.REDIRECT_BROKEN, loop.format(url=previous.url, target=target.url))
            seen.append(target.url)
    except _Stop as stop:
        return stop.verdict, stop.detail
    return SelfTestVerdict.REDIRECT_BROKEN, _("more than {count} redirects (the CA gives up): {chain}").format(
        count=MAX_REDIRECTS, chain=" -> ".join(seen))


def _fetch(target: _Target, address: str, timeout: float, redirected: bool) -> tuple[int, str | None, bytes]:
    connection = _connection(target, address, timeout)
    try:
        connection.request("GET", target.path, headers={"Host": target.host, "User-Agent": USER_AGENT,
                                                        "Accept": "*/*", "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.getheader("Location"), response.read(MAX_BODY)
    except (OSError, http.client.HTTPException) as failure:
        raise _Stop(*_unreachable(target, address, failure, redirected)) from failure
    finally:
        connection.close()


def _connection(target: _Target, address: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to `address` that speaks to the host by name (Host header, SNI); no proxies."""
    if target.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(  # the CA does not verify certificates
            target.host, target.port, timeout=timeout, context=unverified_context())  # on HTTP-01 redirects
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    connection._create_connection = (  # type: ignore[attr-defined]
        lambda _host_port, *args: socket.create_connection((address, target.port), *args))
    return connection


def _unreachable(target: _Target, address: str, failure: Exception, redirected: bool) -> tuple[SelfTestVerdict, str]:
    port = target.port
    if isinstance(failure, ConnectionRefusedError):
        cause = _("connection refused on port {port} at {address}: is Apache not listening on {port}, "
                  "or does a firewall reject port {port}?")
    elif isinstance(failure, TimeoutError):
        cause = _("no answer within the timeout on port {port} at {address}: is a firewall dropping port {port}, "
                  "or is that address not this server?")
    elif isinstance(failure, ssl.SSLError):
        cause = _("the TLS handshake on port {port} at {address} failed ({failure}): is mod_ssl serving {host}?")
    else:
        cause = _("nothing answered on port {port} at {address} ({failure}): is a firewall blocking port {port}, "
                  "or is Apache not listening on {port}?")
    cause = cause.format(port=port, address=address, failure=failure, host=target.host)
    if redirected:
        return SelfTestVerdict.REDIRECT_BROKEN, _("redirected to {url}, but {cause}").format(url=target.url, cause=cause)
    return SelfTestVerdict.UNREACHABLE, cause


def _next_target(current: _Target, location: str | None, context: _Context) -> _Target:
    if not location:
        raise _Stop(SelfTestVerdict.REDIRECT_BROKEN,
                    _("{url} answered a redirect without a Location").format(url=current.url))
    url = urlsplit(urljoin(current.url, location))
    if url.scheme not in DEFAULT_PORTS or not url.hostname:
        raise _Stop(SelfTestVerdict.REDIRECT_BROKEN, _("redirects to {location}, which the CA does not follow "
                    "(only http and https)").format(location=location))
    port = url.port or DEFAULT_PORTS[url.scheme]
    served_port = context.http_port if url.scheme == "http" else context.https_port
    if port not in (DEFAULT_PORTS[url.scheme], served_port):
        raise _Stop(SelfTestVerdict.REDIRECT_BROKEN, _("redirects to {location}: the CA follows redirects only to "
                    "port 80 (http) or 443 (https)").format(location=location))
    if _is_ip(url.hostname):
        raise _Stop(SelfTestVerdict.REDIRECT_BROKEN, _("redirects to {location}: the CA does not follow redirects "
                    "to an IP address").format(location=location))
    path = url.path or "/"
    return _Target(url.scheme, url.hostname.lower(), served_port, f"{path}?{url.query}" if url.query else path)


def _resolve(host: str, context: _Context) -> str:
    """The address of a redirect target that is not one of the names under test."""
    known = preferred_address(context.names_to_addresses.get(host, []))
    if known is not None:
        return known
    resolver = make_resolver(context.nameserver)
    for rdtype in ("AAAA", "A"):
        try:
            answer = resolver.resolve(host, rdtype, lifetime=context.timeout, search=False)
            return answer[0].to_text()
        except dns.resolver.NoAnswer:
            continue
        except dns.exception.DNSException as failure:
            raise _Stop(SelfTestVerdict.REDIRECT_BROKEN, _("redirects to {host}, which does not resolve "
                        "({error})").format(host=host, error=failure.__class__.__name__) + _exempt()) from failure
    raise _Stop(SelfTestVerdict.REDIRECT_BROKEN,
                _("redirects to {host}, which has no A or AAAA record").format(host=host) + _exempt())


def _exempt() -> str:
    return _(EXEMPT_HINT).format(path=CHALLENGE_URL_PATH)


def _judge(status: int, body: bytes, content: str, target: _Target, address: str,
           redirected: bool) -> tuple[SelfTestVerdict, str]:
    where = _("{url} at {address}").format(url=target.url, address=address)
    if status == 200 and body.strip() == content.encode():
        if target.scheme == "https":
            return SelfTestVerdict.REDIRECT_TO_HTTPS_OK, _("redirected to HTTPS; {where} serves the token").format(
                where=where)
        served = _("{where} serves the token (after a redirect)") if redirected else _("{where} serves the token")
        return SelfTestVerdict.SERVED, served.format(where=where)
    if redirected:
        return SelfTestVerdict.REDIRECT_BROKEN, _("redirected to {where}, which {failure}").format(
            where=where, failure=_failure(status, body)) + _exempt()
    verdict = {200: SelfTestVerdict.WRONG_CONTENT, 403: SelfTestVerdict.FORBIDDEN,
               404: SelfTestVerdict.NOT_FOUND}.get(status, SelfTestVerdict.HTTP_ERROR)
    return verdict, _("{where} {failure}").format(where=where, failure=_failure(status, body))


def _failure(status: int, body: bytes) -> str:
    if status == 200:
        return _("answered other content ({snippet}): another virtual host or an application "
                 "answers this path instead of the challenge directory").format(snippet=_snippet(body))
    if status == 404:
        return _("answered HTTP 404: no challenge Alias for this name, or another virtual host answered "
                 "(is there a port-80 vhost with this ServerName?)")
    if status == 403:
        return _("answered HTTP 403: Apache may not read the challenge directory (every parent must be "
                 "traversable by Apache's user, and the <Directory> must say Require all granted)")
    return _("answered HTTP {status}").format(status=status)


def _snippet(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return repr(text[:60] + ("..." if len(text) > 60 else ""))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
