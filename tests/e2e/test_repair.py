"""`ispa-cert repair` against the real stack: archive, reinstall, same account, reissue,
and Apache serving HTTPS the whole time."""

from __future__ import annotations

import os
import pty
import stat
import subprocess
import tarfile
from datetime import datetime, timedelta, timezone

import pytest

from ispa_acmewrap import acme, state as state_store
from tests.conftest import ToolRunner, ispa_cert_executable
from tests.e2e.support import HttpsWatch, account_keys, issue_both, serial_on_disk, serial_served
from tests.factories import ADMIN, PORTAL

pytestmark = pytest.mark.e2e


def repair_archives(paths) -> list:
    return sorted(paths.backups_dir.glob("repair-*.tar.gz")) if paths.backups_dir.exists() else []


def test_repair_reissue_keeps_the_account_and_https_keeps_being_served(stack, ispa_cert):
    issue_both(ispa_cert)
    paths = stack.paths
    legacy_home, legacy_script = paths.legacy_acme_dirs
    legacy_home.mkdir(parents=True)
    (legacy_home / "account.conf").write_text("# the guide's first acme.sh install\n")
    legacy_script.mkdir(parents=True)
    keys = account_keys(paths)
    assert keys
    serials = {name: serial_on_disk(paths, name) for name in (ADMIN, PORTAL)}

    with HttpsWatch(stack, [ADMIN, PORTAL]) as watch:
        result = ispa_cert("repair", "--reissue", "--yes", "--server-ip", "127.0.0.1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert watch.polls > 10 and watch.gaps == []
    [archive] = repair_archives(paths)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"root/.acme.sh/account.conf", "root/acme.sh", "data/ispadmin_cert/acme/acme.sh"} <= names
    assert any(name.endswith("/account.key") for name in names)
    assert not legacy_home.exists() and not legacy_script.exists()
    assert paths.acme_script.exists() and acme.issued_names(paths) == [ADMIN, PORTAL]
    assert account_keys(paths) == keys
    assert "the ACME account was put back" in result.stdout
    for name in (ADMIN, PORTAL):
        assert serial_on_disk(paths, name) != serials[name]
        assert serial_served(stack, name) == serial_on_disk(paths, name)
    record = state_store.load_state(paths.state_file)
    assert state_store.issuances_in_window(record, [ADMIN], datetime.now(timezone.utc)) == 2

    with HttpsWatch(stack, [ADMIN, PORTAL]) as watch:
        fresh = ispa_cert("repair", "--reissue", "--new-account", "--yes", "--server-ip", "127.0.0.1")

    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert watch.gaps == []
    assert len(repair_archives(paths)) == 2
    new_keys = account_keys(paths)
    assert new_keys
    assert set(new_keys.values()).isdisjoint(keys.values())
    assert serial_served(stack, ADMIN) == serial_on_disk(paths, ADMIN)


def test_after_a_new_account_renewals_go_on_though_the_ca_refuses_to_replace_the_old_accounts_certificates(
        stack, ispa_cert):
    """acme.sh's renewal names the certificate it replaces (ARI); the CA refuses that for a certificate
    of another account. After `repair --new-account` no renewal may end there, nor count as a failed
    validation: ispa-cert orders once more without naming it."""
    issue_both(ispa_cert)
    paths = stack.paths
    serials = {name: serial_on_disk(paths, name) for name in (ADMIN, PORTAL)}
    assert ispa_cert("repair", "--new-account", "--yes").returncode == 0
    log_start = paths.log_file.stat().st_size

    renewed = ispa_cert("renew", "--force")

    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    log = paths.log_file.read_text()[log_start:]
    assert "requester account did not request the certificate being replaced" in log  # the CA did refuse
    assert "ordering again without naming the certificate it replaces" in log
    for name in (ADMIN, PORTAL):
        assert serial_on_disk(paths, name) != serials[name]
        assert serial_served(stack, name) == serial_on_disk(paths, name)
    assert not state_store.load_state(paths.state_file).failures  # nothing counted against the names


@pytest.fixture
def bare_ispa_cert(sandbox_root) -> ToolRunner:
    """ispa-cert on a sandbox root without the stack: for what never reaches the CA or Apache."""
    return ToolRunner({"ISPA_ROOT": str(sandbox_root)})


def test_reissue_beyond_the_weekly_limit_is_refused_before_anything_is_touched(sandbox_paths, bare_ispa_cert):
    moment = datetime.now(timezone.utc)
    record = state_store.with_role(state_store.State(), "admin", ADMIN)
    for days in range(5):
        record = state_store.record_issuance(record, [ADMIN], "issue", moment - timedelta(days=days, hours=1))
    state_store.save_state(sandbox_paths.state_file, record)
    sandbox_paths.acme_home.mkdir(parents=True)
    (sandbox_paths.acme_home / "account.conf").write_text("ACCOUNT_EMAIL='a@example.net'\n")

    result = bare_ispa_cert("repair", "--reissue", "--yes")

    assert result.returncode == 4, result.stdout + result.stderr
    assert "5 certificates for the same name per 7 days" in result.stderr
    assert f"{ADMIN} (next possible after" in result.stderr
    assert (sandbox_paths.acme_home / "account.conf").exists()
    assert repair_archives(sandbox_paths) == []


def test_repair_without_a_terminal_or_yes_asks_nobody_and_changes_nothing(sandbox_paths, bare_ispa_cert):
    sandbox_paths.acme_home.mkdir(parents=True)
    result = bare_ispa_cert("repair")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no terminal to answer" in result.stderr and "Traceback" not in result.stderr
    assert sandbox_paths.acme_home.exists() and repair_archives(sandbox_paths) == []


def test_a_no_at_the_prompt_changes_nothing_and_is_no_failure(sandbox_paths, sandbox_root):
    sandbox_paths.acme_home.mkdir(parents=True)
    controller, terminal = pty.openpty()
    process = subprocess.Popen([ispa_cert_executable(), "repair"], stdin=terminal, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "ISPA_ROOT": str(sandbox_root)})
    os.close(terminal)
    os.write(controller, b"n\n")
    out, err = process.communicate(timeout=60)
    os.close(controller)
    assert process.returncode == 0, out.decode() + err.decode()
    assert b"Nothing was changed." in out
    assert sandbox_paths.acme_home.exists() and repair_archives(sandbox_paths) == []
