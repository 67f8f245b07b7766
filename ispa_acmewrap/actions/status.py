"""`ispa-cert status`: the certificates as their files say, and whether Apache serves them.

One row per name on record (state.json roles) or held by acme.sh (NAME/ RSA or NAME_ecc/ ECC).
The certificate read is the file Apache's HTTPS vhost for the name uses (asked of Apache:
served.py) — acme.sh's own NAME.cer on a server certificate.pl set up, live/NAME/cert.pem
once ispa-cert installed it — or acme.sh's copy when no vhost uses one.
Its profile and renewal window (ARI) are what state.json holds from the last issue or renew:
status does not ask the CA (it changes nothing, and a moment chosen for show would not be kept).
Whether Apache serves it is asked over the network (TLS with SNI on the HTTPS port), not
assumed. Reading changes nothing and takes no lock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from .. import acme, apache, renewal, runner, tls, verify
from ..certs import CertificateInfo, read_certificate
from ..errors import IspaError, OperationFailed
from ..names import ROLES
from ..settings import Settings
from ..state import State, load_state
from .common import now
from .served import NameCertificate, name_certificates


@dataclass(frozen=True)
class CertificateRow:
    """What is known of one name's certificate; `serving` is None when Apache was not asked."""

    name: str
    role: str | None
    file: Path | None  # the certificate read; None when there is none
    installed: bool  # Apache's HTTPS vhost for the name uses an existing certificate file
    certificate: CertificateInfo | None
    error: str | None = None  # why the file could not be read
    hint: str | None = None
    serving: verify.Serving | None = None
    profile: str | None = None  # the profile asked for (issue --profile), None for the CA's default
    renewal: renewal.RenewalPlan | None = None  # when it is due: the CA's window (ARI) or 2/3 of the lifetime


@dataclass(frozen=True)
class TlsStatus:
    """The HTTPS policy: as written in the generated include, as on record, and what Apache can serve."""

    profile: tls.ProfileInUse | None  # from the generated include; None before the first install
    chosen: str  # on record: what the next `issue` writes
    redirect: bool
    hsts: bool
    http2: tls.Http2Support | None  # None when apache2ctl -M could not tell


@dataclass(frozen=True)
class StatusResult:
    rows: tuple[CertificateRow, ...]
    checked_at: datetime
    https_port: int
    tls: TlsStatus | None = None


def known_names(settings: Settings, record: State) -> list[tuple[str, str | None]]:
    """(name, role) of the names on record, in role order, then the others acme.sh holds."""
    on_record = [(record.roles[role], role) for role in ROLES if role in record.roles]
    recorded = {name for name, _ in on_record}
    return on_record + [(name, None) for name in acme.issued_names(settings.paths) if name not in recorded]


def read_row(entry: NameCertificate, role: str | None, record: State | None = None) -> CertificateRow:
    name, file, installed = entry.name, entry.file, entry.installed
    profile = record.profiles.get(name) if record else None
    if file is None:
        return CertificateRow(name, role, None, False, None, profile=profile)
    try:
        certificate = read_certificate(file)
    except OperationFailed as error:
        return CertificateRow(name, role, file, installed, None, error.message, error.hint, profile=profile)
    plan = renewal.plan(certificate, record.renewal_info.get(name) if record else None)
    return CertificateRow(name, role, file, installed, certificate, profile=profile, renewal=plan)


def certificate_rows(settings: Settings, names: list[tuple[str, str | None]],
                     record: State | None = None) -> list[CertificateRow]:
    entries = name_certificates(settings, [name for name, _ in names])
    return [read_row(entry, role, record) for entry, (_, role) in zip(entries, names)]


def tls_status(settings: Settings, record: State) -> TlsStatus:
    paths = settings.paths
    include = paths.vhost_include.read_text(errors="replace") if paths.vhost_include.exists() else ""
    return TlsStatus(tls.profile_in_use(include), record.tls_profile or tls.DEFAULT_PROFILE,
                     apache.redirects_to_https(include), tls.hsts_in(include), http2_support(settings))


def http2_support(settings: Settings) -> tls.Http2Support | None:
    """mod_http2 and the MPM as Apache loads them (apache2ctl -M); None when it cannot say."""
    try:
        result = runner.run(apache.ctl_command("-M"), env=apache.environment(settings.paths),
                            ok_codes=runner.ALL_EXIT_CODES)
    except IspaError:  # apache2ctl is not installed
        return None
    modules = tls.parse_loaded_modules(result.output)
    return tls.http2_support(modules) if result.returncode == 0 and modules else None


def run(settings: Settings) -> StatusResult:
    """Every certificate, with whether Apache serves it (asked over the network), and the TLS policy."""
    record = load_state(settings.paths.state_file)
    rows = certificate_rows(settings, known_names(settings, record), record)
    asked = [replace(row, serving=verify.check(settings, row.name, file=row.file)) for row in rows]
    return StatusResult(tuple(asked), now(), settings.https_port, tls_status(settings, record))
