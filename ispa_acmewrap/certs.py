"""What a certificate says: names, issuer, validity, key, fingerprint, and when it is due.

Certificates are read with a real X.509 parser (the `cryptography` package), never by
scraping acme.sh output. This module never prints.

Renewal policy: a certificate is due once 2/3 of its own lifetime (notBefore → notAfter)
has passed. That is day 60 of today's 90-day Let's Encrypt certificates, as the ISPadmin
guide says, and stays safe when the lifetimes drop to 64 days (2027-02-10: due after
~42.7 days) and 45 days (2028: due after 30 days), where a fixed 60-day rule would renew
a day before expiry or after it.

`served_certificate` fetches the certificate a TLS server presents for a name, without
verifying it: we compare it with the file on disk, we do not trust it.
"""

from __future__ import annotations

import logging
import math
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from .errors import OperationFailed
from .i18n import _, ngettext

log = logging.getLogger(__name__)

RENEWAL_FRACTION = 2 / 3
CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclass(frozen=True)
class CertificateInfo:
    """The facts of one certificate.

    `names` are the DNS names of subjectAltName (the subject CN when there are none);
    datetimes are timezone-aware UTC; `fingerprint_sha256` is the SHA-256 of the DER,
    lowercase hex without colons.
    """

    path: Path | None
    names: tuple[str, ...]
    subject: str
    issuer: str
    serial: int
    not_before: datetime
    not_after: datetime
    key_type: str
    fingerprint_sha256: str
    authority_key_id: bytes | None = None  # keyIdentifier of the Authority Key Identifier (ARI's certID)

    @property
    def serial_hex(self) -> str:
        """Uppercase hex in whole bytes, as `openssl x509 -serial` prints it."""
        digits = f"{self.serial:X}"
        return digits.zfill(len(digits) + len(digits) % 2)

    @property
    def lifetime(self) -> timedelta:
        return self.not_after - self.not_before

    def renewal_due_at(self) -> datetime:
        """notBefore + 2/3 of the lifetime: day 60 of a 90-day certificate."""
        return self.not_before + self.lifetime * RENEWAL_FRACTION

    def is_due(self, now: datetime) -> bool:
        return now >= self.renewal_due_at()

    def is_expired(self, now: datetime) -> bool:
        return now > self.not_after

    def days_left(self, now: datetime) -> int:
        """Whole days until notAfter, rounded down: 0 on the last day, negative once expired."""
        return math.floor((self.not_after - now) / timedelta(days=1))


def read_certificate(path: Path) -> CertificateInfo:
    """The first certificate of a PEM file (cert.pem, or fullchain.pem's leaf)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise OperationFailed(
            _("cannot read the certificate {path}: {error}").format(path=path, error=error.strerror or error),
            hint=_("check that the file exists and is readable (run as root); `ispa-cert issue` creates it"),
        ) from error
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError as error:
        raise OperationFailed(
            _("{path} does not hold a readable PEM certificate ({error})").format(path=path, error=error),
            hint=_("renew it with `ispa-cert renew --force`, or restore it from ispa-cert's backups directory"),
        ) from error
    return _info(certificate, path)


def certificate_from_der(der: bytes, path: Path | None = None) -> CertificateInfo:
    """The facts of a DER-encoded certificate, e.g. the one a server presented."""
    return _info(x509.load_der_x509_certificate(der), path)


def served_certificate(address: str, port: int, server_name: str, timeout: float = 5.0) -> CertificateInfo | None:
    """The certificate served at address:port for server_name (SNI); None when none answers.

    The reason for None (refused, timeout, TLS handshake failure) is logged.
    """
    der = _fetch_peer_certificate(address, port, server_name, timeout)
    if der is None:
        return None
    try:
        return certificate_from_der(der)
    except ValueError as error:
        log.warning("%s:%s sent an unreadable certificate for %s: %s", address, port, server_name, error)
        return None


def unverified_context() -> ssl.SSLContext:
    """A TLS client that takes whatever certificate a server sends: the checks compare that certificate
    with the one on disk themselves. It loads no CA store (ssl.create_default_context reads the
    system's, ~40 ms on every call)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _fetch_peer_certificate(address: str, port: int, server_name: str, timeout: float) -> bytes | None:
    context = unverified_context()
    try:
        with socket.create_connection((address, port), timeout=timeout) as connection:
            with context.wrap_socket(connection, server_hostname=server_name) as tls:
                return tls.getpeercert(binary_form=True)
    except OSError as error:  # ssl.SSLError and socket timeouts are OSErrors too
        log.info("no certificate from %s:%s for %s: %s", address, port, server_name, error)
        return None


def _info(certificate: x509.Certificate, path: Path | None) -> CertificateInfo:
    common_name = _common_name(certificate.subject)
    return CertificateInfo(
        path=path,
        names=_dns_names(certificate) or ((common_name,) if common_name else ()),
        subject=common_name or certificate.subject.rfc4514_string(),
        issuer=_issuer_label(certificate.issuer),
        serial=certificate.serial_number,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        key_type=_key_type(certificate.public_key()),
        fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
        authority_key_id=_authority_key_id(certificate),
    )


def _authority_key_id(certificate: x509.Certificate) -> bytes | None:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return extension.value.key_identifier


def _dns_names(certificate: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(extension.value.get_values_for_type(x509.DNSName))


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _common_name(name: x509.Name) -> str | None:
    return _attribute(name, NameOID.COMMON_NAME)


def _issuer_label(issuer: x509.Name) -> str:
    return _common_name(issuer) or _attribute(issuer, NameOID.ORGANIZATION_NAME) or issuer.rfc4514_string()


def _key_type(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {CURVE_NAMES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__


def lifetime_text(certificate: CertificateInfo) -> str:
    """90 days, 6 days, 36 hours: the certificate's lifetime in whole days when it is."""
    hours = round(certificate.lifetime / timedelta(hours=1))
    if hours % 24 == 0:
        return ngettext("{count} day", "{count} days", hours // 24).format(count=hours // 24)
    return ngettext("{count} hour", "{count} hours", hours).format(count=hours)
