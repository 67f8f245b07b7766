"""`make install`, an upgrade, and `make uninstall` into a scratch root, starting from the layout
the previous version left on a server: a checkout's .venv named in /etc/crontab and linked by hand
into /usr/local/bin. One install is shared by the module; the tests run in file order.

apt-get and dpkg-query are stand-ins here (the only fakes): dpkg-query reports every package
missing, apt-get records what it was asked to install, so the test sees the whole production
package list without changing the machine.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEV_COMMAND = REPO / ".venv" / "bin" / "ispa-cert"
VERSION = re.search(r'^version = "(.+)"$', (REPO / "pyproject.toml").read_text(), re.MULTILINE).group(1)
TEST_ONLY_PACKAGES = {"apache2", "pebble", "python3-pytest"}
CRONTAB_BEFORE = (
    "# /etc/crontab: system-wide crontab\n"
    "SHELL=/bin/sh\n"
    "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n\n"
    "17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly\n"
)
INSTALLED = ("usr/local/sbin/ispa-cert", "etc/logrotate.d/ispa-cert",
             "usr/local/share/bash-completion/completions/ispa-cert", "usr/local/share/man/man8/ispa-cert.8")


class Scratch:
    """The scratch root, the fake apt tools and what the module's steps saw."""

    def __init__(self, root: Path, fakes: Path):
        self.root = root
        self.fakes = fakes
        self.apt_log = fakes / "apt-get.log"

    def make(self, *arguments: str) -> subprocess.CompletedProcess:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("ISPA_")}
        environment["PATH"] = f"{self.fakes}:{environment['PATH']}"
        return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *arguments, f"ROOT={self.root}"],
                              env=environment, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)

    def tool(self, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.root / "usr/local/sbin/ispa-cert"), "--root", str(self.root), *arguments],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)

    def files(self) -> dict[str, str]:
        """Every file and link under the root: relative path → content hash (links: their target)."""
        found = {}
        for directory, _, names in os.walk(self.root):
            for name in names:
                path = Path(directory, name)
                key = str(path.relative_to(self.root))
                found[key] = f"-> {os.readlink(path)}" if path.is_symlink() else \
                    hashlib.sha256(path.read_bytes()).hexdigest()
        return found

    @property
    def crontab(self) -> Path:
        return self.root / "etc/crontab"


def _fake(directory: Path, name: str, body: str) -> None:
    program = directory / name
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)


