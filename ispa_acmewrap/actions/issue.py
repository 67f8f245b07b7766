"""`ispa-cert issue`: the guided flow of the ISPadmin guide, made safe.

names → DNS check → Apache ready for challenges (include line, challenge Alias,
temp_isp.conf) → HTTP-01 self-test → acme.sh issues → install into Apache
(backup, configtest, reload, verify) → cron entry → summary.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import acme, apache, ca, cron, runner, state as state_store, terminal, tls, transaction, verify
from ..apache import VirtualHost, conf, editor, plan
from ..apache.editor import FileEdit
from ..certs import CertificateInfo, read_certificate
from ..console import Console
from ..errors import BadInput, IspaError, OperationFailed, PreconditionMissing, RateLimited, RollbackFailed
from ..files import atomic_write, private_directory
from ..i18n import N_, _, english, join, ngettext
from ..names import ROLES, display_name, host_of_url, normalize_name, shown_name
from ..outcomes import Outcome
from ..progress import NameProgress
from ..report import dns_table, self_test_table, without_token
from ..settings import Settings
from ..state import IssuanceKind, State
from .acme_home import ensure_installed
from .common import (OUTCOME_WORDS, addresses_found, rate_limit_rule, announce, failure_outcome,
                     guard_rate_limits, now, probe_dns, probe_self_test, record_outcome, refresh_renewal_info,
                     remove_stale_acme_aliases, require_apache, require_apache_ready,
                     require_root, run_acme_apache, valid_until)
from .served import installed_certificate
from .takeover import install as take_over

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssueOptions:
    roles: tuple[str, ...]
    domains: dict[str, str | None] = field(default_factory=dict)
    email: str | None = None
    skip_dns_check: bool = False
    ignore_self_test: bool = False
    force: bool = False
    issuance_kind: IssuanceKind = IssuanceKind.ISSUE  # REISSUE when repair issues again
    redirect: bool | None = None  # None: keep what the generated include does now
    profile: str | None = None  # the CA's certificate profile (None: the one remembered, else the CA's default)
    tls_profile: str | None = None  # None: keep the profile on record (default intermediate)
    hsts: bool | None = None  # None: keep what is on record; only ever with the redirect
    key_type: str | None = None  # "ec" or "rsa"; None: the key the name has (RSA stays RSA), else ECDSA
    docroots: dict[str, str | None] = field(default_factory=dict)  # per role, for names without a vhost


@dataclass(frozen=True)
class IssuedName:
    role: str
    name: str
    outcome: Outcome  # ISSUED, KEPT (still valid, acme.sh skipped it), FAILED (validation), ERROR or RATE_LIMITED
    certificate: CertificateInfo | None = None
    reason: str = ""


@dataclass
class IssueResult:
    names: list[IssuedName] = field(default_factory=list)
    installed: bool = False
    cron_change: cron.CronChange | None = None
    undone: str = ""  # what was put back when the run failed before installing
    rerun: tuple[str, ...] = ()  # the command that installs what this run obtained (after the install was declined)
    log_file: str = N_("the log")  # where acme.sh's full output is


# --- 1. names --------------------------------------------------------------------------

def check_options(options: IssueOptions) -> None:
    """Refuse bad input before anything is touched (even the lock)."""
    if not options.roles:
        raise BadInput(_("choose at least one interface: --admin (-a), --client (-c) or --dealer (-d)"))
    for given in options.domains.values():
        if given is not None:
            normalize_name(given)
    if options.tls_profile is not None and options.tls_profile not in tls.PROFILES:
        raise BadInput(_("unknown TLS profile {profile}").format(profile=repr(options.tls_profile)),
                       hint=_("choose one of: {profiles}").format(profiles=", ".join(tls.PROFILES)))
    if options.hsts and options.redirect is False:
        raise BadInput(_("--hsts needs --redirect, not --no-redirect"), hint=_(HSTS_HINT))


HSTS_HINT = N_("HSTS tells browsers to use only HTTPS for two years; that is right only when port 80 sends "
               "them to HTTPS as well: give --hsts together with --redirect")


def choose_tls(options: IssueOptions, record: State, redirecting: bool) -> tls.TlsPolicy:
    """The TLS policy of this run: the options, else what is on record. `redirecting`: the
    generated include sends port 80 to HTTPS now. Raises BadInput for HSTS without redirect."""
    redirect = redirecting if options.redirect is None else options.redirect
    if options.hsts and not redirect:
        raise BadInput(_("--hsts needs the port-80 redirect, which is off"), hint=_(HSTS_HINT))
    hsts = record.hsts if options.hsts is None else options.hsts
    return tls.TlsPolicy(options.tls_profile or record.tls_profile or tls.DEFAULT_PROFILE, hsts and redirect)


def choose_names(options: IssueOptions, record: State, console: Console) -> dict[str, str]:
    check_options(options)
    chosen: dict[str, str] = {}
    for role in ROLES:
        if role in options.roles:
            offered = record.roles.get(role) if console.assume_yes else record.typed.get(role, record.roles.get(role))
            chosen[role] = _name_for_role(role, options.domains.get(role), offered, console)
    duplicates = {name for name in chosen.values() if list(chosen.values()).count(name) > 1}
    if duplicates:
        raise BadInput(_("{names} is given for more than one interface; each needs its own name").format(
            names=", ".join(sorted(duplicates))))
    return chosen


# Whole sentences per interface: Czech declines the interface's name differently in each.
NAME_QUESTION = {"admin": N_("Domain name of the ISPadmin administration interface"),
                 "client": N_("Domain name of the client portal"),
                 "dealer": N_("Domain name of the dealer portal")}
NO_NAME = {"admin": N_("no domain name for the ISPadmin administration interface"),
           "client": N_("no domain name for the client portal"),
           "dealer": N_("no domain name for the dealer portal")}
DOCROOT_QUESTION = {"admin": N_("Document root of the ISPadmin administration interface"),
                    "client": N_("Document root of the client portal"),
                    "dealer": N_("Document root of the dealer portal")}


def _name_for_role(role: str, given: str | None, remembered: str | None, console: Console) -> str:
    if given is not None:
        return normalize_name(given)
    if not console.interactive or console.assume_yes:
        if remembered and console.assume_yes:
            return remembered
        raise BadInput(_(NO_NAME[role]), hint=_("give it with --{role}-domain NAME").format(role=role))
    while True:
        answer = console.ask(_(NAME_QUESTION[role]), display_name(remembered) if remembered else None)
        try:
            name = normalize_name(answer)
        except BadInput as error:
            console.say("  " + _("{error}. Please try again.").format(error=error.message))
            continue
        if host_of_url(answer.strip()) != answer.strip():
            console.say("  " + _("{name}: the host name of the URL").format(name=shown_name(name)))
        elif name != answer.strip().rstrip(".").lower():
            console.say(f"  {shown_name(name)}")  # an IDN: its punycode, as the CA and DNS see it
        return name


# --- 1b. the certificate profile ---------------------------------------------------------

def check_profile(settings: Settings, profile: str | None) -> None:
    """Refuse a profile the CA's directory does not offer (meta.profiles), naming the ones it does."""
    if profile is None:
        return
    from ..health import directory_url

    url = directory_url(settings.acme_server)
    try:
        offered = ca.profiles(ca.directory(url, settings.ca_bundle))
    except ca.CaUnavailable as error:
        raise PreconditionMissing(_("cannot check --profile {profile}: the CA's directory was not read "
                                    "({error})").format(profile=profile, error=error),
                                  hint=_("check the network connection to the CA, or leave out --profile")) from error
    if not offered:
        raise BadInput(_("the CA {url} offers no certificate profiles; --profile {profile} cannot be used").format(
            url=url, profile=profile), hint=_("leave out --profile: the CA issues its default certificate"))
    if profile not in offered:
        listing = "; ".join(f"{name} ({text})" if text else name for name, text in offered.items())
        raise BadInput(_("the CA {url} offers no profile {profile}; it offers: {listing}").format(
            url=url, profile=repr(profile), listing=listing),
            hint=_("choose one of them with --profile NAME, e.g. --profile {example}").format(
                example=next(iter(offered))))


