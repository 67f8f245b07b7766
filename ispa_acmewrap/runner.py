"""The one process boundary: every external program ispa-cert runs goes through run().

Argument lists only, never a shell string. Each argv is logged, the output is
appended to the log line by line and optionally streamed to the terminal, and a
timeout, Ctrl-C or SIGTERM stops the program's whole process group, grandchildren
included.

While a run holds the lock (lock.held_descriptor), every program runs under
supervise.py: it dies with ispa-cert even after a SIGKILL (PR_SET_PDEATHSIG), takes
its process group with it, and keeps the locked descriptor open until then, so no
second run can start acme.sh beside an orphaned one.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import sh

from . import lock
from .errors import CommandFailed, OperationFailed, TimedOut

log = logging.getLogger(__name__)

GRACE_SECONDS = 5.0
ALL_EXIT_CODES = list(range(256))
SUPERVISOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "supervise.py")


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    output: str


def run(
    argv: Iterable[str],
    *,
    env: Mapping[str, str] | None = None,
    ok_codes: Iterable[int] = (0,),
    timeout: float | None = None,
    echo: Callable[[str], None] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Result:
    """Run argv to completion; raise CommandFailed unless its exit code is in ok_codes.

    `env` adds to (never replaces) this process's environment. `echo` receives each
    output line as it arrives (stdout and stderr merged, in order).
    """
    command = tuple(str(part) for part in argv)
    log.info("running: %s", " ".join(command))
    collected: list[str] = []

    def on_line(line: str) -> None:
        line = line.rstrip("\n")
        collected.append(line)
        log.info("  %s", line)
        if echo is not None:
            echo(line)

    try:
        program = sh.Command(command[0])
    except sh.CommandNotFound as missing:
        raise OperationFailed(f"{command[0]} is not installed or not on PATH") from missing
    lock_descriptor = lock.held_descriptor()
    arguments: tuple[str, ...] = command[1:]
    if lock_descriptor is not None:
        program = sh.Command(sys.executable)
        parent = os.getpid() if threading.current_thread() is threading.main_thread() else 0
        arguments = ("-I", "-S", SUPERVISOR, str(parent), str(lock_descriptor), str(GRACE_SECONDS),
                     "--", program_path(command[0]), *command[1:])
    process = program(
        *arguments,
        _pass_fds={lock_descriptor} if lock_descriptor is not None else set(),
        _env={**os.environ, **(env or {})},
        _cwd=str(cwd) if cwd is not None else None,
        _out=on_line,
        _err_to_out=True,
        _tty_out=False,
        _decode_errors="replace",
        _ok_code=ALL_EXIT_CODES,
        _bg=True,
        _bg_exc=False,
        _new_session=True,
    )
    started = time.monotonic()
    returncode = _wait(process, timeout, command)
    log.info("%s exited %d after %.3f s", command[0], returncode, time.monotonic() - started)
    result = Result(command, returncode, "\n".join(collected))
    if returncode not in set(ok_codes):
        raise CommandFailed(list(command), returncode, result.output)
    return result


_deferring: list[bool] = []  # inside interrupts_deferred(): SIGINT/SIGTERM only noted


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Let a rollback finish: SIGINT/SIGTERM meanwhile are logged, and neither stop it nor its programs.

    The caller raises its own failure afterwards (a KeyboardInterrupt when the first signal began it)."""
    def note(signum: int, _frame: object) -> None:
        log.warning("signal %d received during a rollback: the rollback finishes first", signum)

    previous = _install_handlers(note)
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
        _restore_handlers(previous)


def _wait(process: sh.RunningCommand, timeout: float | None, command: tuple[str, ...]) -> int:
    """Wait for the process; on timeout, SIGINT or SIGTERM stop its whole process group."""
    interrupted: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        if _deferring:
            log.warning("signal %d received during a rollback: %s finishes first", signum, command[0])
            return
        interrupted.append(signum)
        _stop_group(process)

    previous = _install_handlers(on_signal)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while process.process.is_alive()[0]:
            if deadline is not None and time.monotonic() > deadline:
                _stop_group(process)
                raise TimedOut(f"{command[0]} did not finish within {timeout:.0f} s and was stopped", timeout)
            time.sleep(0.005)
            if interrupted:
                break
        try:
            process.wait()
        except sh.ErrorReturnCode:  # ended by a signal (negative exit code): the code is still known
            pass
    finally:
        _restore_handlers(previous)
    if interrupted:
        raise KeyboardInterrupt
    return process.exit_code


def program_path(name: str) -> str:
    """The program's full path as the shell would find it (the supervisor gets no PATH lookup surprises)."""
    return shutil.which(name) or name


def _stop_group(process: sh.RunningCommand) -> None:
    pgid = process.pid
    for sig, pause in ((signal.SIGTERM, GRACE_SECONDS + 1.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + pause
        while time.monotonic() < end:
            if not process.process.is_alive()[0]:
                return
            time.sleep(0.05)


def _install_handlers(handler: Callable[[int, object], None]) -> dict[int, object] | None:
    try:
        return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        return None


def _restore_handlers(previous: dict[int, object] | None) -> None:
    for sig, handler in (previous or {}).items():
        signal.signal(sig, handler)  # type: ignore[arg-type]
