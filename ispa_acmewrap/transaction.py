"""Every change to Apache is a transaction: back up, change, configtest, reload,
verify — or restore the backup, reload, and say what failed.

A marker file exists from the backup until the change is verified (or rolled
back). If a run dies in between (SIGKILL, power loss), the next run of any command
finds the marker, restores the backup and reloads Apache.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path

from . import apache, runner
from .errors import BadInput, CommandFailed, IspaError, OperationFailed, PreconditionMissing, RollbackFailed
from .files import atomic_write, private_directory
from .i18n import _
from .paths import Paths

log = logging.getLogger(__name__)

KEEP_BACKUPS = 10
MANIFEST = "manifest.json"

# The first Apache backup a command (one process) makes holds the state before the command;
# later changes of the same command back up into step backups, needed only to roll that step
# back (or to recover from a crash in it) and removed afterwards. So `backups restore` brings
# back the state before the command, never a state in the middle of it.
_command_backup: dict[Path, str] = {}
_command_name: dict[Path, str] = {}  # the running command, which names its backup (begin_command)


def begin_command(paths: Paths, command: str) -> None:
    """Name the command whose first Apache backup holds the state before it ("before ispa-cert issue")."""
    _command_name[paths.backups_dir] = command


def command_backup(paths: Paths) -> str | None:
    """The id of the backup this command made first (the state before it), None before its first change."""
    return _command_backup.get(paths.backups_dir)


class EntryKind(StrEnum):
    """What a backed-up path was; the value is the word manifest.json keeps."""

    FILE = "file"  # a regular file: its bytes, mode and owner are kept
    LINK = "link"  # a symbolic link: its target is kept
    ABSENT = "absent"  # nothing there: restoring removes what was made since


@dataclass(frozen=True)
class BackupEntry:
    path: str
    kind: EntryKind
    stored: str | None = None
    link: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True)
class Backup:
    id: str
    directory: Path
    created: str
    reason: str
    entries: tuple[BackupEntry, ...]
    step_of: str | None = None  # the command's backup, when this one only serves one step of it


def tracked_files(paths: Paths) -> list[Path]:
    """Every Apache file this tool may change (acme.sh --apache edits the main config)."""
    return [
        paths.ispadmin_site, paths.vhost_include, paths.temp_site, paths.temp_site_enabled,
        paths.apache_main_config,
        *(paths.mods_enabled / name for name in ("ssl.load", "ssl.conf", "socache_shmcb.load")),
        *(paths.mods_enabled / name for name in ("rewrite.load", "headers.load")),  # --redirect, --hsts
    ]


# --- backups ------------------------------------------------------------------------

def create_backup(paths: Paths, reason: str, files: list[Path] | None = None, step_of: str | None = None) -> Backup:
    private_directory(paths.backups_dir)
    stamp = datetime.now(timezone.utc)
    backup_id = _free_id(paths.backups_dir, stamp.strftime("%Y%m%d-%H%M%S"))
    directory = private_directory(paths.backups_dir / backup_id)
    entries = tuple(_save_entry(path, directory, index) for index, path in enumerate(files or tracked_files(paths)))
    backup = Backup(backup_id, directory, stamp.isoformat(timespec="seconds"), reason, entries, step_of)
    atomic_write(directory / MANIFEST, json.dumps(_manifest(backup), indent=2) + "\n", mode=0o600)
    _prune(paths)
    log.info("backup %s made in %s (%s)", backup_id, directory, reason)
    return backup


def _free_id(directory: Path, base: str) -> str:
    """A new id that sorts after every existing one, even after pruning removed older ones."""
    taken = [entry.name for entry in directory.iterdir() if entry.name.split("-")[:2] == base.split("-")]
    if not taken:
        return base
    counters = [int(name.rsplit("-", 1)[1]) if name.count("-") == 2 else 1 for name in taken]
    return f"{base}-{max(counters) + 1:02d}"


def _save_entry(path: Path, directory: Path, index: int) -> BackupEntry:
    if path.is_symlink():
        return BackupEntry(str(path), EntryKind.LINK, link=os.readlink(path))
    if not path.exists():
        return BackupEntry(str(path), EntryKind.ABSENT)
    stored = f"{index:02d}-{path.name}"
    shutil.copy2(path, directory / stored)
    info = path.stat()
    return BackupEntry(str(path), EntryKind.FILE, stored=stored, mode=info.st_mode & 0o7777, uid=info.st_uid, gid=info.st_gid)


def _manifest(backup: Backup) -> dict:
    return {"id": backup.id, "created": backup.created, "reason": backup.reason,
            "entries": [entry.__dict__ for entry in backup.entries],
            **({"step_of": backup.step_of} if backup.step_of else {})}


def list_backups(paths: Paths, steps: bool = False) -> list[Backup]:
    """The readable backups, newest first; a damaged one is skipped (damaged_backups names it).
    Step backups (see _command_backup) only with `steps`."""
    return [backup for backup in _scan(paths)[0] if steps or not backup.step_of]


def damaged_backups(paths: Paths) -> list[tuple[Path, str]]:
    """Backup directories whose manifest cannot be read, with the reason; they are never used."""
    return _scan(paths)[1]


def _scan(paths: Paths) -> tuple[list[Backup], list[tuple[Path, str]]]:
    if not paths.backups_dir.is_dir():
        return [], []
    found, damaged = [], []
    for directory in paths.backups_dir.iterdir():
        manifest = directory / MANIFEST
        if not manifest.is_file():
            continue
        try:
            found.append(_load(directory))
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            log.warning("backup %s skipped: its %s is damaged (%s)", directory, MANIFEST, error)
            damaged.append((directory, _("{manifest} is damaged ({error})").format(manifest=MANIFEST, error=error)))
    return sorted(found, key=lambda backup: backup.id, reverse=True), sorted(damaged)


def find_backup(paths: Paths, backup_id: str | None) -> Backup:
    backups = list_backups(paths, steps=backup_id is not None)
    if backup_id is None:
        if not backups:
            raise PreconditionMissing(_("there are no backups in {directory}").format(directory=paths.backups_dir))
        return backups[0]
    for backup in backups:
        if backup.id == backup_id:
            return backup
    damaged = [directory for directory, _problem in damaged_backups(paths) if directory.name == backup_id]
    if damaged:
        raise BadInput(_("backup {id} is damaged ({manifest} cannot be read) and cannot be restored").format(
            id=backup_id, manifest=damaged[0] / MANIFEST), hint=_("`ispa-cert backups list` shows the usable backups"))
    raise BadInput(_("no backup with the id {id}").format(id=backup_id),
                   hint=_("`ispa-cert backups list` shows the ids"))


def _load(directory: Path) -> Backup:
    data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    entries = tuple(BackupEntry(**{**entry, "kind": EntryKind(entry["kind"])}) for entry in data["entries"])
    return Backup(str(data["id"]), directory, str(data["created"]), str(data["reason"]), entries,
                  data.get("step_of"))


def _prune(paths: Paths) -> None:
    """Keep the newest KEEP_BACKUPS backups, and the step backups (kept after a failed rollback or a
    killed run) only as long as their command's backup is kept."""
    every = list_backups(paths, steps=True)
    kept = {backup.id for backup in every if not backup.step_of}
    for old in [backup for backup in every if not backup.step_of][KEEP_BACKUPS:]:
        kept.discard(old.id)
        shutil.rmtree(old.directory, ignore_errors=True)
    for step in every:
        if step.step_of and step.step_of not in kept:
            shutil.rmtree(step.directory, ignore_errors=True)