def profile_for(options: IssueOptions, record: State, name: str) -> str | None:
    return options.profile or record.profiles.get(name)


def profile_changes(options: IssueOptions, record: State, name: str) -> bool:
    """A different profile than the current certificate's needs a new certificate (forced)."""
    return options.profile is not None and options.profile != record.profiles.get(name)


# --- 2. DNS ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DnsAnswer:
    """The addresses each name resolves to, and the names whose records were judged wrong (with why, briefly)."""

    addresses: dict[str, list[str]]
    doubted: dict[str, str] = field(default_factory=dict)


def check_dns(settings: Settings, console: Console, names: list[str], skip: bool) -> DnsAnswer:
    """Show every name's records beside this server's addresses; return the addresses found."""
    console.step(_("Checking DNS of {names}").format(names=", ".join(shown_name(name) for name in names)))
    server, findings = probe_dns(settings, names)
    console.show(dns_table(findings, server, terminal.colour_wanted(sys.stdout, console.quiet)))
    bad = [finding for finding in findings if not finding.ok]
    answer = DnsAnswer(addresses_found(findings), {finding.name: _doubt(finding) for finding in bad})
    if skip:
        console.say(_("DNS verdicts are not enforced (--skip-dns-check): a wrong record will fail at the CA "
                      "instead."))
        return answer
    for finding in bad:
        console.say(f"  {finding.name}: {finding.message}")  # i18n: not a message (a name and its verdict)
    if console.assume_yes:
        if bad:
            raise PreconditionMissing(_("the DNS records are not right: {problems}").format(
                problems=join("; ", (_("{name}: {reason}").format(name=f.name, reason=f.message) for f in bad))),
                hint=_(DNS_HINT))
        return answer
    if not console.confirm(_("Are the DNS records correct?"), default=False):
        raise PreconditionMissing(_("stopped: the DNS records are to be fixed first; nothing was changed "
                                    "(the names are remembered for the next run)"), hint=_(DNS_HINT))
    return answer


