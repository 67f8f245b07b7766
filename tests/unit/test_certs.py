"""certs: X.509 facts, the 2/3-of-lifetime renewal policy, and the served certificate."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ispa_acmewrap.certs import CertificateInfo, certificate_from_der, read_certificate, served_certificate
from ispa_acmewrap.errors import OperationFailed
from tests.factories import ISSUED, KEY, write_pem, x509_certificate

T0 = ISSUED
SECOND = timedelta(seconds=1)
EC_KEY = KEY


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def info_for(tmp_path: Path, **options) -> CertificateInfo:
    return read_certificate(write_pem(tmp_path / "cert.pem", x509_certificate(**options)))


def openssl_x509(path: Path, *options: str) -> str:
    """The value openssl prints for `openssl x509 -noout OPTIONS` (after its `=`)."""
    argv = ["openssl", "x509", "-in", str(path), "-noout", *options]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return output.strip().split("=", 1)[1]


# --- facts ----------------------------------------------------------------------
def test_reads_names_issuer_validity_and_path(tmp_path: Path) -> None:
    info = info_for(tmp_path, sans=("isp.example.net", "www.isp.example.net"))
    assert info.path == tmp_path / "cert.pem"
    assert info.names == ("isp.example.net", "www.isp.example.net")
    assert info.subject == "isp.example.net"
    assert info.issuer == "Test CA R1"
    assert (info.not_before, info.not_after) == (T0, T0 + timedelta(days=90))
    assert info.not_before.tzinfo is not None and info.not_before.utcoffset() == timedelta(0)
    assert info.lifetime == timedelta(days=90)


def test_names_fall_back_to_the_common_name(tmp_path: Path) -> None:
    assert info_for(tmp_path, name="legacy.example.net", sans=()).names == ("legacy.example.net",)


def test_no_names_at_all(tmp_path: Path) -> None:
    assert info_for(tmp_path, name=None, sans=()).names == ()


def test_issuer_without_common_name_is_its_organisation(tmp_path: Path) -> None:
    issuer = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Let's Encrypt")])
    assert info_for(tmp_path, issuer=issuer).issuer == "Let's Encrypt"


def test_key_types(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    assert info_for(tmp_path).key_type == "ECDSA P-256"
    assert info_for(tmp_path, key=rsa_key).key_type == "RSA 2048"


@pytest.mark.parametrize("serial", [1, 0x80, 0xFF, 0x1234, 0xABCDEF, 0x8000_0000_0000_0000_0001,
                                    0x31C4_9A0E_77D2_5B16_0F3A_C8E1_942D_6B07_5AE3_10F9])  # 20 bytes, as CAs use
def test_serial_hex_matches_openssl(tmp_path: Path, serial: int) -> None:
    info = info_for(tmp_path, serial=serial)
    assert info.serial == serial
    assert info.serial_hex == openssl_x509(info.path, "-serial")


def test_fingerprint_matches_openssl(tmp_path: Path) -> None:
    info = info_for(tmp_path)
    assert info.fingerprint_sha256 == openssl_x509(info.path, "-fingerprint", "-sha256").replace(":", "").lower()


def test_reads_the_first_certificate_of_a_chain(tmp_path: Path) -> None:
    leaf = x509_certificate("leaf.example.net")
    intermediate = x509_certificate("Test CA R1", sans=())
    assert read_certificate(write_pem(tmp_path / "fullchain.pem", leaf, intermediate)).subject == "leaf.example.net"


def test_from_der_equals_from_pem(tmp_path: Path) -> None:
    certificate = x509_certificate()
    from_pem = read_certificate(write_pem(tmp_path / "cert.pem", certificate))
    from_der = certificate_from_der(certificate.public_bytes(serialization.Encoding.DER), tmp_path / "cert.pem")
    assert from_der == from_pem


def test_garbled_file_names_the_file(tmp_path: Path) -> None:
    garbled = tmp_path / "cert.pem"
    garbled.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    with pytest.raises(OperationFailed, match=str(garbled)) as caught:
        read_certificate(garbled)
    assert caught.value.hint


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(OperationFailed, match=str(tmp_path / "absent.pem")):
        read_certificate(tmp_path / "absent.pem")


# --- renewal policy: 2/3 of the certificate's own lifetime ------------------------
@pytest.mark.parametrize(
    ("lifetime_days", "due_after"),
    [
        (90, timedelta(days=60)),  # today: the guide's 60 days
        (64, timedelta(days=42, hours=16)),  # from 2027-02-10
        (45, timedelta(days=30)),  # from 2028
        (6, timedelta(days=4)),  # short-lived certificates
    ],
)
def test_due_after_two_thirds_of_the_lifetime(tmp_path: Path, lifetime_days: int, due_after: timedelta) -> None:
    info = info_for(tmp_path, lifetime=timedelta(days=lifetime_days))
    assert info.renewal_due_at() == T0 + due_after
    assert not info.is_due(T0 + due_after - SECOND)
    assert info.is_due(T0 + due_after)
    assert info.is_due(T0 + due_after + SECOND)


def test_expiry_and_days_left_round_down(tmp_path: Path) -> None:
    info = info_for(tmp_path, lifetime=timedelta(days=90))
    expiry = T0 + timedelta(days=90)
    assert info.days_left(T0) == 90
    assert info.days_left(T0 + SECOND) == 89
    assert info.days_left(expiry - SECOND) == 0
    assert info.days_left(expiry + SECOND) == -1
    assert not info.is_expired(expiry)
    assert info.is_expired(expiry + SECOND)


# --- the certificate a TLS server presents ----------------------------------------
@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[str | None]]]:
    """A TLS server on 127.0.0.1 for one connection; yields (port, cert file, SNI names seen)."""
    cert_file = write_pem(tmp_path / "served.pem", x509_certificate(sans=("served.example.net",)))
    key_file = tmp_path / "served.key"
    key_file.write_bytes(
        EC_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    seen: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda _socket, name, _context: seen.append(name)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)
        thread = threading.Thread(target=_serve_once, args=(listener, context), daemon=True)
        thread.start()
        yield listener.getsockname()[1], cert_file, seen
        thread.join(timeout=5)


def _serve_once(listener: socket.socket, context: ssl.SSLContext) -> None:
    try:
        connection, _ = listener.accept()
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.recv(1)
    except OSError:  # the client hung up, or nobody came
        pass


def test_served_certificate_is_the_file_apache_was_given(tls_server) -> None:
    port, cert_file, seen = tls_server
    served = served_certificate("127.0.0.1", port, "served.example.net")
    assert served is not None
    assert served.fingerprint_sha256 == read_certificate(cert_file).fingerprint_sha256
    assert served.names == ("served.example.net",)
    assert seen == ["served.example.net"]


def test_nothing_listening_is_none() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    assert served_certificate("127.0.0.1", port, "isp.example.net", timeout=2) is None


def test_plain_tcp_server_is_none() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer_in_plain_text() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer_in_plain_text, daemon=True)
        thread.start()
        assert served_certificate("127.0.0.1", port, "isp.example.net", timeout=2) is None
        thread.join(timeout=5)
