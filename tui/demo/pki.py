"""Certificates for the demo's TLS servers, made at start with ``cryptography``.

A demo CA (its PEM is what ``--ca-file`` gets), a leaf it signs for a name the
demo target is not (hostname mismatch), and a self-signed leaf for 127.0.0.1
whose validity ended days ago (expired).  Keys exist on disk only for the
moment ``ssl`` loads them; the CA certificate (public) stays in the directory
the caller owns until the demo ends.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DAY = dt.timedelta(days=1)
WRONG_NAME = "wrong-host.netmedic.invalid"  # .invalid: a name that can never resolve


@dataclass(frozen=True, slots=True)
class DemoPki:
    ca_file: Path
    expired: ssl.SSLContext
    wrong_name: ssl.SSLContext


def make_pki(directory: Path) -> DemoPki:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("netmedic demo CA")
    ca = (
        _builder(ca_name, ca_name, ca_key, now - DAY, now + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "demo-ca.pem"
    _write(ca_file, ca.public_bytes(serialization.Encoding.PEM))

    wrong_key = ec.generate_private_key(ec.SECP256R1())
    wrong = (
        _builder(_name(WRONG_NAME), ca_name, wrong_key, now - DAY, now + 30 * DAY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(WRONG_NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    old_key = ec.generate_private_key(ec.SECP256R1())
    old_name = _name("netmedic demo (expired)")
    expired = (
        _builder(old_name, old_name, old_key, now - 400 * DAY, now - 3 * DAY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(old_key, hashes.SHA256())
    )
    return DemoPki(
        ca_file=ca_file,
        expired=_server_context(directory, "expired", expired, old_key),
        wrong_name=_server_context(directory, "wrong-name", wrong, wrong_key),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _server_context(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> ssl.SSLContext:
    # ssl loads a chain only from files: written into the caller's private
    # directory, loaded, and removed at once (a killed demo leaves no key behind).
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    _write(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(str(cert_path), str(key_path))
    finally:
        key_path.unlink(missing_ok=True)
        cert_path.unlink(missing_ok=True)
    return ctx


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