def _doubt(finding) -> str:
    """"points elsewhere (192.0.2.9)": the DNS verdict in a few words, for the final message."""
    found = " ".join([*finding.a, *finding.aaaa])
    return finding.verdict.label + (f" ({found})" if found else "")


DNS_HINT = N_("fix the A/AAAA (and CAA) records at your DNS provider, then run the command again; "
              "changes can take up to 48 hours to be seen, usually about 4")


# --- 3. Apache: what serves each name, what its HTTPS will be ------------------------------

def apache_model(settings: Settings) -> list[VirtualHost]:
    """Apache's vhosts as they will be with mod_ssl on; refuses when Apache would reject that.
    (require_apache_ready has tested the configuration as it is now.)"""
    paths = settings.paths
    ssl_test = apache.ssl_configtest_command(paths)
    already_tested = ssl_test.argv == apache.configtest_command(paths).argv  # mod_ssl is on: that was this test
    results = runner.run_side_by_side(*([] if already_tested else [ssl_test]), apache.dump_command(paths))
    for result in results:
        _refuse_unless_valid(result)
    return apache.parse_virtual_hosts(results[-1].output)


def _refuse_unless_valid(result: runner.Result) -> None:
    if result.returncode != 0:
        said = "\n".join(line for line in result.output.splitlines() if line.strip())[-1500:]
        raise plan.ApacheRefusal(_("with mod_ssl on, Apache would refuse its configuration:\n{apache}").format(
            apache=said), hint=_("fix the file and line Apache names (often a dormant <IfModule mod_ssl.c> "
                                 "vhost), check with `apache2ctl configtest`, then run again"))


def choose_docroots(settings: Settings, console: Console, record: State, options: IssueOptions,
                    chosen: dict[str, str], hosts: list[VirtualHost]) -> dict[str, str]:
    """A document root per role for each chosen name whose HTTPS plan needs one (plan.needs_document_root
    decides): given, else the one remembered for that same name, else asked; a relative one is taken from
    the current directory, as the shell would. The record is not changed: the document roots are recorded
    with the names once DNS confirmed them (confirm_names)."""
    docroots: dict[str, str] = {}
    for role, name in chosen.items():
        given = options.docroots.get(role)
        if given is None and not plan.needs_document_root(name, hosts, settings.paths, settings.http_port,
                                                          settings.https_port):
            continue
        remembered = record.docroots.get(role) if record.roles.get(role) == name else None  # not another name's
        directory = given or remembered or _ask_docroot(console, role, name, settings.http_port)
        if directory != remembered:  # Apache reads a relative DocumentRoot from its ServerRoot: not what was meant
            directory = os.path.abspath(directory)
        if not Path(directory).is_dir():
            raise BadInput(_("the document root {directory} given for {name} is not a directory").format(
                directory=directory, name=name),
                hint=_("give the directory its site is served from with --{role}-docroot DIR").format(role=role))
        docroots[role] = str(Path(directory))
    return docroots


def confirm_names(record: State, chosen: dict[str, str], docroots: dict[str, str]) -> State:
    """The names on record for their roles, with this run's document roots (after the DNS step)."""
    for role, name in chosen.items():
        record = state_store.with_role(record, role, name)
    for role, directory in docroots.items():
        record = state_store.with_docroot(record, role, directory)
    return record


def _ask_docroot(console: Console, role: str, name: str, http_port: int) -> str:
    refusal = plan.no_site(name, http_port, role)
    if not console.interactive or console.assume_yes:
        raise refusal
    console.say(_("{name} has no port-{port} virtual host of its own.").format(name=shown_name(name), port=http_port))
    answer = console.ask(_(DOCROOT_QUESTION[role]))
    if not answer:
        raise refusal
    return answer


