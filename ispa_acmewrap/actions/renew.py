"""`ispa-cert renew`: renew the certificates that are due, as the CA and their lifetime say.

What is renewed: every certificate acme.sh holds in the certificate home (NAME/ RSA or
NAME_ecc/ ECC) whose name is on record, adopted, or served by Apache from there — what the
guide's `--renewAll` renewed on a server Apache uses it for (served.renewal_candidates).
The copy Apache uses decides (its vhost's SSLCertificateFile, else live/NAME/cert.pem, else
acme.sh's NAME.cer); each is renewed in its own layout (`--ecc` only for NAME_ecc/, so an
RSA key stays RSA), and Apache that reads acme.sh's files directly is reloaded. First the
CA's renewal information (ARI) is read for each certificate whose Retry-After has passed
(common.refresh_renewal_info); then renewal.plan says when each is due: at the moment chosen
inside the CA's window, else at 2/3 of its lifetime, never later. Due names are renewed with
acme.sh `--renew --force` one by one: `--renew` sends ARI's `replaces` (the CA then exempts the
order from its rate limits), `--force` keeps acme.sh's own day count from deciding. A hostname
with 5 failed validations in the last hour is not sent to the CA. After renewing, acme.sh's
reloadcmd has reloaded Apache; the tool then checks that Apache serves the new certificates,
and reads the new certificate's window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from .. import acme, renewal, state as state_store, transaction, verify
from ..ca import RenewalInfo
from ..certs import CertificateInfo
from ..console import Console
from ..errors import CommandFailed, OperationFailed, PreconditionMissing, RateLimited
from ..i18n import N_, _, join, ngettext
from ..outcomes import Outcome
from ..progress import NameProgress
from ..settings import Settings
from ..state import IssuanceKind, State
from .common import (OUTCOME_WORDS, announce, rate_limit_rule, blocked_message, failure_outcome, now, record_outcome,
                     refresh_renewal_info, remove_stale_acme_aliases, require_apache_ready,
                     require_root, run_acme_apache, valid_until)
from .served import NameCertificate, installed_certificate, renewal_candidates

log = logging.getLogger(__name__)

RATE_LIMIT_HINT = N_("{rule}: fix the cause (ispa-cert doctor), wait, then run `ispa-cert renew` again")


@dataclass(frozen=True)
class RenewOptions:
    force: bool = False


@dataclass(frozen=True)
class Decision:
    """Whether one certificate is to be renewed now, and why."""

    name: str
    certificate: CertificateInfo | None
    due: bool
    reason: str
    due_at: datetime | None = None  # when it is (or was) due by the CA's window or its lifetime


@dataclass(frozen=True)
class RenewedName:
    name: str
    outcome: Outcome  # RENEWED, NOT_DUE, FAILED (validation), ERROR (CA or local), RATE_LIMITED (CA), BLOCKED (by us)
    certificate: CertificateInfo | None  # the installed one after this run
    reason: str = ""
    next_renewal: datetime | None = None  # of the installed certificate, as renewal.plan says


@dataclass(frozen=True)
class RenewResult:
    names: tuple[RenewedName, ...] = ()
    not_served: str = ""  # why Apache does not serve a renewed certificate, if it does not
    log_file: str = N_("the log")  # where acme.sh's full output is

    def with_outcome(self, outcome: Outcome) -> list[RenewedName]:
        return [entry for entry in self.names if entry.outcome is outcome]

    @property
    def attempted(self) -> bool:
        """True when something was renewed, failed or held back: cron then has news."""
        return any(entry.outcome is not Outcome.NOT_DUE for entry in self.names)


# --- the policy (pure) -----------------------------------------------------------------

def decide(name: str, certificate: CertificateInfo | None, moment: datetime, force: bool,
           info: RenewalInfo | None = None) -> Decision:
    """Due when renewal.plan's moment has passed (ARI window, else 2/3 of the lifetime), when forced,
    or when the certificate is unreadable. The reason names the rule and the CA's explanation."""
    if certificate is None:
        return Decision(name, None, True, "no readable certificate")
    if force:
        return Decision(name, certificate, True, "forced (--force)")
    scheduled = renewal.plan(certificate, info)
    explained = early_renewal_note(scheduled.info, moment)
    if scheduled.is_due(moment):
        return Decision(name, certificate, True,
                        _("due since {date} UTC ({rule})").format(date=f"{scheduled.due_at:%Y-%m-%d %H:%M}",
                                                                  rule=scheduled.rule_text) + explained,
                        scheduled.due_at)
    return Decision(name, certificate, False, _("next renewal {date} UTC").format(
        date=f"{scheduled.due_at:%Y-%m-%d %H:%M}"),
                    scheduled.due_at)


