"""The one system-crontab entry that runs `ispa-cert renew --cron`.

python-crontab finds and validates here; it never writes the file, because writing
back re-spaces jobs, moves env lines and drops comments (LIBRARIES.md). This module
changes exactly one line itself and replaces the file atomically, so every other byte
stays as it was. Bytes that are not UTF-8 pass through untouched (surrogateescape).
"""

from __future__ import annotations

import logging
import os
import random
import re
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from crontab import CronSlices, CronTab

from .errors import BadInput, PreconditionMissing
from .files import atomic_write
from .i18n import _, ngettext
from .paths import Paths

log = logging.getLogger(__name__)

CRON_MARKER = "ispa-cert renew"
LEGACY_MARKER = "letsencrypt renew"
DEFAULT_HOUR = 5
_ENCODING = "utf-8"
_DECODE_ERRORS = "surrogateescape"

_JOB = re.compile(r"^\s*(?P<schedule>@\w+|(?:\S+\s+){4}\S+)\s+(?P<user>\S+)\s+(?P<command>\S.*?)\s*$")
_ENVIRONMENT = re.compile(r"^\s*[A-Za-z_]\w*\s*=")
_OUR_COMMENT = re.compile(r"\s*#\s*" + re.escape(CRON_MARKER) + r"\s*$")
_LEGACY_COMMENT = re.compile(r"\s*#\s*" + re.escape(LEGACY_MARKER) + r"\s*$")
_FORBIDDEN_IN_COMMAND = ("\n", "\r", "%", "#")

Action = Literal["added", "replaced-legacy", "updated", "unchanged", "removed", "absent", "skipped"]
State = Literal["missing", "legacy-only", "differs", "not-executable", "legacy-also", "current"]


def default_command(paths: Paths) -> str:
    """`ispa-cert renew --cron` by the path that stays valid across upgrades (see program_path)."""
    root_option = f" --root {paths.root}" if str(paths.root) != "/" else ""
    return f"{program_path(paths)}{root_option} renew --cron"


def program_path(paths: Paths) -> Path:
    """The command the crontab names: /usr/local/sbin/ispa-cert when it leads to this very
    program (as `make install` sets it up), else this program's own resolved path (a checkout's .venv)."""
    running = Path(sys.argv[0]).resolve()
    try:
        if paths.command.resolve(strict=True) == running:
            return paths.command
    except OSError:
        pass
    return running


@dataclass(frozen=True)
class CronEntry:
    """One active crontab line: ours (marked `# ispa-cert renew`) or the guide's legacy one."""

    line_number: int  # 1-based
    schedule: str
    user: str
    command: str  # without the marker comment
    legacy: bool
    text: str  # the whole line as written, without its line ending


@dataclass(frozen=True)
class CronChange:
    """What install/remove did: the line now in the file and the one it replaced or removed.

    `note` says why a schedule was tightened, or warns that a given one is too sparse."""

    action: Action
    line: str | None
    previous: str | None
    note: str | None = None


@dataclass(frozen=True)
class CronStatus:
    """The doctor's view of the entry; `entry` is ours when present, else the legacy one."""

    state: State
    entry: CronEntry | None
    detail: str


# --- public API -----------------------------------------------------------------


def read_entries(crontab: Path) -> list[CronEntry]:
    """Our entries and the legacy ones, in file order; none when the file is missing."""
    text = _read_text(crontab)
    return [] if text is None else _scan(crontab, text)


def render_line(schedule: str, command: str, user: str = "root") -> str:
    """Our crontab line, without its line ending."""
    return f"{schedule} {user} {command} # {CRON_MARKER}"


