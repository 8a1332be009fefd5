"""The certificate the college registers in step 11 and presents in steps 12-15.

Either the college's own (`--cert/--key` PEM or `--p12`), or one issued by the mock's development CA
when the rehearsal can reach that CA (the embedded mock, or a local data dir).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID


class CertificateError(ValueError):
    """The college's certificate cannot be used; the message says why and what to give instead."""


@dataclass
class ClientCertificate:
    cert_path: Path
    key_path: Path
    pem: str  # the leaf certificate, as registered in RTI
    subject: str
    not_after: str
    source: str  # "college" or "development CA"
    chain: list[x509.Certificate] = field(default_factory=list, repr=False)  # certificates after the leaf

    @property
    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.pem.encode())


def _describe(cert: x509.Certificate) -> tuple[str, str]:
    return cert.subject.rfc4514_string(), cert.not_valid_after_utc.isoformat()


def _check_client_auth(cert: x509.Certificate, source: str) -> None:
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return  # no EKU extension: any use allowed
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        raise CertificateError(
            f"{source}: the certificate has no clientAuth extended key usage; SEVIS batch "
            "needs a TLS client certificate"
        )


def from_pem(cert_file: Path, key_file: Path) -> ClientCertificate:
    data = Path(cert_file).read_bytes()
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CertificateError(
            f"{cert_file} holds no PEM certificate ({exc}); give the certificate as PEM "
            "(-----BEGIN CERTIFICATE-----) or use --p12"
        ) from exc
    try:
        serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(
            f"{key_file} is not an unencrypted PEM private key ({exc}); decrypt it or use --p12 with --p12-password"
        ) from exc
    leaf = certs[0]
    _check_client_auth(leaf, str(cert_file))
    subject, not_after = _describe(leaf)
    pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
    return ClientCertificate(Path(cert_file), Path(key_file), pem, subject, not_after, "college", certs[1:])


def from_p12(p12_file: Path, password: str | None, directory: Path) -> ClientCertificate:
    data = Path(p12_file).read_bytes()
    attempts = [password.encode()] if password is not None else [None, b""]
    for attempt in attempts:
        try:
            key, leaf, extra = pkcs12.load_key_and_certificates(data, attempt)
            break
        except ValueError:
            continue
    else:
        hint = "wrong --p12-password?" if password is not None else "it needs --p12-password"
        raise CertificateError(f"cannot read PKCS#12 file {p12_file}: {hint}")
    if key is None or leaf is None:
        raise CertificateError(f"{p12_file} must hold the private key and its certificate")
    _check_client_auth(leaf, str(p12_file))
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    cert_path, key_path = directory / "college-cert.pem", directory / "college-key.pem"
    chain = list(extra or [])
    cert_path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [leaf, *chain]))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    subject, not_after = _describe(leaf)
    return ClientCertificate(
        cert_path,
        key_path,
        leaf.public_bytes(serialization.Encoding.PEM).decode(),
        subject,
        not_after,
        "college",
        chain,
    )


def trust_anchors(cert: ClientCertificate, directory: Path) -> list[Path]:
    """CA files the embedded mock must trust for this certificate: the chain the college gave, or the
    certificate itself when it is self-signed. Empty when the issuer is unknown (then --trust is needed)."""
    leaf = cert.leaf
    anchors = list(cert.chain)
    if not anchors and leaf.issuer == leaf.subject:
        anchors = [leaf]
    paths = []
    for i, anchor in enumerate(anchors):
        path = directory / f"college-trust-{i}.pem"
        path.write_bytes(anchor.public_bytes(serialization.Encoding.PEM))
        paths.append(path)
    return paths


def development_ca_dir(ca_cert: str | Path | None) -> Path | None:
    """The folder of the mock's development CA when its key is readable here (local mock), else None."""
    if not ca_cert:
        return None
    folder = Path(ca_cert).parent
    return folder if (folder / "ca.pem").is_file() and (folder / "ca.key.pem").is_file() else None


def issue_from_development_ca(ca_dir: Path, out: Path, *, org_id: str, user_id: str) -> ClientCertificate:
    from sevis_mock.server.tls import CertificateAuthority

    issued = CertificateAuthority.load_or_create(ca_dir).issue_client(out, org_id=org_id, user_id=user_id)
    subject, not_after = _describe(issued.certificate)
    pem = issued.certificate.public_bytes(serialization.Encoding.PEM).decode()
    return ClientCertificate(issued.cert_path, issued.key_path, pem, subject, not_after, "development CA")
