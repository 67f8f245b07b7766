"""Small helpers the renewal-side e2e tests share (the fixtures live in tests/conftest.py)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ispa_acmewrap import certs
from ispa_acmewrap.paths import Paths
from tests.factories import ADMIN, PORTAL


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


@dataclass(frozen=True)
class SiteAnswer:
    """One GET https://NAME/ as a browser would make it (verified against the test CA's root)."""
    phase: str
    name: str
    status: int | None = None
    location: str | None = None
    sites: tuple[str, ...] = ()  # whose page marker (<h1>NAME</h1>) the body holds
    key_type: str | None = None
    serial: int | None = None
    error: str | None = None

    def is_own_page(self) -> bool:
        return self.error is None and self.status == 200 and self.sites == (self.name,)


class SiteWatch:
    """Fetches https://NAME/ for each name over and over in a thread and records every answer,
    tagged with the phase the test is in (set `phase` before each step)."""

    def __init__(self, stack, names: list[str]) -> None:
        self.stack, self.names = stack, names
        self.phase = "before"
        self.answers: list[SiteAnswer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for name in self.names:
                self.answers.append(self.fetch(name))

    def fetch(self, name: str) -> SiteAnswer:
        phase = self.phase
        try:
            return self._answer(phase, name, *self.stack.https_get(name))
        except Exception as error:  # refused, reset, TLS failure, an unreadable answer: recorded, never lost
            return SiteAnswer(phase, name, error=f"{type(error).__name__}: {error}")

    def _answer(self, phase: str, name: str, der: bytes, response: bytes) -> SiteAnswer:
        head, _, body = response.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/") or len(lines[0].split()) < 2:
            return SiteAnswer(phase, name, error=f"no HTTP answer: {response[:80]!r}")
        location = next((line.split(":", 1)[1].strip() for line in lines[1:]
                         if line.lower().startswith("location:")), None)
        served = certs.certificate_from_der(der)
        return SiteAnswer(phase, name, int(lines[0].split()[1]), location,
                          tuple(site for site in self.names if f"<h1>{site}</h1>".encode() in body),
                          served.key_type, served.serial)

    def wait_for_round(self) -> None:
        """Until every name has an answer in the current phase."""
        deadline = time.monotonic() + 30
        while {answer.name for answer in self.answers if answer.phase == self.phase} != set(self.names):
            assert time.monotonic() < deadline, f"the watcher got no answer in phase {self.phase}"
            time.sleep(0.05)

    def wrong(self) -> list[SiteAnswer]:
        return [answer for answer in self.answers if not answer.is_own_page()]

    def __enter__(self) -> "SiteWatch":
        self._thread.start()
        self.wait_for_round()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