def early_renewal_note(info: RenewalInfo | None, moment: datetime, done: bool = False) -> str:
    """"; the CA asks (asked, once done) for early replacement: URL", or "" when it does not."""
    if info is None or not info.early(moment):
        return ""
    if info.explanation_url:
        note = (_("; the CA asked for early replacement: {url}") if done
                else _("; the CA asks for early replacement: {url}"))
        return note.format(url=info.explanation_url)
    return _("; the CA asked for early replacement") if done else _("; the CA asks for early replacement")


# --- reading what is installed -----------------------------------------------------------

def plan(settings: Settings, record: State, moment: datetime, force: bool) -> list[tuple[NameCertificate, Decision]]:
    renewed, _others = renewal_candidates(settings, record)
    return [(entry, decide(entry.name, entry.certificate(), moment, force, record.renewal_info.get(entry.name)))
            for entry in renewed]


def refreshed(settings: Settings, record: State, moment: datetime) -> State:
    """The state with every certificate's renewal information read again where Retry-After allows."""
    for name in acme.issued_names(settings.paths):
        record = refresh_renewal_info(settings, record, name, installed_certificate(settings.paths, name), moment)
    return record


# --- renewing ------------------------------------------------------------------------------

def renew_one(settings: Settings, console: Console, name: str, ecc: bool = True) -> tuple[Outcome, str]:
    """acme.sh --renew --force for one name, in its layout, shown as one progress line. Returns (outcome, reason)."""
    announce(console, _("Renewing the certificate of {name}").format(name=name))
    progress = NameProgress(console, name, first_step="renewing")
    command = acme.renew_command(settings.paths, name, force=True, ecc=ecc)
    _code, failure = run_acme_apache(settings, console, command, echo=progress.feed)
    if failure is not None and failure.order_refused and not failure.rate_limited:
        # acme.sh names the certificate it replaces (ARI); a CA may refuse that name, e.g. after
        # `repair --new-account` ("requester account did not request the certificate being
        # replaced"). A renewal must not end there: order once more without naming it.
        log.warning("the CA refused the renewal order of %s (%s); ordering again without naming the certificate "
                    "it replaces", name, failure.detail)
        command = acme.renew_command(settings.paths, name, force=True, ecc=ecc, replaces=False)
        _code, failure = run_acme_apache(settings, console, command, echo=progress.feed)
    if failure is not None:
        outcome, reason = failure_outcome(failure)
        progress.finish(_(OUTCOME_WORDS[outcome]), "error")
        return outcome, reason
    progress.finish(_("renewed, valid until {date}").format(date=valid_until(settings, name)), "good")
    return Outcome.RENEWED, ""


def _attempt(settings: Settings, console: Console, record: State, entry: NameCertificate,
             decision: Decision) -> tuple[State, RenewedName]:
    name = decision.name
    if not decision.due:
        return record, _not_due(decision)
    until = state_store.blocked_until(record, name, now())
    if until is not None:
        return record, RenewedName(name, Outcome.BLOCKED, decision.certificate, blocked_message(name, until),
                                   decision.due_at)
    outcome, reason = renew_one(settings, console, name, ecc=entry.held.ecc if entry.held else True)
    record = record_outcome(settings, record, name, outcome, IssuanceKind.RENEW)
    certificate = entry.certificate()
    if outcome is not Outcome.RENEWED:
        return record, RenewedName(name, outcome, certificate, reason, decision.due_at)
    early = early_renewal_note(renewal.current_info(decision.certificate, record.renewal_info.get(name)), now(),
                               done=True) if decision.certificate else ""
    record = refresh_renewal_info(settings, record, name, certificate, now())
    state_store.save_state(settings.paths.state_file, record)
    next_renewal = renewal.plan(certificate, record.renewal_info.get(name)).due_at if certificate else None
    return record, RenewedName(name, outcome, certificate, early.removeprefix("; "), next_renewal)


def _not_due(decision: Decision) -> RenewedName:
    return RenewedName(decision.name, Outcome.NOT_DUE, decision.certificate, decision.reason, decision.due_at)


