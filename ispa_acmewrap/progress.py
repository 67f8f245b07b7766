"""One progress line per name while acme.sh works with the CA.

    admin.isp.cz: ordering… validating… (12 s) signing… issued, valid until 2027-02-25

acme.sh's own lines go to the log only; this line is fed them (runner's echo) and names
each step as acme.sh reaches it, with the time of a step that took long. With -v acme.sh's
lines stream to the terminal instead (the log's terminal handler), and only the outcome is
shown, on a line of its own. With --cron nothing is shown.
"""

from __future__ import annotations

import sys
import time

from . import acme, terminal
from .i18n import N_, _
from .names import shown_name

LONG_STEP_SECONDS = 5.0


class NameProgress:
    """The progress line of one name; `feed` takes acme.sh's output lines, `finish` ends the line."""

    def __init__(self, console, name: str, first_step: str = N_("ordering")) -> None:
        self.console, self.name = console, shown_name(name)
        self.inline = not console.quiet and not console.verbose
        self.step: str | None = None
        self.started = time.monotonic()
        self.colour = terminal.colour_wanted(sys.stdout, console.quiet)
        if self.inline:
            self._write(f"{terminal.paint(self.name, 'strong', self.colour)}: ")
            self.begin(first_step)

    def feed(self, line: str) -> None:
        step = acme.progress_step(line)
        if step is not None:
            self.begin(step)

    def begin(self, step: str) -> None:
        if step == self.step or not self.inline:
            return
        self._close_step()
        self.step, self.started = step, time.monotonic()
        self._write(_(step) + "… ")  # the step's word in the administrator's language (acme.py marks them)

    def finish(self, outcome: str, style: str | None = None) -> None:
        """End the line with the outcome (e.g. "issued, valid until …"), coloured by `style` on a terminal."""
        if self.console.quiet:
            return
        self._close_step()
        text = terminal.paint(outcome, style, self.colour)
        if self.inline:
            terminal.write(sys.stdout, text)
        else:
            terminal.write(sys.stdout, f"{terminal.paint(self.name, 'strong', self.colour)}: {text}")

    def _close_step(self) -> None:
        elapsed = time.monotonic() - self.started
        if self.step is not None and elapsed >= LONG_STEP_SECONDS:
            self._write(f"({elapsed:.0f} s) ")

    def _write(self, text: str) -> None:
        terminal.write(sys.stdout, text, end="")
