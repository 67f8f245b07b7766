"""cron.py against realistic /etc/crontab files: our one line changes, every other byte stays."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ispa_acmewrap import cron
from ispa_acmewrap.errors import BadInput

COMMAND = "/usr/local/bin/ispa-cert renew --cron"
LEGACY = (
    b"00 05 * * 7   root  /data/ispadmin_cert/acme/acme.sh --apache --renewAll"
    b" --home /data/ispadmin_cert/acme --certhome /data/ispadmin_cert #letsencrypt renew"
)

DEBIAN_12 = b"""\
# /etc/crontab: system-wide crontab
# Unlike any other crontab you don't have to run the `crontab'
# command to install the new version when you edit this file
# and files in /etc/cron.d. These files also have username fields,
# that none of the other crontabs do.

SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

# Example of job definition:
# .---------------- minute (0 - 59)
# |  .------------- hour (0 - 23)
# |  |  .---------- day of month (1 - 31)
# |  |  |  .------- month (1 - 12) OR jan,feb,mar,apr ...
# |  |  |  |  .---- day of week (0 - 6) (Sunday=0 or 7) OR sun,mon,tue,wed,thu,fri,sat
# |  |  |  |  |
# *  *  *  *  * user-name command to be executed
17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly
25 6\t* * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }
47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }
52 6\t1 * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }
#
"""

HAND_EDITED = b"""\
MAILTO="admin@example.net"
SHELL=/bin/bash
  # indented comment, trailing spaces follow   \n\
