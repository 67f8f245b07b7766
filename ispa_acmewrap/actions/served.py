"""Which certificate each name has, as Apache really uses it.

A server that ran certificate.pl serves acme.sh's own files (NAME/NAME.cer for older RSA
certificates, NAME_ecc/NAME.cer for newer ECC ones) straight from its `*:443` vhosts; one
set up by ispa-cert serves live/NAME/. Apache is asked which vhost serves each name on the
HTTPS port (`apache2ctl -S`), and that vhost's SSLCertificateFile is what "installed" and
"served" mean. When Apache cannot be asked, ispa-cert's own live/ copy stands in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .. import acme, apache
from ..acme import HeldCertificate
from ..errors import IspaError
from ..settings import Settings
from ..state import State, names_on_record
from .common import virtual_hosts

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


def apache_files(settings: Settings, names: list[str]) -> dict[str, Path] | None:
    """name -> the SSLCertificateFile Apache uses for it on the HTTPS port; None when Apache cannot be asked."""
    if not settings.paths.apache_confdir.is_dir():
        return None
    try:
        hosts = virtual_hosts(settings)
    except IspaError as error:
        log.info("cannot ask Apache which certificate files it serves: %s", error.message)
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
