"""A check's verdict: its severity (the monitoring-plugin convention) and the finding itself.

Apart from health.py so that modules producing findings (tls.py) need not import the judges
and everything they read (DNS, certificates, the crontab): `status` starts faster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    OK = "OK"
    WARN = "WARN"
    CRIT = "CRIT"
    UNKNOWN = "UNKNOWN"

    @property
    def exit_code(self) -> int:
        """The monitoring-plugin exit status."""
        return _EXIT_CODES[self]

    @property
    def word(self) -> str:
        """The status word of the plugin's first line."""
        return _WORDS[self]


_EXIT_CODES = {Severity.OK: 0, Severity.WARN: 1, Severity.CRIT: 2, Severity.UNKNOWN: 3}
_WORDS = {Severity.OK: "OK", Severity.WARN: "WARNING", Severity.CRIT: "CRITICAL", Severity.UNKNOWN: "UNKNOWN"}
_RANK = (Severity.OK, Severity.UNKNOWN, Severity.WARN, Severity.CRIT)


def worst(severities: Iterable[Severity]) -> Severity:
    """CRIT > WARN > UNKNOWN > OK; nothing at all is OK."""
    return max(severities, key=_RANK.index, default=Severity.OK)


@dataclass(frozen=True)
class Finding:
    """One check's verdict. `check` is a stable id; `subject` the name it is about, if any."""

    check: str
    severity: Severity
    message: str
    fix: str | None = None
    subject: str | None = None