def install(crontab: Path, command: str, schedule: str | None = None,
            shortest_lifetime: timedelta | None = None) -> CronChange:
    """Make exactly one entry run `command`: add it, replace the legacy line in place, or update ours.

    Without `schedule` an existing entry keeps its schedule unless it gives fewer than two attempts
    within the last third of `shortest_lifetime` (the shortest certificate lifetime on record); a new
    one, or one too sparse, gets cadence_for(shortest_lifetime). A given `schedule` is taken as it is
    (a too sparse one with a warning in the change's note); one that never runs is refused.
    """
    _check_command(command)
    wanted = None if schedule is None else _checked_schedule(schedule)
    note = None if wanted is None else sparse_warning(wanted, shortest_lifetime)
    text = _read_text(crontab) or ""
    entries = _scan(crontab, text)
    ours = [entry for entry in entries if not entry.legacy]
    if not entries:
        line = render_line(wanted or cadence_for(shortest_lifetime), command)
        _write_atomic(crontab, _append_line(text, line))
        return CronChange("added", line, None, note)
    kept = ours[0] if ours else entries[0]
    if wanted is None and ours:
        wanted = _checked_schedule(kept.schedule, refuse_never=False)
        if sparse_warning(wanted, shortest_lifetime):
            note = _("the schedule `{schedule}` was too sparse: {why}").format(
                schedule=wanted, why=sparse_warning(wanted, shortest_lifetime))
            wanted = cadence_for(shortest_lifetime, _minute_of(wanted))
    wanted = wanted or cadence_for(shortest_lifetime)
    line = render_line(wanted, command)
    if len(entries) == 1 and ours and _is_current(kept, wanted, command):
        return CronChange("unchanged", kept.text, kept.text, note)
    dropped = {entry.line_number for entry in entries if entry is not kept}
    _write_atomic(crontab, _edit_lines(text, {kept.line_number: line}, dropped))
    return CronChange("updated" if ours else "replaced-legacy", line, kept.text, note)


# --- cadence: two attempts within the last third of the shortest lifetime -----------------

HOUR_STEPS = (24, 12, 8, 6, 4, 3, 2, 1)
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
           "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_NAMES = {3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
          4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_HORIZON_START = date(2024, 1, 1)  # eight years from a leap year: 29 February twice
_HORIZON_DAYS = 8 * 366


