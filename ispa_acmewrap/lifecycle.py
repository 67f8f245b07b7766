"""What every run does around its command: the log, the root check, the run lock, and
finishing an Apache change an earlier run left half-done.

`run` is the skeleton every command of cli.py runs in, and the place where errors become
messages and exit codes. A command that changes the server runs as `changing(...)` says:
root check → lock → recover → body. A read-only command never recovers:
`report_pending_change` only says that an interrupted change waits for the next changing command.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from . import __version__, terminal
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PRECONDITION, EXIT_UNEXPECTED, IspaError, PreconditionMissing
from .i18n import _, english
from .settings import Settings

log = logging.getLogger("ispa_acmewrap")


def setup_logging(settings: Settings, quiet: bool) -> Path | None:
    """Log everything to the log file (and with -v, unless quiet, to stderr); the file, or None if unwritable."""
    logging.raiseExceptions = False  # a log on a full disk must not print tracebacks to the admin
    log.setLevel(logging.DEBUG)
    log.handlers.clear()
    log_file = settings.paths.log_file
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
    except OSError as error:
        terminal.write(sys.stderr, terminal.labelled("warning", _("cannot write the log {file}: {error}").format(
            file=log_file, error=error)))
        log_file = None
    if settings.verbose and not quiet:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.INFO)
        stream.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(stream)
    return log_file


def require_root() -> None:
    """PreconditionMissing (exit 3) unless this process runs as root."""
    if os.geteuid() != 0:
        raise PreconditionMissing(_("ispa-cert changes Apache and /data/ispadmin_cert: run it as root"),
                                  hint="sudo ispa-cert …")  # i18n: not a message


@contextmanager
def changing(settings: Settings, command: str, recover: bool = True) -> Iterator[None]:
    """Root check → run lock → finish an interrupted Apache change → the body, in this order.

    Without `recover` (`backups restore`, the way out when recovery itself fails) the body's own
    Apache change replaces the interrupted one.

    The lock waits at most ISPA_LOCK_WAIT seconds (default 30), then raises Locked (exit 5).
    Recovery runs under the lock, so it never races another run's change.
    """
    from .lock import exclusive
    from .settings import lock_wait_from_env
    from .transaction import begin_command

    require_root()
    with exclusive(settings.paths.lock_file, command, wait=lock_wait_from_env()):
        if recover:
            recover_interrupted(settings)
        begin_command(settings.paths, command)
        yield


def recover_interrupted(settings: Settings) -> None:
    """Restore the backup of an Apache change an earlier run did not finish, and say so."""
    from .transaction import recover

    if settings.paths.pending_marker.exists():
        message = recover(settings.paths)
        if message:
            terminal.write(sys.stderr, terminal.labelled("notice", message))
            log.warning(english(message))


def report_pending_change(settings: Settings) -> None:
    """Read-only commands never act on an interrupted change: they only say it is there."""
    from .transaction import marked_backup, pending_change

    if not settings.paths.pending_marker.exists():
        return
    marker = pending_change(settings.paths)
    if marker is None:
        return
    backup = marker.get("backup")
    if backup and marked_backup(settings.paths, marker) is not None:
        then = _("restores backup {id} first").format(id=backup)
    elif backup:
        then = _("finds its backup {id} gone: it keeps the current configuration if Apache accepts it, "
                 "otherwise says how to restore another backup").format(id=backup)
    elif marker.get("main_config_copy"):
        then = _("puts {file} back as it was before acme.sh ran").format(file=settings.paths.apache_main_config.name)
    else:
        then = _("removes the unreadable marker {marker}").format(marker=settings.paths.pending_marker)
    terminal.write(sys.stderr, terminal.labelled("notice", _(
        "an earlier run was interrupted while changing Apache ({reason}); the next changing command (e.g. "
        "`ispa-cert renew`) {then}").format(reason=marker.get("reason"), then=then)))


def disk_full_message(error: OSError) -> str:
    """Name the full disk: the file that could not be written and the mount point it lives on."""
    written = error.filename2 or error.filename  # shutil.copy names the source first, the target second
    path = Path(written) if written else None
    if path is None:
        return _("the disk is full ({error})").format(error=error.strerror)
    mount = path if path.is_dir() else path.parent
    while not mount.exists() or not os.path.ismount(mount):
        if mount == mount.parent:
            break
        mount = mount.parent
    return _("the disk is full: cannot write {path} (file system {mount}: {error})").format(
        path=path, mount=mount, error=error.strerror)


def run(settings, act: Callable[[], object], render: Callable[[object], int | None] = lambda _: None, *,
         changes: str | None = None, recover: bool = True, pending: bool = True,
         check: Callable[[], None] = lambda: None, quiet: bool = False) -> int:
    """Every command: [root check →] log → check the input → [lock → recover →] act → render → exit code.

    `changes` names a command that changes the server: it runs as root, under the lock, after an
    interrupted Apache change was finished (changing). Without it the command only reads,
    and an interrupted change is reported, never touched. `render` prints the result outside the
    lock and may return the exit code (default 0). Here (and in cli.py for doctor and the
    settings), errors become messages and exit codes.
    """
    signal.signal(signal.SIGTERM, _interrupt)  # cron and systemd stop with SIGTERM: roll back as for Ctrl-C
    log_file = None
    try:
        if changes:
            require_root()  # before the log, which only root can write
        log_file = setup_logging(settings, quiet)
        log.info("ispa-cert %s: %s", __version__, " ".join(sys.argv[1:]))
        check()
        if changes:
            with changing(settings, changes, recover):
                result = act()
        else:
            result = act()
        code = render(result) or 0
        if not changes and pending:
            report_pending_change(settings)
    except IspaError as error:
        log.info("failed: %s", english(error.message), exc_info=True)
        code = say_error(error.message, error.hint, error.exit_code, quiet)
    except KeyboardInterrupt:
        log.info("interrupted", exc_info=True)
        shown = terminal.paint(_("interrupted"), "error", terminal.colour_wanted(sys.stderr, quiet))
        terminal.write(sys.stderr, f"\n{shown}")
        code = EXIT_INTERRUPTED
    except PermissionError as error:
        if os.geteuid() == 0:
            return _unexpected(log_file)
        code = say_error(_("permission denied: {file}").format(file=error.filename or error),
                         _("run it as root (sudo ispa-cert …)"), EXIT_PRECONDITION)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            return _unexpected(log_file)
        log.info("disk full", exc_info=True)
        code = say_error(disk_full_message(error), _("free space there, then run the command again; files are "
                                                     "written whole or not at all, and what this run changed in "
                                                     "Apache was rolled back"), EXIT_FAILED)
    except Exception:  # noqa: BLE001 - the one place an unexpected failure becomes a message
        code = _unexpected(log_file)
    return code


def say_error(message: str, hint: str | None, code: int, quiet: bool = False) -> int:
    """`error:` and `hint:` on stderr, red and bold on a terminal (never with --cron or NO_COLOR); returns code."""
    terminal.write(sys.stderr, terminal.labelled("error", message, quiet=quiet))
    if hint:
        terminal.write(sys.stderr, terminal.labelled("hint", hint, quiet=quiet))
    return code


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _unexpected(log_file: Path | None) -> int:
    log.exception("unexpected error")
    message = (_("unexpected error — the details are in {file}").format(file=log_file) if log_file
               else _("unexpected error — the details are in the log"))
    terminal.write(sys.stderr, terminal.labelled("error", message))
    return EXIT_UNEXPECTED