def restore_files(backup: Backup) -> None:
    """Put every file of the backup back as it was (and remove files that did not exist)."""
    for entry in backup.entries:
        path = Path(entry.path)
        if entry.kind is not EntryKind.FILE and (path.is_symlink() or path.exists()) and not path.is_dir():
            path.unlink()
        if entry.kind is EntryKind.LINK:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(entry.link)
        elif entry.kind is EntryKind.FILE:
            if path.is_symlink():
                path.unlink()
            atomic_write(path, (backup.directory / entry.stored).read_bytes(), mode=entry.mode)
            os.chown(path, entry.uid, entry.gid)


# --- the transaction ------------------------------------------------------------------

RELOAD_WAIT_SECONDS = 15.0  # the longest a graceful reload is waited for
RELOAD_SETTLE_SECONDS = 1.0  # the pause after a reload when Apache's error log cannot be read
_RELOADED = re.compile(rb"configured -- resuming normal operations")  # AH00489 (event, worker), AH00163 (prefork)


def configtest(paths: Paths) -> apache.RunConfig:
    """apache2ctl's configtest (CommandFailed when Apache rejects its files or a certificate or key
    they name); returns Apache's run-time configuration (error log, PID file), dumped beside it."""
    test, dump = runner.run_side_by_side(apache.configtest_command(paths), apache.run_config_command(paths))
    if test.returncode != 0:
        raise CommandFailed(list(test.argv), test.returncode, test.output)
    return apache.parse_run_config(dump.output)


