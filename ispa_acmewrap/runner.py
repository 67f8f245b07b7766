"""The one process boundary: every external program ispa-cert runs goes through run().

It runs a command.Command (argument list and environment, as the builders in acme.py,
apache/, listeners.py and dns.py make them), never a shell string. Each argv is logged, the output is
appended to the log line by line and optionally streamed to the terminal, and a
timeout, Ctrl-C or SIGTERM stops the program's whole process group, grandchildren
included.

While a run holds the lock (lock.held_descriptor), every program runs under
supervise.py: it dies with ispa-cert even after a SIGKILL (PR_SET_PDEATHSIG), takes
its process group with it, and keeps the locked descriptor open until then, so no
second run can start acme.sh beside an orphaned one.
"""

from __future__ import annotations

import codecs
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import sh

from . import lock
from .command import Command
from .errors import CommandFailed, OperationFailed, TimedOut
from .i18n import _

log = logging.getLogger(__name__)

GRACE_SECONDS = 5.0
RUNS_ALONE = {"acme.sh"}  # run_side_by_side refuses these
ALL_EXIT_CODES = list(range(256))
SUPERVISOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "supervise.py")


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    output: str


def run(
    command: Command,
    *,
    ok_codes: Iterable[int] = (0,),
    timeout: float | None = None,
    echo: Callable[[str], None] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Result:
    """Run the command to completion; raise CommandFailed unless its exit code is in ok_codes.

    Its environment adds to (never replaces) this process's. `echo` receives each
    output line as it arrives (stdout and stderr merged, in order).
    """
    if not isinstance(command, Command):
        raise TypeError(f"runner.run() takes a Command (argv and its environment), not {type(command).__name__}")
    argv = command.argv
    log.info("running: %s", " ".join(argv))
    collected: list[str] = []

    def on_line(line: str) -> None:
        collected.append(line)
        log.info("  %s", line)
        if echo is not None:
            echo(line)

    try:
        program = sh.Command(argv[0])
    except sh.CommandNotFound as missing:
        raise OperationFailed(_("{program} is not installed or not on PATH").format(program=argv[0])) from missing
    lock_descriptor = lock.held_descriptor()
    arguments: tuple[str, ...] = argv[1:]
    if lock_descriptor is not None:
        program = sh.Command(sys.executable)
        parent = os.getpid() if threading.current_thread() is threading.main_thread() else 0
        arguments = ("-I", "-S", SUPERVISOR, str(parent), str(lock_descriptor), str(GRACE_SECONDS),
                     "--", program_path(argv[0]), *argv[1:])
    output = _Lines(on_line)
    process = program(
        *arguments,
        _pass_fds={lock_descriptor} if lock_descriptor is not None else set(),
        _env={**os.environ, **command.env},
        _cwd=str(cwd) if cwd is not None else None,
        _out=output,
        _err_to_out=True,
        _tty_out=False,
        _ok_code=ALL_EXIT_CODES,
        _bg=True,
        _bg_exc=False,
        _new_session=True,
    )
    started = time.monotonic()
    returncode = _wait(process, timeout, argv)
    output.close()
    log.info("%s exited %d after %.3f s", argv[0], returncode, time.monotonic() - started)
    result = Result(argv, returncode, "\n".join(collected))
    if returncode not in set(ok_codes):
        raise CommandFailed(list(argv), returncode, result.output)
    return result


def run_side_by_side(*commands: Command) -> list[Result]:
    """Run short commands at the same time, each as run() with any exit code accepted; their results
    in the order given. The first runs in this thread, so Ctrl-C stops it as it stops run(); the
    others finish first."""
    alone = [command.argv[0] for command in commands if os.path.basename(command.argv[0]) in RUNS_ALONE]
    if alone:
        raise ValueError(f"{alone[0]} never runs beside another program of ispa-cert's (acme.py says why)")
    with ThreadPoolExecutor(max_workers=max(len(commands) - 1, 1), thread_name_prefix="runner") as pool:
        others = [pool.submit(run, command, ok_codes=ALL_EXIT_CODES) for command in commands[1:]]
        first = run(commands[0], ok_codes=ALL_EXIT_CODES)
        return [first, *(other.result() for other in others)]


class _Lines:
    """Where sh writes a program's output: bytes in, each whole line (UTF-8, bad bytes replaced) out to
    on_line as it arrives. A file-like sink: sh makes every run with a callable sink ~0.1 s longer."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._on_line = on_line
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""

    def write(self, chunk: bytes) -> None:
        *lines, self._pending = (self._pending + self._decoder.decode(chunk)).split("\n")
        for line in lines:
            self._on_line(line)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """The last line, when the program did not end it."""
        rest = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        if rest:
            self._on_line(rest)


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
                raise TimedOut(_("{program} did not finish within {seconds} s and was stopped").format(
                    program=command[0], seconds=f"{timeout:.0f}"), timeout)
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
