"""Upload and download intake: who is asking (certificate, org, user) and what they sent.

Each check answers with the disposition SEVIS would give (PROTOCOL §2) and a sentence that says what
to fix. The order is [i]: security (S0002/S0003) before the batch ID (S0010) before the document
(S0012/S0013), as SEVIS describes S0000 as "security checks passed and the document is schema-valid".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from cryptography import x509
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store import Batch, Certificate, Official, Organization
from ..tls import fingerprint
from ..validation import DOCUMENTS, SchemaSet
from ..xmlsafe import XML_SPACE, UnsafeXML, parse

INACTIVE_AFTER = timedelta(days=45)
KIND_OF_ROOT = {root: kind for root, (kind, _) in DOCUMENTS.items() if kind != "log"}


@dataclass
class Refusal(Exception):
    code: str
    reasons: list[str] = field(default_factory=list)


def check_identity(
    session: Session, cert: x509.Certificate | None, org_id: str, user_id: str, now: datetime
) -> tuple[Organization, Official]:
    """The certificate, org and user checks shared by upload and download. ``session`` is anything with
    ``Session.get``'s signature: the server passes its row cache (`sevis_mock.server.store.cache.RowCache`)."""
    if cert is None:  # TLS requires one; this guards a misconfigured front end
        raise Refusal(
            "S0001", ["no client certificate reached the application; connect with your registered certificate"]
        )
    org = session.get(Organization, org_id)
    if org is None:
        raise Refusal("S0002", [f"orgid {org_id!r} is not a school code or program number known to SEVIS"])
    if not org.batch_registered:
        raise Refusal("S0002", [f"{org_id} is not registered for batch processing; its PDSO/RO must register in RTI"])
    if not org.agreement_on_file:
        raise Refusal("S0002", [f"no customer agreement is on file for {org_id}; accept it in RTI batch registration"])
    registration = session.get(Certificate, fingerprint(cert))
    if registration is None:
        raise Refusal(
            "S0002",
            [
                f"the client certificate (subject {cert.subject.rfc4514_string()}) is not registered for batch with any organization; register it in RTI"
            ],
        )
    if registration.org_id != org_id:
        raise Refusal("S0002", [f"the client certificate is registered for {registration.org_id}, not for {org_id}"])
    official = session.get(Official, user_id)
    if official is None:
        raise Refusal("S0003", [f"userid {user_id!r} is not a SEVIS user ID"])
    if official.org_id != org_id:
        raise Refusal("S0003", [f"user {user_id} is not an official of {org_id}"])
    if not official.batch_registered:
        raise Refusal("S0003", [f"user {user_id} is not registered for batch processing"])
    if registration.user_id != user_id:
        raise Refusal(
            "S0003", [f"the client certificate is registered to user {registration.user_id}, not to {user_id}"]
        )
    if official.last_login_at is None or now - official.last_login_at > INACTIVE_AFTER:
        last = official.last_login_at.date().isoformat() if official.last_login_at else "never"
        raise Refusal(
            "S0003",
            [f"user {user_id} is inactive: no RTI login for 45 days (last login {last}); log in to RTI to reactivate"],
        )
    return org, official


class UploadingOrg(Protocol):
    """The organization an upload speaks for, as the document checks need it."""

    @property
    def org_id(self) -> str: ...

    @property
    def kind(self) -> str | None: ...


@dataclass
class AcceptedDocument:
    kind: str
    tree: etree._ElementTree


def batch_id_used(session: Session, environment: str, org_id: str, batch_id: str) -> bool:
    """Whether the organization already used the batch ID on this system (S0010)."""
    used = session.scalars(
        select(Batch.id).where(Batch.environment == environment, Batch.org_id == org_id, Batch.batch_id == batch_id)
    ).first()
    return used is not None


# [i] CPU time one document may take to parse before the schema is run at all; far above what the 16 MiB
# ceiling allows (about 1.5 s); the server's front also stops any request past 30 s (mockserver/front.py)
PARSE_CPU_SECONDS = 10.0


def check_document(data: bytes, org: UploadingOrg, batch_id: str, schemas: SchemaSet) -> AcceptedDocument:
    started = time.thread_time()
    try:
        tree = parse(data)
    except UnsafeXML as exc:
        raise Refusal("S0012", [str(exc)]) from None
    except etree.XMLSyntaxError as exc:
        raise Refusal("S0012", [f"the XML is not well-formed: line {exc.lineno}: {exc.msg}"]) from None
    spent = time.thread_time() - started
    if spent > PARSE_CPU_SECONDS:
        raise Refusal(
            "S0012",
            [
                f"the document took {spent:.1f} s of CPU time to parse, over the budget of {PARSE_CPU_SECONDS:g} s; "
                "send smaller batches"
            ],
        )
    root = tree.getroot()
    kind = KIND_OF_ROOT.get(root.tag)
    if kind is not None and kind != org.kind:
        expected = next(r for r, k in KIND_OF_ROOT.items() if k == org.kind)
        raise Refusal(
            "S0013",
            [
                f"{org.org_id} is a{'n' if org.kind == 'F/M' else ''} {org.kind} organization: its batches have root element {expected}, not {root.tag}"
            ],
        )
    mismatches = []
    for path, form_field, sent in (
        ("BatchHeader/BatchID", "batchid", batch_id),
        ("BatchHeader/OrgID", "orgid", org.org_id),
    ):
        header = root.findtext(path)
        if header is not None and header.strip(XML_SPACE) != sent:
            mismatches.append(f"{path} {header.strip(XML_SPACE)!r} differs from the {form_field} field {sent!r}")
    if mismatches:
        raise Refusal("S0012", mismatches)
    problems = schemas.validate(tree)
    if problems:
        shown = [str(p) for p in problems[:10]]
        total = getattr(problems, "total", len(problems))
        if total > 10:
            shown.append(f"... and {total - 10} more")
        raise Refusal("S0013", shown)
    if kind is None:  # the schemas know only the batch roots; kept so no other root is ever accepted
        raise Refusal("S0013", [f"{root.tag} is not the root element of a batch document"])
    return AcceptedDocument(kind, tree)
