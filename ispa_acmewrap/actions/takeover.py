"""`ispa-cert cron install` (and the end of `issue`): our crontab entry in place of the old renewal jobs.

Taking over never abandons a renewal: the guide's `--renewAll` line (and acme.sh's own
`--cron` jobs in /etc/cron.d/ or root's crontab) renew every certificate acme.sh holds in the
certificate home. They are replaced only when ispa-cert renews each of those too; a
certificate no interface uses and Apache does not serve is adopted (`--adopt`, or the
administrator's yes) or the takeover is refused, naming it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import cron as crontab, state as state_store, transaction
from ..console import Console
from ..errors import PreconditionMissing
from ..i18n import _, ngettext
from ..settings import Settings
from .common import require_root, shortest_lifetime
from .served import renewal_candidates


@dataclass(frozen=True)
class Takeover:
    """What `cron install` did besides its own line."""

    change: crontab.CronChange | None  # None: refused, nothing changed
    left_alone: tuple[str, ...] = ()  # names the old jobs renew that ispa-cert does not (refused)
    adopted: tuple[str, ...] = ()
    disabled: tuple[crontab.OtherJob, ...] = ()
    kept: tuple[crontab.OtherJob, ...] = ()  # other jobs the administrator chose to keep
    backup: str | None = None  # backup id of the cron files changed by disabling


def raise_if_refused(takeover: Takeover) -> None:
    """PreconditionMissing when `install` refused to replace the old job, naming what it would abandon."""
    if takeover.change is None:
        count = len(takeover.left_alone)
        raise PreconditionMissing(
            ngettext("the old renewal job also renews {names}, which ispa-cert does not renew (no interface uses "
                     "it and Apache does not serve it): replacing the job would let it expire. Nothing was changed.",
                     "the old renewal job also renews {names}, which ispa-cert does not renew (no interface uses "
                     "them and Apache does not serve them): replacing the job would let them expire. Nothing was "
                     "changed.", count).format(names=", ".join(takeover.left_alone)),
            hint=ngettext("`ispa-cert cron install --adopt` makes ispa-cert renew it too; or keep the old job",
                          "`ispa-cert cron install --adopt` makes ispa-cert renew them too; or keep the old job",
                          count))


def install(settings: Settings, schedule: str | None, console: Console | None = None,
            adopt: bool = False) -> Takeover:
    """Our entry in place of the old renewal jobs, when no certificate they renew would be left behind.

    Returns the crontab change, what was adopted and which other jobs were disabled (backed up)
    or kept; `change` None when the takeover was refused (nothing changed, `left_alone` names
    why). Raises PreconditionMissing when not root, BadInput for a bad `schedule`."""
    require_root()
    console = console or Console(interactive=False)
    paths = settings.paths
    others = crontab.other_renewal_jobs(paths)
    legacy = [entry for entry in crontab.read_entries(paths.crontab) if entry.legacy]
    adopted: tuple[str, ...] = ()
    if legacy or others:
        _renewed, left = renewal_candidates(settings, state_store.load_state(paths.state_file))
        adopted = tuple(entry.name for entry in left)
        if adopted and not _adopt(console, adopted, adopt):
            return Takeover(None, left_alone=adopted)
    change = crontab.install(paths.crontab, crontab.default_command(settings.paths), schedule,
                             shortest_lifetime(settings))  # a bad schedule stops here: nothing adopted yet
    if adopted:
        state_store.save_state(paths.state_file,
                               state_store.with_adopted(state_store.load_state(paths.state_file), adopted))
    return _disable_others(settings, console, Takeover(change, adopted=adopted), others)


def _adopt(console: Console, names: tuple[str, ...], adopt: bool) -> bool:
    if adopt:
        return True
    if not console.interactive or console.assume_yes:
        return False
    console.say(ngettext("The old renewal job also renews {names}: no interface uses it and Apache does not "
                         "serve it.",
                         "The old renewal job also renews {names}: no interface uses them and Apache does not "
                         "serve them.", len(names)).format(names=", ".join(names)))
    return console.confirm(ngettext("Let ispa-cert renew it too (otherwise the old job stays)?",
                                    "Let ispa-cert renew them too (otherwise the old job stays)?", len(names)),
                           default=False)


def _disable_others(settings: Settings, console: Console, takeover: Takeover,
                    others: list[crontab.OtherJob]) -> Takeover:
    if not others:
        return takeover
    for job in others:
        console.say(_("Another acme.sh renewal job: {file} line {number}: {line}").format(
            file=job.file, number=job.line_number, line=job.text))
    ask = console.interactive or console.assume_yes
    question = ngettext("Disable it (commented out, a backup is kept)? Two renewals on one acme.sh home may run "
                        "at once otherwise.",
                        "Disable them (commented out, a backup is kept)? Two renewals on one acme.sh home may run "
                        "at once otherwise.", len(others))
    if not (ask and console.confirm(question, default=True)):
        return Takeover(takeover.change, takeover.left_alone, takeover.adopted, kept=tuple(others))
    # After issue's Apache changes, a step of its backup: `backups restore` (the newest) stays "before issue".
    backup = transaction.create_backup(settings.paths, "disable other acme.sh renewal jobs",
                                       files=sorted({job.file for job in others}),
                                       step_of=transaction.command_backup(settings.paths))
    crontab.disable_jobs(others)
    return Takeover(takeover.change, takeover.left_alone, takeover.adopted, tuple(others), backup=backup.id)
