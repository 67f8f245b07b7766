"""Checks on the wire, on this machine's addresses: does Apache serve, on its HTTPS port,
exactly the certificate on disk (polled briefly: a graceful reload takes a moment);
does every vhost answer after an Apache change as it did before; does each name's
HTTPS answer as its HTTP does, and its challenge URL over plain HTTP."""

from __future__ import annotations

import hashlib
import secrets
import socket
import time
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from . import certs
from .apache.model import VirtualHost
from .errors import OperationFailed
from .i18n import _, join
from .paths import CHALLENGE_URL_PATH
from .settings import Settings

LOCAL_ADDRESS = "127.0.0.1"
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Serving:
    name: str
    on_disk: certs.CertificateInfo | None
    served: certs.CertificateInfo | None

    @property
    def matches(self) -> bool:
        return (self.on_disk is not None and self.served is not None
                and self.on_disk.fingerprint_sha256 == self.served.fingerprint_sha256)


def check(settings: Settings, name: str, timeout: float = 3.0, file: Path | None = None) -> Serving:
    """Compare what Apache serves for name with `file` (default: ispa-cert's live/NAME/cert.pem)."""
    on_disk = _on_disk(file or settings.paths.live(name).cert)
    served = certs.served_certificate(LOCAL_ADDRESS, settings.https_port, name, timeout=timeout)
    return Serving(name, on_disk, served)


def _on_disk(file: Path) -> certs.CertificateInfo | None:
    try:
        return certs.read_certificate(file) if file.exists() else None
    except OperationFailed:  # a damaged file: the status row says why; it cannot match what is served
        return None


def wait_until_served(settings: Settings, names: list[str], seconds: float = 15.0,
                      files: Mapping[str, Path] | None = None) -> None:
    """Raise OperationFailed naming each name Apache does not serve with its new certificate.

    files: name -> the certificate file Apache's vhost uses, where it is not live/NAME/cert.pem."""
    deadline = time.monotonic() + seconds
    pending = list(names)
    while pending:
        pending = [name for name in pending if not check(settings, name, file=(files or {}).get(name)).matches]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    if pending:
        raise OperationFailed(_("Apache does not serve the new certificate for {names} on port {port}").format(
            names=", ".join(pending), port=settings.https_port))


# --- answers on the wire: every vhost before and after an Apache change -------------------

@dataclass(frozen=True)
class Answer:
    """What GET / (or another path) gave: status and redirect target, or why nothing came."""

    status: int | None
    location: str | None = None
    digest: str | None = None
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None

    def describe(self) -> str:
        if self.status is None:
            return _("no answer ({error})").format(error=self.error)
        return f"{self.status}" + (f" → {self.location}" if self.location else "")


@dataclass(frozen=True)
class Probe:
    """One vhost to ask: a name, the address that reaches it, a port, TLS or not."""

    name: str
    address: str
    port: int
    tls: bool
    where: str = ""


def fetch(probe: Probe, path: str = "/", timeout: float = 5.0) -> Answer:
    """GET path from probe.address:probe.port, speaking to probe.name (Host, SNI); no redirects followed."""
    import http.client  # here, not at the top: status and doctor's certificate checks never fetch a page
    if probe.tls:
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(probe.name, probe.port, timeout=timeout,
                                                                             context=certs.unverified_context())
    else:
        connection = http.client.HTTPConnection(probe.name, probe.port, timeout=timeout)
    connection._create_connection = (  # type: ignore[attr-defined]
        lambda _host_port, *args: socket.create_connection((probe.address, probe.port), *args))
    try:
        connection.request("GET", path, headers={"Host": probe.name, "User-Agent": "ispa-cert-check",
                                                 "Connection": "close"})
        response = connection.getresponse()
        body = response.read(MAX_BODY)
        return Answer(response.status, response.getheader("Location"), hashlib.sha256(body).hexdigest())
    except (OSError, http.client.HTTPException) as failure:
        return Answer(None, error=str(failure) or type(failure).__name__)
    finally:
        connection.close()


def probes(hosts: list[VirtualHost], http_port: int, https_port: int) -> list[Probe]:
    """One probe per vhost name on the HTTP and HTTPS ports (wildcards cannot be asked)."""
    found: dict[tuple[str, str, int], Probe] = {}
    for host in hosts:
        if host.port not in (http_port, https_port) or "*" in host.server_name:
            continue
        probe = Probe(host.server_name.lower(), host.connect_address, host.port, host.port == https_port,
                      host.location)
        found.setdefault((probe.name, probe.address, probe.port), probe)
    return list(found.values())


def snapshot(probe_list: list[Probe]) -> dict[Probe, Answer]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(probe_list, pool.map(fetch, probe_list)))


def unintended_changes(before: dict[Probe, Answer], after: dict[Probe, Answer], intended: set[str]) -> list[str]:
    """Vhosts that answered before and answer differently now, names we meant to change excepted.

    Status and redirect target are compared (not the page: pages of applications change by themselves).
    """
    changes = []
    for probe, old in before.items():
        new = after.get(probe)
        if probe.name in intended or new is None or not old.answered:
            continue
        if (old.status, old.location) != (new.status, new.location):
            scheme = "https" if probe.tls else "http"
            changes.append(_("{url} ({where}) answered {before} before and {now} now").format(
                url=f"{scheme}://{probe.name}:{probe.port}/", where=probe.where, before=old.describe(),
                now=new.describe()))
    return changes


