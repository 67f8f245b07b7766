"""`ispa-cert cron install | show | remove` through the installed CLI on a sandbox /etc/crontab."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ToolRunner

pytestmark = pytest.mark.e2e

LEGACY = ("00 05 * * 7   root  /data/ispadmin_cert/acme/acme.sh --apache --renewAll --home "
          "/data/ispadmin_cert/acme --certhome /data/ispadmin_cert #letsencrypt renew")
BEFORE = (
    "# /etc/crontab: system-wide crontab\n"
    "SHELL=/bin/sh\n"
    "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n"
    "MAILTO=root\n\n"
    "17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly\n"
    f"{LEGACY}\n"
    "@reboot root date +%s > /run/booted\n"
    "# 0 3 * * * root /usr/local/bin/backup   (disabled)\n"
    "47 6 * 1-12 7 root test -x /usr/sbin/anacron || run-parts --report /etc/cron.weekly"
)


@pytest.fixture
def run(sandbox_paths, sandbox_root) -> ToolRunner:
    sandbox_paths.crontab.parent.mkdir(parents=True)
    sandbox_paths.crontab.write_text(BEFORE)
    sandbox_paths.crontab.chmod(0o644)
    return ToolRunner({"ISPA_ROOT": str(sandbox_root)})


def ours(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.endswith("# ispa-cert renew")]


def test_install_replaces_the_legacy_line_in_place_and_keeps_every_other_line(sandbox_paths, run):
    installed = run("cron", "install")

    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "the guide's acme.sh line was replaced" in installed.stdout
    after = sandbox_paths.crontab.read_text()
    [line] = ours(after)
    assert re.fullmatch(r"\d\d 5 \* \* \* root /\S+/ispa-cert --root \S+ renew --cron # ispa-cert renew", line)
    assert after == BEFORE.replace(LEGACY, line)  # in place; no final newline is added either
    assert sandbox_paths.crontab.stat().st_mode & 0o777 == 0o644

    again = run("cron", "install")
    assert again.returncode == 0 and "already there" in again.stdout
    assert sandbox_paths.crontab.read_text() == after

    shown = run("cron", "show")
    assert shown.returncode == 0 and "status: current" in shown.stdout and line in shown.stdout


def test_schedule_show_and_remove(sandbox_paths, run):
    sunday = run("cron", "install", "--schedule", "00 05 * * 7")
    assert sunday.returncode == 0, sunday.stdout + sunday.stderr
    [line] = ours(sandbox_paths.crontab.read_text())
    assert line.startswith("00 05 * * 7 root ")

    removed = run("cron", "remove")
    assert removed.returncode == 0 and "removed:" in removed.stdout
    assert sandbox_paths.crontab.read_text() == BEFORE.replace(f"{LEGACY}\n", "")
    assert run("cron", "remove").stdout.endswith("there is no entry to remove\n")
    shown = run("cron", "show")
    assert "status: missing" in shown.stdout and "`ispa-cert cron install`" in shown.stdout


def test_remove_legacy_and_show_it_first(sandbox_paths, run):
    shown = run("cron", "show")
    assert "(the guide's acme.sh line)" in shown.stdout and "status: legacy-only" in shown.stdout
    removed = run("cron", "remove", "--legacy")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert sandbox_paths.crontab.read_text() == BEFORE.replace(f"{LEGACY}\n", "")


def test_a_bad_schedule_is_bad_input_and_changes_nothing(sandbox_paths, run):
    result = run("cron", "install", "--schedule", "every sunday")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert sandbox_paths.crontab.read_text() == BEFORE