def _old_layout(root: Path) -> None:
    """What a server set up with the previous version has: certificates, state, backups, Apache, the
    crontab entry written by the checkout's .venv/bin/ispa-cert, the README's hand-made link."""
    data = root / "data/ispadmin_cert"
    live = data / "live/isp.example.net"
    live.mkdir(parents=True)
    for name in ("cert.pem", "key.pem", "fullchain.pem"):
        (live / name).write_text(f"-----BEGIN {name}-----\n")
    (data / "ispa-cert").mkdir()
    (data / "ispa-cert/state.json").write_text('{"version": 1, "roles": {"admin": "isp.example.net"}}\n')
    (data / "backups/20250302-051307").mkdir(parents=True)
    (data / "backups/20250302-051307/manifest.json").write_text("{}\n")
    (root / "etc/apache2/sites-available").mkdir(parents=True)
    (root / "etc/apache2/sites-available/ispadmin.conf").write_text("<VirtualHost *:80>\n</VirtualHost>\n")
    (root / "etc/crontab").write_text(CRONTAB_BEFORE)
    (root / "usr/local/bin").mkdir(parents=True)
    (root / "usr/local/bin/ispa-cert").symlink_to(DEV_COMMAND)
    written = subprocess.run([str(DEV_COMMAND), "--root", str(root), "cron", "install", "--schedule", "41 5 * * *"],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert written.returncode == 0, written.stderr


@pytest.fixture(scope="module")
def scratch():
    base = Path(tempfile.mkdtemp(prefix="ispa-install-"))
    root, fakes = base / "root", base / "fakes"
    root.mkdir()
    fakes.mkdir()
    _fake(fakes, "dpkg-query", "exit 1")
    _fake(fakes, "apt-get", f'echo "$*" >>"{fakes}/apt-get.log"')
    _old_layout(root)
    state = Scratch(root, fakes)
    state.before = state.files()
    state.crontab_before = state.crontab.read_text()
    stale = REPO / "build/lib/ispa_acmewrap/renamed_long_ago.py"  # what an earlier build left behind
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("raise SystemExit('a module removed from the source was installed')\n")
    state.installed = state.make("install")
    yield state
    stale.unlink(missing_ok=True)  # left in the checkout when make install failed before it cleared build/
    shutil.rmtree(base, ignore_errors=True)


def test_the_previous_layout_names_the_checkouts_venv(scratch):
    assert scratch.crontab_before == \
        CRONTAB_BEFORE + f"41 5 * * * root {DEV_COMMAND} --root {scratch.root} renew --cron # ispa-cert renew\n"


def test_install_asks_apt_for_the_runtime_packages_only(scratch):
    assert scratch.installed.returncode == 0, scratch.installed.stdout + scratch.installed.stderr
    requested = {package for line in scratch.apt_log.read_text().splitlines()
                 if line.split()[:2] == ["install", "-y"] for package in line.split()[2:] if not package.startswith("-")}
    assert {"curl", "openssl", "cron", "iproute2", "logrotate"} <= requested
    assert requested & TEST_ONLY_PACKAGES == set()


def test_the_environment_holds_no_test_tool_and_is_not_the_checkout(scratch):
    python = scratch.root / "usr/local/lib/ispa-cert/venv/bin/python"
    probe = ("import importlib.util, ispa_acmewrap; "
             "print(all(importlib.util.find_spec(m) is None for m in ('pytest', 'xdist')), ispa_acmewrap.__file__)")
    absent, location = subprocess.run([str(python), "-I", "-c", probe], capture_output=True, text=True,
                                      check=True).stdout.split()
    assert absent == "True"
    assert location.startswith(str(scratch.root / "usr/local/lib/ispa-cert/venv/"))
    assert not list((scratch.root / "usr/local/lib").rglob("*pebble*"))


def test_the_installed_package_holds_exactly_the_checkouts_modules(scratch):
    installed = Path(subprocess.run([str(scratch.root / "usr/local/lib/ispa-cert/venv/bin/python"), "-I", "-c",
                                     "import ispa_acmewrap; print(ispa_acmewrap.__path__[0])"],
                                    capture_output=True, text=True, check=True).stdout.strip())
    source = REPO / "ispa_acmewrap"
    assert sorted(str(path.relative_to(installed)) for path in installed.rglob("*.py")) == \
        sorted(str(path.relative_to(source)) for path in source.rglob("*.py"))


def test_the_installed_package_has_its_compiled_catalogues_without_babel(scratch):
    """The .mo files are compiled when the package is built (they are not in git); Babel is only
    a build requirement, so the production environment does not hold it."""
    package = scratch.root / "usr/local/lib/ispa-cert/venv/lib"
    compiled = sorted(path.parent.parent.name for path in package.rglob("ispa_acmewrap/locale/*/LC_MESSAGES/ispa-cert.mo"))
    assert compiled == ["cs", "en"]
    python = scratch.root / "usr/local/lib/ispa-cert/venv/bin/python"
    babel = subprocess.run([str(python), "-I", "-c", "import importlib.util; print(importlib.util.find_spec('babel'))"],
                           capture_output=True, text=True, check=True)
    assert babel.stdout.strip() == "None"
    czech = subprocess.run([str(scratch.root / "usr/local/sbin/ispa-cert"), "--help"], capture_output=True, text=True,
                           env={**os.environ, "LANG": "cs_CZ.UTF-8"}, check=True)
    assert "Jazyk zpráv" in czech.stdout


def test_the_command_on_roots_path_runs_and_finds_its_acme_sh(scratch):
    command = scratch.root / "usr/local/sbin/ispa-cert"
    assert os.readlink(command) == str(scratch.root / "usr/local/lib/ispa-cert/venv/bin/ispa-cert")
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout == f"ispa-cert {VERSION}\n"
    installed = scratch.tool("install")
    assert installed.returncode == 0, installed.stderr
    assert (scratch.root / "data/ispadmin_cert/acme/acme.sh").is_file()
    python = scratch.root / "usr/local/lib/ispa-cert/venv/bin/python"
    source = subprocess.run([str(python), "-I", "-c", "from ispa_acmewrap.paths import Paths; "
                             "print(Paths.from_root('/').vendor_acme_script)"], capture_output=True, text=True, check=True)
    assert source.stdout.strip() == str(scratch.root / "usr/local/lib/ispa-cert/vendor/acme.sh/acme.sh")


def test_the_crontab_entry_now_names_the_stable_command_and_keeps_its_schedule(scratch):
    stable = scratch.root / "usr/local/sbin/ispa-cert"
    assert scratch.crontab.read_text() == \
        CRONTAB_BEFORE + f"41 5 * * * root {stable} --root {scratch.root} renew --cron # ispa-cert renew\n"
    assert "entry updated" in scratch.installed.stdout
    shown = scratch.tool("cron", "show")
    assert "status: current:" in shown.stdout, shown.stdout


def test_the_hand_made_link_into_the_checkout_is_gone(scratch):
    assert not (scratch.root / "usr/local/bin/ispa-cert").is_symlink()
    assert "removed the old link" in scratch.installed.stdout


def test_certificates_state_backups_and_apache_are_untouched(scratch):
    now = scratch.files()
    for path, digest in scratch.before.items():
        if path.startswith(("data/", "etc/apache2/")):
            assert now.get(path) == digest, path


def test_the_logrotate_snippet_passes_logrotate_and_rotates_weekly_8_times(scratch):
    snippet = scratch.root / "etc/logrotate.d/ispa-cert"
    text = snippet.read_text()
    assert text.splitlines()[2] == \
        f"{scratch.root}/var/log/ispa-cert.log {scratch.root}/data/ispadmin_cert/acme/acme.sh.log {{"
    for directive in ("weekly", "rotate 8", "compress", "copytruncate"):
        assert f"\t{directive}\n" in text
    checked = subprocess.run(["logrotate", "-d", "-s", str(scratch.fakes / "logrotate.state"), str(snippet)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "error" not in (checked.stdout + checked.stderr).lower()
    for log in ("var/log/ispa-cert.log", "data/ispadmin_cert/acme/acme.sh.log"):
        assert f"considering log {scratch.root}/{log}" in checked.stdout + checked.stderr


def test_bash_completion_completes_commands_and_options(scratch):
    script = scratch.root / "usr/local/share/bash-completion/completions/ispa-cert"
    program = ("source \"$1\"; COMP_WORDS=(ispa-cert cr); COMP_CWORD=1; _ispa_cert_completion ispa-cert; echo \"${COMPREPLY[*]}\"; "
               "COMP_WORDS=(ispa-cert issue --admin-dom); COMP_CWORD=2; _ispa_cert_completion ispa-cert; echo \"${COMPREPLY[*]}\"")
    environment = {**os.environ, "PATH": f"{scratch.root}/usr/local/sbin:{os.environ['PATH']}"}
    completed = subprocess.run(["bash", "-c", program, "bash", str(script)], env=environment,
                               capture_output=True, text=True, check=True)
    assert completed.stdout.splitlines() == ["cron", "--admin-domain"]


def test_the_manual_page_covers_every_command(scratch):
    page = scratch.root / "usr/local/share/man/man8/ispa-cert.8"
    rendered = subprocess.run(["man", "-P", "cat", "-l", str(page)], env={**os.environ, "MANWIDTH": "100"},
                              capture_output=True, text=True, check=True).stdout
    assert rendered.startswith("ISPA-CERT(8)")
    for command in ("issue", "renew", "cron install", "cron remove", "doctor", "status", "backups restore"):
        assert f"ispa-cert {command}" in rendered


def test_upgrading_again_keeps_the_entry_and_every_file_of_the_server(scratch):
    before = scratch.files()
    upgraded = scratch.make("install")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "the entry is already there" in upgraded.stdout
    after = scratch.files()
    for path, digest in before.items():
        if path.startswith(("data/", "etc/", "usr/local/sbin/")) or path == "etc/crontab":
            assert after.get(path) == digest, path


def test_uninstall_without_a_terminal_asks_for_an_explicit_crontab_answer(scratch):
    refused = scratch.make("uninstall")
    assert refused.returncode != 0
    assert "CRON=remove or CRON=keep" in refused.stderr
    assert (scratch.root / "usr/local/sbin/ispa-cert").is_symlink()


def test_uninstall_removes_what_install_added_and_keeps_the_certificates(scratch):
    before = scratch.files()
    removed = scratch.make("uninstall", "CRON=remove")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    after = scratch.files()
    for path in INSTALLED:
        assert path in before and path not in after, path
    assert not (scratch.root / "usr/local/lib/ispa-cert").exists()
    assert scratch.crontab.read_text() == CRONTAB_BEFORE
    gone = set(before) - set(after)
    assert all(path in INSTALLED or path.startswith("usr/local/lib/ispa-cert/") for path in gone), sorted(gone)
    assert {path for path in after if path.startswith(("data/", "etc/apache2/"))} >= \
        {path for path in scratch.before if path.startswith(("data/", "etc/apache2/"))}
    assert "kept: the certificates" in removed.stdout


def test_install_and_uninstall_refuse_a_prefix_inside_the_checkout():
    """Earlier READMEs cloned into /opt/ispa-cert: an installation there would mix with the checkout."""
    for script in ("install", "uninstall"):
        environment = {**os.environ, "ROOT": str(REPO), "PREFIX": "/build/prefix"}
        refused = subprocess.run([str(REPO / "dist" / script)], env=environment, capture_output=True, text=True)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"PREFIX {REPO}/build/prefix lies inside this checkout {REPO}" in refused.stderr
    assert not (REPO / "build/prefix").exists()
