"""repair: the weekly limit on identical certificates, keeping the ACME account, the archive."""

from __future__ import annotations

import stat
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ispa_acmewrap import state as state_store
from ispa_acmewrap.actions import repair
from ispa_acmewrap.errors import PreconditionMissing, RateLimited
from ispa_acmewrap.paths import Paths
from tests.factories import CLIENT_NAME as PORTAL, NAME as ADMIN

NOW = datetime(2026, 3, 8, 12, 0, tzinfo=timezone.utc)


def with_issuances(*days_ago: float, name: str = ADMIN) -> state_store.State:
    record = state_store.with_role(state_store.with_role(state_store.State(), "admin", ADMIN), "client", PORTAL)
    for days in days_ago:
        record = state_store.record_issuance(record, [name], "issue", NOW - timedelta(days=days))
    return record


# --- the CA's 5 certificates per set of names and 7 days ----------------------------------------

def test_names_on_record_in_role_order():
    assert state_store.names_on_record(with_issuances()) == [ADMIN, PORTAL]


def test_reissue_is_allowed_below_the_limit_and_warned_at_the_last_one():
    assert repair.check_reissue(with_issuances(1, 2, 3), [ADMIN, PORTAL], NOW) == []
    warnings = repair.check_reissue(with_issuances(1, 2, 3, 4), [ADMIN, PORTAL], NOW)
    assert warnings == [f"this is the last certificate for {ADMIN} the CA allows within 7 days"]


def test_reissue_is_refused_when_it_would_exceed_the_limit_and_says_when_it_is_possible():
    record = with_issuances(6, 5, 4, 1, 0.5, 8)  # the 8-day-old one is outside the window
    with pytest.raises(RateLimited) as raised:
        repair.check_reissue(record, [ADMIN, PORTAL], NOW)
    assert raised.value.exit_code == 4
    assert f"{ADMIN} (next possible after {NOW + timedelta(days=1):%Y-%m-%d %H:%M} UTC)" in raised.value.message
    assert PORTAL not in raised.value.message


def test_other_name_sets_do_not_count():
    record = with_issuances(1, 2, 3, 4, 5, name=PORTAL)
    for day in (1, 2, 3, 4, 5):
        record = state_store.record_issuance(record, [ADMIN, PORTAL], "issue", NOW - timedelta(days=day))
    assert repair.reissue_allowed_after(record, ADMIN, NOW) is None
    assert repair.reissue_allowed_after(record, PORTAL, NOW) is not None


def test_no_names_on_record_cannot_be_reissued():
    with pytest.raises(PreconditionMissing, match="no names on record"):
        repair.check_reissue(state_store.State(), [], NOW)


# --- the account ---------------------------------------------------------------------------------

ACCOUNT_CONF = """\
LOG_FILE='/data/ispadmin_cert/acme/acme.sh.log'
ACCOUNT_EMAIL='admin@example.net'
CA_BUNDLE='/etc/ssl/test-ca.pem'
USER_PATH='/usr/bin:/bin'
"""


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    paths = Paths.from_root(tmp_path)
    account_dir = paths.acme_ca_dir / "acme-v02.api.letsencrypt.org" / "directory"
    account_dir.mkdir(parents=True)
    (account_dir / "account.key").write_bytes(b"-----BEGIN EC PRIVATE KEY-----\nkey\n")
    (account_dir / "account.key").chmod(0o600)
    (account_dir / "account.json").write_text('{"contact": []}')
    (account_dir / "ca.conf").write_text("ACCOUNT_URL='https://acme/acct/1'\n")
    paths.acme_account_conf.write_text(ACCOUNT_CONF)
    return paths


def test_the_account_is_saved_and_put_back_byte_for_byte(paths):
    saved = repair.save_account(paths)
    assert saved.has_key
    assert saved.settings == ("ACCOUNT_EMAIL='admin@example.net'", "CA_BUNDLE='/etc/ssl/test-ca.pem'")
    before = {path: path.read_bytes() for path in paths.acme_ca_dir.rglob("*") if path.is_file()}

    repair.shutil.rmtree(paths.acme_home)
    paths.acme_home.mkdir()
    paths.acme_account_conf.write_text("LOG_LEVEL='1'\nCA_BUNDLE='stale'\n")
    repair.restore_account(paths, saved, keep_account=True)

    assert {path: path.read_bytes() for path in paths.acme_ca_dir.rglob("*") if path.is_file()} == before
    key = next(paths.acme_ca_dir.rglob("account.key"))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert paths.acme_account_conf.read_text() == (
        "LOG_LEVEL='1'\nACCOUNT_EMAIL='admin@example.net'\nCA_BUNDLE='/etc/ssl/test-ca.pem'\n")


def test_a_new_account_keeps_only_the_settings(paths):
    saved = repair.save_account(paths)
    repair.shutil.rmtree(paths.acme_home)
    paths.acme_home.mkdir()
    repair.restore_account(paths, saved, keep_account=False)
    assert not paths.acme_ca_dir.exists()
    assert "ACCOUNT_EMAIL='admin@example.net'" in paths.acme_account_conf.read_text()


def test_nothing_to_save_without_an_account(tmp_path):
    saved = repair.save_account(Paths.from_root(tmp_path))
    assert saved == repair.SavedAccount() and not saved.has_key


# --- the archive -----------------------------------------------------------------------------------

def test_the_archive_is_private_and_holds_every_directory_by_its_path(paths):
    legacy, script_dir = paths.legacy_acme_dirs
    (legacy / "ca").mkdir(parents=True)
    (legacy / "account.conf").write_text("old\n")
    script_dir.mkdir(parents=True)
    directories = [legacy, script_dir, paths.acme_home]

    first = repair.archive_directories(directories, paths.root, paths.backups_dir, NOW)
    second = repair.archive_directories(directories, paths.root, paths.backups_dir, NOW)

    assert first.name == "repair-20260308-120000.tar.gz" and second.name == "repair-20260308-120000-2.tar.gz"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    with tarfile.open(first) as archive:
        names = archive.getnames()
        key = next(name for name in names if name.endswith("account.key"))
        assert archive.extractfile(key).read().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert {"root/.acme.sh", "root/.acme.sh/account.conf", "root/acme.sh", "data/ispadmin_cert/acme",
            "data/ispadmin_cert/acme/account.conf"} <= set(names)
    assert key.startswith("data/ispadmin_cert/acme/ca/")
