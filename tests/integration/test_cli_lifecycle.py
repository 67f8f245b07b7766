"""The order every changing command keeps (root check → lock → recover → body), read-only commands
that leave an interrupted change alone, and a non-root run that ends in a message, not a traceback."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from typer.testing import CliRunner

from ispa_acmewrap import transaction
from ispa_acmewrap.cli import app
from ispa_acmewrap.files import atomic_write
from ispa_acmewrap.lock import exclusive
from ispa_acmewrap.paths import Paths
from tests.conftest import ispa_cert_executable

DEAD_PID = 4_194_304  # PID_MAX_LIMIT: no process ever has this pid


@pytest.fixture
def interrupted(tmp_path) -> Paths:
    """A sandbox where a run died inside an Apache change: its backup holds the include as it was."""
    paths = Paths.from_root(tmp_path)
    atomic_write(paths.vhost_include, "# before the change\n")
    backup = transaction.create_backup(paths, "test: change killed half-way")
    atomic_write(paths.vhost_include, "# half-way\n")
    atomic_write(paths.pending_marker, json.dumps({"reason": "test: change killed half-way", "pid": DEAD_PID,
                                                   "started": 0, "backup": backup.id}) + "\n")
    return paths


def ispa_cert(paths: Paths, *args: str):
    """Run the CLI with an apache2ctl that only writes down how it was called (ROOT/apache2ctl.calls)."""
    fake = paths.root / "fake-bin"
    fake.mkdir(exist_ok=True)
    (fake / "apache2ctl").write_text(f'#!/bin/sh\necho "$*" >> {paths.root}/apache2ctl.calls\nexit 1\n')
    (fake / "apache2ctl").chmod(0o755)
    environment = {**os.environ, "ISPA_LOCK_WAIT": "0", "PATH": f"{fake}:{os.environ['PATH']}"}
    return subprocess.run([ispa_cert_executable(), "--root", str(paths.root), *args], capture_output=True, text=True,
                          env=environment, stdin=subprocess.DEVNULL, timeout=120)


def apache_calls(paths: Paths) -> list[str]:
    calls = paths.root / "apache2ctl.calls"
    return calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize("command", [["status"], ["cron", "show"], ["backups", "list"], ["doctor", "--offline"]],
                         ids=" ".join)
def test_a_read_only_command_reports_an_interrupted_change_and_restores_nothing(interrupted, command):
    result = ispa_cert(interrupted, *command)
    assert "Traceback" not in result.stderr
    assert interrupted.pending_marker.exists()
    assert interrupted.vhost_include.read_text() == "# half-way\n"  # the backup was not restored
    assert not [call for call in apache_calls(interrupted) if call.split()[0] in ("graceful", "restart", "configtest")]
    if command[0] != "doctor":  # doctor reports it as a finding of its own
        assert result.returncode == 0, result.stderr
        assert "notice: an earlier run was interrupted while changing Apache" in result.stderr
        assert "restores backup" in result.stderr


def test_recovery_waits_for_the_lock(interrupted):
    with exclusive(interrupted.lock_file, "another run"):
        result = ispa_cert(interrupted, "cron", "remove")
    assert result.returncode == 5, result.stderr
    assert "another ispa-cert run holds the lock" in result.stderr
    assert interrupted.pending_marker.exists()  # recovery runs only under the lock
    assert interrupted.vhost_include.read_text() == "# half-way\n"


@pytest.mark.parametrize("command", [["renew"], ["cron", "remove"], ["backups", "restore", "--yes"], ["upgrade"]],
                         ids=" ".join)
def test_a_changing_command_checks_root_before_the_lock_and_recovery(interrupted, monkeypatch, command):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("ISPA_LOCK_WAIT", "0")
    with exclusive(interrupted.lock_file, "another run"):  # a lock it would wait for: the root check comes first
        result = CliRunner().invoke(app, ["--root", str(interrupted.root), *command])
    assert result.exit_code == 3, result.output
    assert "error: ispa-cert changes Apache and /data/ispadmin_cert: run it as root" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert interrupted.pending_marker.exists()
    assert interrupted.vhost_include.read_text() == "# half-way\n"


def test_a_read_only_command_that_may_not_read_a_file_says_so(tmp_path, monkeypatch):
    from ispa_acmewrap.actions import status

    def unreadable(_settings):
        raise PermissionError(13, "Permission denied", str(tmp_path / "state.json"))

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(status, "run", unreadable)
    result = CliRunner().invoke(app, ["--root", str(tmp_path), "status"])
    assert result.exit_code == 3
    assert f"error: permission denied: {tmp_path / 'state.json'}" in result.stderr
    assert "hint: run it as root" in result.stderr
    assert "Traceback" not in result.output


def test_a_restore_answered_no_changes_nothing_and_is_no_failure(tmp_path, monkeypatch):
    from ispa_acmewrap import cli
    from ispa_acmewrap.console import Console

    paths = Paths.from_root(tmp_path)
    atomic_write(paths.vhost_include, "# backed up\n")
    backup = transaction.create_backup(paths, "test: before a change")
    atomic_write(paths.vhost_include, "# current\n")
    monkeypatch.setattr(cli, "_console", lambda yes=False, quiet=False: Console(interactive=True))
    result = CliRunner().invoke(app, ["--root", str(tmp_path), "backups", "restore", backup.id], input="n\n")
    assert result.exit_code == 0, result.output
    assert "Nothing was changed." in result.stdout
    assert paths.vhost_include.read_text() == "# current\n"
