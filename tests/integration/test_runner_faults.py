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


def test_side_by_side_runs_at_once_and_keeps_the_order(tmp_path):
    marker = tmp_path / "first-started"
    # the second waits for the first to have started: one after the other, it would time out
    first = Command(["sh", "-c", f"touch {marker}; sleep 0.3; echo first; exit 3"])
    second = Command(["sh", "-c", f"for i in $(seq 50); do [ -e {marker} ] && break; sleep 0.1; done; "
                                  f"[ -e {marker} ] && echo second"])
    results = runner.run_side_by_side(second, first)
    assert [(result.output, result.returncode) for result in results] == [("second", 0), ("first", 3)]


def test_acme_sh_never_runs_beside_another_program(tmp_path):
    """Every acme.sh run rewrites account.conf in place: two at once can lose its lines."""
    script = tmp_path / "acme.sh"
    script.write_text(f"#!/bin/sh\ntouch {tmp_path / 'ran'}\n")
    script.chmod(0o755)
    with pytest.raises(ValueError, match="acme.sh never runs beside"):
        runner.run_side_by_side(Command([str(script), "--install-cert"]), Command(["true"]))
    assert not (tmp_path / "ran").exists()
