"""Promises under faults, on the real stack (Pebble, Apache, acme.sh): a CA that refuses,
answers garbage or HTTP 500, or hangs; SIGTERM, SIGINT and SIGKILL during acme.sh and inside
the Apache transaction; a broken enabled site; the rate-limit guard; a full disk; damaged
backups, markers and certificates.

One stack and one issued certificate are shared by the whole module (tests run in file
order and leave the stack as they found it). After each fault: the exit code of the
README's table, one clear message, Apache still serving the previous certificate, the
files whole, no acme.sh left running, and the failure ledger untouched unless the CA
really failed a validation.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ispa_acmewrap import state as state_store
from tests.conftest import ToolRunner, ispa_cert_executable
from tests.e2e.ca_stub import CAStub, refused_url
from tests.e2e.support import serial_on_disk, serial_served
from tests.factories import ADMIN, DEALER
from tests.stack import Stack, make_sandbox

pytestmark = pytest.mark.e2e

# DEALER: no virtual host serves it: issue makes temp_isp.conf for it
ISSUE_ADMIN = ("issue", "-a", "--admin-domain", ADMIN, "--server-ip", "127.0.0.1", "--yes")


def dealer_docroot(stack) -> list[str]:
    """The dealer name has no vhost of its own: it is served from a document root (made here)."""
    site = stack.root / "srv" / "dealer"
    site.mkdir(parents=True, exist_ok=True)
    (site / "index.html").write_text("<h1>dealer portal</h1>\n")
    return ["--dealer-docroot", str(site)]


@pytest.fixture(scope="module")
def stack(module_stack):
    return module_stack


@pytest.fixture(scope="module")
def tool(stack) -> ToolRunner:
    runner = ToolRunner(stack.tool_env())
    issued = runner(*ISSUE_ADMIN)
    assert issued.returncode == 0, issued.stdout + issued.stderr
    return runner


@pytest.fixture
def before(stack, tool):
    """What must not change: the served certificate, the ledger, Apache's files."""
    return snapshot(stack)


def snapshot(stack) -> dict:
    paths = stack.paths
    return {"serial": serial_on_disk(paths, ADMIN), "failures": _failures(stack),
            "files": {path: path.read_bytes() for path in (paths.vhost_include, paths.apache_main_config,
                                                           paths.ispadmin_site)}}


def _failures(stack) -> dict:
    return dict(state_store.load_state(stack.paths.state_file).failures)


def assert_unharmed(stack, before: dict) -> None:
    paths = stack.paths
    assert serial_served(stack, ADMIN) == before["serial"] == serial_on_disk(paths, ADMIN)
    assert _failures(stack) == before["failures"], "a fault that is not a failed validation was counted"
    assert {path: path.read_bytes() for path in before["files"]} == before["files"]
    assert not paths.temp_site.exists() and not paths.temp_site_enabled.is_symlink()
    assert not paths.pending_marker.exists()
    assert run_children(stack) == [], "a child of ispa-cert outlived it"
    assert not [leftover for leftover in paths.state_dir.iterdir() if leftover.name.endswith(".before-acme")]


