"""Small steps several commands share."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .. import acme, apache, ca, renewal, runner, state as state_store, transaction
from ..apache import VirtualHost
from ..certs import CertificateInfo
from ..errors import CommandFailed, PreconditionMissing
from ..report import Console
from ..settings import Settings
from ..state import State

log = logging.getLogger(__name__)

def now() -> datetime:
    return datetime.now(timezone.utc)


def require_root() -> None:
    if os.geteuid() != 0:
        raise PreconditionMissing("ispa-cert changes Apache and /data/ispadmin_cert: run it as root",
                                  hint="sudo ispa-cert …")


def require_apache(settings: Settings) -> None:
    paths = settings.paths
    if not paths.apache_confdir.is_dir():
        raise PreconditionMissing(f"Apache's configuration directory {paths.apache_confdir} does not exist",
                                  hint="install Apache 2.4 (apt-get install apache2)")
    if not paths.ispadmin_site.exists():
        raise PreconditionMissing(f"{paths.ispadmin_site} does not exist",
                                  hint="create it with the ISPadmin port-80 virtual host, as the ISPadmin guide shows")


def virtual_hosts(settings: Settings) -> list[VirtualHost]:
    """What Apache itself says it serves (apache2ctl -S)."""
    result = runner.run(apache.ctl_command("-S"), env=apache.environment(settings.paths))
    return apache.parse_virtual_hosts(result.output)


def run_acme_apache(settings: Settings, console: Console, command: list[str], ok_codes=(acme.EXIT_SUCCESS,)):
    """Run acme.sh in --apache mode (its main-config edit undone afterwards).

    Returns (exit code, None) on success, (None, AcmeFailure) when acme.sh failed,
    with the CA's full reason read from acme.sh's log.
    """
    paths = settings.paths
    log_offset = paths.acme_log.stat().st_size if paths.acme_log.exists() else 0
    try:
        with transaction.acme_apache_run(paths, " ".join(command[1:4])):
            result = runner.run(command, env=acme.environment(paths), ok_codes=ok_codes, echo=console.stream)
    except CommandFailed as failed:
        return None, acme.explain_failure(failed.output, log_since(paths.acme_log, log_offset))
    return result.returncode, None


def failure_outcome(failure: acme.AcmeFailure) -> tuple[str, str]:
    return ("rate-limited" if failure.rate_limited else "failed"), failure.detail


def record_outcome(settings: Settings, record: State, name: str, outcome: str, kind: str) -> State:
    """Ledger and history: a new certificate is an issuance of `kind`, a failure counts against the name."""
    moment = now()
    if outcome in ("issued", "renewed"):
        record = state_store.record_issuance(record, [name], kind, moment)
    elif outcome in ("failed", "rate-limited"):
        record = state_store.record_failure(record, name, moment)
    state_store.save_state(settings.paths.state_file, record)
    return record


def log_since(log_file: Path, offset: int) -> str:
    """What a program appended to its log file after `offset` (acme.sh's full error is only there)."""
    if not log_file.exists():
        return ""
    with log_file.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def directory_url_of(settings: Settings, name: str) -> str:
    """The CA that issued name's certificate (acme.sh's Le_API), else the configured one."""
    from ..health import directory_url

    return acme.read_domain_conf(settings.paths, name).get("Le_API") or directory_url(settings.acme_server)


def refresh_renewal_info(settings: Settings, record: State, name: str, certificate: CertificateInfo | None,
                         moment: datetime) -> State:
    """Ask the CA for the certificate's renewal window (ARI) unless its Retry-After has not passed.

    The moment inside the window is chosen once and kept while the window stays. A CA that cannot
    be asked leaves what was known (or the 2/3-lifetime rule): renewal never waits for the CA.
    """
    if certificate is None:
        return record
    previous = renewal.current_info(certificate, record.renewal_info.get(name))
    if previous is not None and moment < previous.next_check:
        return record
    try:
        answer = ca.renewal_info(directory_url_of(settings, name), certificate, moment, settings.ca_bundle)
    except ca.CaUnavailable as error:
        log.warning("renewal information (ARI) for %s not read: %s; %s", name, error,
                    "keeping the window read before" if previous else "renewal falls back to 2/3 of the lifetime")
        return record
    if answer is None:
        return record
    info = ca.updated(previous, answer, certificate.renewal_due_at())
    if info.has_window:
        log.info("ARI for %s: window %s to %s, renewal at %s%s", name, info.window_start, info.window_end,
                 info.renew_at, f"; the CA explains: {info.explanation_url}" if info.explanation_url else "")
    if info.early(moment):
        log.warning("the CA asks for the certificate of %s to be replaced early%s", name,
                    f": {info.explanation_url}" if info.explanation_url else "")
    return state_store.with_renewal_info(record, name, info)


def shortest_lifetime(settings: Settings) -> timedelta | None:
    """The shortest lifetime among the certificates on record (live/ copies, else acme.sh's)."""
    from ..certs import read_certificate
    from ..errors import OperationFailed

    lifetimes = []
    for name in acme.issued_names(settings.paths):
        for path in (settings.paths.live(name).cert, acme.certificate_file(settings.paths, name)):
            if path.exists():
                try:
                    lifetimes.append(read_certificate(path).lifetime)
                    break
                except OperationFailed:
                    continue
    return min(lifetimes, default=None)
