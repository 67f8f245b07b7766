"""`ispa-cert upgrade` with the real acme.sh on a sandbox root: an older install is replaced
by the vendored one, the account and the certificates stay; an unknown version is left alone."""

from __future__ import annotations

import re

import pytest

from ispa_acmewrap.paths import Paths
from tests.conftest import REPO, ToolRunner
from tests.e2e.support import account_keys, serial_on_disk, serial_served
from tests.factories import ADMIN

pytestmark = pytest.mark.e2e

VENDORED = re.search(r"^VER=(\S+)$", Paths.from_root("/").vendor_acme_script.read_text(), re.MULTILINE).group(1)


@pytest.fixture
def installed(sandbox_paths, sandbox_root):
    """acme.sh installed from vendor/, with an account and a certificate directory beside it."""
    run = ToolRunner({"ISPA_ROOT": str(sandbox_root)})
    result = run("install")
    assert result.returncode == 0, result.stdout + result.stderr
    account = sandbox_paths.acme_ca_dir / "acme-v02.api.letsencrypt.org" / "directory"
    account.mkdir(parents=True)
    (account / "account.key").write_bytes(b"-----BEGIN EC PRIVATE KEY-----\nthe account\n")
    (account / "ca.conf").write_text("ACCOUNT_URL='https://acme-v02.api.letsencrypt.org/acme/acct/1'\n")
    with sandbox_paths.acme_account_conf.open("a") as conf:
        conf.write("ACCOUNT_EMAIL='admin@example.net'\n")
    domain = sandbox_paths.cert_home / "isp.example.net_ecc"
    domain.mkdir()
    (domain / "isp.example.net.conf").write_text("Le_Domain='isp.example.net'\n")
    return run


def set_version(script, version: str) -> None:
    script.write_text(re.sub(r"^VER=\S+$", f"VER={version}", script.read_text(), count=1, flags=re.MULTILINE))


def snapshot(paths) -> dict[str, bytes]:
    kept = [*paths.acme_ca_dir.rglob("*"), *(paths.cert_home / "isp.example.net_ecc").rglob("*")]
    return {str(path): path.read_bytes() for path in kept if path.is_file()}


def test_an_older_install_is_replaced_by_the_vendored_one(sandbox_paths, installed):
    before = snapshot(sandbox_paths)
    set_version(sandbox_paths.acme_script, "3.0.0")

    result = installed("upgrade")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"acme.sh upgraded from 3.0.0 to {VENDORED}" in result.stdout
    assert f"VER={VENDORED}\n" in sandbox_paths.acme_script.read_text()
    assert snapshot(sandbox_paths) == before
    assert "ACCOUNT_EMAIL='admin@example.net'" in sandbox_paths.acme_account_conf.read_text()

    again = installed("upgrade")
    assert again.returncode == 0 and "nothing to do" in again.stdout


@pytest.mark.parametrize("version, said", [("master", "unknown"), ("9.9.9", "newer than the vendored")])
def test_an_unknown_or_newer_install_is_left_alone(sandbox_paths, installed, version, said):
    set_version(sandbox_paths.acme_script, version)
    script = sandbox_paths.acme_script.read_bytes()

    result = installed("upgrade")

    assert result.returncode == 0, result.stdout + result.stderr
    assert said in result.stdout
    assert sandbox_paths.acme_script.read_bytes() == script


def test_nothing_installed_gets_the_vendored_one(sandbox_paths, sandbox_root):
    result = ToolRunner({"ISPA_ROOT": str(sandbox_root)})("upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"acme.sh {VENDORED} installed from vendor/" in result.stdout
    assert sandbox_paths.acme_script.exists()


OLD_ACME = REPO / ".cache" / "acme.sh-3.1.1"  # tests/pins/acme.sh-3.1.1.lock, fetched by make install


def test_an_installation_issued_with_3_1_1_is_upgraded_keeping_account_and_certificate(stack):
    """The first version of ispa-cert shipped acme.sh 3.1.1: issue with it, upgrade, renew with replaces."""
    assert (OLD_ACME / "acme.sh").exists(), f"{OLD_ACME} is missing: run `make install`"
    old = ToolRunner({**stack.tool_env(), "ISPA_VENDOR_DIR": str(OLD_ACME)})
    issued = old("issue", "-a", "--admin-domain", ADMIN, "--server-ip", "127.0.0.1", "--yes")
    assert issued.returncode == 0, issued.stdout + issued.stderr
    assert "VER=3.1.1\n" in stack.paths.acme_script.read_text()
    accounts, serial = account_keys(stack.paths), serial_on_disk(stack.paths, ADMIN)
    domain_conf = (stack.paths.cert_home / f"{ADMIN}_ecc" / f"{ADMIN}.conf").read_text()

    tool = ToolRunner(stack.tool_env())
    result = tool("upgrade")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"acme.sh upgraded from 3.1.1 to {VENDORED}; the account and certificates are kept." in result.stdout
    assert f"VER={VENDORED}\n" in stack.paths.acme_script.read_text()
    assert account_keys(stack.paths) == accounts and serial_on_disk(stack.paths, ADMIN) == serial
    assert (stack.paths.cert_home / f"{ADMIN}_ecc" / f"{ADMIN}.conf").read_text() == domain_conf
    replacements = len(stack.pebble.replacements())

    renewed = tool("renew", "--force")  # 3.1.5 renews what 3.1.1 issued, on the same account, naming it

    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert serial_on_disk(stack.paths, ADMIN) != serial
    assert serial_served(stack, ADMIN) == serial_on_disk(stack.paths, ADMIN)
    assert account_keys(stack.paths) == accounts
    assert len(stack.pebble.replacements()) == replacements + 1