def run_children(stack) -> list[str]:
    """acme.sh, curl or the supervisor of this sandbox that are still running."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(stack.root) in command and any(word in command for word in ("acme.sh", "curl", "supervise.py")):
            found.append(command)
    return found


def wait_for_acme(stack, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any("acme.sh --issue" in command for command in run_children(stack)):
            time.sleep(1.0)  # acme.sh is now talking to the CA
            return
        time.sleep(0.1)
    raise AssertionError("acme.sh did not start")


def wait_until_no_children(stack, timeout: float) -> float:
    start = time.monotonic()
    while run_children(stack) and time.monotonic() - start < timeout:
        time.sleep(0.1)
    return time.monotonic() - start


def start(stack, *args: str, extra_env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, **stack.tool_env(), **(extra_env or {})}
    return subprocess.Popen([ispa_cert_executable(), *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# --- the CA ------------------------------------------------------------------------------------

def test_unreachable_ca_is_named_bounded_and_not_counted(stack, tool, before):
    url = refused_url()
    began = time.monotonic()
    result = tool(*ISSUE_ADMIN, "--force", "--server", url, extra_env={"ISPA_CA_TIMEOUT": "6"})
    elapsed = time.monotonic() - began

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"error: the CA at {url} could not be reached (connection refused)" in result.stderr
    assert "stopped after 6 s" in result.stderr and "ISPA_CA_TIMEOUT" in result.stderr
    assert "libcurl" not in result.stderr and "Traceback" not in result.stderr
    assert elapsed < 60  # acme.sh alone retries for 100 s
    assert_unharmed(stack, before)


@pytest.mark.parametrize(("mode", "said"), [("500", "answered with an error (HTTP 500)"),
                                            ("garbage", "answered, but not as an ACME server")])
def test_ca_answering_an_error_or_garbage_is_named_and_not_counted(stack, tool, before, mode, said):
    with CAStub(stack.pebble.api_ca, mode) as ca:
        result = tool(*ISSUE_ADMIN, "--force", "--server", ca.url, extra_env={"ISPA_CA_TIMEOUT": "6"})
        assert ca.requests >= 1

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"error: the CA at {ca.url} {said}" in result.stderr
    assert "Le_OrderFinalize" not in result.stderr and "Cannot init API" not in result.stderr
    assert_unharmed(stack, before)


def test_hung_ca_ends_at_the_deadline_with_a_clear_message(stack, tool, before):
    with CAStub(stack.pebble.api_ca, "hang") as ca:
        began = time.monotonic()
        result = tool(*ISSUE_ADMIN, "--force", "--server", ca.url, extra_env={"ISPA_CA_TIMEOUT": "4"})
        elapsed = time.monotonic() - began

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"error: the CA at {ca.url} did not answer within 4 s; acme.sh was stopped" in result.stderr
    assert elapsed < 60  # the stub would hang for an hour
    assert_unharmed(stack, before)


# --- signals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_acme_sh_rolls_back_and_exits_130(stack, tool, before, signum):
    saved_state = stack.paths.state_file.read_bytes()
    with CAStub(stack.pebble.api_ca, "hang") as ca:
        run = start(stack, "issue", "-d", "--dealer-domain", DEALER, *dealer_docroot(stack), "--server-ip",
                    "127.0.0.1", "--yes", "--server", ca.url)
        wait_for_acme(stack)
        assert stack.paths.temp_site.exists()  # this run made it for the dealer name
        run.send_signal(signum)
        _, stderr = run.communicate(timeout=60)

    assert run.returncode == 130, stderr
    assert stderr.strip().endswith("interrupted")
    assert "unexpected" not in stderr and "Traceback" not in stderr
    assert_unharmed(stack, before)  # temp_isp.conf removed again, acme.sh's group gone
    stack.paths.state_file.write_bytes(saved_state)  # forget the dealer name for the next tests


def test_sigkill_takes_acme_sh_down_and_holds_the_lock_until_then(stack, tool, before):
    with CAStub(stack.pebble.api_ca, "hang") as ca:
        run = start(stack, *ISSUE_ADMIN, "--force", "--server", ca.url)
        wait_for_acme(stack)
        run.kill()
        run.wait(timeout=10)
        gone_after = wait_until_no_children(stack, timeout=20)

    assert run_children(stack) == [] and gone_after < 20
    after = tool("renew")  # the next run finds the lock free and puts apache2.conf back as it was
    assert after.returncode == 0, after.stdout + after.stderr
    assert "interrupted while acme.sh had changed apache2.conf" in after.stderr
    assert_unharmed(stack, before)


def test_sigterm_inside_the_apache_transaction_restores_the_backup(stack, tool):
    changed = tool(*ISSUE_ADMIN, "--redirect")  # its backup (the state before it) differs from now
    assert changed.returncode == 0, changed.stdout + changed.stderr
    before = snapshot(stack)
    try:
        run = start(stack, "backups", "restore", "--yes", extra_env={"ISPA_TEST_PAUSE_AT": "apache-change"})
        assert run.stderr.readline() == "test hook: paused at apache-change\n"
        include = stack.paths.vhost_include.read_bytes()
        assert include != before["files"][stack.paths.vhost_include]  # files changed
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)

        assert run.returncode == 130, stderr
        assert stderr.strip().endswith("interrupted")
        assert_unharmed(stack, before)
    finally:
        assert tool(*ISSUE_ADMIN, "--no-redirect").returncode == 0  # the module's shared stack as it was


# --- Apache and the rate-limit guard -------------------------------------------------------------

def test_a_broken_enabled_site_is_quoted_and_nothing_is_changed(stack, tool, before):
    broken = stack.paths.sites_enabled / "broken.conf"
    broken.write_text("<VirtualHost *:80>\n  ServerName broken.example\n  NoSuchDirective on\n</VirtualHost>\n")
    validations = stack.pebble.validation_attempts(ADMIN)
    try:
        result = tool(*ISSUE_ADMIN, "--force")
    finally:
        broken.unlink()

    assert result.returncode == 3, result.stdout + result.stderr
    assert "Apache rejects its current configuration" in result.stderr
    assert f"line 3 of {broken}" in result.stderr and "NoSuchDirective" in result.stderr
    assert stack.pebble.validation_attempts(ADMIN) == validations  # the CA was not asked
    assert_unharmed(stack, before)


def test_the_rate_limit_guard_refuses_before_apache_is_touched(stack, tool, before):
    path = stack.paths.state_file
    saved = path.read_bytes()
    record = state_store.load_state(path)
    for _ in range(5):
        record = state_store.record_failure(record, DEALER, datetime.now(timezone.utc))
    state_store.save_state(path, record)
    try:
        result = tool("issue", "-d", "--dealer-domain", DEALER, *dealer_docroot(stack), "--server-ip", "127.0.0.1",
                      "--yes")
    finally:
        path.write_bytes(saved)

    assert result.returncode == 4, result.stdout + result.stderr
    assert f"{DEALER} failed validation 5 times in the last hour" in result.stderr
    assert_unharmed(stack, before)


# --- a full disk, damaged files --------------------------------------------------------------------

@contextmanager
def full_disk(directory: Path):
    """A small tmpfs over `directory` holding a copy of its files, filled to the last page.

    Yields the files' bytes as they were; the original directory is back afterwards."""
    aside = directory.with_name(directory.name + ".aside")
    directory.rename(aside)
    directory.mkdir(mode=aside.stat().st_mode & 0o7777)
    used = int(subprocess.run(["du", "-sk", str(aside)], capture_output=True, text=True, check=True).stdout.split()[0])
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={used + 256}k", "tmpfs", str(directory)], check=True)
    try:
        subprocess.run(["cp", "-a", f"{aside}/.", str(directory)], check=True)
        subprocess.run(["dd", "if=/dev/zero", f"of={directory / 'filler'}", "bs=4k"], capture_output=True)
        yield {path: path.read_bytes() for path in directory.rglob("*") if path.is_file() and path.name != "filler"}
    finally:
        subprocess.run(["umount", str(directory)], check=True)
        directory.rmdir()
        aside.rename(directory)


