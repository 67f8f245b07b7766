"""`backups list` and `backups restore`: the backups made before every Apache change."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..console import Console
from ..i18n import _
from ..settings import Settings
from ..transaction import (Backup, apache_change, damaged_backups, find_backup, list_backups, restore_files,
                           tracked_files)


@dataclass(frozen=True)
class BackupListing:
    backups: list[Backup]  # readable, newest first
    damaged: list[tuple[Path, str]]  # directories skipped, with the reason


@dataclass(frozen=True)
class Restored:
    backup: Backup
    done: bool  # False: the admin answered no, nothing was changed


def list_all(settings: Settings) -> BackupListing:
    """Every readable backup and every damaged one; reads only."""
    return BackupListing(list_backups(settings.paths), damaged_backups(settings.paths))


def restore(settings: Settings, console: Console, backup_id: str | None) -> Restored:
    """Put the Apache files of a backup (default: the newest) back, then configtest and reload.

    The current files (also the administrator's own ones the backup holds) are backed up first; if Apache
    rejects the restored configuration, they are put back (OperationFailed). BadInput for an unknown id. Runs under the lock (cli.py).
    """
    backup = find_backup(settings.paths, backup_id)
    if not console.confirm(restore_question(settings, backup), default=True):
        return Restored(backup, done=False)
    with apache_change(settings.paths, f"restore backup {backup.id}",
                       files=[Path(entry.path) for entry in backup.entries]):
        restore_files(backup)
    return Restored(backup, done=True)


def restore_question(settings: Settings, backup: Backup) -> str:
    """Names what the restore puts back: the Apache files, and every other file the backup holds."""
    ours = {str(path) for path in tracked_files(settings.paths)}
    others = [entry.path for entry in backup.entries if entry.path not in ours]
    if not others:
        question = _("Restore the Apache files of backup {id} ({reason})?")
    elif len(others) < len(backup.entries):
        question = _("Restore the Apache files and {files} from backup {id} ({reason})?")
    else:
        question = _("Restore {files} from backup {id} ({reason})?")
    return question.format(id=backup.id, reason=backup.reason, files=", ".join(others))
