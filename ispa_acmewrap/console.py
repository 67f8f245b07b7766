"""The terminal during a run: progress lines, warnings, acme.sh's output, questions.

Actions talk to the admin through a Console; it alone (with cli.py) reads input and asks
whether a terminal is there. What a command prints at its end is rendered by report.py.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from .errors import BadInput

log = logging.getLogger(__name__)


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
        """A progress line before a step that may take a while (also logged: `make bench` times the steps)."""
        log.info("step: %s", message)
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
