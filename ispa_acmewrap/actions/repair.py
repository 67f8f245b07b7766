"""`ispa-cert repair`: the guide's reinstall of acme.sh, made safe.

confirm → archive ROOT/root/.acme.sh, ROOT/root/acme.sh and the acme home into a
tarball (0600) under the backups directory → remove them → install acme.sh from
vendor/ → put the ACME account back (ca/ with its key and registration, and the
account.conf lines that say how to reach the CA) unless --new-account → with
--reissue, issue again for the names on record through the issue action.

Untouched throughout: the installed certificates (live/), Apache, and acme.sh's
per-domain directories NAME_ecc/ (they live in the certificate home, not the acme home).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .. import state as state_store, transaction
from ..console import Console
from ..errors import IspaError, PreconditionMissing, RateLimited
from ..files import atomic_write, private_directory
from ..i18n import _, join
from ..names import ROLES
from ..outcomes import Account
from ..paths import Paths
from ..settings import Settings
from ..state import IssuanceKind, State
from . import issue
from .acme_home import install_acme, vendored_script
from .common import now, require_root

log = logging.getLogger(__name__)

# account.conf lines put back after the fresh install. The account itself (key and
# registration) is the ca/ directory; these say how to reach the CA and who to tell.
KEPT_SETTINGS = ("ACCOUNT_EMAIL", "DEFAULT_ACME_SERVER", "CA_BUNDLE", "CA_PATH")


@dataclass(frozen=True)
class RepairOptions:
    reissue: bool = False
    new_account: bool = False


@dataclass(frozen=True)
class SavedFile:
    relative: str  # below the acme home, e.g. ca/acme-v02.api.letsencrypt.org/directory/account.key
    data: bytes
    mode: int


@dataclass(frozen=True)
class SavedAccount:
    files: tuple[SavedFile, ...] = ()
    settings: tuple[str, ...] = ()  # whole account.conf lines

    @property
    def has_key(self) -> bool:
        return any(saved.relative.endswith("/account.key") for saved in self.files)


@dataclass(frozen=True)
class RepairResult:
    cancelled: bool = False
    archive: Path | None = None
    removed: tuple[Path, ...] = ()
    version: str = ""
    account: Account | None = None  # None when cancelled
    issued: issue.IssueResult | None = None


# --- the CA's limit on identical certificates (pure) --------------------------------------

def reissue_allowed_after(record: State, name: str, moment: datetime) -> datetime | None:
    """When another certificate for exactly {name} stays within the CA's weekly limit; None if now."""
    window = timedelta(days=state_store.ISSUANCE_WINDOW_DAYS)
    if state_store.issuances_in_window(record, [name], moment) < state_store.ISSUANCE_LIMIT:
        return None
    recent = sorted(entry.at for entry in record.issuances
                    if frozenset(entry.names) == {name} and entry.at > moment - window)
    return recent[-state_store.ISSUANCE_LIMIT] + window


def check_reissue(record: State, names: list[str], moment: datetime) -> list[str]:
    """Refuse when a name would exceed the CA's certificates per week; warnings for the last one left."""
    if not names:
        raise PreconditionMissing(_("there are no names on record to issue again"),
                                  hint=_("run `ispa-cert issue -a -c` (with the interfaces you use) instead of "
                                         "--reissue"))
    refused = {name: after for name in names if (after := reissue_allowed_after(record, name, moment))}
    if refused:
        raise RateLimited(
            _("Let's Encrypt allows {limit} certificates for the same name per {days} days and ispa-cert has issued "
              "{limit} for {names}").format(
                limit=state_store.ISSUANCE_LIMIT, days=state_store.ISSUANCE_WINDOW_DAYS,
                names=join(", ", (_("{name} (next possible after {date} UTC)").format(
                    name=name, date=f"{after:%Y-%m-%d %H:%M}") for name, after in refused.items()))),
            hint=_("repair without --reissue now; the installed certificates stay valid and in use"))
    last = [name for name in names
            if state_store.issuances_in_window(record, [name], moment) == state_store.ISSUANCE_LIMIT - 1]
    return [_("this is the last certificate for {name} the CA allows within {days} days").format(
        name=name, days=state_store.ISSUANCE_WINDOW_DAYS)
            for name in last]