def reload(paths: Paths) -> None:
    """Configtest, then a graceful reload that returns once Apache runs the new configuration.

    `apache2ctl graceful` returns as soon as it has signalled Apache; Apache's main process then
    reads its files again and says `configured -- resuming normal operations` in its error log,
    and connections from then on are served by the new configuration. Without a readable error
    log, a fixed pause stands in for that line.
    """
    error_log = configtest(paths).error_log
    start = _size(error_log)
    runner.run(apache.ctl_command(paths, "graceful"))
    if error_log is None or start is None:
        time.sleep(RELOAD_SETTLE_SECONDS)
    elif not _logged_since(error_log, start, _RELOADED, RELOAD_WAIT_SECONDS):
        log.warning("Apache did not log that it runs the new configuration within %.0f s (%s)",
                    RELOAD_WAIT_SECONDS, error_log)


def _size(file: Path | None) -> int | None:
    try:
        return file.stat().st_size if file is not None else None
    except OSError:
        return None


def _logged_since(file: Path, start: int, pattern: re.Pattern[bytes], timeout: float) -> bool:
    """Whether a line matching pattern was written to file after offset start, polled up to timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with file.open("rb") as stream:
                stream.seek(start if stream.seek(0, os.SEEK_END) >= start else 0)  # rotated: from its start
                if pattern.search(stream.read()):
                    return True
        except OSError:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


@contextmanager
def apache_change(paths: Paths, reason: str, verify: Callable[[], None] | None = None,
                  files: list[Path] = ()) -> Iterator[Backup]:
    """Back up, let the caller change files, then configtest, reload and verify.

    `files` are the administrator's files the change edits besides ours: they are
    registered in the backup before anything is written. Any exception inside the
    block or in configtest/reload/verify restores the backup, reloads Apache and
    raises OperationFailed (or RollbackFailed).
    """
    command_backup = _command_backup.get(paths.backups_dir)
    extra = [file for file in files if file not in tracked_files(paths)]
    command = _command_name.get(paths.backups_dir)
    label = reason if command_backup or not command else f"before ispa-cert {command} ({reason})"
    backup = create_backup(paths, label, [*tracked_files(paths), *extra], step_of=command_backup)
    _command_backup.setdefault(paths.backups_dir, backup.id)
    _write_marker(paths, reason, backup=backup.id)
    try:
        yield backup
        test_hook("apache-change")
        reload(paths)
        if verify is not None:
            verify()
    except BaseException as failure:
        _roll_back(paths, backup, failure)  # a failed rollback keeps the step backup: its hint names it
        _drop_step(backup)
        raise _as_error(failure, backup) from failure
    finally:
        paths.pending_marker.unlink(missing_ok=True)
    _drop_step(backup)


def _drop_step(backup: Backup) -> None:
    if backup.step_of:
        shutil.rmtree(backup.directory, ignore_errors=True)


def test_hook(point: str) -> None:
    """For the fault tests only: with ISPA_TEST_PAUSE_AT=POINT, say so on stderr and wait to be killed."""
    if os.environ.get("ISPA_TEST_PAUSE_AT") == point:
        log.warning("paused at %s (ISPA_TEST_PAUSE_AT)", point)
        os.write(2, f"test hook: paused at {point}\n".encode())
        time.sleep(60)


def undo(paths: Paths, backup: Backup) -> None:
    """Put a finished change back as its backup holds it, configtest and reload.

    A second Ctrl-C or SIGTERM does not cut it short; a marker names the backup meanwhile, so
    if this run dies or the undo fails, the next changing command restores the backup."""
    log.info("undoing the change of backup %s (%s)", backup.id, backup.reason)
    _write_marker(paths, f"undo {backup.reason}", backup=backup.id)
    with runner.interrupts_deferred():
        restore_files(backup)
        reload(paths)
    paths.pending_marker.unlink(missing_ok=True)


def _roll_back(paths: Paths, backup: Backup, failure: BaseException) -> None:
    log.warning("rolling back to backup %s after: %r", backup.id, failure)
    try:
        with runner.interrupts_deferred():  # a second Ctrl-C or SIGTERM must not cut the rollback short
            restore_files(backup)
            reload(paths)
    except (OSError, IspaError) as error:
        paths.pending_marker.unlink(missing_ok=True)
        raise RollbackFailed(
            _("the change failed and restoring the previous Apache configuration failed too: {error}").format(
                error=error),
            hint=_("restore the files by hand from {directory} (see {manifest}), then run apache2ctl "
                   "configtest").format(directory=backup.directory, manifest=MANIFEST),
        ) from failure


def _as_error(failure: BaseException, backup: Backup) -> BaseException:
    restored = _("The previous configuration was restored from backup {id} and Apache reloaded.").format(id=backup.id)
    if isinstance(failure, CommandFailed):
        return OperationFailed(_("{error}. Apache said:\n{apache}\n{restored}").format(
            error=failure.message, apache=apache_message(failure.output), restored=restored),
            hint=_("fix the Apache configuration error above, then run the command again"))
    if isinstance(failure, IspaError):
        return type(failure)(failure.message + "\n" + restored, failure.hint)
    return failure


def _write_marker(paths: Paths, reason: str, **what: str) -> None:
    private_directory(paths.state_dir)
    marker = {"reason": reason, "pid": os.getpid(), "started": time.time(), **what}
    atomic_write(paths.pending_marker, json.dumps(marker) + "\n", mode=0o600)


def pending_change(paths: Paths) -> dict | None:
    """The marker of an Apache change that did not finish, if its run is gone."""
    try:
        marker = json.loads(paths.pending_marker.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"backup": None, "reason": "unreadable marker", "pid": None}
    if marker.get("pid") and _alive(int(marker["pid"])):
        return None
    return marker


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(paths: Paths) -> str | None:
    """Finish what a killed run left: restore its backup and reload. Returns a message."""
    marker = pending_change(paths)
    if marker is None:
        return None
    if marker.get("main_config_copy") and Path(marker["main_config_copy"]).exists():
        _put_back_main_config(paths, Path(marker["main_config_copy"]))
        paths.pending_marker.unlink(missing_ok=True)
        return _("an earlier run was interrupted while acme.sh had changed {file}; "
                 "it was put back as it was and Apache reloaded").format(file=paths.apache_main_config.name)
    if not marker.get("backup"):
        paths.pending_marker.unlink(missing_ok=True)
        return _("an interrupted Apache change left an unreadable marker; it was removed")
    backup = marked_backup(paths, marker)
    if backup is None:
        return _recover_without_backup(paths, marker)
    restore_files(backup)
    reload(paths)
    paths.pending_marker.unlink(missing_ok=True)
    _drop_step(backup)  # a step backup served only this step
    return _("an earlier run was interrupted while changing Apache ({reason}); "
             "the configuration from backup {id} was restored and Apache reloaded").format(
                 reason=marker.get("reason"), id=backup.id)


def marked_backup(paths: Paths, marker: dict) -> Backup | None:
    """The backup an interrupted change's marker names: also a step backup (a later change of its command)."""
    return next((found for found in list_backups(paths, steps=True) if found.id == marker.get("backup")), None)


