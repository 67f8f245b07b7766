"""The reload acme.sh runs after a renewal reloads a running Apache and never starts a stopped one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ispa_acmewrap import acme
from ispa_acmewrap.paths import Paths


def _run_reload(root: Path, pid: int | None, **environment: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """The reload line under sh, with an envvars naming a PID file and an apache2ctl that records its arguments."""
    paths = Paths.from_root(root)
    paths.apache_confdir.mkdir(parents=True)
    pid_file = root / "apache2.pid"
    if pid is not None:
        pid_file.write_text(f"{pid}\n")
    (paths.apache_confdir / "envvars").write_text(f"export APACHE_PID_FILE={pid_file}\n")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    calls = root / "calls"
    ctl = bin_dir / "apache2ctl"
    ctl.write_text(f'#!/bin/sh\necho "$APACHE_CONFDIR $*" >> {calls}\n')
    ctl.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **environment}
    done = subprocess.run(["sh", "-c", acme.reload_line(paths)], env=env, capture_output=True, text=True)
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_a_running_apache_is_reloaded(tmp_path):
    done, calls = _run_reload(tmp_path, os.getpid())  # a live process stands in for Apache
    assert done.returncode == 0, done.stderr
    assert calls == [f"{Paths.from_root(tmp_path).apache_confdir} graceful"]


def test_a_stopped_apache_is_not_started(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    for pid in (dead.pid, None):  # a stale PID file, and none at all
        root = tmp_path / str(pid)
        root.mkdir()
        done, calls = _run_reload(root, pid)
        assert done.returncode == 0, done.stderr
        assert calls == []
        assert "Apache is not running" in done.stdout


def test_a_run_whose_reload_ispa_cert_does_itself_leaves_apache_alone(tmp_path):
    """issue's --install-cert: ispa-cert reloads Apache once afterwards, after a configtest."""
    paths = Paths.from_root(tmp_path)
    environment = dict(acme.install_cert_command(paths, "isp.example.net", reload_now=False).env)
    done, calls = _run_reload(tmp_path, os.getpid(), **{acme.RELOADS_ITSELF: environment[acme.RELOADS_ITSELF]})
    assert done.returncode == 0, done.stderr
    assert calls == []
    assert "reloaded by ispa-cert" in done.stdout
