"""Drive `ispa-cert` through a pseudo-terminal, as a person at a terminal would.

`TerminalSession` starts the installed command on a new pty of a given size (COLUMNS x
LINES, default 100 x 40), with the environment the caller gives (the stack's settings; a
language for the Czech run: `TerminalSession(args, env={**env, "LANG": "cs_CZ.UTF-8"})`),
lets a test wait for text on the screen, type a line, press Ctrl-C, and read everything
the program wrote. `screen_lines()` is what was written with the colour codes removed and
carriage returns resolved, one entry per line as the terminal shows it.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import termios
import time
from pathlib import Path

from tests.conftest import ispa_cert_executable

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class TerminalSession:
    """One run of ispa-cert on a pseudo-terminal; stop() ends it by its own PID."""

    def __init__(self, args: list[str], env: dict[str, str], columns: int = 100, lines: int = 40,
                 program: str | None = None) -> None:
        self.output = b""
        self.columns = columns
        argv = [program or ispa_cert_executable(), *args]
        full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines), **env}
        if "NO_COLOR" not in env:  # the caller's own NO_COLOR must not leak into a colour test
            full_env.pop("NO_COLOR", None)
        pid, fd = os.forkpty()
        if pid == 0:  # the child: the pty is its controlling terminal and stdin/stdout/stderr
            try:  # Ctrl-C works as at a login shell, also when the tests run as a background job (SIGINT ignored)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.execve(argv[0], argv, full_env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.returncode: int | None = None

    # --- reading -----------------------------------------------------------------------

    def _read(self, timeout: float) -> bool:
        """Read what is there within `timeout`; False once the program closed the terminal."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child has exited and the pty is closed
            return False
        if not chunk:
            return False
        self.output += chunk
        return True

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    @property
    def plain(self) -> str:
        return ANSI.sub("", self.text)

    def expect(self, pattern: str, timeout: float = 120.0, since: int = 0) -> re.Match:
        """Wait until `pattern` (a regular expression) is on the screen (colour codes removed)."""
        regex = re.compile(pattern, re.MULTILINE)
        end = time.monotonic() + timeout
        while True:
            found = regex.search(self.plain, since)
            if found:
                return found
            if time.monotonic() > end or not self._read(min(0.2, max(0.0, end - time.monotonic()))):
                if not (found := regex.search(self.plain, since)):
                    raise AssertionError(f"{pattern!r} did not appear within {timeout} s; the screen:\n{self.plain}")
                return found

    # --- typing ------------------------------------------------------------------------

    def type_line(self, text: str) -> None:
        os.write(self.fd, text.encode() + b"\r")

    def interrupt(self, at_question: bool = True) -> None:
        """Ctrl-C as the terminal sends it: the line discipline turns it into SIGINT for the foreground group.

        At a question, only once ispa-cert reads the terminal: Python's input() prints the prompt
        before it starts reading, and a SIGINT that lands in between is only acted on when the read
        returns (a test that presses Ctrl-C within microseconds of the prompt can wait forever; a
        person cannot). The kernel says when the process sleeps in the terminal's read.
        """
        if at_question:
            end = time.monotonic() + 10.0
            while not self._reading_the_terminal() and time.monotonic() < end:
                time.sleep(0.02)
        os.write(self.fd, b"\x03")

    def _reading_the_terminal(self) -> bool:
        try:
            return Path(f"/proc/{self.pid}/wchan").read_text().strip() == "wait_woken"  # n_tty_read's wait
        except OSError:
            return False

    # --- the end -------------------------------------------------------------------------

    def wait(self, timeout: float = 300.0) -> int:
        end = time.monotonic() + timeout
        while self._read(0.2):
            if time.monotonic() > end:
                self.stop()
                raise AssertionError(f"ispa-cert did not finish within {timeout} s; the screen:\n{self.plain}")
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def finished(self, expected: int, fits: bool = True) -> str:
        """Wait for the end; check the exit code, that every line fits (unless not `fits`) and that
        no traceback was shown; return the screen without colour."""
        code = self.wait()
        assert code == expected, self.plain
        assert not fits or self.too_wide() == [], self.plain
        assert "Traceback" not in self.plain
        return "\n".join(self.screen_lines())

    def stop(self) -> None:
        if self.returncode is not None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self.returncode = -9
        os.close(self.fd)

    def screen_lines(self) -> list[str]:
        """The lines as a terminal shows them: colour removed, a carriage return starts the line afresh."""
        shown = []
        for raw in self.plain.replace("\r\n", "\n").split("\n"):
            shown.append(raw.rsplit("\r", 1)[-1])
        return shown

    def too_wide(self, limit: int | None = None) -> list[str]:
        return [line for line in self.screen_lines() if len(line) > (limit or self.columns)]


def log_text(root: Path) -> str:
    """ispa-cert's own log in a sandbox root."""
    path = root / "var" / "log" / "ispa-cert.log"
    return path.read_text(errors="replace") if path.exists() else ""