# --- the account --------------------------------------------------------------------------

def save_account(paths: Paths) -> SavedAccount:
    """The ACME account (ca/) and the kept account.conf lines, read into memory."""
    files = []
    if paths.acme_ca_dir.is_dir():
        for path in sorted(paths.acme_ca_dir.rglob("*")):
            if path.is_file() and not path.is_symlink():
                files.append(SavedFile(str(path.relative_to(paths.acme_home)), path.read_bytes(),
                                       path.stat().st_mode & 0o777))
    return SavedAccount(tuple(files), kept_settings(_read(paths.acme_account_conf)))


def kept_settings(conf_text: str) -> tuple[str, ...]:
    return tuple(line for line in conf_text.splitlines() if line.partition("=")[0].strip() in KEPT_SETTINGS)


def merge_settings(conf_text: str, lines: tuple[str, ...]) -> str:
    """account.conf with each kept line replacing its key's line, or appended."""
    wanted = {line.partition("=")[0].strip(): line for line in lines}
    kept = [line for line in conf_text.splitlines() if line.partition("=")[0].strip() not in wanted]
    return "\n".join([*kept, *wanted.values()]) + "\n"


def restore_account(paths: Paths, saved: SavedAccount, keep_account: bool) -> None:
    if keep_account:
        for saved_file in saved.files:
            target = paths.acme_home / saved_file.relative
            private_directory(target.parent)
            atomic_write(target, saved_file.data, mode=saved_file.mode)
    if saved.settings:
        conf = paths.acme_account_conf
        atomic_write(conf, merge_settings(_read(conf), saved.settings), mode=0o600)


def _read(path: Path) -> str:
    return path.read_text(errors="surrogateescape") if path.exists() else ""


# --- root's shell start-up files -------------------------------------------------------------

_SOURCE_LINE = re.compile(r'^\s*(?:\.|source)\s+"?(?P<file>[^"\s]+/acme\.sh\.(?:env|csh))"?\s*$')


def dangling_source_lines(text: str, removed: list[Path]) -> list[str]:
    """Lines (with their endings) that source an acme.sh.env/.csh inside a removed directory that is gone now."""
    found = []
    for line in text.splitlines(keepends=True):
        match = _SOURCE_LINE.match(line.rstrip("\r\n"))
        if match:
            sourced = Path(match["file"])
            if any(sourced.is_relative_to(directory) for directory in removed) and not sourced.exists():
                found.append(line)
    return found


def without_lines(text: str, doomed: list[str]) -> str:
    """text without exactly those lines (each once, in order); every other byte kept."""
    kept, remaining = [], list(doomed)
    for line in text.splitlines(keepends=True):
        if line in remaining:
            remaining.remove(line)
            continue
        kept.append(line)
    return "".join(kept)


def clean_shell_files(paths: Paths, removed: list[Path]) -> tuple[Path, ...]:
    """Drop the lines of root's .bashrc/.cshrc/... that source acme.sh files repair removed; backed up first."""
    changes = {}
    for rc in paths.root_shell_rc_files:
        if rc.is_file():
            text = rc.read_text(errors="surrogateescape")
            doomed = dangling_source_lines(text, removed)
            if doomed:
                changes[rc] = without_lines(text, doomed)
    if changes:
        transaction.create_backup(paths, "remove shell lines that source the removed acme.sh", files=list(changes))
        for rc, text in changes.items():
            atomic_write(rc, text.encode(errors="surrogateescape"))
            log.info("removed the lines sourcing removed acme.sh files from %s", rc)
    return tuple(changes)


# --- archive and removal --------------------------------------------------------------------

def archive_directories(directories: list[Path], root: Path, backups_dir: Path, moment: datetime) -> Path:
    """One tar.gz (mode 0600) of the directories, stored by their path below root."""
    private_directory(backups_dir)
    target = _free_name(backups_dir, f"repair-{moment:%Y%m%d-%H%M%S}", ".tar.gz")
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        with tarfile.open(fileobj=handle, mode="w:gz") as archive:
            for directory in directories:
                archive.add(directory, arcname=str(directory.relative_to(root)))
        handle.flush()
        os.fsync(handle.fileno())
    with tarfile.open(target) as archive:  # readable before anything is removed
        archive.getmembers()
    return target


