"""Which certificate each name has, as Apache really uses it.

A server that ran certificate.pl serves acme.sh's own files (NAME/NAME.cer for older RSA
certificates, NAME_ecc/NAME.cer for newer ECC ones) straight from its `*:443` vhosts; one
set up by ispa-cert serves live/NAME/. Apache is asked which vhost serves each name on the
HTTPS port (`apache2ctl -S`), and that vhost's SSLCertificateFile is what "installed" and
"served" mean. When Apache cannot be asked, ispa-cert's own live/ copy stands in.

Shared by the commands that need these facts (status, doctor, renew, issue, cron): the
certificate installed for a name is found here and nowhere else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .. import acme, apache, renewal, runner, tls, transaction, verify
from ..acme import HeldCertificate
from ..apache import VirtualHost
from ..certs import CertificateInfo, read_certificate
from ..errors import CommandFailed, IspaError, OperationFailed, PreconditionMissing
from ..i18n import _, english
from ..names import ROLES
from ..paths import Paths
from ..settings import Settings
from ..state import State, names_on_record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NameCertificate:
    """One name: acme.sh's certificate of it (in its layout) and the file Apache's HTTPS vhost uses."""

    name: str
    held: HeldCertificate | None
    apache_file: Path | None  # None: no HTTPS vhost for the name names one (or Apache was not asked)
    live_file: Path

    @property
    def installed(self) -> bool:
        """Apache is configured to serve a certificate file for this name that exists."""
        return self.apache_file.exists() if self.apache_file else self.live_file.exists()

    @property
    def file(self) -> Path | None:
        """The certificate to read: the one Apache uses, else ispa-cert's copy, else acme.sh's.
        Apache's live/NAME/fullchain.pem is read as live/NAME/cert.pem (the same leaf)."""
        apache_file = self.apache_file if self.apache_file is None or self.apache_file.parent != self.live_file.parent \
            else self.live_file
        candidates = (apache_file, self.live_file, self.held.certificate_file if self.held else None)
        return next((path for path in candidates if path is not None and path.exists()), None)

    def certificate(self) -> CertificateInfo | None:
        """The certificate in `file`; None when there is none or it cannot be read (logged)."""
        return _readable(self.file) if self.file is not None else None


def certificate_files(paths: Paths, name: str) -> tuple[Path, Path]:
    """Where a name's certificate is, without asking Apache: ispa-cert's live/NAME/cert.pem (what it
    installed), then acme.sh's NAME.cer in the layout acme.sh holds."""
    return paths.live(name).cert, acme.certificate_file(paths, name)


def installed_certificate(paths: Paths, name: str) -> CertificateInfo | None:
    """The first readable of certificate_files; None when neither is (an unreadable one is logged)."""
    for path in certificate_files(paths, name):
        if path.exists() and (certificate := _readable(path)) is not None:
            return certificate
    return None


def _readable(path: Path) -> CertificateInfo | None:
    try:
        return read_certificate(path)
    except OperationFailed as error:
        log.warning("%s", english(error.message))
        return None


def apache_files(settings: Settings, names: list[str]) -> dict[str, Path] | None:
    """name -> the SSLCertificateFile Apache uses for it on the HTTPS port; None when Apache cannot be asked."""
    if not settings.paths.apache_confdir.is_dir():
        return None
    try:
        hosts = virtual_hosts(settings)
    except IspaError as error:
        log.info("cannot ask Apache which certificate files it serves: %s", english(error.message))
        return None
    found = {name: apache.certificate_file_served(hosts, name, settings.https_port, settings.paths.apache_confdir)
             for name in names}
    return {name: path for name, path in found.items() if path is not None}


def name_certificates(settings: Settings, names: list[str]) -> list[NameCertificate]:
    files = apache_files(settings, names) or {}
    return [NameCertificate(name, acme.held_certificate(settings.paths, name), files.get(name),
                            settings.paths.live(name).cert) for name in names]


def renewed_by_ispa_cert(settings: Settings, record: State, entry: NameCertificate) -> bool:
    """ispa-cert renews a certificate acme.sh holds when its name is on record, adopted, installed by
    ispa-cert (live/NAME/), or Apache serves it from the certificate home."""
    if entry.held is None:
        return False
    if entry.name in names_on_record(record) or entry.name in record.adopted or entry.live_file.exists():
        return True
    return entry.apache_file is not None and acme.held_for_file(settings.paths, entry.apache_file) is not None


def renewal_candidates(settings: Settings, record: State) -> tuple[list[NameCertificate], list[NameCertificate]]:
    """(what ispa-cert renews, what acme.sh holds that ispa-cert leaves alone) in the certificate home."""
    entries = name_certificates(settings, acme.issued_names(settings.paths))
    renewed = [entry for entry in entries if renewed_by_ispa_cert(settings, record, entry)]
    return renewed, [entry for entry in entries if entry not in renewed]


# --- what status and doctor show per name -------------------------------------------------------

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


def http2_support(settings: Settings) -> tls.Http2Support | None:
    """mod_http2 and the MPM as Apache loads them (apache2ctl -M); None when it cannot say."""
    try:
        result = runner.run(apache.ctl_command(settings.paths, "-M"), ok_codes=runner.ALL_EXIT_CODES)
    except IspaError:  # apache2ctl is not installed
        return None
    modules = tls.parse_loaded_modules(result.output)
    return tls.http2_support(modules) if result.returncode == 0 and modules else None


def apache_rejects(failed: CommandFailed) -> PreconditionMissing:
    return PreconditionMissing(
        _("Apache rejects its current configuration, so nothing was changed. Apache said:\n{apache}").format(
            apache=transaction.apache_message(failed.output)),
        hint=_("fix the file and line Apache names (`apache2ctl configtest` checks it), or disable the broken "
               "site (a2dissite NAME), then run the command again; the CA was not contacted"))


def virtual_hosts(settings: Settings) -> list[VirtualHost]:
    """What Apache itself says it serves (apache2ctl -S)."""
    try:
        result = runner.run(apache.ctl_command(settings.paths, "-S"))
    except CommandFailed as failed:
        raise apache_rejects(failed) from None
    return apache.parse_virtual_hosts(result.output)
