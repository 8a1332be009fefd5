"""The verdict engine: what the mock answers a batch upload, and what processing makes of an accepted one.

`judge_upload` makes every upload check (S0001 fields, S0012 size, S0002/S0003 identity, S0010 batch ID, S0012
posting rules and well-formedness, S0013 schema) in the order the upload view makes them; the view and
``sevis-mock validate`` both call it, each with its own `Uploader` (who is asking: a certificate against the
store, or the document's own header offline).

`judge_processing` applies an accepted document's records with the worker's own `BatchProcessor` and rules, against
a described record state (`RecordState`: the JSON of ``GET /control/records``) held in a private in-memory store,
inside a transaction that is rolled back: every document is judged against the same state and nothing is kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Iterable, Protocol

from cryptography import x509
from lxml import etree
from sqlalchemy.orm import Session

from ..clock import parse_iso
from ..store import Base, Batch, Official, Organization, Record, RecordEvent, Setting, Store
from ..profiles import READ_ONLY, ProfileError
from ..profiles import save as save_profile
from ..profiles import validate as validate_profile
from ..validation import SchemaSet
from ..xmlsafe import parse
from .intake import (
    KIND_OF_ROOT,
    AcceptedDocument,
    Refusal,
    UploadingOrg,
    batch_id_used,
    check_document,
    check_identity,
)
from .outcome import ProcessOutcome
from ..rules.keys import dependent_key, duplicate_key_for
from .processing import processor_for

ROLES = {"F/M": "PDSO", "J": "RO"}  # the role an official a state does not describe is given
PRINCIPAL_TAG = {"F/M": "Student", "J": "ExchangeVisitor"}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHOOL_CODE = re.compile(r"[A-Z]{3}214F\d{8}")
PROGRAM_NUMBER = re.compile(r"(P-[1-4]|G-[1-7])-\d{5}")


def kind_of_org_id(org_id: str) -> str | None:
    """ "F/M" for a school code, "J" for a program number, None for neither (PROTOCOL §5)."""
    if SCHOOL_CODE.fullmatch(org_id):
        return "F/M"
    if PROGRAM_NUMBER.fullmatch(org_id):
        return "J"
    return None


# --- the upload -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadForm:
    """What a batchUpload request posts: the three form fields and the xml file part (None when missing)."""

    org_id: str
    user_id: str
    batch_id: str
    document: bytes | None


class Uploader(Protocol):
    """Who is asking: the identity checks (S0002/S0003) and the batch IDs already used (S0010)."""

    def organization(self, org_id: str, user_id: str) -> UploadingOrg:
        """The organization the request speaks for; raises `Refusal` S0002/S0003."""
        ...

    def batch_id_used(self, org_id: str, batch_id: str) -> bool: ...

    # True when storing the accepted batch refuses a used batch ID by itself (the store's unique constraint on
    # environment, org ID and batch ID, answered S0010): the look-up is then made only for a document refused for
    # something else, where S0010 must come first. Either way the answer is the same.
    stores_unique_batch_ids: bool


def judge_upload(form: UploadForm, *, schemas: SchemaSet, max_bytes: int, uploader: Uploader) -> AcceptedDocument:
    """The accepted document (S0000), or `Refusal` with SEVIS's code and what to fix. The order is the server's
    [i]: the fields (S0001), then `judge_document`'s checks."""
    missing = [k for k, v in (("orgid", form.org_id), ("userid", form.user_id), ("batchid", form.batch_id)) if not v]
    if form.document is None:
        missing.append("xml (a file part)")
    if missing:
        raise Refusal(
            "S0001",
            [
                f"the multipart/form-data body lacks {', '.join(missing)}; send fields orgid, userid, batchid "
                "and a file part named xml"
            ],
        )
    assert form.document is not None
    return judge_document(
        form.document, form.org_id, form.user_id, form.batch_id, schemas=schemas, max_bytes=max_bytes, uploader=uploader
    )