def _free_name(directory: Path, stem: str, suffix: str) -> Path:
    candidate, counter = directory / f"{stem}{suffix}", 1
    while candidate.exists():
        counter += 1
        candidate = directory / f"{stem}-{counter}{suffix}"
    return candidate


@contextmanager
def _archived(archive: Path | None, root: Path) -> Iterator[None]:
    """A failure after the removal names the archive to put the directories back from."""
    try:
        yield
    except IspaError as error:
        if archive is None:
            raise
        raise type(error)(error.message, hint=_("the removed directories are in {archive}; "
                                                "`tar -xzf {archive} -C {root}` puts them back").format(
                                                    archive=archive, root=root)) from error


# --- the whole repair -------------------------------------------------------------------------

def _plan(paths: Paths) -> list[Path]:
    return [directory for directory in (*paths.legacy_acme_dirs, paths.acme_home) if directory.exists()]


def _confirm(console: Console, directories: list[Path], options: RepairOptions) -> bool:
    console.say(_("Repair reinstalls acme.sh from scratch, as the ISPadmin guide describes:"))
    for directory in directories:
        console.say("  " + _("archive and remove {directory}").format(directory=directory))
    console.say("  " + _("install acme.sh from vendor/ again"))
    console.say("  " + _("remove the lines of root's shell files that source the removed acme.sh (backed up)"))
    console.say("  " + (_("register a new ACME account") if options.new_account else _("put the ACME account back")))
    if options.reissue:
        console.say("  " + _("issue the certificates again for the names on record"))
    console.say(_("The installed certificates and Apache's configuration are not touched."))
    return console.confirm(_("Go ahead?"), default=False, unattended=True)


def run(settings: Settings, console: Console, options: RepairOptions) -> RepairResult:
    """The guide's reinstall of acme.sh, made safe: archive the acme.sh homes, install from
    vendor/, put the ACME account back (or not, --new-account), clean root's shell files, and
    with --reissue issue again for the names on record (the issue flow).

    Returns what was archived and removed, the version installed, what became of the account,
    and the issue result (None without --reissue); cancelled when the administrator said no
    (nothing changed). Raises PreconditionMissing (not root, no vendored acme.sh, no names on
    record for --reissue), RateLimited (--reissue beyond the CA's weekly certificates; nothing
    changed); an error after the removal is raised again with a hint naming the archive that
    puts the directories back.
    """
    require_root()
    paths = settings.paths
    vendored_script(settings)
    record = state_store.load_state(paths.state_file)
    names = state_store.names_on_record(record) if options.reissue else []
    warnings = check_reissue(record, names, now()) if options.reissue else []
    for warning in warnings:
        console.warn(warning)
    directories = _plan(paths)
    if not _confirm(console, directories, options):
        return RepairResult(cancelled=True)
    saved = save_account(paths)
    archive = archive_directories(directories, paths.root, paths.backups_dir, now()) if directories else None
    if archive is not None:
        console.say(_("Archived into {archive}").format(archive=archive))
    with _archived(archive, paths.root):
        for directory in directories:
            shutil.rmtree(directory)
        version = install_acme(settings, console)
        keep = not options.new_account and saved.has_key
        restore_account(paths, saved, keep)
        shell_files = clean_shell_files(paths, directories)
    for rc in shell_files:
        console.say(_("Removed the lines of {file} that sourced the removed acme.sh (a backup is kept).").format(
            file=rc))
    account = Account.KEPT if keep else (Account.NEW if options.new_account else Account.NONE)
    issued = issue.run(settings, console, _reissue_options(record)) if options.reissue else None
    return RepairResult(False, archive, tuple(directories), str(version or "unknown"), account, issued)


def _reissue_options(record: State) -> issue.IssueOptions:
    roles = tuple(role for role in ROLES if role in record.roles)
    return issue.IssueOptions(roles=roles, domains={role: record.roles[role] for role in roles}, force=True,
                              issuance_kind=IssuanceKind.REISSUE)
