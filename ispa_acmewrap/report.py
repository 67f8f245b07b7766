"""Everything the admin sees: progress lines, questions, tables, JSON.

Actions talk to a Console; only this module (and cli.py) print.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import BadInput


@dataclass
class Console:
    """Output and questions for one run.

    interactive: a person is at a terminal and can answer questions.
    assume_yes: --yes, every question takes its safe default.
    quiet: --cron, nothing on the terminal but failures (everything still goes to the log).
    """

    interactive: bool = field(default_factory=lambda: sys.stdin.isatty())
    assume_yes: bool = False
    quiet: bool = False
    _in_pem: bool = field(default=False, init=False, repr=False)

    def say(self, message: str = "") -> None:
        if not self.quiet:
            print(message, flush=True)

    def step(self, message: str) -> None:
        """A progress line before a step that may take a while."""
        self.say(f"==> {message}")

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=sys.stderr, flush=True)

    def stream(self, line: str) -> None:
        """A line of an external program's output (acme.sh), indented; PEM blocks only go to the log."""
        if line.startswith("-----BEGIN "):
            self._in_pem = True
        elif line.startswith("-----END "):
            self._in_pem = False
        elif not self._in_pem:
            self.say(f"    {line}")

    def confirm(self, question: str, default: bool, unattended: bool | None = None) -> bool:
        """Ask a yes/no question. With --yes the answer is `unattended` (default: `default`)."""
        if self.assume_yes:
            answer = default if unattended is None else unattended
            self.say(f"{question} {'yes' if answer else 'no'} (--yes)")
            return answer
        self._need_terminal(question)
        suffix = "[Y/n]" if default else "[y/N]"
        while True:
            reply = input(f"{question} {suffix} ").strip().lower()
            if not reply:
                return default
            if reply in ("y", "yes"):
                return True
            if reply in ("n", "no"):
                return False
            print("Please answer y or n.")

    def ask(self, question: str, default: str | None = None) -> str:
        self._need_terminal(question)
        shown = f" [{default}]" if default else ""
        reply = input(f"{question}{shown}: ").strip()
        return reply or (default or "")

    def _need_terminal(self, question: str) -> None:
        if not self.interactive:
            raise BadInput(f"no terminal to answer: {question}",
                           hint="run it in a terminal, or give the answers as options (see --help) and --yes")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table with columns as wide as their widest cell."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header)] + [len(row[index]) for row in cells]) for index, header in enumerate(headers)]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells)
    return "\n".join(lines)


def to_json(document: object) -> str:
    return json.dumps(document, indent=2, sort_keys=True, default=str)


def _date(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def issue_summary(settings, result) -> str:
    """The end of `issue`: per name its role, outcome, expiry and files."""
    from .names import display_name

    rows = []
    for entry in result.names:
        certificate = entry.certificate
        live = settings.paths.live(entry.name)
        rows.append((display_name(entry.name), entry.role, entry.outcome,
                     _date(certificate.not_after) if certificate else "-",
                     str(live.fullchain) if certificate else entry.reason))
    lines = ["", table(("name", "role", "result", "expires", "files / reason"), rows)]
    if result.cron_change is not None:
        lines.append(f"Renewal: {settings.paths.crontab} entry {result.cron_change.action}: {result.cron_change.line}")
    served = [entry.name for entry in result.names if entry.outcome in ("issued", "kept")]
    if result.installed and served:
        lines.append(f"done: {', '.join(served)} now answer over HTTPS.")
    elif served:
        lines.append("Certificates obtained but not installed into Apache; run `ispa-cert issue` again to install them.")
    return "\n".join(lines)


def backups_table(backups) -> str:
    if not backups:
        return "No backups yet."
    rows = [(backup.id, backup.created, backup.reason,
             ", ".join(entry.path.rsplit("/", 1)[-1] for entry in backup.entries if entry.kind != "absent"))
            for backup in backups]
    return table(("id", "created", "reason", "files"), rows)
