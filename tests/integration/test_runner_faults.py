"""runner.py under faults, with real processes: children die with ispa-cert, even after a
SIGKILL, and the run's lock stays held as long as any of them lives."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ispa_acmewrap import lock, runner
from ispa_acmewrap.command import Command
from ispa_acmewrap.errors import TimedOut

# A child that ignores SIGTERM, as a busy acme.sh or curl may: only the SIGKILL after the grace ends it.
STUBBORN = "trap '' TERM; touch STARTED; sleep 60 & wait"


def lock_is_free(lock_file: Path) -> bool:
    with open(lock_file, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def processes_with(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_sigkill_of_ispa_cert_takes_its_children_down_and_the_lock_waits_for_them(tmp_path):
    lock_file = tmp_path / "ispa-cert.lock"
    marker = f"sleep 6{os.getpid()}"
    started = tmp_path / "started"
    program = textwrap.dedent(f"""
        from pathlib import Path
        from ispa_acmewrap import lock, runner
        from ispa_acmewrap.command import Command
        with lock.exclusive(Path({str(lock_file)!r}), "renew"):
            runner.run(Command(["sh", "-c", {STUBBORN.replace("sleep 60", marker).replace("STARTED", str(started))!r}]))
    """)
    run = subprocess.Popen([sys.executable, "-c", program], stdin=subprocess.DEVNULL)
    end = time.monotonic() + 20
    while not started.exists() and time.monotonic() < end:
        time.sleep(0.05)
    assert started.exists(), "the child did not start"

    run.kill()
    run.wait()
    killed_at = time.monotonic()
    assert processes_with(marker) and not lock_is_free(lock_file)  # the child lives: the lock is still held
    while processes_with(marker) and time.monotonic() - killed_at < runner.GRACE_SECONDS + 5:
        time.sleep(0.05)
    assert processes_with(marker) == [], "the child outlived ispa-cert"
    assert lock_is_free(lock_file)


def test_sigterm_stops_the_whole_group_and_becomes_keyboard_interrupt(tmp_path):
    marker = f"sleep 7{os.getpid()}"
    with lock.exclusive(tmp_path / "ispa-cert.lock", "issue"):
        previous = signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        try:
            with pytest.raises(KeyboardInterrupt):
                runner.run(Command(["sh", "-c", f"{marker} & wait"]))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    assert processes_with(marker) == []


def test_a_timeout_stops_the_group_and_says_so(tmp_path):
    marker = f"sleep 8{os.getpid()}"
    started = time.monotonic()
    with pytest.raises(TimedOut) as raised:
        runner.run(Command(["sh", "-c", f"{marker} & wait"]), timeout=1)
    assert raised.value.seconds == 1 and time.monotonic() - started < runner.GRACE_SECONDS + 3
    assert processes_with(marker) == []


def test_a_signal_during_a_rollback_neither_stops_it_nor_its_programs(tmp_path):
    done = tmp_path / "done"
    previous = signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with runner.interrupts_deferred():
            runner.run(Command(["sh", "-c", f"sleep 1; touch {done}"]))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert done.exists()