def plan_https(settings: Settings, record: State, hosts: list[VirtualHost], names: list[str],
               addresses: dict[str, list[str]]) -> dict[str, plan.NamePlan]:
    """The HTTPS plan of every name being issued and every name on record with a certificate."""
    paths = settings.paths
    docroot_of = {name: record.docroots.get(role) for role, name in record.roles.items()}
    wanted = names + [name for name in state_store.names_on_record(record)
                      if name not in names and paths.live(name).fullchain.exists()]
    plans = {}
    for name in wanted:
        live = paths.live(name)
        plans[name] = plan.plan_name(name, hosts, paths, live.fullchain, live.key, settings.http_port,
                                     settings.https_port, docroot_of.get(name), tuple(addresses.get(name, ())))
    return plans


def show_plans(console: Console, plans: dict[str, plan.NamePlan], names: list[str]) -> None:
    for name in names:
        found = plans[name]
        console.say("  " + _("{name}: HTTPS from {source}").format(name=shown_name(name), source=found.source))
        for rule in found.dropped:
            console.say("    " + _("not copied to HTTPS (redirects to https:// and would loop): {rule}").format(
                rule=rule))


def prepare_apache(settings: Settings, console: Console, hosts: list[VirtualHost],
                   names: list[str]) -> tuple[bool, transaction.Backup | None]:
    """Make sure Apache answers challenges for every name.

    Returns whether temp_isp.conf was made, and the backup taken before (None: nothing changed).
    """
    paths = settings.paths
    site_text = paths.ispadmin_site.read_text()
    add_include = not apache.site_includes_generated(site_text, paths)
    if add_include and not console.confirm(
            _("{site} does not include {include} yet (the guide asks for this line). Add it?").format(
                site=paths.ispadmin_site, include=paths.vhost_include), default=True):
        raise PreconditionMissing(_("{site} must include {include}").format(site=paths.ispadmin_site,
                                                                            include=paths.vhost_include),
                                  hint=_("add the line `{line}` at its end").format(
                                      line=apache.include_directive(paths)))
    remove_leftover = paths.temp_site.exists()
    temp = {paths.temp_site.resolve(), paths.temp_site_enabled.resolve()}
    serving = [host for host in hosts if host.port == settings.http_port and host.file.resolve() not in temp]
    without = [name for name in names if apache.find_vhost(serving, name, settings.http_port) is None]
    create_temp = ask_temp_site(settings, console, remove_leftover, without)
    include = editor.challenge_include_edit(paths, editor.current_include(paths))
    missing = missing_modules(settings, include.after)
    if not (add_include or remove_leftover or create_temp or missing or include.changed):
        return False, None
    console.step(_("Preparing Apache for HTTP-01 challenges (backup, configtest, reload)"))
    show_edits(console, [include])
    before = verify.snapshot(verify.probes(hosts, settings.http_port, settings.https_port))
    unchanged = lambda: verify.require_unchanged(before, set(without))  # noqa: E731
    with transaction.apache_change(paths, "prepare Apache for HTTP-01 challenges", verify=unchanged) as backup:
        if add_include:
            atomic_write(paths.ispadmin_site, apache.with_include(site_text, paths))
        enable_modules(settings, missing)
        if include.changed:
            atomic_write(paths.vhost_include, include.after.encode(errors="surrogateescape"))
        _remove_temp_site(settings)
        if create_temp:
            atomic_write(paths.temp_site, apache.render_temp_site(paths, without, settings.http_port))
            runner.run(apache.enable_site_command(paths, "temp_isp"))
    return create_temp, backup


def ask_temp_site(settings: Settings, console: Console, leftover: bool, without: list[str]) -> bool:
    """One question about temp_isp.conf: remove a leftover one, create one, or replace the one by the other.
    Returns whether a new one is made; a leftover one the admin keeps stops the run."""
    paths = settings.paths
    if leftover:
        console.say(_("A temporary configuration {file} is left over from an earlier run: it must be "
                      "removed.").format(file=paths.temp_site))
    if without:
        console.say(_("No Apache virtual host serves {names} on port {port} yet.").format(
            names=", ".join(shown_name(name) for name in without), port=settings.http_port))
    if leftover and without:
        question = ngettext("Replace the leftover temp_isp.conf by a new temporary configuration for it?",
                            "Replace the leftover temp_isp.conf by a new temporary configuration for them?",
                            len(without))
    elif leftover:
        question = _("Remove it now?")
    elif without:
        question = ngettext("Create a temporary configuration (temp_isp.conf) for it?",
                            "Create a temporary configuration (temp_isp.conf) for them?", len(without))
    else:
        return False
    answer = console.confirm(question, default=True)
    if leftover and not answer:
        raise PreconditionMissing(_("{file} must be removed first").format(file=paths.temp_site),
                                  hint=f"rm {paths.temp_site}")  # i18n: not a message
    return answer and bool(without)