def _recover_without_backup(paths: Paths, marker: dict) -> str:
    """The interrupted change names a backup that is gone: keep a configuration Apache accepts, else stop."""
    what = _("an earlier run was interrupted while changing Apache ({reason})").format(reason=marker.get("reason"))
    try:
        configtest(paths)
    except CommandFailed as failed:
        raise RollbackFailed(
            _("{what}, and its backup {id} no longer exists in {directory}; "
              "Apache rejects the current configuration:\n{apache}").format(
                  what=what, id=marker["backup"], directory=paths.backups_dir, apache=apache_message(failed.output)),
            hint=_("fix the error above or restore another backup (`ispa-cert backups list`, then "
                   "`ispa-cert backups restore ID`, which clears this state), or remove {marker} "
                   "once `apache2ctl configtest` passes").format(marker=paths.pending_marker)) from None
    paths.pending_marker.unlink(missing_ok=True)
    return _("{what}; its backup {id} no longer exists, but Apache accepts the current "
             "configuration, so it was kept (check it with `ispa-cert status`)").format(what=what, id=marker["backup"])


def apache_message(output: str) -> str:
    """Apache's own words from a failed apache2ctl run: the lines naming file, line and directive."""
    noise = ("Action '", "The Apache error log may have more information")  # apache2ctl's own closing lines
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith(noise)]
    return "\n".join(lines or output.splitlines())[-1500:]


