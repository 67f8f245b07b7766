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
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from crontab import CronSlices, CronTab

from .errors import BadInput, PreconditionMissing
from .files import atomic_write

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
    """What install/remove did: the line now in the file and the one it replaced or removed."""

    action: Action
    line: str | None
    previous: str | None

    @property
    def changed(self) -> bool:
        return self.action not in ("unchanged", "absent", "skipped")


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


def random_schedule(rng: random.Random | None = None) -> str:
    """Daily at 05:MM with a random minute, so servers do not all ask the CA at once."""
    minute = (rng or random.SystemRandom()).randint(0, 59)
    return f"{minute:02d} {DEFAULT_HOUR} * * *"


def install(crontab: Path, command: str, schedule: str | None = None) -> CronChange:
    """Make exactly one entry run `command`: add it, replace the legacy line in place, or update ours.

    Without `schedule` an existing entry keeps its schedule; a new one gets random_schedule().
    """
    _check_command(command)
    wanted = None if schedule is None else _checked_schedule(schedule)
    text = _read_text(crontab) or ""
    entries = _scan(crontab, text)
    ours = [entry for entry in entries if not entry.legacy]
    if not entries:
        line = render_line(wanted or random_schedule(), command)
        _write_atomic(crontab, _append_line(text, line))
        return CronChange("added", line, None)
    kept = ours[0] if ours else entries[0]
    if wanted is None:
        wanted = _checked_schedule(kept.schedule) if ours else random_schedule()
    line = render_line(wanted, command)
    if len(entries) == 1 and ours and _is_current(kept, wanted, command):
        return CronChange("unchanged", kept.text, kept.text)
    dropped = {entry.line_number for entry in entries if entry is not kept}
    _write_atomic(crontab, _edit_lines(text, {kept.line_number: line}, dropped))
    return CronChange("updated" if ours else "replaced-legacy", line, kept.text)


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
        return CronStatus("missing", None, f"{crontab} has no `{CRON_MARKER}` entry")
    if ours is None:
        return CronStatus("legacy-only", legacy, f"{_where(crontab, legacy)} still runs the guide's acme.sh --renewAll")
    if ours.command != expected_command:
        return CronStatus("differs", ours, f"{_where(crontab, ours)} runs `{ours.command}`, expected `{expected_command}`")
    program = ours.command.split()[0]
    if not _is_executable(program):
        return CronStatus("not-executable", ours, f"{_where(crontab, ours)} runs {program}, not an executable file")
    if legacy is not None:
        return CronStatus("legacy-also", ours, f"{_where(crontab, legacy)} also runs the guide's acme.sh --renewAll")
    return CronStatus("current", ours, f"{_where(crontab, ours)} runs `{ours.command}` at `{ours.schedule}`")


def _where(crontab: Path, entry: CronEntry) -> str:
    return f"{crontab} line {entry.line_number}"


# --- reading ----------------------------------------------------------------------


def _read_text(crontab: Path) -> str | None:
    """The file as text that encodes back to the same bytes; None when it does not exist."""
    try:
        data = crontab.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise PreconditionMissing(f"cannot read {crontab}: {error.strerror}", hint="run ispa-cert as root") from error
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
                f"cannot tell reliably which line of {crontab} is the `{marker}` entry; nothing was changed",
                hint=f"edit {crontab} by hand so that the entry is one plain line: MIN HOUR DOM MON DOW USER COMMAND # {marker}",
            )


# --- checking input ---------------------------------------------------------------


def _checked_schedule(schedule: str) -> str:
    """The schedule with its fields single-spaced, or BadInput when cron would not accept it.

    python-crontab also accepts `daily` without its `@`, which cron does not: hence the shape check.
    """
    fields = schedule.split()
    normalized = " ".join(fields)
    shaped = len(fields) == 5 or (len(fields) == 1 and normalized.startswith("@"))
    if not (shaped and CronSlices.is_valid(normalized)):
        raise BadInput(
            f"{schedule!r} is not a valid cron schedule",
            hint='give five fields MIN HOUR DOM MON DOW, e.g. "00 05 * * 7" for Sundays at 05:00',
        )
    return normalized


def _check_command(command: str) -> None:
    if not command.startswith("/") or any(character in command for character in _FORBIDDEN_IN_COMMAND):
        raise BadInput(
            f"cannot put {command!r} into the crontab",
            hint="the command must start with the absolute path of ispa-cert and contain no newline, '%' or '#'",
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
        raise PreconditionMissing(f"cannot write {crontab}: {error.strerror}", hint="run ispa-cert as root") from error
    log.info("wrote %s", crontab)
