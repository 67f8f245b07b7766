"""Does Apache serve, on its HTTPS port, exactly the certificate on disk?

Checked over the network on loopback with SNI (a graceful reload takes effect
within a moment, so it is polled briefly)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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


def check(settings: Settings, name: str, timeout: float = 3.0, file: Path | None = None) -> Serving:
    """Compare what Apache serves for name with `file` (default: ispa-cert's live/NAME/cert.pem)."""
    on_disk_file = file or settings.paths.live(name).cert
    try:
        on_disk = certs.read_certificate(on_disk_file) if on_disk_file.exists() else None
    except OperationFailed:  # a damaged file: the status row says why; it cannot match what is served
        on_disk = None
    served = certs.served_certificate(LOCAL_ADDRESS, settings.https_port, name, timeout=timeout)
    return Serving(name, on_disk, served)


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
        raise OperationFailed(
            f"Apache does not serve the new certificate for {', '.join(pending)} on port {settings.https_port}")
