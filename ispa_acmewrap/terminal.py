"""How text looks on the administrator's terminal.

Colour and emphasis only when the stream is a terminal: never in a pipe, a file, cron's
mail (`--cron`), with `NO_COLOR` set (https://no-color.org) or `TERM=dumb`. Prose is wrapped
to the terminal's width, at most 100 columns; in a pipe every message stays one line, so
`grep` and mail see it whole. A reader that closes the pipe early (`ispa-cert status | head`)
ends the output quietly, never the run.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from typing import TextIO

from .i18n import N_, _

MAX_COLUMNS = 100
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# SGR codes: bold red for errors, bold yellow for warnings, bold green for the line that says it worked.
STYLES = {
    "error": "1;31", "warning": "1;33", "done": "1;32", "notice": "1;36", "hint": "1",
    "bad": "31", "caution": "33", "good": "32", "strong": "1", "faint": "2",
}
GOOD_WORDS = frozenset({"ok", "served", "issued", "kept", "renewed", "yes", "installed", "OK"})
CAUTION_WORDS = frozenset({"not due", "no ARI", "not checked", "not installed", "WARN", "skipped", "unknown",
                           "AAAA points elsewhere", "UNKNOWN"})


def colour_wanted(stream: TextIO, quiet: bool = False) -> bool:
    """Colour on this stream: a terminal, not --cron, no NO_COLOR, a terminal that knows colour."""
    if quiet or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, style: str | None, enabled: bool) -> str:
    if not enabled or not style or not text:
        return text
    return f"\x1b[{STYLES[style]}m{text}\x1b[0m"


def verdict_style(cell: str) -> str | None:
    """How a verdict in a table is shown: good green, doubtful yellow, anything else that is a problem red."""
    word = cell.strip()
    if word in GOOD_WORDS:
        return "good"
    if word in CAUTION_WORDS or word.startswith("WARN"):
        return "caution"
    return "bad" if word and word != "-" else None


def columns(stream: TextIO) -> int | None:
    """The width prose is wrapped to: the terminal's (COLUMNS wins), at most 100; None when not a terminal."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return max(40, min(shutil.get_terminal_size((MAX_COLUMNS, 24)).columns, MAX_COLUMNS))


def wrap(text: str, width: int | None, indent: str = "") -> str:
    """Each line of text wrapped to width (continuation lines indented); unchanged when width is None."""
    if width is None:
        return text
    import textwrap  # only when wrapping: `--help` stays fast

    wrapped = []
    for line in text.split("\n"):
        if visible_length(line) <= width:
            wrapped.append(line)
            continue
        lead = " " * (len(line) - len(line.lstrip(" ")))
        wrapped.append(textwrap.fill(line, width, subsequent_indent=lead + indent, break_long_words=False,
                                     break_on_hyphens=False))
    return "\n".join(wrapped)


def visible_length(line: str) -> int:
    return len(ANSI.sub("", line))


_open_line: list[TextIO] = []  # the stream whose last line is not finished yet (a progress line)


def write(stream: TextIO, text: str, end: str = "\n") -> None:
    """Write and flush; a closed pipe silences the stream for the rest of the run instead of ending it.

    Anything written while a progress line is open on another stream starts on a line of its own."""
    try:
        if _open_line and _open_line[0] is not stream:
            _open_line[0].write("\n")
            _open_line[0].flush()
            _open_line.clear()
        stream.write(text + end)
        stream.flush()
    except BrokenPipeError:
        silence(stream)
    _open_line[:] = [stream] if (end == "" and (text or _open_line)) else []


def silence(stream: TextIO) -> None:
    """Point the stream's descriptor at /dev/null: later writes, and the flush at exit, go nowhere."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, ValueError, OSError):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, descriptor)
    os.close(null)


def labelled(label: str, message: str, stream: TextIO = sys.stderr, style: str | None = None,
             quiet: bool = False) -> str:
    """`label: message` with the label coloured on a terminal and the message wrapped to its width."""
    enabled = colour_wanted(stream, quiet)
    shown = _(label)  # the label in the administrator's language; its style goes by the English word
    text = wrap(f"{shown}: {message}", columns(stream), indent="  ")
    head, rest = text[:len(shown) + 1], text[len(shown) + 1:]
    return paint(head, style or label, enabled) + rest


LABELS = (N_("error"), N_("hint"), N_("warning"), N_("notice"), N_("done"), N_("kept"))