def files_now(contents: dict) -> dict:
    return {path: path.read_bytes() if path.exists() else None for path in contents}


@pytest.mark.parametrize(("where", "command"), [
    ("backups_dir", ISSUE_ADMIN + ("--redirect",)),
    ("backups_dir", ("backups", "restore", "--yes")),
    ("state_dir", ("renew", "--force")),
    ("crontab", ("cron", "install", "--schedule", "0 4 * * *")),
])
def test_a_full_disk_is_named_and_apache_keeps_serving(stack, tool, before, where, command):
    directory = stack.paths.crontab.parent if where == "crontab" else getattr(stack.paths, where)
    with full_disk(directory) as contents:
        result = tool(*command)
        assert files_now(contents) == contents  # no file there was changed, truncated or left half-written

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"error: the disk is full: cannot write {directory}/" in result.stderr
    assert f"(file system {directory}: No space left on device)" in result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
    assert_unharmed(stack, before)


def test_a_damaged_backup_is_named_and_never_blocks_a_change(stack, tool, before):
    newest = sorted(path for path in stack.paths.backups_dir.iterdir() if path.is_dir())[-1]
    manifest = newest / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])

    listed = tool("backups", "list")
    changed = tool(*ISSUE_ADMIN, "--redirect")
    back = tool(*ISSUE_ADMIN, "--no-redirect")

    assert listed.returncode == 0, listed.stderr
    assert f"warning: backup {newest.name} is skipped: manifest.json is damaged" in listed.stderr
    assert newest.name not in listed.stdout
    assert changed.returncode == 0 and back.returncode == 0, changed.stderr + back.stderr
    assert_unharmed(stack, before)


def test_a_marker_naming_a_missing_backup_is_reported_then_cleared(stack, tool, before):
    marker = stack.paths.pending_marker
    marker.write_text(json.dumps({"reason": "install certificates", "pid": 999999999, "backup": "20000101-000000"}))

    shown = tool("cron", "show")
    listed = tool("backups", "list")
    assert marker.exists()  # read-only commands report it and leave it alone
    renewed = tool("renew")

    assert shown.returncode == 0 and listed.returncode == 0, shown.stderr + listed.stderr
    assert "notice: an earlier run was interrupted while changing Apache" in shown.stderr
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert "its backup 20000101-000000 no longer exists, but Apache accepts the current configuration" in renewed.stderr
    assert_unharmed(stack, before)


def test_status_shows_a_damaged_certificate_and_doctor_runs_apaches_configtest(stack, tool, before):
    live = stack.paths.live(ADMIN)
    cert, key = live.cert.read_bytes(), live.key.read_bytes()
    live.cert.write_bytes(b"")
    try:
        status = tool("status")
    finally:
        live.cert.write_bytes(cert)
    live.key.unlink()
    try:
        doctor = tool("doctor", "--offline")
    finally:
        live.key.write_bytes(key)
        live.key.chmod(0o600)

    assert status.returncode == 0, status.stdout + status.stderr
    assert ADMIN in status.stdout and "cert.pem" in status.stdout
    assert doctor.returncode == 2, doctor.stdout
    assert doctor.stdout.startswith("ISPA-CERT CRITICAL")
    assert "apache-config: apache2ctl configtest fails, so the next reload will fail" in doctor.stdout
    assert str(live.key) in doctor.stdout
    assert_unharmed(stack, before)


def test_renew_against_a_broken_local_apache_is_not_counted_at_the_ca(stack, tool, before):
    broken = stack.paths.sites_enabled / "broken.conf"
    broken.write_text("NoSuchDirective on\n")
    try:
        results = [tool("renew", "--force", "--cron") for _ in range(2)]
    finally:
        broken.unlink()

    for result in results:
        assert result.returncode == 3, result.stdout + result.stderr
        assert "Apache rejects its current configuration" in result.stderr
        assert f"line 1 of {broken}" in result.stderr and "Invalid command 'NoSuchDirective'" in result.stderr
    assert_unharmed(stack, before)  # the ledger too: a local fault is no failed validation
