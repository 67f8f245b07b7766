"""The names and certificates every test builds from: one set of each.

Names: the e2e stack's DNS (pebble-challtestsrv) answers for *.ispa.test; unit tests use
documentation names that resolve nowhere. Certificates: a real X.509 certificate
(x509_certificate, pem, write_pem) when the code under test reads a file or a wire,
a CertificateInfo (certificate_info) when it only judges dates and identities.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ispa_acmewrap.certs import CertificateInfo

# --- names ----------------------------------------------------------------------------------
ADMIN = "admin.ispa.test"  # the stack's names: administration, client portal, dealer portal
PORTAL = "portal.ispa.test"
DEALER = "dealer.ispa.test"
NAME = "isp.example.net"  # unit tests: the administration interface
CLIENT_NAME = "klient.example.net"  # unit tests: the client portal

# --- certificates -------------------------------------------------------------------------------
ISSUED = datetime(2026, 3, 1, 5, 0, tzinfo=timezone.utc)
LIFETIME = timedelta(days=90)
KEY = ec.generate_private_key(ec.SECP256R1())  # one key for every test certificate: generating is slow
TEST_CA = "Test CA R1"


def x509_certificate(name: str | None = NAME, *, sans: tuple[str, ...] | None = None,
                     issuer: str | x509.Name = TEST_CA, not_before: datetime = ISSUED,
                     lifetime: timedelta = LIFETIME, serial: int | None = None, key=KEY) -> x509.Certificate:
    """A certificate for `name` (its CN, and its only SAN unless `sans` says otherwise; None: no CN),
    signed by `key`; a random serial unless one is given."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)] if name else [])
    issuer_name = issuer if isinstance(issuer, x509.Name) else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                                                               issuer)])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number() if serial is None else serial)
               .not_valid_before(not_before).not_valid_after(not_before + lifetime))
    names = (name,) if sans is None and name else (sans or ())
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(key, hashes.SHA256())


def pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(certificate.public_bytes(serialization.Encoding.PEM) for certificate in certificates)


def write_pem(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(pem(*certificates))
    return path


def certificate_info(name: str = NAME, *, not_before: datetime = ISSUED, lifetime: timedelta = LIFETIME,
                     serial: int = 0x0A1B, fingerprint: str = "aa", aki: bytes | None = None) -> CertificateInfo:
    """What certs.read_certificate would say of a Let's Encrypt (R11) ECDSA certificate for `name`."""
    return CertificateInfo(None, (name,), name, "R11", serial, not_before, not_before + lifetime, "ECDSA P-256",
                           fingerprint, aki)