def judge_document(
    document: bytes, org_id: str, user_id: str, batch_id: str, *, schemas: SchemaSet, max_bytes: int, uploader: Uploader
) -> AcceptedDocument:
    """The checks of an upload whose fields are all there: the size (S0012), security (S0002/S0003), the batch
    ID (S0010), then the document itself (S0012 posting rules and well-formedness, S0013 schema)."""
    if len(document) > max_bytes:
        raise Refusal("S0012", [f"the document is larger than {max_bytes} bytes"])
    org = uploader.organization(org_id, user_id)
    if not uploader.stores_unique_batch_ids:
        _check_batch_id(uploader, org_id, batch_id)
        return check_document(document, org, batch_id, schemas)
    try:
        return check_document(document, org, batch_id, schemas)
    except Refusal:
        _check_batch_id(uploader, org_id, batch_id)  # S0010 before what the document itself lacks
        raise


def _check_batch_id(uploader: Uploader, org_id: str, batch_id: str) -> None:
    if uploader.batch_id_used(org_id, batch_id):
        raise Refusal("S0010", [used_batch_id(org_id, batch_id)]) from None


def used_batch_id(org_id: str, batch_id: str) -> str:
    """What S0010 says to fix."""
    return f"batch ID {batch_id} was already used by {org_id}; batch IDs are unique per organization forever"


class CertifiedUploader:
    """The server's uploader: the client certificate, organization and official as the store holds them. The
    upload view stores an accepted batch under the unique constraint that answers a used batch ID S0010."""

    stores_unique_batch_ids = True

    def __init__(self, rows, store: Store, cert: x509.Certificate | None, environment: str, now: datetime) -> None:
        self.rows = rows  # anything with Session.get's signature: the server's row cache
        self.store = store
        self.cert = cert
        self.environment = environment
        self.now = now

    def organization(self, org_id: str, user_id: str) -> Organization:
        org, _ = check_identity(self.rows, self.cert, org_id, user_id, self.now)
        return org

    def batch_id_used(self, org_id: str, batch_id: str) -> bool:
        with self.store.session() as session:
            return batch_id_used(session, self.environment, org_id, batch_id)


@dataclass
class HeaderOrg:
    """The organization a document names for itself (standing in for the upload's orgid field)."""

    org_id: str
    kind: str | None


class DocumentUploader:
    """Offline: whoever the fields name is a registered official of the organization they name, and no batch ID
    was used before. The organization's kind is the root element's, or with ``kind_of_field`` the org ID's when
    it is a school code or program number (an orgid field given apart from the document)."""

    def __init__(self, root_kind: str | None, *, kind_of_field: bool = False) -> None:
        self.root_kind = root_kind
        self.kind_of_field = kind_of_field

    def organization(self, org_id: str, user_id: str) -> HeaderOrg:
        return HeaderOrg(org_id, (kind_of_org_id(org_id) if self.kind_of_field else None) or self.root_kind)

    stores_unique_batch_ids = False

    def batch_id_used(self, org_id: str, batch_id: str) -> bool:
        return False


# --- processing -----------------------------------------------------------------------------------


def judge_processing(
    document: bytes,
    state: RecordState,
    *,
    now: datetime | None = None,
    environment: str = "beta",
    file_name: str = "",
) -> ProcessOutcome:
    """The outcome the worker would store for an accepted ``document`` (its Process code and each record's
    result), applied against ``state``; nothing is kept. A mock bug in processing raises (the server's worker
    would keep such a batch queued)."""
    root = parse(document).getroot()
    kind = KIND_OF_ROOT[root.tag]
    org_id = (root.findtext("BatchHeader/OrgID") or "").strip()
    now = now or datetime.now(UTC)
    store = state.store(environment)
    with store.engine.connect() as conn:
        outer = conn.begin()
        try:
            with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
                batch = _arrange(session, state, root, kind, org_id, document, file_name, environment, now)
                return processor_for(session, store, batch, render_form=None).run()
        finally:
            outer.rollback()


