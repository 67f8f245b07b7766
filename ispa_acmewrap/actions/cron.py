"""`ispa-cert cron install | remove | show`: the one /etc/crontab entry that runs
`ispa-cert renew --cron` (by this installation's absolute path). The file itself is
handled by ispa_acmewrap.cron, which changes that one line and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from .. import cron as crontab
from ..settings import Settings
from .common import require_root, shortest_lifetime
from .issue import default_cron_command


@dataclass(frozen=True)
class CronView:
    entries: tuple[crontab.CronEntry, ...]
    status: crontab.CronStatus


def install(settings: Settings, schedule: str | None) -> crontab.CronChange:
    require_root()
    return crontab.install(settings.paths.crontab, default_cron_command(settings), schedule, shortest_lifetime(settings))


def update(settings: Settings) -> crontab.CronChange:
    """Only bring an existing entry to this installation's command (`make install` runs it)."""
    require_root()
    return crontab.update(settings.paths.crontab, default_cron_command(settings))


def remove(settings: Settings, legacy: bool) -> crontab.CronChange:
    require_root()
    return crontab.remove(settings.paths.crontab, remove_legacy=legacy)


def show(settings: Settings) -> CronView:
    path = settings.paths.crontab
    return CronView(tuple(crontab.read_entries(path)), crontab.entry_status(path, default_cron_command(settings)))
