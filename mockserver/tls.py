"""Certificates and TLS: the development CA, server and client certificates, the server's SSLContext,
and reading the client's certificate from a request.

Transport checks (chain to a trusted CA, validity dates) fail in the TLS handshake; registration checks
(certificate <-> org <-> user) are application checks answered with SEVIS codes (see batch.intake).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825
BACKDATE = timedelta(days=1)  # tolerate clock skew between the mock and its clients


@dataclass(frozen=True)
class IssuedCertificate:
    cert_path: Path
    key_path: Path
    certificate: x509.Certificate


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older key file written with a looser mode is tightened too
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _name(common_name: str, org: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(parts)


class CertificateAuthority:
    """The mock's development CA, kept as ca.pem / ca.key.pem in the data dir."""

    def __init__(self, cert: x509.Certificate, key) -> None:
        self.cert = cert
        self.key = key

    def _issuer_key(self) -> CertificateIssuerPublicKeyTypes:
        """The CA's public key, of a kind that signs certificates (it signed its own: never X25519/X448)."""
        return cast(CertificateIssuerPublicKeyTypes, self.cert.public_key())

    @classmethod
    def load_or_create(cls, directory: Path) -> "CertificateAuthority":
        cert_path, key_path = directory / "ca.pem", directory / "ca.key.pem"
        if cert_path.exists() and key_path.exists():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            return cls(cert, key)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        name = _name("sevis-mock development CA", "sevis-mock (TEST ONLY)")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(cert_pem(cert))
        return cls(cert, key)

    @property
    def cert_path_name(self) -> str:
        return "ca.pem"

    def _leaf(self, subject: x509.Name, usage, not_before: datetime, not_after: datetime, sans=None):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._issuer_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key

    def issue_server(self, directory: Path, host: str, also: tuple[str, ...] = ()) -> IssuedCertificate:
        """The server certificate for ``host`` (and localhost, 127.0.0.1 and the names in ``also``, such as a proxy's
        in front of several instances)."""
        now = datetime.now(UTC)
        sans: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        for name in (host, *also):
            try:
                san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
            except ValueError:
                san = x509.DNSName(name)
            if name not in ("localhost", "") and san not in sans:
                sans.append(san)
        cert, key = self._leaf(
            _name(host or "localhost", "sevis-mock"),
            ExtendedKeyUsageOID.SERVER_AUTH,
            now - BACKDATE,
            now + timedelta(days=LEAF_DAYS),
            sans,
        )
        return self._save(directory / "server.pem", directory / "server.key.pem", cert, key)

    def issue_client(
        self,
        directory: Path,
        *,
        org_id: str,
        user_id: str,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        client_auth: bool = True,
    ) -> IssuedCertificate:
        """A client certificate for batch; CN names the user and O the organization (as a college's
        purchased certificate would name the school, [i] SEVIS reads neither: registration binds it)."""
        now = datetime.now(UTC)
        not_before = not_before or now - BACKDATE
        not_after = not_after or now + timedelta(days=LEAF_DAYS)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client_auth else ExtendedKeyUsageOID.SERVER_AUTH
        cert, key = self._leaf(_name(user_id, org_id), usage, not_before, not_after)
        stem = f"{org_id}-{user_id}"
        return self._save(directory / f"{stem}.pem", directory / f"{stem}.key.pem", cert, key)

    @staticmethod
    def _save(cert_path: Path, key_path: Path, cert, key) -> IssuedCertificate:
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(cert_pem(cert))
        return IssuedCertificate(cert_path, key_path, cert)


def server_context(certfile: Path, keyfile: Path, trusted_cas: list[Path]) -> ssl.SSLContext:
    """TLS that requires a client certificate chaining to one of ``trusted_cas`` (fails closed)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(certfile), str(keyfile))
    ctx.verify_mode = ssl.CERT_REQUIRED
    for ca in trusted_cas:
        ctx.load_verify_locations(cafile=str(ca))
    return ctx


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes (ValueError when it is neither)."""
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def peer_certificate(environ: dict) -> x509.Certificate | None:
    """The client certificate of this request (verified in the TLS handshake), or None: from ``serve``'s
    front (DER bytes in the environ), a gunicorn socket, or werkzeug's dev server."""
    der = environ.get("sevis_mock.peer_cert")
    if der:
        return x509.load_der_x509_certificate(der)
    sock = environ.get("gunicorn.socket")
    if sock is not None and hasattr(sock, "getpeercert"):
        der = sock.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der) if der else None
    pem = environ.get("SSL_CLIENT_CERT")
    if pem:
        return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    return None
