"""The terminal during a run: progress lines, warnings, questions (acme.sh's output goes to the log).

Actions talk to the admin through a Console; it alone (with cli.py) reads input and asks
whether a person is there to answer. How text looks (colour, width, a closed pipe) is
terminal.py's; the progress line per name is progress.py's. What a command prints at its
end is rendered by report.py.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from . import terminal
from .errors import BadInput
from .i18n import _, answer, english

log = logging.getLogger(__name__)


@dataclass
class Console:
    """Output and questions for one run.

    interactive: a person is at a terminal and can answer questions.
    assume_yes: --yes, every question takes its safe default.
    quiet: --cron, nothing on the terminal but failures (everything still goes to the log).
    verbose: -v, external programs' output streams to the terminal (through the log's handler).
    Colour and wrapping follow terminal.py: only on a terminal, never with --cron or NO_COLOR.
    """

    interactive: bool = field(default_factory=lambda: sys.stdin.isatty())
    assume_yes: bool = False
    quiet: bool = False
    verbose: bool = False

    def say(self, message: str = "") -> None:
        """Prose: wrapped to the terminal's width (at most 100 columns), one line each in a pipe."""
        if not self.quiet:
            terminal.write(sys.stdout, terminal.wrap(message, terminal.columns(sys.stdout), indent="  "))

    def show(self, block: str) -> None:
        """Text laid out already (a table, a diff): as it is."""
        if not self.quiet:
            terminal.write(sys.stdout, block)

    def paint(self, text: str, style: str | None) -> str:
        return terminal.paint(text, style, terminal.colour_wanted(sys.stdout, self.quiet))

    def step(self, message: str) -> None:
        """A progress line before a step that may take a while (also logged: `make bench` times the steps)."""
        log.info("step: %s", english(message))  # the log stays English (make bench reads these)
        self.say(f"{self.paint('==>', 'strong')} {message}")

    def warn(self, message: str) -> None:
        terminal.write(sys.stderr, terminal.labelled("warning", message, sys.stderr))

    def stream(self, line: str) -> None:
        """A line of an external program's output: it is in the log already, and -v shows the log."""

    def confirm(self, question: str, default: bool, unattended: bool | None = None) -> bool:
        """Ask a yes/no question. With --yes the answer is `unattended` (default: `default`)."""
        if self.assume_yes:
            chosen = default if unattended is None else unattended
            said = _("yes") if chosen else _("no")
            self.say(f"{question} {said} (--yes)")  # i18n: not a message (a question and its answer)
            return chosen
        self._need_terminal(question)
        suffix = _("[Y/n]") if default else _("[y/N]")
        while True:
            reply = self._input(f"{question} {suffix} ").strip()
            if not reply:
                return default
            meant = answer(reply)  # the language's words: a/ano as well as y/yes in Czech
            if meant is not None:
                return meant
            self.say(_("Please answer y or n."))

    def ask(self, question: str, default: str | None = None) -> str:
        self._need_terminal(question)
        shown = f" [{default}]" if default else ""
        reply = self._input(f"{question}{shown}: ").strip()
        return reply or (default or "")

    def _input(self, prompt: str) -> str:
        """The question stands out (bold) on a terminal; a long one is wrapped, the answer typed after it."""
        text = terminal.wrap(prompt.rstrip(" "), terminal.columns(sys.stdout), indent="  ")
        head, _newline, last = text.rpartition("\n")
        if head:
            terminal.write(sys.stdout, self.paint(head, "strong"))
        return input(self.paint(last, "strong") + " ")

    def _need_terminal(self, question: str) -> None:
        if not self.interactive:
            raise BadInput(_("no terminal to answer: {question}").format(question=question),
                           hint=_("run it in a terminal, or give the answers as options (see --help) and --yes"))
