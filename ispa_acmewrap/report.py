"""What the admin reads at the end of a command: summaries, tables, JSON, the monitoring line.

Pure renderers: each takes a result and returns text. Progress lines and questions during a
run go through console.Console.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence

from . import terminal
from .i18n import N_, _, english, english_document, ngettext
from .moments import utc_minute, utc_stamp as _utc_stamp
from .outcomes import Account, Outcome
from .transaction import EntryKind


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], verdicts: Sequence[int] = (),
          colour: bool = False) -> str:
    """A plain text table with columns as wide as their widest cell.

    The cells of the `verdicts` columns are coloured by what they say (terminal.verdict_style)
    when `colour` is on; widths are counted without the colour codes."""
    cells = [[str(cell) for cell in row] for row in rows]
    words = [[str(english(cell)) for cell in row] for row in rows]  # a verdict's style goes by its English word
    widths = [max([len(header)] + [len(row[index]) for row in cells]) for index, header in enumerate(headers)]

    def cell_text(index: int, cell: str, word: str, width: int) -> str:
        padded = cell.ljust(width)
        if colour and index in verdicts:
            return terminal.paint(cell, terminal.verdict_style(word), True) + padded[len(cell):]
        return padded

    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend("  ".join(cell_text(index, cell, word, width)
                           for index, (cell, word, width) in enumerate(zip(row, row_words, widths))).rstrip()
                 for row, row_words in zip(cells, words))
    return "\n".join(lines)


def to_json(document: object) -> str:
    """The document as JSON; translated messages in it are given in English (stable for scripts)."""
    return json.dumps(english_document(document), indent=2, sort_keys=True, default=str)


# The outcomes' words (state.json and --json keep them English), translated where a table shows them.
_OUTCOME_WORDS = (N_("issued"), N_("kept"), N_("renewed"), N_("not due"), N_("failed"), N_("error"),
                  N_("rate-limited"), N_("blocked"))


def _outcome(outcome) -> str:
    return _(str(outcome))


def _date(moment) -> str:
    return utc_minute(moment) if moment else "-"


def dns_table(findings, server: set[str], colour: bool = False) -> str:
    """`issue`: every name's DNS records and their verdict (coloured on a terminal), under this server's addresses."""
    from .names import shown_name

    rows = [(shown_name(f.name), " ".join(f.a) or "-", " ".join(f.aaaa) or "-", " > ".join(f.cname_chain) or "-",
             " ".join(f.caa) or "-", f.verdict.label) for f in findings]
    header = _("This server's addresses: {addresses}").format(
        addresses=" ".join(sorted(server)) or _("(none found; give --server-ip)")) + "\n"
    return header + table((_("name"), "A", "AAAA", "CNAME", "CAA", _("verdict")), rows, verdicts=(5,), colour=colour)


def self_test_table(results, verbose: bool = False, doubted=(), colour: bool = False,
                    width: int | None = None) -> str:
    """`issue`: the HTTP-01 self-test of every name and address; below it what went wrong per name, wrapped
    to `width` (the token's URL only when `verbose`). A name whose DNS was doubted gets no line: its cause
    was shown with the DNS check and is said again at the end."""
    from .names import shown_name

    rows = [(shown_name(r.name), r.address or "-", r.verdict.label) for r in results]
    lines = [table((_("name"), _("address"), _("result")), rows, verdicts=(2,), colour=colour)]
    for result in results:
        if verbose or not (result.ok or result.name in doubted):
            detail = result.detail if verbose else without_token(result.detail)
            lines.append(terminal.wrap(f"  {result.name}: {detail}", width, indent="  "))
    return "\n".join(lines)


TOKEN_PATH = re.compile(r"(/\.well-known/acme-challenge/)[A-Za-z0-9_-]{16,}")


def without_token(text: str) -> str:
    """The challenge URLs in text with the token left out (it is in the log)."""
    return TOKEN_PATH.sub(r"\1…", text)


def issue_summary(settings, result) -> str:
    """The end of `issue`: per name its role, outcome and expiry; where the files are; what to do next.

    Why a name failed is said once, by the error that follows; a name kept (not due) says so here."""
    from .names import shown_name

    colour = terminal.colour_wanted(sys.stdout)
    rows = [(shown_name(entry.name), entry.role, _outcome(entry.outcome),
             _date(entry.certificate.not_after) if entry.certificate else "-") for entry in result.names]
    lines = ["", table((_("name"), _("role"), _("result"), _("expires")), rows, verdicts=(2,), colour=colour)]
    if any(entry.outcome is Outcome.KEPT for entry in result.names):
        lines.append(_("kept") + ": " + _("the current certificate is not due for renewal yet; --force gets a new one "
                                          "anyway."))
    if result.cron_change is not None:
        lines.append(_("Renewal: {change}").format(change=cron_change_text(settings, result.cron_change)))
    served = [shown_name(entry.name) for entry in result.names if entry.outcome.has_certificate]
    if result.installed and served:
        lines.append(_("Certificates: {directory}/NAME/ (cert.pem, key.pem, fullchain.pem)").format(
            directory=settings.paths.live_dir))
        lines.append(terminal.paint(_("done") + ":", "done", colour) + " " + ngettext(
            "{names} now answers over HTTPS.", "{names} now answer over HTTPS.", len(served)).format(
                names=", ".join(served)))
    elif served:
        lines.append(ngettext("The certificate was obtained but not installed into Apache. To install it, run:",
                              "The certificates were obtained but not installed into Apache. To install them, run:",
                              len(served)))
        lines.append(shell_lines(result.rerun or ("ispa-cert", "issue"), indent="  "))
    return "\n".join(lines)


def shell_lines(argv, indent: str = "", width: int = terminal.MAX_COLUMNS - 4) -> str:
    """A command to copy, quoted for the shell, continued with `\\` so that no line is wider than `width`;
    an option stays on one line with its value."""
    import shlex

    words = [shlex.quote(word) for word in argv]
    groups, index = [], 0
    while index < len(words):
        takes_value = words[index].startswith("--") and index + 1 < len(words) and not words[index + 1].startswith("-")
        groups.append(" ".join(words[index:index + 2] if takes_value else words[index:index + 1]))
        index += 2 if takes_value else 1
    lines, current = [], indent
    for group in groups:
        if current.strip() and len(current) + 1 + len(group) + 2 > width:
            lines.append(current + " \\")
            current = indent + "    "
        current += ("" if not current.strip() else " ") + group
    return "\n".join([*lines, current])


def backups_table(backups) -> str:
    if not backups:
        return _("No backups yet.")
    rows = [(backup.id, backup.created, backup.reason,
             ", ".join(entry.path.rsplit("/", 1)[-1] for entry in backup.entries if entry.kind is not EntryKind.ABSENT))
            for backup in backups]
    return table((_("id"), _("created"), _("reason"), _("files")), rows)


def damaged_backup_warnings(damaged) -> list[str]:
    """One warning per backup directory whose manifest cannot be read."""
    return [_("backup {id} is skipped: {problem}; delete {directory} when it is not needed").format(
                id=directory.name, problem=problem, directory=directory)
            for directory, problem in damaged]


def restore_summary(restored) -> str:
    if not restored.done:
        return _("Nothing was changed.")
    return _("Backup {id} restored; Apache reloaded.").format(id=restored.backup.id)


# --- renew, cron, upgrade, repair ----------------------------------------------------------

def renew_summary(settings, result) -> str:
    """Per certificate: what happened, expiry, and when it is next due."""
    from .names import display_name

    if not result.names:
        return _("No certificates under {directory} yet: `ispa-cert issue` gets them.").format(
            directory=settings.paths.cert_home)
    rows = [(display_name(entry.name), _outcome(entry.outcome),
             _date(entry.certificate.not_after) if entry.certificate else "-",
             _date(entry.next_renewal) if entry.certificate else "-",
             "" if entry.outcome is Outcome.NOT_DUE else entry.reason)
            for entry in result.names]
    colour = terminal.colour_wanted(sys.stdout)
    lines = [table((_("name"), _("result"), _("expires"), _("next renewal"), _("detail")), rows, verdicts=(1,),
                   colour=colour)]
    renewed = [entry.name for entry in result.with_outcome(Outcome.RENEWED)]
    if renewed and not result.not_served:
        lines.append(terminal.paint(_("done") + ":", "done", colour) + " " + ngettext(
            "Apache serves the new certificate of {names}.", "Apache serves the new certificates of {names}.",
            len(renewed)).format(names=", ".join(renewed)))
    elif not result.attempted:
        lines.append(_("Nothing is due."))
    return "\n".join(lines)


RENEW_OUTCOME_LABELS = ((Outcome.RENEWED, N_("renewed")), (Outcome.FAILED, N_("failed")), (Outcome.ERROR, N_("failed")),
                        (Outcome.RATE_LIMITED, N_("refused by the CA")),
                        (Outcome.BLOCKED, N_("held back by the rate-limit guard")))


def renew_cron_line(result) -> str:
    """The one line `renew --cron` prints when it did (or could not do) something."""
    parts = [_(label) + ": " + ", ".join(entry.name for entry in result.with_outcome(outcome))
             for outcome, label in RENEW_OUTCOME_LABELS if result.with_outcome(outcome)]
    parts += [f"{entry.name}: {entry.reason}" for entry in result.with_outcome(Outcome.RENEWED) if entry.reason]
    if result.not_served:
        parts.append(_("Apache does not serve the new certificate"))
    return "ispa-cert renew: " + "; ".join(parts)


def upgrade_summary(result) -> str:
    texts = {
        "installed": N_("acme.sh {after} installed from vendor/ (none was installed)."),
        "upgraded": N_("acme.sh upgraded from {before} to {after}; the account and certificates are kept."),
        "current": N_("acme.sh {before} is installed, the same as the vendored version: nothing to do."),
        "kept-newer": N_("acme.sh {before} is installed, newer than the vendored {vendored}: kept."),
        "kept-unknown": N_("The installed acme.sh reports no usable version (unknown), so it is neither older nor "
                           "newer than the vendored {vendored}: left alone. `ispa-cert install` replaces it."),
        "online": N_("acme.sh --upgrade done: it was {before} and is now {after}."),
    }
    return _(texts[result.action]).format(before=result.before, after=result.after, vendored=result.vendored)


def repair_summary(settings, result) -> str:
    if result.cancelled:
        return _("Nothing was changed.")
    accounts = {Account.KEPT: N_("the ACME account was put back (same key and registration)"),
                Account.NEW: N_("a new ACME account is registered at the next issuance"),
                Account.NONE: N_("there was no ACME account to keep; acme.sh registers one at the next issuance")}
    lines = [_("acme.sh {version} installed afresh; {account}.").format(version=result.version,
                                                                       account=_(accounts[result.account]))]
    if result.archive is not None:
        lines.append(_("The old directories ({directories}) are archived in {archive}.").format(
            directories=", ".join(str(path) for path in result.removed), archive=result.archive))
    if result.issued is not None:
        lines.append(issue_summary(settings, result.issued))
    return "\n".join(lines)


def cron_change_text(settings, change) -> str:
    crontab = settings.paths.crontab
    texts = {
        "added": N_("{crontab}: entry added: {line}"),
        "replaced-legacy": N_("{crontab}: the guide's acme.sh line was replaced by: {line}"),
        "updated": N_("{crontab}: entry updated: {line}"),
        "unchanged": N_("{crontab}: the entry is already there: {line}"),
        "removed": N_("{crontab}: removed: {previous}"),
        "absent": N_("{crontab}: there is no entry to remove"),
        "skipped": N_("{crontab}: there is no ispa-cert entry to update; none added (`ispa-cert cron install` adds "
                      "one)"),
    }
    text = _(texts[change.action]).format(crontab=crontab, line=change.line, previous=change.previous)
    if change.note and change.action in ("updated", "replaced-legacy", "added") and "too sparse:" in english(change.note):
        return text + "\n" + _("(a new schedule: {note})").format(note=change.note)
    if change.note:
        return text + "\n" + _("warning") + ": " + _("{note}; leave out --schedule to get one that fits").format(
            note=change.note)
    return text


def takeover_text(settings, takeover) -> str:
    """`cron install`: the entry, what was adopted, which other jobs were disabled or kept."""
    lines = [cron_change_text(settings, takeover.change)]
    if takeover.adopted:
        lines.append(_("ispa-cert now also renews {names} (adopted from the old renewal job).").format(
            names=", ".join(takeover.adopted)))
    for job in takeover.disabled:
        lines.append(_("{file} line {number}: disabled (commented out): {line}").format(
            file=job.file, number=job.line_number, line=job.text))
    if takeover.backup:
        lines.append(_("The files as they were are in backup {id} (`ispa-cert backups restore {id}`).").format(
            id=takeover.backup))
    for job in takeover.kept:
        lines.append(_("{file} line {number}: kept as it is; it renews the same certificates: {line}").format(
            file=job.file, number=job.line_number, line=job.text))
    return "\n".join(lines)


def cron_view_text(settings, view) -> str:
    lines = [(_("{file} line {number}: {line}  (the guide's acme.sh line)") if entry.legacy else
              _("{file} line {number}: {line}")).format(file=settings.paths.crontab, number=entry.line_number,
                                                         line=entry.text) for entry in view.entries]
    lines += [_("{file} line {number}: {line}  (another acme.sh renewal job)").format(
        file=job.file, number=job.line_number, line=job.text) for job in view.others]
    lines.append(_("status: {state}: {detail}").format(state=view.status.state, detail=view.status.detail))
    if view.status.state in ("missing", "legacy-only", "differs", "legacy-also") or view.others:
        lines.append(_("`ispa-cert cron install` puts the current entry in place and offers to disable the other "
                       "acme.sh jobs.") if view.others else _("`ispa-cert cron install` puts the current entry in place."))
    return "\n".join(lines)


# --- status and doctor ------------------------------------------------------------------------

JSON_VERSION = 1
PLUGIN_NAME = "ISPA-CERT"
SUMMARY_PROBLEMS = 3


def _served_text(row, short: bool = False) -> str:
    if not row.installed:
        return _("not installed")
    if row.serving is None:
        return _("not checked")
    if row.serving.matches:
        return _("yes")
    if row.serving.served is None:
        return _("no answer")
    return _("NO: other cert") if short else _("NO: another certificate")


def status_table(result, wide: bool = False) -> str:
    """`ispa-cert status`: one row per certificate, then a note per name that needs one.

    The narrow table fits 100 columns (dates as days, UTC); `wide` adds issuer, profile, lifetime
    and the CA's renewal window, with times."""
    if not result.rows:
        return "\n".join([_("No certificates yet: `ispa-cert issue -a -c` gets them."), *_tls_lines(result.tls)])
    colour = terminal.colour_wanted(sys.stdout)
    table_text = _wide_status(result, colour) if wide else _narrow_status(result, colour)
    footer = [] if wide else [_("Dates are UTC; `ispa-cert status --wide` adds issuer, profile, lifetime and the "
                                "CA's renewal window.")]
    return "\n".join([table_text, *footer, *_status_notes(result.rows, result.checked_at), *_tls_lines(result.tls)])


def _narrow_status(result, colour: bool) -> str:
    rows = []
    for row in result.rows:
        info, plan = row.certificate, row.renewal
        rows.append((row.name, row.role or "-", info.key_type if info else "-", _day(info.not_after) if info else "-",
                     info.days_left(result.checked_at) if info else "-", _day(plan.due_at) if plan else "-",
                     _served_text(row, short=True)))
    headers = (_("name"), _("role"), _("key"), _("expires"), _("days"), _("renewal"),
               _("served on {port}").format(port=result.https_port))
    return table(headers, rows, verdicts=(6,), colour=colour)


def _wide_status(result, colour: bool) -> str:
    from .certs import lifetime_text

    rows = []
    for row in result.rows:
        info, plan = row.certificate, row.renewal
        rows.append((row.name, row.role or "-", info.issuer if info else "-", info.key_type if info else "-",
                     row.profile or _("default"), lifetime_text(info) if info else "-",
                     _date(info.not_after) if info else "-", info.days_left(result.checked_at) if info else "-",
                     _window_text(plan), _date(plan.due_at) if plan else "-", _served_text(row)))
    headers = (_("name"), _("role"), _("issuer"), _("key"), _("profile"), _("lifetime"), _("not after"),
               _("days left"), _("CA's renewal window (ARI, UTC)"), _("renewal at"),
               _("served on {port}").format(port=result.https_port))
    return table(headers, rows, verdicts=(10,), colour=colour)


def _day(moment) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "-"


def _tls_lines(status) -> list[str]:
    """The HTTPS policy under the table: profile, redirect and HSTS, HTTP/2."""
    if status is None:
        return []
    if status.own_vhosts:
        profile = _("the administrator's own HTTPS virtual hosts keep their TLS settings; ispa-cert changes "
                    "only their certificate lines")
    elif status.profile is None:
        profile = _("no TLS profile written yet (the next install writes Mozilla's {profile})").format(
            profile=status.chosen)
    else:
        profile = _("Mozilla's {profile} profile (snippet version {version})").format(
            profile=status.profile.profile, version=status.profile.version)
        if status.chosen != status.profile.profile:
            profile += _("; the next install writes {profile}").format(profile=status.chosen)
    redirect = _("port 80 redirects to HTTPS (308)") if status.redirect else _("port 80 is not redirected")
    hsts = _("HSTS on") if status.hsts else _("HSTS off")
    return ["", f"TLS: {profile}", "     " + _("{redirect}; {hsts}; OCSP stapling off").format(redirect=redirect,
                                                                                            hsts=hsts),
            f"     HTTP/2: {_http2_text(status.http2)}"]


def _http2_text(support) -> str:
    if support is None:
        return _("unknown (apache2ctl -M did not answer)")
    if support.can_serve:
        return _("on (mod_http2 loaded, {mpm} MPM)").format(mpm=support.mpm)
    if support.module_loaded:
        return _("off: mod_http2 is loaded, but the prefork MPM cannot serve HTTP/2")
    return _("off: mod_http2 is not loaded (a2enmod http2)")


def _tls_document(status) -> dict | None:
    if status is None:
        return None
    http2 = status.http2
    return {"profile": status.profile.profile if status.profile else None,
            "profile_version": status.profile.version if status.profile else None,
            "profile_chosen": status.chosen, "redirect": status.redirect, "hsts": status.hsts, "ocsp_stapling": False,
            "http2": None if http2 is None else {"module_loaded": http2.module_loaded, "mpm": http2.mpm,
                                                 "can_serve": http2.can_serve}}


def _window_text(plan) -> str:
    if plan is None:
        return "-"
    if plan.info is None or not plan.info.has_window:
        return _("no ARI")
    return _("{start} to {end}").format(start=f"{plan.info.window_start:%Y-%m-%d %H:%M}",
                                        end=f"{plan.info.window_end:%Y-%m-%d %H:%M}")


def _status_notes(rows, moment) -> list[str]:
    notes = []
    for row in rows:
        info = row.renewal.info if row.renewal else None
        if info is not None and info.early(moment):
            early = (_("WARNING {name}: the CA asks for this certificate to be replaced early: {url}; "
                       "`ispa-cert renew` renews it now (cron does at its next run)") if info.explanation_url else
                     _("WARNING {name}: the CA asks for this certificate to be replaced early; "
                       "`ispa-cert renew` renews it now (cron does at its next run)"))
            notes.append(early.format(name=row.name, url=info.explanation_url))
        if row.error:
            notes.append(f"{row.name}: {row.error}" + (f" ({row.hint})" if row.hint else ""))
        elif row.certificate is None:
            notes.append(_("{name}: no certificate file; `ispa-cert issue` gets one").format(name=row.name))
        elif not row.installed:
            notes.append(_("{name}: issued ({file}) but not installed into Apache; `ispa-cert issue` installs "
                           "it").format(name=row.name, file=row.file))
    return notes


def status_document(result) -> dict:
    return {"version": JSON_VERSION, "checked_at": _utc_stamp(result.checked_at), "https_port": result.https_port,
            "certificates": [_status_entry(row, result.checked_at) for row in result.rows],
            "tls": _tls_document(result.tls)}


def _status_entry(row, moment) -> dict:
    info, serving = row.certificate, row.serving
    served = serving.served if serving else None
    return {
        "name": row.name, "role": row.role, "file": str(row.file) if row.file else None, "installed": row.installed,
        "issuer": info.issuer if info else None, "key_type": info.key_type if info else None,
        "serial": info.serial_hex if info else None,
        "fingerprint_sha256": info.fingerprint_sha256 if info else None,
        "not_before": _utc_stamp(info.not_before) if info else None,
        "not_after": _utc_stamp(info.not_after) if info else None,
        "days_left": info.days_left(moment) if info else None,
        "renewal_due_at": _utc_stamp(row.renewal.due_at) if row.renewal else None,
        "renewal_due": row.renewal.is_due(moment) if row.renewal else None,
        "renewal_rule": row.renewal.rule if row.renewal else None,
        "profile": row.profile,
        "lifetime_days": round(info.lifetime.total_seconds() / 86400, 3) if info else None,
        "ari": _ari_entry(row.renewal.info if row.renewal else None),
        "early_replacement": bool(row.renewal and row.renewal.info and row.renewal.info.early(moment)),
        "expired": info.is_expired(moment) if info else None,
        "served": serving.matches if serving else None,
        "served_fingerprint_sha256": served.fingerprint_sha256 if served else None,
        "error": row.error,
    }


def _ari_entry(info) -> dict | None:
    """The CA's renewal information of the certificate (null when the CA was not asked or has no ARI)."""
    if info is None or not info.has_window:
        return None
    return {"window_start": _utc_stamp(info.window_start), "window_end": _utc_stamp(info.window_end),
            "renew_at": _utc_stamp(info.renew_at), "explanation_url": info.explanation_url,
            "checked_at": _utc_stamp(info.checked_at), "next_check": _utc_stamp(info.next_check)}


def perfdata(expiries) -> str:
    """Days left per name, warning when renewal is due, critical under a week: 'NAME'=Nd;W:;C:"""
    return " ".join(f"'{e.name.replace(chr(39), chr(39) * 2)}'={e.days_left}d;{e.warn_days}:;{e.critical_days}:"
                    for e in expiries)


def _label(finding) -> str:
    return f"{finding.check} {finding.subject}" if finding.subject else finding.check


def doctor_summary(report) -> str:
    """The human part of the first line: counts and the worst problems, or what is fine."""
    from .findings import Severity

    if report.severity is Severity.OK:
        text = f"{len(report.findings)} checks OK"
        if report.expiries:
            soonest = min(report.expiries, key=lambda e: e.renewal_due_at)
            count = len(report.expiries)
            text += (f"; {count} certificate{'s' if count != 1 else ''}, next renewal "
                     f"{soonest.renewal_due_at:%Y-%m-%d} ({soonest.name})")
    else:
        order = (Severity.CRIT, Severity.WARN, Severity.UNKNOWN)
        words = ("critical", "warning", "unknown")
        counts = [f"{report.count(severity)} {word}" for severity, word in zip(order, words) if report.count(severity)]
        ranked = sorted((f for f in report.findings if f.severity is not Severity.OK),
                        key=lambda f: order.index(f.severity))
        problems = "; ".join(f"{_label(f)}: {english(f.message)}" for f in ranked[:SUMMARY_PROBLEMS])
        more = f" (+{len(ranked) - SUMMARY_PROBLEMS} more)" if len(ranked) > SUMMARY_PROBLEMS else ""
        text = f"{', '.join(counts)}: {problems}{more}"
    if report.offline:
        text += "; offline"
    return " ".join(text.replace("|", "/").split())


def plugin_line(report) -> str:
    """ISPA-CERT OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata"""
    line = f"{PLUGIN_NAME} {report.severity.word} - {doctor_summary(report)}"
    data = perfdata(report.expiries)
    return f"{line} | {data}" if data else line


def doctor_text(report, colour: bool = False) -> str:
    """The plugin line, then one line per check with the fix for what is not OK (its state in colour on a terminal)."""
    from .findings import Severity

    lines = [plugin_line(report)]
    for finding in report.findings:
        fix = " -- " + _("fix: {fix}").format(fix=finding.fix) if finding.fix and finding.severity is not Severity.OK else ""
        state = finding.severity.value
        shown = terminal.paint(state, terminal.verdict_style(state), colour) + " " * (7 - len(state))
        lines.append(f"{shown} {_label(finding)}: {finding.message}{fix}")
    if report.skipped:
        lines.append(_("(offline: not checked: {checks})").format(checks=", ".join(report.skipped)))
    return "\n".join(lines)


def doctor_document(report) -> dict:
    return {
        "version": JSON_VERSION, "status": report.severity.word, "exit_code": report.severity.exit_code,
        "summary": doctor_summary(report), "perfdata": perfdata(report.expiries),
        "checked_at": _utc_stamp(report.checked_at), "offline": report.offline, "skipped": list(report.skipped),
        "checks": [{"check": f.check, "subject": f.subject, "state": f.severity.value, "message": f.message,
                    "fix": f.fix} for f in report.findings],
        "certificates": [{"name": e.name, "days_left": e.days_left, "warn_days": e.warn_days,
                          "not_after": _utc_stamp(e.not_after), "renewal_due_at": _utc_stamp(e.renewal_due_at)}
                         for e in report.expiries],
        "rate_limits": [{"name": r.name, "failures_last_hour": r.failures_last_hour,
                         "blocked_until": _utc_stamp(r.blocked_until)} for r in report.rate_limits],
        "last_renewal": _utc_stamp(report.last_renewal),
    }


def doctor_failure_line(message: str) -> str:
    """The first line when doctor itself could not run: UNKNOWN, exit 3."""
    return f"{PLUGIN_NAME} UNKNOWN - doctor could not run: {' '.join(english(message).replace('|', '/').split())}"


def doctor_failure_document(message: str) -> dict:
    return {"version": JSON_VERSION, "status": "UNKNOWN", "exit_code": 3, "summary": f"doctor could not run: {message}",
            "perfdata": "", "checked_at": None, "offline": None, "skipped": [], "checks": [], "certificates": [],
            "rate_limits": [], "last_renewal": None}
