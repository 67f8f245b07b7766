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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from .. import apache, tls, verify
from ..moments import now
from ..settings import Settings
from ..state import State, load_state
from .served import CertificateRow, certificate_rows, http2_support, known_names


@dataclass(frozen=True)
class TlsStatus:
    """The HTTPS policy: as written in the generated include, as on record, and what Apache can serve."""

    profile: tls.ProfileInUse | None  # from the generated include; None before the first install
    chosen: str  # on record: what the next `issue` writes
    redirect: bool
    hsts: bool
    http2: tls.Http2Support | None  # None when apache2ctl -M could not tell
    own_vhosts: bool = False  # HTTPS vhosts in the include that ispa-cert updated in place (no profile line)


@dataclass(frozen=True)
class StatusResult:
    rows: tuple[CertificateRow, ...]
    checked_at: datetime
    https_port: int
    tls: TlsStatus | None = None


def tls_status(settings: Settings, record: State, http2: tls.Http2Support | None) -> TlsStatus:
    """`http2`: what http2_support() found."""
    paths = settings.paths
    include = paths.vhost_include.read_text(errors="replace") if paths.vhost_include.exists() else ""
    profile = tls.profile_in_use(include)
    own_vhosts = profile is None and any(line.strip().lower().startswith("sslcertificatefile")
                                         for line in include.splitlines())
    return TlsStatus(profile, record.tls_profile or tls.DEFAULT_PROFILE,
                     apache.redirects_to_https(include), tls.hsts_in(include), http2, own_vhosts)


def run(settings: Settings) -> StatusResult:
    """Every certificate, with whether Apache serves it (asked over the network), and the TLS policy."""
    record = load_state(settings.paths.state_file)
    with ThreadPoolExecutor(max_workers=8) as pool:  # apache2ctl -M and the TLS handshakes run side by side
        http2 = pool.submit(http2_support, settings)
        rows = certificate_rows(settings, known_names(settings, record), record)
        servings = pool.map(lambda row: verify.check(settings, row.name, file=row.file), rows)
        asked = [replace(row, serving=serving) for row, serving in zip(rows, servings)]
        return StatusResult(tuple(asked), now(), settings.https_port, tls_status(settings, record, http2.result()))
