"""`ispa-cert cron remove | show` and `install --update-only`: the one /etc/crontab entry that
runs `ispa-cert renew --cron` (by this installation's absolute path). The file itself is
handled by ispa_acmewrap.cron, which changes that one line and nothing else. `cron install`
is the takeover (takeover.py), which `issue` runs too.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import cron as crontab
from ..settings import Settings
from .common import require_root


@dataclass(frozen=True)
class CronView:
    entries: tuple[crontab.CronEntry, ...]
    status: crontab.CronStatus
    others: tuple[crontab.OtherJob, ...] = ()


def update(settings: Settings) -> crontab.CronChange:
    """Only bring an existing entry to this installation's command (`make install` runs it).
    Returns the change (skipped when there is no entry); raises PreconditionMissing when not root."""
    require_root()
    return crontab.update(settings.paths.crontab, crontab.default_command(settings.paths))


def remove(settings: Settings, legacy: bool) -> crontab.CronChange:
    """Remove ispa-cert's entry (and with `legacy` the guide's acme.sh line). Returns the change;
    raises PreconditionMissing when not root."""
    require_root()
    return crontab.remove(settings.paths.crontab, remove_legacy=legacy)


def show(settings: Settings) -> CronView:
    """The crontab entries (ours and the guide's), their status and other acme.sh jobs; reads only."""
    path = settings.paths.crontab
    return CronView(tuple(crontab.read_entries(path)),
                    crontab.entry_status(path, crontab.default_command(settings.paths)), tuple(crontab.other_renewal_jobs(settings.paths)))