\n\
@reboot\t\troot\t/usr/local/sbin/firewall-up
0 0 * * *  root   tar czf /backup/etc-$(date +\\%F).tgz /etc
*/5 * * * * www-data echo "build #42" >> /tmp/builds.log
#0 3 * * * root /usr/local/bin/ispa-cert renew --cron # ispa-cert renew
# 00 05 * * 7   root  /data/ispadmin_cert/acme/acme.sh --renewAll #letsencrypt renew
#
0 1 * * 1-5\troot\t/usr/bin/mail -s report root%body line%
"""

FILES = {
    "debian-12": DEBIAN_12,
    "hand-edited": HAND_EDITED,
    "no-final-newline": b"SHELL=/bin/sh\n17 * * * * root run-parts /etc/cron.hourly",
    "latin-1-comment": b"# t\xe2che de sauvegarde du ma\xeetre\n30 2 * * * root /usr/local/sbin/backup\n",
    "empty": b"",
}
LEGACY_FILES = {
    "debian-12-with-legacy": DEBIAN_12.replace(b"52 6\t1", LEGACY + b"\n52 6\t1"),
    "legacy-last-no-newline": HAND_EDITED + LEGACY,
    "legacy-without-comment-under-root-prefix": DEBIAN_12.replace(
        b"#\n", b"0 5 * * 0 root /srv/box/data/ispadmin_cert/acme/acme.sh --renewAll --apache\n#\n"
    ),
}
ALL_FILES = {**FILES, **LEGACY_FILES}


def write_crontab(tmp_path: Path, content: bytes) -> Path:
    crontab = tmp_path / "etc" / "crontab"
    crontab.parent.mkdir()
    crontab.write_bytes(content)
    return crontab


def lines(content: bytes) -> list[bytes]:
    return content.splitlines(keepends=True)


def ours(content: bytes) -> list[bytes]:
    return [line for line in lines(content) if line.rstrip().endswith(b"# ispa-cert renew") and line[:1] != b"#"]


def without_ours(content: bytes) -> bytes:
    return b"".join(line for line in lines(content) if line not in ours(content))


def with_final_newline(content: bytes) -> bytes:
    return content if not content or content.endswith(b"\n") else content + b"\n"


def legacy_index(content: bytes) -> int:
    return next(index for index, line in enumerate(lines(content)) if b"--renewAll" in line and line[:1] != b"#")


def assert_no_temp_files(crontab: Path) -> None:
    assert [path.name for path in crontab.parent.iterdir()] == [crontab.name]


# --- install and remove keep every other byte -------------------------------------


@pytest.mark.parametrize("content", FILES.values(), ids=FILES.keys())
def test_install_adds_one_line_at_the_end_and_keeps_every_other_byte(tmp_path: Path, content: bytes) -> None:
    crontab = write_crontab(tmp_path, content)

    change = cron.install(crontab, COMMAND)

    after = crontab.read_bytes()
    assert change.action == "added" and change.previous is None
    assert ours(after) == [change.line.encode() + b"\n"]
    assert after == with_final_newline(content) + change.line.encode() + b"\n"
    assert without_ours(after) == with_final_newline(content)
    assert_no_temp_files(crontab)


@pytest.mark.parametrize("content", FILES.values(), ids=FILES.keys())
def test_remove_after_install_gives_the_original_back(tmp_path: Path, content: bytes) -> None:
    crontab = write_crontab(tmp_path, content)
    cron.install(crontab, COMMAND)

    change = cron.remove(crontab)

    assert change.action == "removed" and change.previous.endswith("# ispa-cert renew")
    assert crontab.read_bytes() == with_final_newline(content)
    assert cron.remove(crontab).action == "absent"
    assert crontab.read_bytes() == with_final_newline(content)
    assert_no_temp_files(crontab)


@pytest.mark.parametrize("content", ALL_FILES.values(), ids=ALL_FILES.keys())
def test_install_twice_leaves_one_entry_and_reports_unchanged(tmp_path: Path, content: bytes) -> None:
    crontab = write_crontab(tmp_path, content)
    first = cron.install(crontab, COMMAND)
    after_first = crontab.read_bytes()
    inode = crontab.stat().st_ino

    second = cron.install(crontab, COMMAND)

    assert second == cron.CronChange("unchanged", first.line, first.line)
    assert crontab.read_bytes() == after_first and crontab.stat().st_ino == inode
    entries = cron.read_entries(crontab)
    assert [(entry.legacy, entry.command, entry.text) for entry in entries] == [(False, COMMAND, first.line)]


# --- the guide's legacy line ---------------------------------------------------------


@pytest.mark.parametrize("content", LEGACY_FILES.values(), ids=LEGACY_FILES.keys())
def test_install_replaces_the_legacy_line_in_place(tmp_path: Path, content: bytes) -> None:
    crontab = write_crontab(tmp_path, content)
    index = legacy_index(content)
    legacy_text = lines(content)[index].rstrip(b"\n").decode()

    change = cron.install(crontab, COMMAND)

    before, after = lines(content), lines(crontab.read_bytes())
    assert change.action == "replaced-legacy" and change.previous == legacy_text
    assert after[index] == change.line.encode() + b"\n"
    assert after[:index] + after[index + 1 :] == before[:index] + before[index + 1 :]
    assert_no_temp_files(crontab)


@pytest.mark.parametrize("content", LEGACY_FILES.values(), ids=LEGACY_FILES.keys())
def test_remove_keeps_the_legacy_line_unless_asked(tmp_path: Path, content: bytes) -> None:
    crontab = write_crontab(tmp_path, content)
    assert cron.remove(crontab).action == "absent"
    assert crontab.read_bytes() == content

    change = cron.remove(crontab, remove_legacy=True)

    before = lines(content)
    index = legacy_index(content)
    assert change.action == "removed" and change.previous == before[index].rstrip(b"\n").decode()
    assert crontab.read_bytes() == b"".join(before[:index] + before[index + 1 :])


def test_legacy_line_is_read_as_legacy(tmp_path: Path) -> None:
    crontab = write_crontab(tmp_path, LEGACY_FILES["debian-12-with-legacy"])

    [entry] = cron.read_entries(crontab)

    assert entry.legacy and entry.user == "root" and entry.schedule == "00 05 * * 7"
    assert entry.command.startswith("/data/ispadmin_cert/acme/acme.sh --apache --renewAll")
    assert not entry.command.endswith("renew") and entry.line_number == legacy_index(crontab.read_bytes()) + 1


def test_ours_and_legacy_together_keep_ours_and_drop_legacy(tmp_path: Path) -> None:
    ours_line = b"7 5 * * *\troot\t/usr/local/bin/ispa-cert renew --cron  # ispa-cert renew\n"
    content = LEGACY_FILES["debian-12-with-legacy"] + ours_line
    crontab = write_crontab(tmp_path, content)

    change = cron.install(crontab, COMMAND)

    assert change.action == "updated" and change.line == cron.render_line("7 5 * * *", COMMAND)
    expected = lines(content)
    index = legacy_index(content)
    expected = expected[:index] + expected[index + 1 : -1] + [change.line.encode() + b"\n"]
    assert crontab.read_bytes() == b"".join(expected)


def test_replaced_line_keeps_its_own_line_ending(tmp_path: Path) -> None:
    content = b"SHELL=/bin/sh\r\n" + LEGACY + b"\r\n17 * * * * root true\r\n"
    crontab = write_crontab(tmp_path, content)

    change = cron.install(crontab, COMMAND)

    assert crontab.read_bytes() == content.replace(LEGACY, change.line.encode())


def test_duplicated_entries_are_merged_into_the_first(tmp_path: Path) -> None:
    line = cron.render_line("10 5 * * *", COMMAND).encode() + b"\n"
    crontab = write_crontab(tmp_path, line + DEBIAN_12 + line)

    assert cron.install(crontab, COMMAND).action == "updated"
    assert crontab.read_bytes() == line + DEBIAN_12


# --- schedules ------------------------------------------------------------------------


def test_existing_schedule_is_kept_and_explicit_one_replaces_it(tmp_path: Path) -> None:
    crontab = write_crontab(tmp_path, DEBIAN_12)
    assert cron.install(crontab, COMMAND, schedule="00  05 * * 7").line == cron.render_line("00 05 * * 7", COMMAND)

    assert cron.install(crontab, COMMAND).action == "unchanged"
    moved = cron.install(crontab, "/opt/ispa/bin/ispa-cert renew --cron")
    assert moved.action == "updated" and moved.line == cron.render_line("00 05 * * 7", "/opt/ispa/bin/ispa-cert renew --cron")

    changed = cron.install(crontab, COMMAND, schedule="30 4 * * *")
    assert changed.action == "updated" and changed.previous == moved.line
    assert [entry.schedule for entry in cron.read_entries(crontab)] == ["30 4 * * *"]
    assert without_ours(crontab.read_bytes()) == DEBIAN_12


@pytest.mark.parametrize("schedule", ["61 5 * * *", "5 5 * *", "daily", "@fortnightly", "5 5 * * * root", "", "5 5 * * 8"])
def test_invalid_schedule_is_refused_and_the_file_untouched(tmp_path: Path, schedule: str) -> None:
    content = LEGACY_FILES["debian-12-with-legacy"]
    crontab = write_crontab(tmp_path, content)

    with pytest.raises(BadInput, match="not a valid cron schedule"):
        cron.install(crontab, COMMAND, schedule=schedule)

    assert crontab.read_bytes() == content
    assert_no_temp_files(crontab)


# --- refusing ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ispa-cert renew --cron", "/bin/x renew\n* * * * * root sh", "/bin/date +%F"])
def test_unsafe_command_is_refused(tmp_path: Path, command: str) -> None:
    crontab = write_crontab(tmp_path, DEBIAN_12)

    with pytest.raises(BadInput):
        cron.install(crontab, command)

    assert crontab.read_bytes() == DEBIAN_12


def test_entry_python_crontab_reads_differently_is_refused(tmp_path: Path) -> None:
    content = DEBIAN_12 + b'@reboot root echo "build #42" # ispa-cert renew\n'
    crontab = write_crontab(tmp_path, content)

    with pytest.raises(BadInput, match="cannot tell reliably"):
        cron.install(crontab, COMMAND)
    with pytest.raises(BadInput):
        cron.remove(crontab)

    assert crontab.read_bytes() == content


# --- writing: atomic, mode, owner, missing file --------------------------------------------


def test_mode_and_owner_are_preserved(tmp_path: Path) -> None:
    crontab = write_crontab(tmp_path, DEBIAN_12)
    crontab.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(crontab, 65534, 65534)
    owner = (crontab.stat().st_uid, crontab.stat().st_gid)

    for change in (lambda: cron.install(crontab, COMMAND), lambda: cron.remove(crontab)):
        change()
        assert stat.S_IMODE(crontab.stat().st_mode) == 0o600
        assert (crontab.stat().st_uid, crontab.stat().st_gid) == owner


def test_failed_rename_leaves_the_original_and_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crontab = write_crontab(tmp_path, DEBIAN_12)

    def refuse(*_args: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk on fire"):
        cron.install(crontab, COMMAND)

    assert crontab.read_bytes() == DEBIAN_12
    assert_no_temp_files(crontab)


def test_symlinked_crontab_is_written_through_the_link(tmp_path: Path) -> None:
    real = write_crontab(tmp_path, DEBIAN_12)
    link = tmp_path / "link"
    link.symlink_to(real)

    cron.install(link, COMMAND)

    assert link.is_symlink() and without_ours(real.read_bytes()) == DEBIAN_12


def test_missing_crontab(tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    assert cron.read_entries(crontab) == []
    assert cron.remove(crontab) == cron.CronChange("absent", None, None)
    assert not crontab.exists()

    previous_umask = os.umask(0o077)
    try:
        change = cron.install(crontab, COMMAND, schedule="00 05 * * 7")
    finally:
        os.umask(previous_umask)

    assert change.action == "added"
    assert crontab.read_bytes() == b"00 05 * * 7 root " + COMMAND.encode() + b" # ispa-cert renew\n"
    assert stat.S_IMODE(crontab.stat().st_mode) == 0o644


# --- doctor's view -----------------------------------------------------------------------------


@pytest.fixture
def executable(tmp_path: Path) -> Path:
    program = tmp_path / "bin" / "ispa-cert"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    return program


def test_entry_status_states(tmp_path: Path, executable: Path) -> None:
    command = f"{executable} renew --cron"
    crontab = write_crontab(tmp_path, DEBIAN_12)
    assert cron.entry_status(crontab, command).state == "missing"

    crontab.write_bytes(LEGACY_FILES["debian-12-with-legacy"])
    legacy_only = cron.entry_status(crontab, command)
    assert legacy_only.state == "legacy-only" and legacy_only.entry.legacy

    crontab.write_bytes(LEGACY_FILES["debian-12-with-legacy"] + cron.render_line("1 5 * * *", command).encode() + b"\n")
    assert cron.entry_status(crontab, command).state == "legacy-also"
    assert cron.entry_status(crontab, "/elsewhere/ispa-cert renew --cron").state == "differs"

    cron.remove(crontab, remove_legacy=True)
    cron.install(crontab, command)
    current = cron.entry_status(crontab, command)
    assert current.state == "current" and current.entry.command == command

    executable.chmod(0o644)
    assert cron.entry_status(crontab, command).state == "not-executable"
    executable.unlink()
    assert cron.entry_status(crontab, command).state == "not-executable"


# --- cadence: refuse schedules that never run, two attempts within the last third -----------------

from datetime import timedelta  # noqa: E402

from ispa_acmewrap import health  # noqa: E402

DAYS = timedelta(days=1)


@pytest.mark.parametrize("schedule, said", [("@reboot", "only when the server starts"),
                                            ("0 5 31 2 *", "never runs"), ("0 5 30 2 *", "never runs"),
                                            ("0 5 31 4,6,9,11 *", "never runs")])
def test_schedules_that_never_run_or_only_at_boot_are_refused_untouched(tmp_path: Path, schedule: str, said: str):
    crontab = tmp_path / "crontab"
    crontab.write_text("SHELL=/bin/sh\n")
    with pytest.raises(BadInput) as refused:
        cron.install(crontab, "/usr/local/bin/ispa-cert renew --cron", schedule)
    assert said in refused.value.message
    assert crontab.read_text() == "SHELL=/bin/sh\n"


@pytest.mark.parametrize("schedule, span", [
    ("07 5 * * *", 2 * DAYS), ("00 05 * * 7", 14 * DAYS), ("@weekly", 14 * DAYS), ("0 5,17 * * *", DAYS),
    ("*/5 * * * *", timedelta(minutes=10)), ("0 */8 * * *", timedelta(hours=16)),
    ("0 0-23 * * 1-5", timedelta(days=2, hours=2)), ("0 5 1 * *", 62 * DAYS), ("0 5 29 2 *", 8 * 366 * DAYS),
])
def test_two_attempt_span(schedule: str, span: timedelta):
    assert cron.two_attempt_span(schedule) == span


@pytest.mark.parametrize("days, hours", [(90, "5"), (45, "5"), (6, "5"), (3, "5,17"), (2, "5,13,21"),
                                         (1, "1,5,9,13,17,21")])
def test_the_chosen_cadence_gives_two_attempts_in_the_last_third(days: float, hours: str):
    schedule = cron.cadence_for(timedelta(days=days), 7)
    assert schedule == f"07 {hours} * * *"
    assert cron.two_attempt_span(schedule) <= timedelta(days=days) / 3
    assert cron.sparse_warning(schedule, timedelta(days=days)) is None
    assert cron.cadence_for(timedelta(days=days, seconds=-1), 7) == schedule  # notAfter is inclusive


def test_the_guides_weekly_run_is_fine_down_to_45_days_but_not_for_6():
    assert cron.sparse_warning("00 05 * * 7", 90 * DAYS) is None
    assert cron.sparse_warning("00 05 * * 7", 45 * DAYS) is None  # 14 days for two runs, a third is 15
    assert cron.sparse_warning("00 05 * * 7", 6 * DAYS) == (
        "it takes up to 14 days for two renewal attempts, more than the last third (2 days) of the "
        "shortest certificate lifetime on record (6 days)")


def test_a_given_sparse_schedule_is_kept_with_a_warning_and_an_old_one_is_tightened(tmp_path: Path):
    crontab = tmp_path / "crontab"
    command = "/usr/local/bin/ispa-cert renew --cron"
    given = cron.install(crontab, command, "00 05 * * 7", shortest_lifetime=6 * DAYS)
    assert given.line.startswith("00 05 * * 7 ") and "more than the last third (2 days)" in given.note
    tightened = cron.install(crontab, command, shortest_lifetime=6 * DAYS)
    assert tightened.action == "updated" and tightened.line.startswith("00 5 * * * root ")
    assert "was too sparse" in tightened.note
    kept = cron.install(crontab, command, shortest_lifetime=6 * DAYS)
    assert kept.action == "unchanged" and kept.note is None


def test_doctor_warns_when_the_entry_is_too_sparse():
    ok = health.Finding("cron", health.Severity.OK, "/etc/crontab line 3 runs `x` at `00 05 * * 7`")
    warned = health.cron_cadence_finding(ok, cron.sparse_warning("00 05 * * 7", 6 * DAYS))
    assert warned.severity is health.Severity.WARN and "ispa-cert cron install" in warned.fix
    assert health.cron_cadence_finding(ok, cron.sparse_warning("00 05 * * 7", 90 * DAYS)) is ok
# --- update: what make install runs when ispa-cert itself is upgraded ------------------------


OLD_COMMAND = "/opt/checkout/.venv/bin/ispa-cert renew --cron"


def test_update_points_our_entry_at_the_new_command_and_keeps_its_schedule_and_the_legacy_line(tmp_path: Path) -> None:
    ours_line = b"41 5 * * *\troot\t" + OLD_COMMAND.encode() + b"  # ispa-cert renew\n"
    content = LEGACY_FILES["debian-12-with-legacy"] + ours_line + b"@reboot root true\n"
    crontab = write_crontab(tmp_path, content)

    change = cron.update(crontab, COMMAND)

    assert change.action == "updated" and change.previous == ours_line.decode().rstrip("\n")
    assert change.line == cron.render_line("41 5 * * *", COMMAND)
    assert crontab.read_bytes() == content.replace(ours_line, change.line.encode() + b"\n")
    assert cron.update(crontab, COMMAND).action == "unchanged"


@pytest.mark.parametrize("content", [DEBIAN_12, LEGACY_FILES["debian-12-with-legacy"]], ids=["plain", "legacy-only"])
def test_update_adds_nothing_and_leaves_the_guides_line_alone(tmp_path: Path, content: bytes) -> None:
    crontab = write_crontab(tmp_path, content)

    assert cron.update(crontab, COMMAND) == cron.CronChange("skipped", None, None)
    assert crontab.read_bytes() == content


def test_issue_reports_the_cron_change_in_words_not_its_code_name(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from ispa_acmewrap.actions.issue import IssueResult
    from ispa_acmewrap.paths import Paths
    from ispa_acmewrap.report import issue_summary

    settings = SimpleNamespace(paths=Paths.from_root(tmp_path))
    ours = "58 5 * * * root /usr/local/sbin/ispa-cert renew --cron # ispa-cert renew"
    taken_over = cron.CronChange("replaced-legacy", ours, "00 05 * * 7 root acme.sh --renewAll", None)
    tightened = cron.CronChange("updated", ours, ours, "the schedule `0 5 1 * *` was too sparse: x")

    text = issue_summary(settings, IssueResult(cron_change=taken_over))
    assert f"Renewal: {settings.paths.crontab}: the guide's acme.sh line was replaced by: {ours}" in text
    assert "replaced-legacy" not in text
    assert "(a new schedule: the schedule `0 5 1 * *` was too sparse: x)" in \
        issue_summary(settings, IssueResult(cron_change=tightened))