def require_unchanged(before: dict[Probe, Answer], intended: set[str]) -> None:
    """Raise OperationFailed when a vhost not meant to change answers differently now
    (after transaction.reload, which returns once Apache runs the new configuration)."""
    after = snapshot(list(before))
    changes = unintended_changes(before, after, intended)
    if changes:
        raise OperationFailed(_("the change altered other sites' answers: {changes}").format(changes=join("; ", changes)),
                              hint=_("look for <IfModule mod_ssl.c> sections or rules in those vhosts that the change "
                                     "woke up; fix them, then run again"))


# --- after an install: every name answers HTTPS as it answers HTTP ---------------------

def site_problems(settings: Settings, name: str, addresses: list[str], http_address: str = LOCAL_ADDRESS,
                  http_site: bool = True) -> list[str]:
    """Why HTTPS of name is not right (empty when it is), checked on the wire. `addresses`: where
    its HTTPS vhosts are reached; `http_address`: where its port-80 vhost is (one bound to an address).
    `http_site`: port 80 serves the name's own site, so HTTPS must serve the same; without one, port 80
    answers with another vhost's site and only the HTTPS side (and the challenge path) is checked."""
    http_probe = Probe(name, http_address, settings.http_port, False)
    compared = http_probe if http_site else None
    problems = [problem for address in addresses
                for problem in _https_problems(settings, name, address, compared)]
    return problems + _challenge_problems(settings, http_probe)


def _https_problems(settings: Settings, name: str, address: str, http_probe: Probe | None) -> list[str]:
    https_probe = Probe(name, address, settings.https_port, True)
    on_disk = _on_disk(settings.paths.live(name).cert)
    served = certs.served_certificate(address, settings.https_port, name, timeout=3.0)
    if on_disk is None or served is None or served.fingerprint_sha256 != on_disk.fingerprint_sha256:
        return [_("{address}:{port} does not serve the certificate on disk for {name}").format(
            address=address, port=settings.https_port, name=name)]
    secure = fetch(https_probe)
    if not secure.answered:
        return [_("https://{name}/ gives no answer ({error})").format(name=name, error=secure.error)]
    if _points_at(secure.location, name, "/", settings.https_port):
        return [_("https://{name}/ redirects to itself ({location})").format(name=name, location=secure.location)]
    if http_probe is None:
        return []
    plain = fetch(http_probe)
    if _points_at(plain.location, name, None, settings.https_port):
        return [] if secure.status < 400 else [_("https://{name}/ answers {status}").format(name=name,
                                                                                         status=secure.status)]
    if (plain.status, _path_of(plain.location)) != (secure.status, _path_of(secure.location)):
        return [_("https://{name}/ answers {secure} but http://{name}/ answers {plain}").format(
            name=name, secure=secure.describe(), plain=plain.describe())]
    if plain.status == 200 and plain.digest != secure.digest and fetch(http_probe).digest == plain.digest:
        return [_("https://{name}/ serves another page than http://{name}/ (another site?)").format(name=name)]
    return []


def _challenge_problems(settings: Settings, http_probe: Probe) -> list[str]:
    token = "ispa-cert-check-" + secrets.token_hex(8)
    path = settings.paths.challenge_dir / token
    settings.paths.challenge_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(token)
    path.chmod(0o644)
    try:
        answer = fetch(http_probe, f"{CHALLENGE_URL_PATH}/{token}")
    finally:
        path.unlink(missing_ok=True)
    if answer.status != 200 or answer.digest != hashlib.sha256(token.encode()).hexdigest():
        return [_("{url} answers {answer} instead of the token (renewals would fail)").format(
            url=f"http://{http_probe.name}{CHALLENGE_URL_PATH}/…", answer=answer.describe())]
    return []


def _points_at(location: str | None, name: str, path: str | None, https_port: int) -> bool:
    if not location:
        return False
    parts = urlsplit(location)
    if parts.scheme != "https" or (parts.hostname or "").lower() != name:
        return False
    if parts.port not in (None, https_port):
        return False
    return path is None or (parts.path or "/") == path


def _path_of(location: str | None) -> str | None:
    if not location:
        return None
    parts = urlsplit(location)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def require_sites_right(settings: Settings, targets: dict[str, list[str]],
                        http_addresses: Mapping[str, str] | None = None, https_only: Collection[str] = ()) -> None:
    """Raise OperationFailed unless every name answers right over HTTPS (see site_problems); names in
    https_only have no port-80 site of their own to compare with."""
    problems = [problem for name, addresses in targets.items()
                for problem in site_problems(settings, name, addresses, (http_addresses or {}).get(name, LOCAL_ADDRESS),
                                             name not in https_only)]
    if problems:
        raise OperationFailed(_("after the reload: {problems}").format(problems=join("; ", problems)),
                              hint=_("the HTTPS vhost differs from the port-80 one; compare them (the diff above), "
                                     "fix the port-80 vhost or create the HTTPS vhost yourself, then run again"))