@contextmanager
def acme_apache_run(paths: Paths, reason: str) -> Iterator[None]:
    """Around an acme.sh --apache run: put Apache's main config back byte for byte.

    acme.sh appends a challenge Alias to the main config and is meant to remove it
    afterwards, but 3.1.1 skips that when APACHE_HTTPD_CONF is set, and a crashed run
    leaves it behind (the next configtest then fails). This restores it either way;
    the marker lets the next run do it if this one is killed. acme.sh also leaves its
    challenge tokens behind in --apache mode: they are removed here.
    """
    main = paths.apache_main_config
    copy = paths.state_dir / f"{main.name}.before-acme"
    private_directory(paths.state_dir)
    shutil.copy2(main, copy)
    _write_marker(paths, reason, main_config_copy=str(copy))
    try:
        yield
    finally:
        try:
            with runner.interrupts_deferred():
                _put_back_main_config(paths, copy)
        finally:
            (paths.acme_home / main.name).unlink(missing_ok=True)  # acme.sh's own copy
            paths.pending_marker.unlink(missing_ok=True)
            _clear_challenges(paths)


def _clear_challenges(paths: Paths) -> None:
    if paths.challenge_dir.is_dir():
        for token in paths.challenge_dir.iterdir():
            if token.is_file():
                token.unlink(missing_ok=True)


def _put_back_main_config(paths: Paths, copy: Path) -> None:
    main = paths.apache_main_config
    original = copy.read_bytes()
    if main.read_bytes() != original:
        atomic_write(main, original)
        reload(paths)
        log.info("restored %s as it was before acme.sh ran", main)
    copy.unlink(missing_ok=True)