def cadence_for(shortest_lifetime: timedelta | None, minute: int | None = None) -> str:
    """The sparsest schedule from 05:MM that gives two attempts within a third of the lifetime.

    Daily is enough down to 6-day certificates: renewal is due at 2/3 of the lifetime (or earlier by
    the CA's window), so the two days of the last third hold two daily runs. Shorter lifetimes run
    every 12, 8, ... hours; without a certificate on record, daily.
    """
    minute = (random.SystemRandom().randint(0, 59)) if minute is None else minute
    third = _whole_minutes(shortest_lifetime or timedelta(days=90)) / 3
    step = next((hours for hours in HOUR_STEPS if 2 * timedelta(hours=hours) <= third), 1)
    hours = sorted((DEFAULT_HOUR + k * step) % 24 for k in range(24 // step))
    return f"{minute:02d} {','.join(str(hour) for hour in hours)} * * *"


def two_attempt_span(schedule: str) -> timedelta | None:
    """The longest time the schedule takes for two runs after any moment (None: it never runs).

    That is the largest t[i+2] - t[i] over consecutive run times: a renewal that becomes due just
    after run i gets its two attempts at runs i+1 and i+2.
    """
    minutes, hours, days, months, weekdays = _expand(schedule)
    times = sorted(hour * 60 + minute for hour in hours for minute in minutes)
    runs: list[int] = []  # minutes since the horizon start, only where day boundaries matter
    within = max((later - earlier for earlier, later in zip(times, times[2:])), default=0)
    day_restricted, weekday_restricted = len(days) < 31, len(weekdays) < 7
    for offset in range(_HORIZON_DAYS):
        day = _HORIZON_START + timedelta(days=offset)
        if day.month not in months:
            continue
        by_day, by_weekday = day.day in days, (day.isoweekday() % 7) in weekdays
        matches = (by_day or by_weekday) if day_restricted and weekday_restricted else (by_day and by_weekday)
        if matches:
            edge = times if len(times) <= 4 else times[:2] + times[-2:]
            runs.extend(offset * 1440 + minute for minute in edge)
    if not runs:
        return None
    if len(runs) < 3:  # e.g. 29 February: twice in eight years
        return timedelta(days=_HORIZON_DAYS)
    if len(times) <= 4:  # runs holds every run
        return timedelta(minutes=max(later - earlier for earlier, later in zip(runs, runs[2:])))
    return timedelta(minutes=max(within, _across_days(runs)))


def _across_days(runs: list[int]) -> int:
    """Two-run spans across midnight, when runs holds the first two and the last two runs of each day."""
    spans = []
    for index in range(0, len(runs) - 4, 4):
        _first, _second, late, last = runs[index:index + 4]
        first, second = runs[index + 4:index + 6]
        spans += [first - late, second - last]
    return max(spans, default=0)


def sparse_warning(schedule: str, shortest_lifetime: timedelta | None) -> str | None:
    """Why the schedule is too sparse for the shortest lifetime on record, or None when it is not."""
    if shortest_lifetime is None:
        return None
    span = two_attempt_span(schedule)
    third = _whole_minutes(shortest_lifetime) / 3
    if span is None or span <= third:
        return None
    return _("it takes up to {span} for two renewal attempts, more than the last third "
             "({third}) of the shortest certificate lifetime on record ({lifetime})").format(
                 span=_duration(span), third=_duration(third), lifetime=_duration(shortest_lifetime))


def _whole_minutes(lifetime: timedelta) -> timedelta:
    """notAfter is inclusive: a 6-day certificate lives 6 days less a second; count it as 6 days."""
    return timedelta(minutes=round(lifetime / timedelta(minutes=1)))


def _duration(span: timedelta) -> str:
    hours = round(span / timedelta(hours=1))
    if hours % 24 == 0:
        return ngettext("{count} day", "{count} days", hours // 24).format(count=hours // 24)
    return ngettext("{count} hour", "{count} hours", hours).format(count=hours)


def _minute_of(schedule: str) -> int | None:
    first = schedule.split()[0]
    return int(first) if first.isdigit() and int(first) < 60 else None


def _expand(schedule: str) -> list[set[int]]:
    fields = _MACROS.get(schedule, schedule).split()
    expanded = [_expand_field(text, low, high, _NAMES.get(index, [])) for index, (text, (low, high))
                in enumerate(zip(fields, _RANGES))]
    expanded[4] = {day % 7 for day in expanded[4]}  # 7 is Sunday too
    return expanded


def _expand_field(text: str, low: int, high: int, names: list[str]) -> set[int]:
    values: set[int] = set()
    for part in text.lower().split(","):
        base, _separator, step = part.partition("/")
        if base == "*":
            start, end = low, high
        else:
            first, _separator, last = base.partition("-")
            start = _value(first, names, low)
            end = _value(last, names, low) if last else (high if step else start)
        values.update(range(start, end + 1, int(step) if step else 1))
    return values


def _value(text: str, names: list[str], low: int) -> int:
    return names.index(text) + (1 if low == 1 else 0) if text in names else int(text)


def update(crontab: Path, command: str) -> CronChange:
    """Point our existing entry at `command`, keeping its schedule; add none, touch no other line.

    What an upgrade of ispa-cert itself runs: the entry an older version wrote may name another path.
    """
    _check_command(command)
    text = _read_text(crontab) or ""
    ours = [entry for entry in _scan(crontab, text) if not entry.legacy]
    if not ours:
        return CronChange("skipped", None, None)
    kept = ours[0]
    if kept.command == command:
        return CronChange("unchanged", kept.text, kept.text)
    line = render_line(_checked_schedule(kept.schedule), command, kept.user)
    _write_atomic(crontab, _edit_lines(text, {kept.line_number: line}, set()))
    return CronChange("updated", line, kept.text)


def remove(crontab: Path, remove_legacy: bool = False) -> CronChange:
    """Remove our entry (and with `remove_legacy` the guide's line too); every other line stays."""
    text = _read_text(crontab)
    entries = [] if text is None else _scan(crontab, text)
    doomed = [entry for entry in entries if remove_legacy or not entry.legacy]
    if text is None or not doomed:
        return CronChange("absent", None, None)
    _write_atomic(crontab, _edit_lines(text, {}, {entry.line_number for entry in doomed}))
    return CronChange("removed", None, doomed[0].text)


def entry_status(crontab: Path, expected_command: str) -> CronStatus:
    """For doctor: is our entry there, running the expected, existing ispa-cert?"""
    entries = read_entries(crontab)
    ours = next((entry for entry in entries if not entry.legacy), None)
    legacy = next((entry for entry in entries if entry.legacy), None)
    if ours is None and legacy is None:
        return CronStatus("missing", None, _("{crontab} has no `{marker}` entry").format(crontab=crontab,
                                                                                          marker=CRON_MARKER))
    if ours is None:
        return CronStatus("legacy-only", legacy, _("{where} still runs the guide's acme.sh --renewAll").format(
            where=_where(crontab, legacy)))
    if ours.command != expected_command:
        return CronStatus("differs", ours, _("{where} runs `{command}`, expected `{expected}`").format(
            where=_where(crontab, ours), command=ours.command, expected=expected_command))
    program = ours.command.split()[0]
    if not _is_executable(program):
        return CronStatus("not-executable", ours, _("{where} runs {program}, not an executable file").format(
            where=_where(crontab, ours), program=program))
    if legacy is not None:
        return CronStatus("legacy-also", ours, _("{where} also runs the guide's acme.sh --renewAll").format(
            where=_where(crontab, legacy)))
    return CronStatus("current", ours, _("{where} runs `{command}` at `{schedule}`").format(
        where=_where(crontab, ours), command=ours.command, schedule=ours.schedule))


def _where(crontab: Path, entry: CronEntry) -> str:
    return _("{crontab} line {number}").format(crontab=crontab, number=entry.line_number)


# --- other acme.sh renewal jobs: /etc/cron.d/*, root's crontab ----------------------

DISABLED_PREFIX = "#disabled by ispa-cert (renewals run from /etc/crontab): "
_ACME_RENEWAL = re.compile(r"acme\.sh\b.*\s--(?:cron|renewAll|renew-all|renew)\b")


@dataclass(frozen=True)
class OtherJob:
    """An active acme.sh renewal line outside /etc/crontab (e.g. `acme.sh --cron` in root's crontab)."""

    file: Path
    line_number: int  # 1-based
    text: str


def other_renewal_jobs(paths: Paths) -> list[OtherJob]:
    """The acme.sh renewal jobs cron runs besides /etc/crontab (/etc/cron.d/*, root's crontab)."""
    return other_jobs(other_job_files(paths.cron_d_dir, paths.root_crontab))


def other_job_files(cron_d: Path, root_crontab: Path) -> list[Path]:
    """The files cron reads besides /etc/crontab that may hold acme.sh jobs (cron.d skips dotted names)."""
    found = [entry for entry in sorted(cron_d.iterdir()) if entry.is_file() and "." not in entry.name
             and not entry.name.endswith("~")] if cron_d.is_dir() else []
    return found + ([root_crontab] if root_crontab.is_file() else [])


def other_jobs(files: list[Path]) -> list[OtherJob]:
    """acme.sh renewal lines (--cron, --renewAll, --renew) that are not comments, in file order."""
    jobs = []
    for path in files:
        text = _read_text(path) or ""
        for number, line in enumerate(_split_lines(text), 1):
            bare = line.rstrip("\r\n")
            if not bare.lstrip().startswith("#") and not _ENVIRONMENT.match(bare) and _ACME_RENEWAL.search(bare):
                jobs.append(OtherJob(path, number, bare))
    return jobs


def disable_jobs(jobs: list[OtherJob]) -> None:
    """Comment each job's line out (DISABLED_PREFIX + the line as it was); every other byte stays."""
    for path in sorted({job.file for job in jobs}):
        text = _read_text(path) or ""
        lines = _split_lines(text)
        wanted = {job.line_number: DISABLED_PREFIX + job.text for job in jobs if job.file == path}
        for number in wanted:
            if lines[number - 1].rstrip("\r\n") != wanted[number][len(DISABLED_PREFIX):]:
                raise BadInput(_("{file} changed while ispa-cert read it; nothing was disabled there").format(
                    file=path), hint=_("run `ispa-cert cron install` again"))
        _write_atomic(path, _edit_lines(text, wanted, set()))


# --- reading ----------------------------------------------------------------------


def _read_text(crontab: Path) -> str | None:
    """The file as text that encodes back to the same bytes; None when it does not exist."""
    try:
        data = crontab.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise PreconditionMissing(_("cannot read {file}: {error}").format(file=crontab, error=error.strerror),
                                  hint=_("run ispa-cert as root")) from error
    return data.decode(_ENCODING, _DECODE_ERRORS)


def _split_lines(text: str) -> list[str]:
    """Lines with their endings; only "\\n" ends a line, as for cron. Joined, they give text back."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return lines + [parts[-1]] if parts[-1] else lines


def _scan(crontab: Path, text: str) -> list[CronEntry]:
    lines = _split_lines(text)
    entries = [entry for number, line in enumerate(lines, 1) if (entry := _parse_entry(number, line))]
    _cross_check(crontab, text, entries)
    return entries


def _parse_entry(number: int, line: str) -> CronEntry | None:
    """Our entry or a legacy one on this line, or None for anything else (left alone)."""
    text = line.rstrip("\r\n")
    if text.lstrip().startswith("#") or _ENVIRONMENT.match(text):
        return None
    ours = _OUR_COMMENT.search(text)
    marker = ours or _LEGACY_COMMENT.search(text)
    if marker is None and not ("acme.sh" in text and "--renewAll" in text):
        return None
    job = _JOB.match(text[: marker.start()] if marker else text)
    if job is None:
        return None
    return CronEntry(number, job["schedule"], job["user"], job["command"], ours is None, text)


def _cross_check(crontab: Path, text: str, entries: list[CronEntry]) -> None:
    """Refuse when python-crontab reads a marked entry differently from the line scan."""
    parsed = CronTab(tab=text, user=False)
    for marker, legacy in ((CRON_MARKER, False), (LEGACY_MARKER, True)):
        theirs = [(job.user, job.command) for job in parsed.find_comment(marker) if job.enabled]
        mine = [(entry.user, entry.command) for entry in entries if entry.legacy == legacy]
        if not set(theirs) <= set(mine) or (not legacy and len(theirs) != len(mine)):
            raise BadInput(
                _("cannot tell reliably which line of {crontab} is the `{marker}` entry; nothing was changed").format(
                    crontab=crontab, marker=marker),
                hint=_("edit {crontab} by hand so that the entry is one plain line: MIN HOUR DOM MON DOW USER "
                       "COMMAND # {marker}").format(crontab=crontab, marker=marker),
            )


# --- checking input ---------------------------------------------------------------


def _checked_schedule(schedule: str, refuse_never: bool = True) -> str:
    """The schedule with its fields single-spaced, or BadInput when cron would not accept it, or
    (refuse_never) when it would renew only at boot or never (e.g. "0 5 31 2 *", 31 February).

    python-crontab also accepts `daily` without its `@`, which cron does not: hence the shape check.
    """
    fields = schedule.split()
    normalized = " ".join(fields)
    shaped = len(fields) == 5 or (len(fields) == 1 and normalized.startswith("@"))
    example = _('give five fields MIN HOUR DOM MON DOW, e.g. "00 05 * * 7" for Sundays at 05:00')
    or_daily = _('give five fields MIN HOUR DOM MON DOW, e.g. "00 05 * * 7" for Sundays at 05:00; '
                 'or leave out --schedule for daily at 05:MM')
    if not (shaped and CronSlices.is_valid(normalized)):
        raise BadInput(_("{schedule} is not a valid cron schedule").format(schedule=repr(schedule)), hint=example)
    if refuse_never and normalized == "@reboot":
        raise BadInput(_("@reboot runs the renewal only when the server starts, which may be never for months"),
                       hint=or_daily)
    if refuse_never and normalized.startswith("@") and normalized not in _MACROS:
        raise BadInput(_("{schedule} is not a schedule cron knows").format(schedule=repr(schedule)), hint=example)
    if refuse_never and two_attempt_span(normalized) is None:
        raise BadInput(_("the schedule {schedule} never runs (no such day in any year)").format(
            schedule=repr(schedule)), hint=or_daily)
    return normalized


def _check_command(command: str) -> None:
    if not command.startswith("/") or any(character in command for character in _FORBIDDEN_IN_COMMAND):
        raise BadInput(
            _("cannot put {command} into the crontab").format(command=repr(command)),
            hint=_("the command must start with the absolute path of ispa-cert and contain no newline, '%' or '#'"),
        )


def _is_current(entry: CronEntry, schedule: str, command: str) -> bool:
    return (entry.schedule.split(), entry.user, entry.command) == (schedule.split(), "root", command)


def _is_executable(program: str) -> bool:
    return os.path.isfile(program) and os.access(program, os.X_OK)


# --- editing and writing ------------------------------------------------------------


def _append_line(text: str, line: str) -> str:
    """Our line at the end; a missing final newline is added before it, nothing else changes."""
    separator = "\n" if text and not text.endswith("\n") else ""
    return f"{text}{separator}{line}\n"


def _edit_lines(text: str, replacements: dict[int, str], dropped: set[int]) -> str:
    """Replace and drop lines by 1-based number, keeping each replaced line's own ending."""
    edited = []
    for number, line in enumerate(_split_lines(text), 1):
        if number in dropped:
            continue
        if number in replacements:
            ending = line[len(line.rstrip("\r\n")) :] or "\n"
            line = replacements[number] + ending
        edited.append(line)
    return "".join(edited)


def _write_atomic(crontab: Path, text: str) -> None:
    """Atomic write through a symlinked crontab, keeping mode and owner (a new file gets 0644)."""
    try:
        atomic_write(Path(os.path.realpath(crontab)), text.encode(_ENCODING, _DECODE_ERRORS))
    except PermissionError as error:
        raise PreconditionMissing(_("cannot write {file}: {error}").format(file=crontab, error=error.strerror),
                                  hint=_("run ispa-cert as root")) from error
    log.info("wrote %s", crontab)
