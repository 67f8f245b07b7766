"""The run lock: a second run waits a bounded time, then exits 5 naming the holder."""

from __future__ import annotations

import os
import time

import pytest

from ispa_acmewrap.errors import BadInput, Locked
from ispa_acmewrap.lock import DEFAULT_WAIT_SECONDS, exclusive
from ispa_acmewrap.settings import ENV_LOCK_WAIT, lock_wait_from_env


def test_a_second_holder_waits_then_is_refused_naming_the_first(tmp_path):
    lock_file = tmp_path / "run" / "lock" / "ispa-cert.lock"
    with exclusive(lock_file, "renew --cron"):
        started = time.monotonic()
        with pytest.raises(Locked) as raised:
            with exclusive(lock_file, "renew", wait=0.5):
                pytest.fail("the lock was taken twice")
        waited = time.monotonic() - started
    assert 0.5 <= waited < 3
    assert raised.value.exit_code == 5
    assert f"{os.getpid()} renew --cron" in raised.value.message


def test_the_lock_is_free_again_after_the_holder_leaves(tmp_path):
    lock_file = tmp_path / "ispa-cert.lock"
    with exclusive(lock_file, "issue"):
        pass
    with exclusive(lock_file, "renew", wait=0):
        assert lock_file.read_text() == f"{os.getpid()} renew\n"
    assert lock_file.read_text() == ""


@pytest.mark.parametrize("raw, seconds", [(None, DEFAULT_WAIT_SECONDS), ("", DEFAULT_WAIT_SECONDS), ("0", 0.0),
                                          ("2.5", 2.5), ("600", 600.0)])
def test_lock_wait_comes_from_the_environment(monkeypatch, raw, seconds):
    if raw is None:
        monkeypatch.delenv(ENV_LOCK_WAIT, raising=False)
    else:
        monkeypatch.setenv(ENV_LOCK_WAIT, raw)
    assert lock_wait_from_env() == seconds


@pytest.mark.parametrize("raw", ["-1", "soon", "nan", "inf"])
def test_a_bad_lock_wait_is_bad_input(monkeypatch, raw):
    monkeypatch.setenv(ENV_LOCK_WAIT, raw)
    with pytest.raises(BadInput, match=ENV_LOCK_WAIT):
        lock_wait_from_env()
