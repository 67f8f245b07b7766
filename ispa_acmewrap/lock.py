"""One run at a time: cron's renew and a person's issue never touch acme.sh together
(acme.sh has no locking of its own)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import Locked
from .i18n import _

DEFAULT_WAIT_SECONDS = 30.0
_held: list[int] = []  # the descriptor of the lock this process holds (runner.py passes it on)


def held_descriptor() -> int | None:
    """The locked descriptor while this process holds the lock, else None."""
    return _held[-1] if _held else None


@contextmanager
def exclusive(lock_file: Path, command: str, wait: float = DEFAULT_WAIT_SECONDS) -> Iterator[None]:
    """Hold an flock on lock_file; after `wait` seconds of waiting, raise Locked naming the holder."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(descriptor, lock_file, wait)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()} {command}\n".encode(), 0)
        os.set_inheritable(descriptor, True)  # runner.py passes it to its supervisor (and nothing else)
        _held.append(descriptor)
        try:
            yield
        finally:
            _held.remove(descriptor)
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _acquire(descriptor: int, lock_file: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip() or _("another process")
                raise Locked(_("another ispa-cert run holds the lock {file} (pid and command: {holder})").format(
                    file=lock_file, holder=holder), hint=_("wait for it to finish and try again")) from None
            time.sleep(0.2)
