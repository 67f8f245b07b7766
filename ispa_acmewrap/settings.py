"""Options and environment turned into one frozen Settings value for a run.

The ISPA_HTTP_PORT / ISPA_HTTPS_PORT variables are test settings: the sandbox Apache
of the tests and the demo listens on high loopback ports. On a real server they stay
unset and the ports are 80 and 443, the only ones Let's Encrypt validates on.

ISPA_LOCK_WAIT (seconds, default 30) is how long a run waits for another run's lock
before it exits 5: a test setting, and an ops setting for slow servers. It is read when
the lock is taken (lock_wait_from_env), inside the command, so a bad value is reported
like any bad input.
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .errors import BadInput
from .i18n import _
from .lock import DEFAULT_WAIT_SECONDS
from .paths import Paths

LETSENCRYPT = "letsencrypt"
LETSENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"
ENV_SERVER = "ISPA_ACME_SERVER"
ENV_CA_BUNDLE = "ISPA_CA_BUNDLE"
ENV_DNS_SERVER = "ISPA_DNS_SERVER"
ENV_HTTP_PORT = "ISPA_HTTP_PORT"
ENV_HTTPS_PORT = "ISPA_HTTPS_PORT"
ENV_LOCK_WAIT = "ISPA_LOCK_WAIT"
ENV_CA_TIMEOUT = "ISPA_CA_TIMEOUT"
DEFAULT_DNS_TIMEOUT = 4.0
DEFAULT_CA_TIMEOUT = 600.0
ACME_SHORT_NAMES = (LETSENCRYPT, "letsencrypt_test")


@dataclass(frozen=True)
class Settings:
    paths: Paths
    verbose: bool = False
    http_port: int = 80
    https_port: int = 443
    acme_server: str = LETSENCRYPT
    ca_bundle: Path | None = None
    dns_server: str | None = None
    dns_timeout: float = DEFAULT_DNS_TIMEOUT
    server_ips: tuple[str, ...] = field(default_factory=tuple)
    ca_timeout: float = DEFAULT_CA_TIMEOUT


def _port_from_env(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise BadInput(_("{setting} is not a port number").format(setting=f"{variable}={raw!r}"))
    return int(raw)


def lock_wait_from_env() -> float:
    """Seconds to wait for another run's lock (ISPA_LOCK_WAIT), default 30; 0 means do not wait."""
    return _seconds_from_env(ENV_LOCK_WAIT, DEFAULT_WAIT_SECONDS, "60", allow_zero=True)


def _seconds_from_env(variable: str, default: float, example: str, allow_zero: bool = False) -> float:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not (0 <= seconds if allow_zero else 0 < seconds) or seconds == float("inf"):
        raise BadInput(_("{setting} is not a number of seconds").format(setting=f"{variable}={raw!r}"),
                       hint=_("unset it, or e.g. {setting}").format(setting=f"{variable}={example}"))
    return seconds


def validate(settings: Settings) -> Settings:
    """Refuse option values that cannot work, before anything is done (exit 2)."""
    _check_server(settings.acme_server)
    for address in settings.server_ips:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise BadInput(_("--server-ip {address} is not an IP address").format(address=repr(address)),
                           hint=_("give this server's public IPv4 or IPv6 address, e.g. --server-ip 203.0.113.7")) from None
    if settings.dns_server is not None:
        _check_dns_server(settings.dns_server)
    if not (math.isfinite(settings.dns_timeout) and 0 < settings.dns_timeout <= 300):
        raise BadInput(_("--dns-timeout {seconds} is not a time limit between 0 and 300 seconds").format(
            seconds=settings.dns_timeout), hint=_("e.g. --dns-timeout 4 (the default)"))
    return settings


def _check_server(server: str) -> None:
    if server in ACME_SHORT_NAMES:
        return
    parts = urlsplit(server)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = urlsplit("")
    if parts.scheme != "https" or not parts.hostname:
        raise BadInput(_("--server {server} is not an ACME directory URL (https://HOST/...)").format(server=repr(server)),
                       hint=_("leave it out for Let's Encrypt, or give the CA's directory URL, e.g. {url}").format(
                           url=LETSENCRYPT_DIRECTORY))


def _check_dns_server(server: str) -> None:
    from .names import split_host_port

    try:
        host, port = split_host_port(server)
        ipaddress.ip_address(host)
        valid = 0 < port < 65536
    except ValueError:
        valid = False
    if not valid:
        raise BadInput(_("--dns-server {server} is not an IP address with an optional :PORT (1-65535)").format(
            server=repr(server)), hint=_("e.g. --dns-server 192.0.2.53 or --dns-server 127.0.0.1:5353; leave it out "
                                         "for the system's resolver"))


def load_settings(root: str | None, verbose: bool = False) -> Settings:
    """Settings for the global options; command options are applied with dataclasses.replace."""
    bundle = os.environ.get(ENV_CA_BUNDLE)
    return Settings(
        paths=Paths.from_root(root),
        verbose=verbose,
        http_port=_port_from_env(ENV_HTTP_PORT, 80),
        https_port=_port_from_env(ENV_HTTPS_PORT, 443),
        acme_server=os.environ.get(ENV_SERVER) or LETSENCRYPT,
        ca_bundle=Path(bundle) if bundle else None,
        dns_server=os.environ.get(ENV_DNS_SERVER) or None,
        ca_timeout=_seconds_from_env(ENV_CA_TIMEOUT, DEFAULT_CA_TIMEOUT, "900"),
    )
