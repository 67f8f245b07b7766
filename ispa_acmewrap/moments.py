"""How a moment is written for the administrator (text) and for programs (JSON)."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    """The moment, in UTC (one clock for every command)."""
    return datetime.now(timezone.utc)


def utc_minute(moment: datetime) -> str:
    """2026-03-01 05:13 UTC: messages, tables and findings."""
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


def utc_stamp(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, whole seconds (as in state.json), for --json; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
