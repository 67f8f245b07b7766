"""`ispa-cert issue` in Czech at a real terminal (a pseudo-terminal 100 columns wide), as an
administrator with LANG=cs_CZ.UTF-8 meets it: the name question, the DNS table and question,
an answer it does not understand, `n`, and Ctrl-C. Against a sandbox Apache and a real DNS
server (pebble-challtestsrv); the CA is never reached, so no Pebble is needed. ≈10 s.
"""

from __future__ import annotations

import os
import re
import select
import signal
import time

import pytest

from tests.conftest import ispa_cert_executable

pytestmark = pytest.mark.e2e

ADMIN = "admin.ispa.test"
COLUMNS = 100
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Pty:
    """ispa-cert on a pseudo-terminal; stopped by its own PID."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.output = b""
        self.pid, self.fd = os.forkpty()
        if self.pid == 0:  # the child: the pty is its terminal
            try:
                os.execve(ispa_cert_executable(), [ispa_cert_executable(), *args], env)
            finally:
                os._exit(127)

    @property
    def screen(self) -> str:
        return ANSI.sub("", self.output.decode(errors="replace")).replace("\r\n", "\n")

    def expect(self, text: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while text not in self.screen:
            if time.monotonic() > end or not self._read(end - time.monotonic()):
                raise AssertionError(f"not on the screen: {text!r}\n--- screen ---\n{self.screen}")

    def _read(self, timeout: float) -> bool:
        ready, _w, _x = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the program has ended
            return False
        self.output += chunk
        return bool(chunk)

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def interrupt(self) -> None:
        os.write(self.fd, b"\x03")  # Ctrl-C, as the terminal sends it

    def wait(self, timeout: float = 60) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self._read(0.2)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                while self._read(0.1):
                    pass
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"still running after {timeout} s\n{self.screen}")


@pytest.fixture
def czech_issue(sandbox_root, apache, dns_server):
    """Starts `issue -a` in Czech on a pty against the sandbox; yields a starter, stops what is left."""
    started: list[Pty] = []
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "NO_COLOR")}
    environment.update({"LANG": "cs_CZ.UTF-8", "TERM": "xterm", "COLUMNS": str(COLUMNS), "ISPA_ROOT": str(sandbox_root),
                        "ISPA_DNS_SERVER": dns_server.dns_server, **apache.tool_env()})

    def start() -> Pty:
        session = Pty(["issue", "-a", "--server-ip", "127.0.0.1"], environment)
        started.append(session)
        return session

    yield start
    for session in started:
        try:
            os.kill(session.pid, signal.SIGKILL)
            os.waitpid(session.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _to_the_dns_question(session: Pty) -> None:
    session.expect("Doménové jméno administračního rozhraní ISPadminu: ")
    session.type(ADMIN)
    session.expect("Kontroluji DNS záznamy admin.ispa.test")
    session.expect("Jsou DNS záznamy správné? [a/N] ")


def _lines_fit(screen: str) -> None:
    wide = [line for line in screen.splitlines() if len(line) > COLUMNS]
    assert not wide, wide


def test_czech_questions_an_unknown_answer_and_ctrl_c(czech_issue):
    session = czech_issue()
    _to_the_dns_question(session)
    assert "Adresy tohoto serveru: 127.0.0.1" in session.screen
    assert re.search(rf"{re.escape(ADMIN)} +127\.0\.0\.1 .* v pořádku", session.screen), session.screen
    session.type("x")
    session.expect("Odpovězte prosím a (ano), nebo n (ne).")
    session.interrupt()
    assert session.wait() == 130
    assert session.screen.rstrip().splitlines()[-1] == "přerušeno"
    _lines_fit(session.screen)


def test_czech_no_stops_before_anything_changes(czech_issue, sandbox_paths):
    include = sandbox_paths.vhost_include.read_bytes()
    session = czech_issue()
    _to_the_dns_question(session)
    session.type("n")
    assert session.wait() == 3
    assert "chyba: zastaveno: nejdřív je třeba opravit DNS záznamy; nic nebylo změněno" in session.screen
    assert "nápověda: opravte záznamy A/AAAA (a CAA) u svého poskytovatele DNS" in session.screen
    assert not sandbox_paths.acme_home.exists() and sandbox_paths.vhost_include.read_bytes() == include