def _arrange(
    session: Session,
    state: RecordState,
    root: etree._Element,
    kind: str,
    org_id: str,
    data: bytes,
    file_name: str,
    environment: str,
    now: datetime,
) -> Batch:
    """The organization, its officials and the batch row, as the server holds them when the worker claims it."""
    if session.get(Organization, org_id) is None:
        org = Organization(
            org_id=org_id, kind=kind, name=org_id, batch_registered=True, agreement_on_file=True, created_at=now
        )
        session.add(org)
        session.flush()
        wanted = {k: v for k, v in (state.profiles.get(org_id) or {}).items() if k not in READ_ONLY}
        if wanted:  # checked when the state was read
            save_profile(session, org, wanted, now)
    for user_id, role in state.officials_for(org_id, kind, _user_ids(root)):
        if session.get(Official, user_id) is None:
            session.add(
                Official(
                    user_id=user_id, org_id=org_id, name=user_id, role=role, batch_registered=True, last_login_at=now
                )
            )
    batch = Batch(
        org_id=org_id,
        batch_id=(root.findtext("BatchHeader/BatchID") or "").strip(),
        user_id=root.get("userID", ""),
        kind=kind,
        environment=environment,
        file_name=Path(file_name).name[:255],
        document=data,
        uploaded_at=now,
        due_at=now,
        state="processing",  # as the worker's claim leaves it, with the claim's time
        processed_at=now,
    )
    session.add(batch)
    session.flush()
    return batch


def _user_ids(root: etree._Element) -> list[str]:
    found = [root.get("userID")] + [e.get("userID") for e in root.iter() if isinstance(e.tag, str)]
    return list(dict.fromkeys(u.strip() for u in found if u and u.strip()))


# --- the described record state -------------------------------------------------------------------


class StateError(ValueError):
    """A record state that cannot be used, with what to fix."""