def undo_prepare(settings: Settings, console: Console, backup: transaction.Backup) -> str:
    """Put back what prepare_apache changed (the run failed before anything was installed).

    RollbackFailed when that fails, naming the backup to restore (the next changing command restores it too)."""
    try:
        transaction.undo(settings.paths, backup)
    except (OSError, IspaError) as error:
        raise RollbackFailed(
            _("undoing the preparation for the challenges failed: {error}").format(
                error=getattr(error, "message", None) or error),
            hint=_("the next changing command (e.g. `ispa-cert renew`) restores backup {id}, the configuration "
                   "from before this run; or run `ispa-cert backups restore {id}`").format(id=backup.id)) from error
    return _("The preparation for the challenges was undone too (backup {id} restored, Apache reloaded): "
             "the configuration is as it was before this run.").format(id=backup.id)


def _remove_temp_site(settings: Settings) -> None:
    paths = settings.paths
    if paths.temp_site_enabled.is_symlink() or paths.temp_site_enabled.exists():
        paths.temp_site_enabled.unlink()
    paths.temp_site.unlink(missing_ok=True)


# --- 4. self-test -----------------------------------------------------------------------

def run_self_test(settings: Settings, console: Console, dns_answer: DnsAnswer, ignore: bool) -> dict[str, str]:
    """Returns the names that failed, with the reason: the DNS verdict when the admin kept a doubted record
    (the token was fetched where DNS points, not here), else what the self-test saw."""
    console.step(_("Self-test: fetching a test token over port 80 the way the CA will"))
    results = probe_self_test(settings, dns_answer.addresses)
    console.show(self_test_table(results, console.verbose, dns_answer.doubted,
                                 terminal.colour_wanted(sys.stdout, console.quiet), terminal.columns(sys.stdout)))
    failed = {r.name: (_("DNS: {reason}").format(reason=dns_answer.doubted[r.name]) if r.name in dns_answer.doubted
                       else _("self-test: {reason}").format(reason=r.detail)) for r in results if not r.ok}
    if failed and ignore:
        console.warn(_("continuing despite the failed self-test (--ignore-self-test): each failure counts at the CA"))
        return {}
    return failed


# --- 5. issuance -------------------------------------------------------------------------

def issue_one(settings: Settings, console: Console, name: str, force: bool,
              profile: str | None = None, key_type: str | None = None) -> tuple[Outcome, str]:
    """Run acme.sh --issue for one name, shown as one progress line. Returns (outcome, reason)."""
    asked = (_("Requesting a certificate for {name} from {ca} (profile {profile})") if profile
             else _("Requesting a certificate for {name} from {ca}"))
    announce(console, asked.format(name=name, ca=settings.acme_server, profile=profile))
    progress = NameProgress(console, name)
    key = acme.key_type_to_issue(settings.paths, name, key_type)
    command = acme.issue_command(settings.paths, name, settings.acme_server, settings.ca_bundle, force=force,
                                 profile=profile, key_type=key)
    code, failure = run_acme_apache(settings, console, command, ok_codes=(acme.EXIT_SUCCESS, acme.EXIT_SKIPPED),
                                    echo=progress.feed)
    if failure is not None:
        outcome, reason = failure_outcome(failure)
        progress.finish(_(OUTCOME_WORDS[outcome]), "error")
        return outcome, reason if console.verbose else without_token(reason)
    until = valid_until(settings, name)
    if code == acme.EXIT_SKIPPED:
        progress.finish(_("kept: the current certificate is valid until {date} and not due yet").format(date=until),
                        "good")
        return Outcome.KEPT, _("the current certificate is not due for renewal (--force replaces it)")
    progress.finish(_("issued, valid until {date}").format(date=until), "good")
    return Outcome.ISSUED, ""


# --- 6. install -----------------------------------------------------------------------

def planned_edits(settings: Settings, plans: dict[str, plan.NamePlan], redirect: bool | None,
                  policy: tls.TlsPolicy = tls.TlsPolicy()) -> list[FileEdit]:
    """Every file the install changes: the include (ispa-cert's block) and the admin's SSL vhosts."""
    paths = settings.paths
    sites = [found.site for found in plans.values() if found.site is not None]
    edits = {paths.vhost_include.resolve(): editor.include_edit(paths, editor.current_include(paths), sites,
                                                                settings.https_port, settings.http_port, redirect,
                                                                policy)}
    replacements: dict[Path, list[editor.Replacement]] = {}
    for found in plans.values():
        live = paths.live(found.name)
        for host in found.in_place:
            replacements.setdefault(host.file.resolve(), []).extend(
                editor.certificate_replacements(host.section(), live.fullchain, live.key))
    for file, changes in replacements.items():
        text = conf.read(file)
        edits[file] = FileEdit(file, text, editor.apply(text, changes))
    return [edit for edit in edits.values() if edit.changed]


