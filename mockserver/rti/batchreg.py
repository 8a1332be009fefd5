"""'Register for Batch Processing' (step 11): the PDSO of a school or campus uploads the client certificate
and accepts the customer agreement; this binds certificate <-> org <-> user for the batch endpoints."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy.orm import Session

from ..datadir import registration
from ..store import Certificate, Official, Organization
from ..tls import fingerprint
from . import mail
from .errors import RtiError
from ..store import RtiAccount

CLIENT_AUTH_HELP = (
    "ask your certificate authority for a client certificate (extended key usage "
    "'TLS Web Client Authentication', clientAuth), e.g. `sevis-mock certs issue --no-register`"
)


def read_certificate(data: bytes | str) -> x509.Certificate:
    """A certificate from PEM text, base64 of DER, or DER bytes; 400 saying what the upload was instead."""
    raw = data.encode() if isinstance(data, str) else bytes(data or b"")
    if not raw.strip():
        raise RtiError(400, "certificate: upload the certificate file (PEM or DER)", field="certificate")
    if b"PRIVATE KEY" in raw and b"CERTIFICATE" not in raw:
        raise RtiError(
            400,
            "certificate: this is a private key; upload the certificate (-----BEGIN CERTIFICATE-----) "
            "and keep the key to yourself",
            field="certificate",
        )
    try:
        if b"-----BEGIN CERTIFICATE-----" in raw:
            return x509.load_pem_x509_certificate(raw[raw.index(b"-----BEGIN CERTIFICATE-----") :])
        if b"-----BEGIN" in raw:
            kind = raw[raw.index(b"-----BEGIN") + 11 :].split(b"-----")[0].decode("ascii", "replace")
            raise RtiError(
                400,
                f"certificate: this PEM file holds a {kind}, not a CERTIFICATE; upload the client certificate itself",
                field="certificate",
            )
        try:
            der = base64.b64decode(b"".join(raw.split()), validate=True)
        except (binascii.Error, ValueError):
            der = raw
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise RtiError(
            400,
            f"certificate: the file could not be read as an X.509 certificate ({exc}); upload the "
            "certificate as PEM (-----BEGIN CERTIFICATE-----) or DER, not a PKCS#12 bundle or a key",
            field="certificate",
        ) from None


def certificate_problem(cert: x509.Certificate, now: datetime) -> str | None:
    if now > cert.not_valid_after_utc:
        return (
            f"certificate: it expired {cert.not_valid_after_utc.isoformat(timespec='seconds')} (now "
            f"{now.isoformat(timespec='seconds')} on the mock clock); upload a certificate that is in date"
        )
    if now < cert.not_valid_before_utc:
        return (
            f"certificate: it is not valid until {cert.not_valid_before_utc.isoformat(timespec='seconds')} (now "
            f"{now.isoformat(timespec='seconds')} on the mock clock); upload it once it is valid, or one valid today"
        )
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if basic.ca:
            return "certificate: this is a CA certificate; upload the client certificate issued to you by the CA"
    except x509.ExtensionNotFound:
        pass
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None  # [i] no EKU extension means "any usage" (RFC 5280 §4.2.1.12), as the TLS handshake treats it
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages:
        names = ", ".join(getattr(u, "_name", u.dotted_string) for u in usages) or "none"
        return f"certificate: its extended key usage ({names}) does not include clientAuth; {CLIENT_AUTH_HELP}"
    return None


def register(
    session: Session, account: RtiAccount, org_id: str, cert_data, accepted: bool, now: datetime, smtp: bool
) -> dict:
    org_id = (org_id or "").strip()
    if not org_id:
        raise RtiError(
            400, "org_id: give the school code (or campus code), or the program number, to register", field="org_id"
        )
    official = session.get(Official, account.user_id)
    org = session.get(Organization, org_id)
    if org is None:
        raise RtiError(
            404, f"org_id: {org_id} is not a school or campus code or program number of this mock", field="org_id"
        )
    if official is None or official.org_id != org_id or official.role not in ("PDSO", "RO"):
        mine = (
            f"you are {official.role} of {official.org_id}" if official else "you are not a school or program official"
        )
        if org.kind == "J":  # [i] only the Responsible Officer registers a program's certificate, not an ARO
            raise RtiError(
                403,
                f"only the Responsible Officer (RO) of program {org_id} can register it for batch processing "
                f"({mine}); ask the RO to register the certificate and accept the customer agreement",
                field="org_id",
            )
        raise RtiError(
            403,
            f"only the PDSO of {org_id} can register it for batch processing ({mine}); the PDSO of each "
            "school or campus code registers it",
            field="org_id",
        )
    cert = read_certificate(cert_data)
    problem = certificate_problem(cert, now)
    if problem:
        raise RtiError(400, problem, field="certificate")
    if not accepted:
        raise RtiError(
            400,
            "accept_agreement: read and accept the customer agreement to register for batch processing",
            field="accept_agreement",
        )
    existing = session.get(Certificate, fingerprint(cert))
    if existing is not None and (existing.org_id, existing.user_id) != (org_id, account.user_id):
        raise RtiError(
            409,
            f"certificate: this certificate is already registered to {existing.org_id} / {existing.user_id}; "
            "each school or campus code registers its own certificate",
            field="certificate",
        )
    if existing is not None:
        session.delete(existing)
        session.flush()
    row = registration(cert, org_id, account.user_id, now)
    session.add(row)
    org.batch_registered = True
    org.agreement_on_file = True
    official.batch_registered = True
    mail.send(
        session,
        to=account.email,
        subject=f"SEVIS: {org_id} is registered for batch processing",
        kind="batch-registered",
        now=now,
        user_id=account.user_id,
        smtp=smtp,
        body=(
            f"Dear {account.name},\n\n{org_id} ({org.name}) is registered for batch processing.\n\n"
            f"Batch user ID: {account.user_id}\nCertificate: {row.subject}\nSHA-256 fingerprint: {row.fingerprint}\n"
            f"Valid until: {row.not_after.isoformat(timespec='seconds')}\n\nUpload batches with this certificate, "
            f"orgid={org_id} and userid={account.user_id}.\n\n-- SEVIS (sevis-mock, a test system)\n"
        ),
    )
    return {
        "org_id": org_id,
        "user_id": account.user_id,
        "fingerprint": row.fingerprint,
        "subject": row.subject,
        "not_after": row.not_after.isoformat(timespec="seconds"),
    }
