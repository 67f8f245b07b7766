"""Small helpers the renewal-side e2e tests share (the fixtures live in tests/conftest.py)."""

from __future__ import annotations

import threading

from ispa_acmewrap import certs
from ispa_acmewrap.paths import Paths

ADMIN = "admin.ispa.test"
PORTAL = "portal.ispa.test"


def issue_both(ispa_cert):
    """The admin and the client portal certificate, unattended (≈15 s on the stack)."""
    result = ispa_cert("issue", "-a", "-c", "--admin-domain", ADMIN, "--client-domain", PORTAL,
                       "--server-ip", "127.0.0.1", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def serial_on_disk(paths: Paths, name: str) -> int:
    return certs.read_certificate(paths.live(name).cert).serial


def serial_served(stack, name: str) -> int | None:
    """The serial Apache presents for name on its HTTPS port (None when nothing answers)."""
    served = certs.served_certificate("127.0.0.1", stack.apache.https_port, name)
    return served.serial if served is not None else None


def account_keys(paths: Paths) -> dict[str, bytes]:
    return {str(path.relative_to(paths.acme_home)): path.read_bytes()
            for path in paths.acme_ca_dir.rglob("account.key")}


class HttpsWatch:
    """Polls Apache's HTTPS for names in a thread; records every time nothing was served."""

    def __init__(self, stack, names: list[str]) -> None:
        self.stack, self.names = stack, names
        self.polls = 0
        self.gaps: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for name in self.names:
                self.polls += 1
                if serial_served(self.stack, name) is None:
                    self.gaps.append(name)

    def __enter__(self) -> "HttpsWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