def show_edits(console: Console, edits: list[FileEdit]) -> None:
    """The exact diff of every file ispa-cert did not write alone, before it is changed."""
    for edit in edits:
        if edit.foreign and edit.changed:
            console.say(_("Changes to {file}, which holds lines ispa-cert did not write:").format(file=edit.path))
            console.show(edit.diff().rstrip("\n"))


def refuse_foreign_removal(console: Console, edits: list[FileEdit]) -> None:
    removed = [(edit.path, line) for edit in edits if edit.foreign for line in edit.removed_foreign_lines()]
    if removed and console.assume_yes:
        raise PreconditionMissing(
            _("the install would remove lines ispa-cert did not write: {lines}").format(
                lines="; ".join(f"{path}: {line.strip()}" for path, line in removed)),
            hint=_("run it without --yes to see the diff and confirm, or move those lines yourself"))


def install_certificates(settings: Settings, console: Console, hosts: list[VirtualHost],
                         plans: dict[str, plan.NamePlan], names: list[str], edits: list[FileEdit]) -> None:
    """Copy each certificate into live/NAME (acme.sh --install-cert, which leaves the reload to this
    function), then write the vhosts and reload Apache once, as a transaction that checks every site."""
    paths = settings.paths
    console.step(ngettext("Installing the certificate of {names} into {directory}",
                          "Installing the certificates of {names} into {directory}", len(names)).format(
                              names=", ".join(names), directory=paths.live_dir))
    for name in names:  # one after another: every acme.sh run rewrites account.conf (see acme.py)
        live = paths.live(name)
        private_directory(live.directory)
        held = acme.held_certificate(paths, name)  # an RSA certificate of certificate.pl's keeps its layout
        runner.run(acme.install_cert_command(paths, name, ecc=held.ecc if held else True, reload_now=False))
        live.key.chmod(0o600)
    text = next((edit.after for edit in edits if edit.path == paths.vhost_include), None)
    missing = missing_modules(settings, editor.current_include(paths) if text is None else text, "ssl")
    unchanged = not edits and not missing and not paths.temp_site.exists()
    if unchanged and all(verify.check(settings, name).matches for name in names):
        console.say(_("Apache already serves these certificates; its configuration is unchanged."))
        return
    console.step(_("Reloading Apache for the new certificates (configtest, reload, check every site)") if unchanged
                 else _("Writing the HTTPS virtual hosts (backup, configtest, reload, check every site)"))
    before = verify.snapshot(verify.probes(hosts, settings.http_port, settings.https_port))
    targets = {name: plans[name].addresses for name in names}
    http_addresses = {name: host.connect_address for name in names
                      if (host := apache.find_vhost(hosts, name, settings.http_port)) is not None}
    intended = set(plans)

    def check() -> None:  # the new certificates served first: then the reload has taken effect
        verify.wait_until_served(settings, names)
        verify.require_unchanged(before, intended)
        verify.require_sites_right(settings, targets, http_addresses,
                                   {name for name in names if not plans[name].http_site})

    with transaction.apache_change(paths, f"install certificates for {', '.join(names)}", verify=check,
                                   files=[edit.path for edit in edits]):
        enable_modules(settings, missing)
        _remove_temp_site(settings)
        for edit in edits:
            atomic_write(edit.path, edit.after.encode(errors="surrogateescape"))


def missing_modules(settings: Settings, include_text: str, *always: str) -> list[str]:
    """Modules the include needs (mod_rewrite for the redirect, mod_headers for HSTS) that are off."""
    needed = [*always, *(["rewrite"] if apache.redirects_to_https(include_text) else []),
              *(["headers"] if tls.hsts_in(include_text) else [])]
    return [module for module in needed if not apache.module_enabled(settings.paths, module)]


def enable_modules(settings: Settings, modules: list[str]) -> None:
    """a2enmod, inside the caller's Apache transaction (which backs the links up)."""
    for module in modules:
        runner.run(apache.enable_module_command(settings.paths, module))


def remove_temp_site(settings: Settings, console: Console, hosts: list[VirtualHost], names: list[str]) -> None:
    if not settings.paths.temp_site.exists():
        return
    console.step(_("Removing the temporary configuration temp_isp.conf"))
    before = verify.snapshot(verify.probes(hosts, settings.http_port, settings.https_port))
    with transaction.apache_change(settings.paths, "remove temp_isp.conf",
                                   verify=lambda: verify.require_unchanged(before, set(names))):
        _remove_temp_site(settings)


# --- the whole flow ------------------------------------------------------------------------

