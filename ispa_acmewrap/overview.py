r"""The program's entry point, and its top-level help printed without loading typer.

`ispa-cert`, `ispa-cert --help` and `ispa-cert -h` (with `--lang` or not) are what an
administrator types first and most; loading typer and building every command's parser would
cost more than the rest of the answer. This module lays the top-level help out as cli.py's
typer app does (usage, the program's description, the global options, each command's
summary) from helptext's prose alone; tests/unit/test_overview.py holds the two identical.
Every other command line goes to cli.py.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap

from . import helptext as text
from .i18n import _

MAX_WIDTH = 100  # as options.app's max_content_width
INDENT = 2
COLUMN_MAX = 30  # the widest first column of an option or command list
TOP_LEVEL_HELP = (["--help"], ["-h"])
COMPLETE_VARIABLE = "_ISPA_CERT_COMPLETE"  # the shell asks typer for completions


def main() -> None:
    """Print the top-level help, or hand the command line to cli.py."""
    shown = top_level_request(sys.argv[1:])
    if shown is not None and COMPLETE_VARIABLE not in os.environ:
        # No arguments at all is a usage error that shows the help (exit 2, on stderr), as typer does.
        stream = sys.stdout if shown else sys.stderr
        stream.write(top_level_help(help_width()))
        raise SystemExit(0 if shown else 2)
    from .cli import main as run_command
    run_command()


def top_level_request(argv: list[str]) -> bool | None:
    """True for `--help`/`-h` (`--lang X` or `--lang=X` in front allowed: i18n reads it from the
    command line), False for no arguments at all, None for any other command line."""
    if not argv:
        return False
    if argv[:1] == ["--lang"]:
        argv = argv[2:]
    elif argv[0].startswith("--lang="):
        argv = argv[1:]
    return True if argv in TOP_LEVEL_HELP else None


def help_width() -> int:
    """The terminal's width (COLUMNS first) up to 100 columns, less a margin of 2, at least 50."""
    return max(min(shutil.get_terminal_size().columns, MAX_WIDTH) - 2, 50)


def top_level_help(width: int) -> str:
    """`ispa-cert --help` in the current language, laid out for width columns."""
    options = [("--root DIR", text.OPTION["--root"]), ("-v, --verbose", text.OPTION["--verbose"]),
               ("--version", text.OPTION["--version"]), ("--lang cs|en", text.OPTION["--lang"]),
               ("-h, --help", _("Show this message and exit."))]
    commands = [(name, text.summary(help_)) for name, help_ in text.COMMANDS]
    return "\n".join([_("Usage:") + " ispa-cert [OPTIONS] COMMAND [ARGS]...", "",
                      *paragraphs(text.PROGRAM.strip("\n"), width, " " * INDENT), "",
                      _("Options") + ":", *definitions(options, width), "",
                      _("Commands") + ":", *definitions(commands, width)]) + "\n"


def paragraphs(prose: str, width: int, indent: str) -> list[str]:
    """Prose wrapped to width, paragraph by paragraph; a paragraph opened by a line holding only
    "\b" keeps its lines as they are (examples)."""
    lines: list[str] = []
    for paragraph in prose.expandtabs().split("\n\n"):
        own = paragraph.split("\n")
        if lines:
            lines.append("")
        if own[0].strip() == "\b":
            lines += [indent + line for line in own[1:]]
            continue
        inner = indent + " " * (len(own[0]) - len(own[0].lstrip()))
        lines += textwrap.wrap(" ".join([own[0].lstrip(), *own[1:]]), width, initial_indent=inner,
                               subsequent_indent=inner, replace_whitespace=False)
    return lines


def definitions(rows: list[tuple[str, str]], width: int) -> list[str]:
    """Two columns: each term, and its description wrapped beside it (below it when the term is long)."""
    column = min(max(len(term) for term, _ in rows), COLUMN_MAX) + 2
    lines: list[str] = []
    for term, description in rows:
        wrapped = paragraphs(description, max(width - column - INDENT, 10), "")
        if len(term) <= column - 2:
            lines.append(" " * INDENT + term.ljust(column) + wrapped[0])
        else:
            lines += [" " * INDENT + term, " " * (INDENT + column) + wrapped[0]]
        lines += [(" " * (INDENT + column) + line) if line else "" for line in wrapped[1:]]
    return lines
