"""Does Apache serve, on its HTTPS port, exactly the certificate on disk?

Checked over the network on loopback with SNI (a graceful reload takes effect
within a moment, so it is polled briefly)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import certs
from .errors import OperationFailed
from .settings import Settings

LOCAL_ADDRESS = "127.0.0.1"


@dataclass(frozen=True)
class Serving:
    name: str
    on_disk: certs.CertificateInfo | None
    served: certs.CertificateInfo | None

    @property
    def matches(self) -> bool:
        return (self.on_disk is not None and self.served is not None
                and self.on_disk.fingerprint_sha256 == self.served.fingerprint_sha256)


def check(settings: Settings, name: str, timeout: float = 3.0) -> Serving:
    live = settings.paths.live(name)
    try:
        on_disk = certs.read_certificate(live.cert) if live.cert.exists() else None
    except OperationFailed:  # a damaged file: the status row says why; it cannot match what is served
        on_disk = None
    served = certs.served_certificate(LOCAL_ADDRESS, settings.https_port, name, timeout=timeout)
    return Serving(name, on_disk, served)


def wait_until_served(settings: Settings, names: list[str], seconds: float = 15.0) -> None:
    """Raise OperationFailed naming each name Apache does not serve with its new certificate."""
    deadline = time.monotonic() + seconds
    pending = list(names)
    while pending:
        pending = [name for name in pending if not check(settings, name).matches]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    if pending:
        raise OperationFailed(
            f"Apache does not serve the new certificate for {', '.join(pending)} on port {settings.https_port}")