def run(settings: Settings, console: Console, options: IssueOptions) -> IssueResult:
    """The guided flow: names, DNS, Apache prepared for challenges, self-test, acme.sh per name,
    install into Apache (backup, configtest, reload, verify), cron takeover.

    Returns each name's Outcome (and certificate), whether Apache was changed, the cron change.
    A name that failed is in the result, not raised: raise_for_failures turns the result into
    the exit status. Raises BadInput (bad names or options; nothing changed), PreconditionMissing
    (not root, no Apache, DNS refused, a question declined), RateLimited (a name the CA would
    refuse now; nothing changed), OperationFailed/RollbackFailed from the Apache transaction.
    A run that fails or is interrupted before the install puts the challenge preparation back.
    """
    require_root()
    paths = settings.paths
    record = state_store.load_state(paths.state_file)
    # Asked for the names, the administrator first learns that Apache is missing or stopped;
    # given them (or unable to answer), a usage error (exit 2) comes first.
    asks = console.interactive and not console.assume_yes
    chosen = None if asks else choose_names(options, record, console)
    require_apache(settings)
    require_apache_ready(settings, _("the CA validates through it on port 80"))
    chosen = chosen or choose_names(options, record, console)
    policy = choose_tls(options, record, apache.redirects_to_https(editor.current_include(paths)))
    check_profile(settings, options.profile)
    names = list(chosen.values())
    hosts = apache_model(settings)
    docroots = choose_docroots(settings, console, record, options, chosen, hosts)
    try:
        dns_answer = check_dns(settings, console, names, options.skip_dns_check)
    except PreconditionMissing:  # the names typed are offered again next time
        typed = record
        for role, name in chosen.items():
            typed = state_store.with_typed(typed, role, name) if name != record.roles.get(role) else typed
        state_store.save_state(paths.state_file, typed)
        raise
    record = confirm_names(record, chosen, docroots)
    console.step(_("Reading Apache's configuration as it will be with mod_ssl on"))
    plans = plan_https(settings, record, hosts, names, dns_answer.addresses)
    show_plans(console, plans, names)
    ensure_installed(settings, console, options.email)
    guard_rate_limits(record, names, "ispa-cert issue")  # before Apache is touched: a refused run changes nothing
    remove_stale_acme_aliases(settings, console)
    temp_created, prepared = prepare_apache(settings, console, hosts, names)
    result = IssueResult(log_file=str(paths.log_file))
    try:
        _obtain_and_install(settings, console, options, record, chosen, hosts, plans, dns_answer, temp_created,
                            result, policy)
    except BaseException as failure:  # failed or interrupted (Ctrl-C, SIGTERM): this run's preparation goes too
        if prepared is not None and not result.installed:
            error = undo_after_failure(settings, console, prepared, failure)
            if error is not failure:
                raise error from failure
        elif temp_created and paths.temp_site.exists():
            remove_temp_site(settings, console, hosts, names)
        raise
    if prepared is not None and not result.installed and _failed(result):
        result.undone = undo_prepare(settings, console, prepared)
    return result


def undo_after_failure(settings: Settings, console: Console, prepared: transaction.Backup,
                       failure: BaseException) -> BaseException:
    """Undo the preparation after the run failed; the error to raise is still the run's own failure,
    with what became of the preparation (and, if the undo failed, which backup to restore) added."""
    try:
        note, hint = undo_prepare(settings, console, prepared), None
    except RollbackFailed as undo_failed:
        log.warning("undoing the preparation after %r failed: %s", failure, english(undo_failed.message))
        note, hint = undo_failed.message, undo_failed.hint
        if not isinstance(failure, IspaError):
            console.warn(f"{note}\n{hint}")
    if not isinstance(failure, IspaError):
        return failure
    return type(failure)(failure.message + "\n" + note, "\n".join(filter(None, (failure.hint, hint))) or None)


def _obtain_and_install(settings: Settings, console: Console, options: IssueOptions, record: State,
                        chosen: dict[str, str], hosts: list[VirtualHost], plans: dict[str, plan.NamePlan],
                        dns_answer: DnsAnswer, temp_created: bool, result: IssueResult,
                        policy: tls.TlsPolicy) -> None:
    paths = settings.paths
    names = list(chosen.values())
    failed = run_self_test(settings, console, dns_answer, options.ignore_self_test)
    record = state_store.with_tls(record, policy.profile, policy.hsts)
    state_store.save_state(paths.state_file, record)

    for role, name in chosen.items():
        if name in failed:
            result.names.append(IssuedName(role, name, Outcome.FAILED, reason=failed[name]))
            continue
        force = options.force or profile_changes(options, record, name)
        outcome, reason = issue_one(settings, console, name, force, profile_for(options, record, name),
                                    options.key_type)
        if outcome is Outcome.ISSUED:
            record = state_store.with_profile(record, name, profile_for(options, record, name))
        record = record_outcome(settings, record, name, outcome, options.issuance_kind)
        result.names.append(IssuedName(role, name, outcome, reason=reason))

    ready = [entry.name for entry in result.names if entry.outcome.has_certificate]
    plans = {name: found for name, found in plans.items()
             if name in ready or (name not in names and paths.live(name).fullchain.exists())}
    edits = planned_edits(settings, plans, options.redirect, policy) if ready else []
    if ready:
        show_edits(console, edits)
        refuse_foreign_removal(console, edits)
    if ready:
        console.say(_("A backup of the current configuration is made first."))
    if ready and console.confirm(_("Install the certificates into the Apache configuration?"), default=True):
        install_certificates(settings, console, hosts, plans, ready, edits)
        result.installed = True
    elif temp_created:
        remove_temp_site(settings, console, hosts, names)
    record = renewal_windows(settings, record, ready)
    if result.installed:  # declining the install keeps today's renewal as it is
        takeover = take_over(settings, None, console)
        result.cron_change = takeover.change
        if takeover.change is None:
            console.warn(_("the old renewal job stays in place: it also renews {names}, which "
                           "ispa-cert does not renew; `ispa-cert cron install --adopt` takes it over").format(
                               names=", ".join(takeover.left_alone)))
    result.names = [_with_certificate(settings, entry) for entry in result.names]
    result.rerun = rerun_command(settings, options, chosen)