@dataclass
class RecordState:
    """Records (and optionally officials and organization profiles) as ``GET /control/records[/<sevis_id>]``
    describes them: the store `judge_processing` judges a document against."""

    records: list[dict] = field(default_factory=list)
    officials: list[dict] | None = None  # None: every userID a document names is a registered official [i]
    # org_id -> organization profile (GET /control/orgs/<id>/profile's "profile"); absent: the defaults
    profiles: dict[str, dict] = field(default_factory=dict)
    _stores: dict[str, Store] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, path: Path) -> RecordState:
        """The state in a JSON file; `StateError` says what is wrong with it."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StateError(f"{path}: not readable JSON ({exc})") from exc
        try:
            return cls.from_json(data)
        except StateError as exc:
            raise StateError(f"{path}: {exc}") from None

    @classmethod
    def from_json(cls, data) -> RecordState:
        officials, profiles = None, {}
        if isinstance(data, dict) and isinstance(data.get("profiles"), dict):
            profiles = data["profiles"]
        if isinstance(data, dict) and "sevis_id" in data:
            records = [data]
        elif isinstance(data, dict) and isinstance(data.get("records"), list):
            records, officials = data["records"], data.get("officials")
        elif isinstance(data, list):
            records = data
        else:
            raise StateError(
                'expected {"records": [...]} (GET /control/records), a list of records, '
                "or one record (GET /control/records/<sevis_id>)"
            )
        for n, record in enumerate(records):
            missing = [
                k for k in ("sevis_id", "org_id", "kind", "status") if not isinstance(record, dict) or not record.get(k)
            ]
            if missing:
                raise StateError(f"record {n} lacks {', '.join(missing)}")
            if record["kind"] not in PRINCIPAL_TAG:
                raise StateError(f"record {record['sevis_id']}: kind must be F/M or J, not {record['kind']!r}")
        if officials is not None and not all(isinstance(o, dict) and o.get("user_id") for o in officials):
            raise StateError("officials must be objects with user_id (and org_id, role)")
        for org_id, profile in profiles.items():
            kind = kind_of_org_id(org_id)
            if kind is None or not isinstance(profile, dict):
                raise StateError(
                    "profiles must map a school code or program number to a profile object "
                    "(GET /control/orgs/<id>/profile)"
                )
            try:
                validate_profile(kind, {k: v for k, v in profile.items() if k not in READ_ONLY})
            except ProfileError as exc:
                raise StateError(f"profile of {org_id}: {exc}") from exc
        return cls(records, officials, profiles)

    def officials_for(self, org_id: str, kind: str, named: Iterable[str]) -> list[tuple[str, str]]:
        if self.officials is None:
            return [(u, ROLES[kind]) for u in named]
        return [(o["user_id"], o.get("role", ROLES[kind])) for o in self.officials if o.get("org_id", org_id) == org_id]

    def store(self, environment: str) -> Store:
        """A private in-memory store holding the state (made once per environment)."""
        if environment not in self._stores:
            store = Store("sqlite://")
            Base.metadata.create_all(store.engine)  # a throwaway database: the tables as they are, no migrations
            with store.write() as session:
                self.load_into(session, environment)
            self._stores[environment] = store
        return self._stores[environment]

    def load_into(self, session: Session, environment: str) -> None:
        numbers = [0]
        seen: set[str] = set()
        for record in self.records:
            env = record.get("environment") or environment
            _add_record(session, record, env, record.get("principal_sevis_id"), seen, numbers)
            for dep in record.get("dependents") or []:
                if dep.get("sevis_id") and dep["sevis_id"] not in seen:
                    merged = {"org_id": record["org_id"], "kind": record["kind"], **dep}
                    _add_record(session, merged, env, record["sevis_id"], seen, numbers)
        session.flush()
        for record in self.records:
            for event in record.get("history") or []:
                if event.get("event") and event.get("event") != "Create":
                    session.add(
                        RecordEvent(
                            sevis_id=record["sevis_id"],
                            batch_pk=None,
                            event=event["event"],
                            detail=event.get("detail") or "",
                            at=_when(event.get("at")),
                        )
                    )
        session.merge(Setting(key="next_sevis_number", value=str(max(numbers) + 1 if max(numbers) else 1_000_001)))


def _add_record(
    session: Session, record: dict, environment: str, principal: str | None, seen: set[str], numbers: list[int]
) -> None:
    sevis_id = record["sevis_id"]
    if sevis_id in seen:
        return
    seen.add(sevis_id)
    if re.fullmatch(r"N\d{10}", sevis_id):
        numbers.append(int(sevis_id[1:]))
    kind = record["kind"]
    tag = "Dependent" if principal else PRINCIPAL_TAG[kind]
    element = _document(record, tag)
    key = dependent_key(element) if principal else duplicate_key_for(kind, element)
    surname, given, birth_date, country, gender = key
    session.add(
        Record(
            sevis_id=sevis_id,
            org_id=record["org_id"],
            environment=environment,
            kind=kind,
            principal_sevis_id=principal,
            status=record["status"],
            surname=surname or (record.get("surname") or "").upper(),
            given_name=given or (record.get("given_name") or "").upper(),
            birth_date=birth_date or record.get("birth_date") or "",
            birth_country=country,
            gender=gender,
            relationship_code=record.get("relationship") or "",
            request_id=record.get("request_id") or "",
            created_batch_pk=None,
            document=etree.tostring(element, encoding="unicode"),
            created_at=_when(record.get("created_at")),
            updated_at=_when(record.get("updated_at")),
        )
    )


def _when(value) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        return parse_iso(str(value)).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)


def _document(record: dict, tag: str) -> etree._Element:
    """The stored record's XML: from ``data`` (XML text, or a nested dict of element names), or a minimal
    element from the summary fields when the state has no data."""
    data = record.get("data")
    if isinstance(data, str) and data.lstrip().startswith("<"):
        return etree.fromstring(data.encode())
    if isinstance(data, dict) and data:
        if len(data) == 1 and tag in data and isinstance(data[tag], dict):
            data = data[tag]
        return _element(tag, data)
    element = etree.Element(tag)
    names = etree.SubElement(
        etree.SubElement(element, "PersonalInfo" if tag == "Student" else "Biographical"), "FullName"
    )
    etree.SubElement(names, "LastName").text = record.get("surname") or ""
    etree.SubElement(names, "FirstName").text = record.get("given_name") or ""
    return element


def _element(tag: str, value) -> etree._Element:
    """Element names as keys (a list when repeated), "@name" keys attributes, "#text" the text beside them:
    the shape of sevis_mock.server.records.queries.xml_data."""
    element = etree.Element(tag)
    if isinstance(value, dict):
        for key, child in value.items():
            if key.startswith("@"):
                name = key[1:]
                name = f"{{{XSI}}}{name[4:]}" if name.startswith("xsi:") else name
                element.set(name, "" if child is None else str(child))
            elif key == "#text":
                element.text = "" if child is None else str(child)
            else:
                for item in child if isinstance(child, list) else [child]:
                    element.append(_element(key, item))
    elif value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else str(value)
    return element
