"""A PKI made in the test: root CA, intermediate, leaves good and bad (trustme + cryptography)."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


class Pki:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.root = trustme.CA(organization_name="Netmedic Lab Root")
        self.intermediate = self.root.create_child_ca()
        self.ca_file = directory / "ca.pem"
        self.root.cert_pem.write_to_path(str(self.ca_file))
        self.other_root = trustme.CA(organization_name="Unknown Corp Root")
        self.other_intermediate = self.other_root.create_child_ca()
        self.mitm_root = trustme.CA(organization_name="mitmproxy")

    def server_context(
        self,
        leaf: trustme.LeafCert,
        chain: bool = True,
        max_version: ssl.TLSVersion | None = None,
        min_version: ssl.TLSVersion | None = None,
        ciphers: str | None = None,
        client_ca: trustme.CA | None = None,
    ) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if ciphers:
            ctx.set_ciphers(ciphers)
        if min_version is not None:
            ctx.minimum_version = min_version
        if max_version is not None:
            ctx.maximum_version = max_version
        if chain:
            leaf.configure_cert(ctx)
        else:
            leaf.private_key_pem.write_to_path(str(self.dir / "k.pem"))
            leaf.cert_chain_pems[0].write_to_path(str(self.dir / "c.pem"))
            ctx.load_cert_chain(str(self.dir / "c.pem"), str(self.dir / "k.pem"))
        if client_ca is not None:
            client_ca.configure_trust(ctx)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def leaf(self, *names: str, **kwargs: object) -> trustme.LeafCert:
        return self.intermediate.issue_cert(*(names or ("localhost", "127.0.0.1")), **kwargs)  # type: ignore[arg-type]

    def cn_only_context(self, cn: str) -> ssl.SSLContext:
        """A leaf with a subject CN and no SAN, signed by the root."""
        issuer_cert = x509.load_pem_x509_certificate(self.root.cert_pem.bytes())
        issuer_key = serialization.load_pem_private_key(self.root.private_key_pem.bytes(), None)
        return self._context("cn", cn, issuer_cert.subject, issuer_key, san=False)

    def self_signed_context(
        self,
        cn: str = "localhost",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        names: tuple[str, ...] = (),
    ) -> ssl.SSLContext:
        """A self-signed leaf; *names* replace the SANs (default: *cn* and 127.0.0.1)."""
        return self._context("self", cn, None, None, True, not_before, not_after, names)

    def _context(
        self,
        stem: str,
        cn: str,
        issuer: x509.Name | None,
        issuer_key: object,
        san: bool,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        names: tuple[str, ...] = (),
    ) -> ssl.SSLContext:
        import ipaddress

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer or subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - DAY)
            .not_valid_after(not_after or NOW + 300 * DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if san:
            alt: list[x509.GeneralName] = (
                [x509.DNSName(n) for n in names]
                if names
                else [x509.DNSName(cn), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            )
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(issuer_key or key, hashes.SHA256())  # type: ignore[arg-type]
        cpath, kpath = self.dir / f"{stem}.pem", self.dir / f"{stem}.key"
        cpath.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        kpath.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cpath), str(kpath))
        return ctx