def _failed(result: IssueResult) -> bool:
    return any(entry.outcome.counts_at_ca for entry in result.names)


def renewal_windows(settings: Settings, record: State, names: list[str]) -> State:
    """Read the CA's renewal window (ARI) of the new certificates, so status shows it at once."""
    for name in names:
        record = refresh_renewal_info(settings, record, name, installed_certificate(settings.paths, name), now())
    state_store.save_state(settings.paths.state_file, record)
    return record


def _with_certificate(settings: Settings, entry: IssuedName) -> IssuedName:
    """The entry with its certificate: the installed copy, else acme.sh's (obtained, install declined)."""
    if not entry.outcome.has_certificate:
        return entry
    held = acme.held_certificate(settings.paths, entry.name)
    for file in (settings.paths.live(entry.name).cert, held.certificate_file if held else None):
        if file is not None and file.exists():
            return IssuedName(entry.role, entry.name, entry.outcome, read_certificate(file), entry.reason)
    return entry


ROLE_FLAGS = {"admin": "-a", "client": "-c", "dealer": "-d"}


def rerun_command(settings: Settings, options: IssueOptions, chosen: dict[str, str]) -> tuple[str, ...]:
    """`ispa-cert issue` with every flag this run was given or asked for, names included."""
    parts = ["ispa-cert", *(["--root", str(settings.paths.root)] if str(settings.paths.root) != "/" else []), "issue"]
    for role, name in chosen.items():
        parts += [ROLE_FLAGS[role], f"--{role}-domain", name]
    for address in settings.server_ips:
        parts += ["--server-ip", address]
    for role, directory in options.docroots.items():
        parts += [f"--{role}-docroot", os.path.abspath(directory)] if directory else []  # run from anywhere
    switches = ((options.redirect, "--redirect", "--no-redirect"), (options.hsts, "--hsts", "--no-hsts"))
    parts += [on if value else off for value, on, off in switches if value is not None]
    for flag, value in (("--tls-profile", options.tls_profile), ("--profile", options.profile),
                        ("--key-type", options.key_type)):
        parts += [flag, value] if value else []
    parts += [flag for flag, given in (("--skip-dns-check", options.skip_dns_check),
                                        ("--ignore-self-test", options.ignore_self_test)) if given]
    return tuple(parts)


def raise_for_failures(result: IssueResult) -> None:
    failed = [entry for entry in result.names if entry.outcome.is_failure]
    if not failed:
        return
    message = join("; ", (_("{name}: {reason}").format(name=entry.name, reason=entry.reason) for entry in failed))
    if result.undone:
        message += "\n" + result.undone
    elif result.installed:
        message += "\n" + _("The other names were installed; the challenge Alias in the generated include stays "
                            "(every name's renewals need it).")
    if any(entry.outcome.is_held for entry in failed):
        raise RateLimited(_("the CA refused for now: {problems}").format(problems=message),
                          hint=_("{rule}: wait, then retry").format(rule=rate_limit_rule()))
    if all(english(entry.reason).startswith("DNS:") for entry in failed):
        raise PreconditionMissing(_("not sent to the CA: {problems}").format(problems=message), hint=_(DNS_HINT))
    if all(english(entry.reason).startswith(("self-test", "DNS:")) for entry in failed):
        raise PreconditionMissing(_("not sent to the CA: {problems}").format(problems=message),
                                  hint=_("fix the cause shown (DNS, firewall on port 80, Apache, virtual host), then "
                                         "retry"))
    raise OperationFailed(_("no certificate for {problems}").format(problems=message),
                          hint=_("acme.sh's full output is in {file}").format(file=_(result.log_file)))
