"""Parse certificates the way a person reads ``openssl x509 -text``.

Everything taken from a certificate is remote text and goes through
:func:`probes.core.sanitize.clean_text`.  ``cryptography`` is imported lazily.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from probes.core.sanitize import clean_text

# Issuer names of products that intercept TLS (corporate proxies, debugging
# proxies, antivirus).  Matched case-insensitively against the root's name.
INTERCEPTORS: tuple[str, ...] = (
    "zscaler",
    "fortinet",
    "fortigate",
    "blue coat",
    "bluecoat",
    "symantec web security",
    "palo alto",
    "netskope",
    "cisco umbrella",
    "sophos",
    "mitmproxy",
    "charles proxy",
    "fiddler",
    "portswigger",
    "burp",
    "kaspersky",
    "avast",
    "eset ssl filter",
    "forcepoint",
    "websense",
    "barracuda",
    "checkpoint",
    "check point",
    "mcafee web gateway",
    "squid",
)


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str
    issuer: str
    common_name: str
    sans: tuple[str, ...]  # "DNS:name" / "IP:address"
    not_before: str  # ISO 8601, UTC
    not_after: str
    days_left: int  # negative once expired
    public_key: str  # "RSA 2048", "EC secp256r1", "Ed25519"
    signature_algorithm: str
    sha256: str  # colon-separated hex
    is_ca: bool
    self_issued: bool  # subject == issuer
    spki_sha256: str = ""  # SHA-256 of the public key (SubjectPublicKeyInfo), colon hex

    @property
    def has_san(self) -> bool:
        return bool(self.sans)

    @property
    def dns_names(self) -> tuple[str, ...]:
        return tuple(s[4:] for s in self.sans if s.startswith("DNS:"))

    @property
    def ip_names(self) -> tuple[str, ...]:
        return tuple(s[3:] for s in self.sans if s.startswith("IP:"))


def parse_der(der: bytes, now: dt.datetime | None = None) -> CertInfo | None:
    """A :class:`CertInfo` for one DER certificate, or None when unparsable."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    now = now or dt.datetime.now(dt.UTC)
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    try:
        cn_attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(cn_attrs[0].value) if cn_attrs else ""
    except ValueError:
        common_name = ""
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        for name in ext.value:
            if isinstance(name, x509.DNSName):
                sans.append(f"DNS:{clean_text(name.value, 120)}")
            elif isinstance(name, x509.IPAddress):
                sans.append(f"IP:{name.value}")
    except (x509.ExtensionNotFound, ValueError):
        pass
    is_ca = False
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        is_ca = bool(bc.value.ca)
    except (x509.ExtensionNotFound, ValueError):
        pass
    try:
        sig = cert.signature_algorithm_oid._name
    except (AttributeError, ValueError):
        sig = "unknown"
    subject = _name(cert.subject)
    issuer = _name(cert.issuer)
    return CertInfo(
        subject=subject,
        issuer=issuer,
        common_name=clean_text(common_name, 120),
        sans=tuple(sans[:100]),
        not_before=not_before.isoformat(),
        not_after=not_after.isoformat(),
        days_left=int((not_after - now).total_seconds() / 86400),  # whole days, toward zero
        public_key=_key(cert.public_key()),
        signature_algorithm=clean_text(str(sig), 60),
        sha256=":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256())),
        is_ca=is_ca,
        self_issued=cert.subject == cert.issuer,
        spki_sha256=_spki_hash(cert),
    )


def _spki_hash(cert: Any) -> str:
    import hashlib

    from cryptography.hazmat.primitives import serialization

    try:
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, TypeError):
        return ""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(spki).digest())


def _name(name: Any) -> str:
    try:
        text = name.rfc4514_string()
    except ValueError:
        text = "(unparsable name)"
    return clean_text(text, 200)


def _key(key: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def hostname_matches(host: str, cert: CertInfo) -> bool:
    """RFC 6125 matching against SANs (a wildcard covers exactly one left-most label)."""
    host = host.lower().rstrip(".")
    if (cert.ip_names or _is_ip(host)) and host in cert.ip_names:
        return True
    return any(wildcard_match(pattern.lower().rstrip("."), host) for pattern in cert.dns_names)


def wildcard_match(pattern: str, host: str) -> bool:
    if pattern == host:
        return True
    if not pattern.startswith("*."):
        return False
    suffix = pattern[1:]  # ".example.com"
    if not host.endswith(suffix):
        return False
    label = host[: -len(suffix)]
    return bool(label) and "." not in label


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def interceptor_name(text: str) -> str | None:
    lowered = text.lower()
    return next((name for name in INTERCEPTORS if name in lowered), None)