def check_served(settings: Settings, entries: list[NameCertificate]) -> str:
    """Wait until Apache serves the renewed certificates; the problem, or "" when it does.

    Apache that reads acme.sh's own files (a certificate.pl vhost) has no reload command
    registered with acme.sh: ispa-cert reloads it (configtest first)."""
    installed = [entry for entry in entries if entry.installed]
    if not installed:
        return ""
    try:
        if any(entry.apache_file is not None and entry.apache_file.parent != entry.live_file.parent
               for entry in installed):
            transaction.reload(settings.paths)
        files = {entry.name: entry.file for entry in installed if entry.file is not None}
        verify.wait_until_served(settings, [entry.name for entry in installed], files=files)
    except (OperationFailed, CommandFailed) as error:
        return error.message
    return ""


def run(settings: Settings, console: Console, options: RenewOptions) -> RenewResult:
    """Renew every certificate ispa-cert renews that is due (all with --force), one by one.

    Returns each name's Outcome with the installed certificate and its next renewal, and why
    Apache does not serve a renewed certificate, if it does not; a successful run is recorded
    as the last renewal. Failed names are in the result (raise_for_failures gives the exit
    status). Raises PreconditionMissing (not root, acme.sh missing, Apache rejects its
    configuration) and OperationFailed (the CA does not answer within ISPA_CA_TIMEOUT).
    """
    require_root()
    record = state_store.load_state(settings.paths.state_file)
    if not options.force:
        known = record
        record = refreshed(settings, record, now())
        if record != known:
            state_store.save_state(settings.paths.state_file, record)
    planned = plan(settings, record, now(), options.force)
    if not any(decision.due for _, decision in planned):
        return _finish(settings, RenewResult(tuple(_not_due(decision) for _, decision in planned)))
    if not settings.paths.acme_script.exists():
        raise PreconditionMissing(_("acme.sh is not installed in {directory}").format(directory=settings.paths.acme_home),
                                  hint=_("`ispa-cert install` installs it again (keeps the account); "
                                         "`ispa-cert repair` if that does not help"))
    require_apache_ready(settings, _("the CA validates the renewal through it, and acme.sh would start it; "
                                     "ispa-cert never starts an Apache that was stopped"))
    remove_stale_acme_aliases(settings, console)
    outcomes = []
    for entry, decision in planned:
        record, outcome = _attempt(settings, console, record, entry, decision)
        outcomes.append(outcome)
    renewed = {outcome.name for outcome in outcomes if outcome.outcome is Outcome.RENEWED}
    if renewed:
        console.step(ngettext("Checking that Apache serves the new certificate of {names}",
                              "Checking that Apache serves the new certificates of {names}", len(renewed)).format(
                                  names=", ".join(sorted(renewed))))
    served = check_served(settings, [entry for entry, _ in planned if entry.name in renewed])
    return _finish(settings, RenewResult(tuple(outcomes), served, str(settings.paths.log_file)))


def _finish(settings: Settings, result: RenewResult) -> RenewResult:
    """Remember a run that ended without trouble (doctor shows it)."""
    if not any(entry.outcome.is_failure for entry in result.names) \
            and not result.not_served:
        path = settings.paths.state_file
        state_store.save_state(path, state_store.record_renewal(state_store.load_state(path), now()))
    return result


def raise_for_failures(result: RenewResult) -> None:
    """The exit status cron mail acts on: 4 when waiting is the cure, else 1."""
    held = result.with_outcome(Outcome.BLOCKED) + result.with_outcome(Outcome.RATE_LIMITED)
    failed = result.with_outcome(Outcome.FAILED) + result.with_outcome(Outcome.ERROR)
    if held:
        raise RateLimited(join("; ", (_problem(entry) for entry in held + failed)),
                          hint=_(RATE_LIMIT_HINT).format(rule=rate_limit_rule()))
    if failed:
        raise OperationFailed(_("renewal failed for {problems}").format(
            problems=join("; ", (_problem(entry) for entry in failed))),
            hint=_("the installed certificates are unchanged; `ispa-cert doctor` checks the usual causes; acme.sh's "
                   "full output is in {file}").format(file=_(result.log_file)))
    if result.not_served:
        raise OperationFailed(result.not_served,
                              hint=_("acme.sh's reload did not take effect: run `apache2ctl configtest` and "
                                     "`apache2ctl graceful`, then `ispa-cert status`"))


def _problem(entry: RenewedName) -> str:
    if entry.outcome is Outcome.BLOCKED:
        return entry.reason
    if entry.outcome is Outcome.RATE_LIMITED:
        return _("{name}: the CA refuses it for now ({reason})").format(name=entry.name, reason=entry.reason)
    return _("{name}: {reason}").format(name=entry.name, reason=entry.reason)
