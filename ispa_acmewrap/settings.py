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

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput
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
DEFAULT_DNS_TIMEOUT = 4.0


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

    @property
    def uses_letsencrypt(self) -> bool:
        return self.acme_server in (LETSENCRYPT, LETSENCRYPT_DIRECTORY)


def _port_from_env(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise BadInput(f"{variable}={raw!r} is not a port number")
    return int(raw)


def lock_wait_from_env() -> float:
    """Seconds to wait for another run's lock (ISPA_LOCK_WAIT), default 30."""
    raw = os.environ.get(ENV_LOCK_WAIT)
    if not raw:
        return DEFAULT_WAIT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise BadInput(f"{ENV_LOCK_WAIT}={raw!r} is not a number of seconds",
                       hint=f"unset it, or give the seconds to wait for another run, e.g. {ENV_LOCK_WAIT}=60")
    return seconds


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
    )
