"""`sevis-mock validate`: the verdict the mock server would give a batch document, offline.

The upload verdict comes from the server's own intake (``sevis_mock.server.batch.intake.check_document``):
well-formedness and posting rules (S0012), schema (S0013). The upload form fields are taken to be the
document's own header (BatchHeader/OrgID and BatchID, the organization's kind from the root element),
so the posting checks that compare header and fields always pass here.

With ``rules=True`` an accepted document is also processed by the server's own ``BatchProcessor`` and
rules registry, against an in-memory database that holds a described record state (``--state``: the
JSON of ``GET /control/records`` or of ``GET /control/records/<sevis_id>``), inside a transaction that
is rolled back, so every document is judged against the same state.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import click
from lxml import etree
from sqlalchemy.orm import Session

from sevis_mock.server.batch.intake import KIND_OF_ROOT, Refusal, check_document
from sevis_mock.server.batch.processing import BatchProcessor, dependent_key, duplicate_key_for
from sevis_mock.server.catalog import catalogue
from sevis_mock.server.clock import parse_iso
from sevis_mock.server.config import DEFAULT_MAX_BODY, ENVIRONMENTS
from sevis_mock.server.db import Batch, Official, Organization, Record, RecordEvent, Setting, Store
from sevis_mock.server.profiles import READ_ONLY, ProfileError
from sevis_mock.server.profiles import save as save_profile
from sevis_mock.server.profiles import validate as validate_profile
from sevis_mock.server.validation import SchemaFolderError, SchemaSet, readable_path
from sevis_mock.server.xmlsafe import UnsafeXML, parse

ROLES = {"F/M": "PDSO", "J": "RO"}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
PRINCIPAL_TAG = {"F/M": "Student", "J": "ExchangeVisitor"}
_LINE = re.compile(r"\bline (\d+)")


# --- results -------------------------------------------------------------------------------------


@dataclass
class Problem:
    """One thing the server would refuse or fail, where it is and what to do about it."""

    code: str
    message: str  # SEVIS's catalogue message for the code
    reason: str  # what exactly is wrong (the server's explanation)
    line: int | None = None
    path: str = ""
    hint: str = ""
    request_id: str | None = None


@dataclass
class Verdict:
    """The server's answer to one document: Upload code, and with rules the Process code and records."""

    file: str
    upload: str
    process: str | None = None
    problems: list[Problem] = field(default_factory=list)
    records: dict[str, str | None] = field(default_factory=dict)  # requestID -> None (ok) or error code
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return self.upload == "S0000" and self.process in (None, "S0000") and not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["clean"] = self.clean
        return data


@cache
def hints() -> dict[str, str]:
    text = resources.files("sevis_mock.harness").joinpath("data/hints.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {row["code"]: row["hint"] for row in rows}


def catalogue_message(code: str) -> str:
    entry = catalogue().get(code)
    return entry.message if entry is not None else ""


def hint_for(code: str) -> str:
    return hints().get(code) or f"See SEVIS's message for {code}: {catalogue_message(code) or 'unknown code'}."


# --- the validator -------------------------------------------------------------------------------


class HeaderOrg:
    """The organization a document names for itself (stands in for the upload's orgid field)."""

    def __init__(self, org_id: str, kind: str | None) -> None:
        self.org_id = org_id
        self.kind = kind


class Validator:
    def __init__(
        self,
        schemas: SchemaSet,
        *,
        rules: bool = False,
        state: "State | None" = None,
        now: datetime | None = None,
        environment: str = "beta",
        max_body_bytes: int = DEFAULT_MAX_BODY,
        orgid: str | None = None,
        batchid: str | None = None,
    ) -> None:
        if environment not in ENVIRONMENTS:
            raise ValueError(f"environment must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
        self.schemas = schemas
        self.rules = rules
        self.state = state or State()
        self.now = now
        self.environment = environment
        self.max_body_bytes = max_body_bytes
        self.orgid = orgid  # the upload form fields; None: the document's own header values
        self.batchid = batchid
        self._store: Store | None = None

    # upload -----------------------------------------------------------------------------------------
    def check(self, data: bytes, name: str = "") -> Verdict:
        started = time.perf_counter()
        verdict, tree = self._upload(data, name)
        if verdict.upload == "S0000" and self.rules:
            self._process(verdict, data, tree)
        verdict.seconds = time.perf_counter() - started
        return verdict

    def _upload(self, data: bytes, name: str) -> tuple[Verdict, etree._ElementTree | None]:
        if len(data) > self.max_body_bytes:  # the server's first check (batch/views.py)
            reason = f"the document is larger than {self.max_body_bytes} bytes"
            return Verdict(name, "S0012", problems=[_problem("S0012", reason)]), None
        tree, parse_error = _parse(data)
        root = tree.getroot() if tree is not None else None
        root_kind = KIND_OF_ROOT.get(root.tag) if root is not None else None
        if self.orgid is not None:
            org = HeaderOrg(self.orgid, _kind_of_org_id(self.orgid) or root_kind)
        else:
            org = HeaderOrg((root.findtext("BatchHeader/OrgID") or "").strip() if root is not None else "", root_kind)
        batch_id = (
            self.batchid
            if self.batchid is not None
            else ((root.findtext("BatchHeader/BatchID") or "").strip() if root is not None else "")
        )
        try:
            check_document(data, org, batch_id, self.schemas)
        except Refusal as refusal:
            return Verdict(
                name, refusal.code, problems=self._refusal_problems(refusal, tree, parse_error, org.kind)
            ), tree
        return Verdict(name, "S0000"), tree

    def _refusal_problems(self, refusal: Refusal, tree, parse_error, org_kind: str | None) -> list[Problem]:
        structured = getattr(refusal, "problems", None)
        kinds_agree = tree is None or org_kind is None or KIND_OF_ROOT.get(tree.getroot().tag) in (None, org_kind)
        if refusal.code == "S0013" and not structured and tree is not None and kinds_agree:
            structured = self.schemas.validate(tree)  # the same call intake made, for line and path
        if structured:
            return [
                _problem(refusal.code, _reason(p), line=getattr(p, "line", None), path=getattr(p, "path", ""))
                for p in structured
            ]
        line = getattr(parse_error, "lineno", None)
        return [_problem(refusal.code, reason, line=line or _line_in(reason)) for reason in refusal.reasons] or [
            _problem(refusal.code, catalogue_message(refusal.code))
        ]

    # process ----------------------------------------------------------------------------------------
    def _process(self, verdict: Verdict, data: bytes, tree: etree._ElementTree) -> None:
        root = tree.getroot()
        kind = KIND_OF_ROOT[root.tag]
        org_id = (root.findtext("BatchHeader/OrgID") or "").strip()
        now = self.now or datetime.now(UTC)
        store = self._state_store()
        with store.engine.connect() as conn:
            outer = conn.begin()
            try:
                with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
                    batch = self._arrange(session, root, kind, org_id, data, verdict.file, now)
                    outcome = BatchProcessor(session, store, batch, now, org_id, None).run()
            except Exception as exc:  # the server's processor would retry this batch forever: S0030
                verdict.problems.append(
                    _problem(
                        "S0030",
                        f"the mock's processor fails on this document "
                        f"({type(exc).__name__}: {exc}); the server would keep it queued",
                    )
                )
                return
            finally:
                outer.rollback()
        verdict.process = outcome.code
        for result in outcome.records:
            request_id = result.request_id
            verdict.records[request_id] = None if result.ok else result.error_code
            if not result.ok:
                code = result.error_code or ""
                element = _record_element(root, request_id)
                verdict.problems.append(
                    Problem(
                        code=code,
                        message=catalogue_message(code),
                        reason=result.error_message or "",
                        request_id=request_id,
                        line=element.sourceline if element is not None else None,
                        path=readable_path(element) if element is not None else "",
                        hint=hint_for(code),
                    )
                )

    def _arrange(self, session, root, kind: str, org_id: str, data: bytes, file_name: str, now: datetime) -> Batch:
        """The organization, its officials and the batch row, as the server would hold them at upload."""
        if session.get(Organization, org_id) is None:
            org = Organization(
                org_id=org_id, kind=kind, name=org_id, batch_registered=True, agreement_on_file=True, created_at=now
            )
            session.add(org)
            session.flush()
            wanted = {k: v for k, v in (self.state.profiles.get(org_id) or {}).items() if k not in READ_ONLY}
            if wanted:  # checked when the state file was read
                save_profile(session, org, wanted, now)
        for user_id, role in self.state.officials_for(org_id, kind, _user_ids(root)):
            if session.get(Official, user_id) is None:
                session.add(
                    Official(
                        user_id=user_id,
                        org_id=org_id,
                        name=user_id,
                        role=role,
                        batch_registered=True,
                        last_login_at=now,
                    )
                )
        batch = Batch(
            org_id=org_id,
            batch_id=(root.findtext("BatchHeader/BatchID") or "").strip(),
            user_id=root.get("userID", ""),
            kind=kind,
            environment=self.environment,
            file_name=Path(file_name).name[:255],
            document=data,
            uploaded_at=now,
            due_at=now,
            state="queued",
        )
        session.add(batch)
        session.flush()
        return batch

    def _state_store(self) -> Store:
        if self._store is None:
            store = Store("sqlite://")  # in memory, private to this validator
            store.create_all()
            with store.write() as session:
                self.state.load_into(session, self.environment)
            self._store = store
        return self._store


def _kind_of_org_id(org_id: str) -> str | None:
    if re.fullmatch(r"[A-Z]{3}214F\d{8}", org_id):
        return "F/M"
    if re.fullmatch(r"(P-[1-4]|G-[1-7])-\d{5}", org_id):
        return "J"
    return None


def _parse(data: bytes):
    try:
        return parse(data), None
    except (UnsafeXML, etree.XMLSyntaxError) as exc:
        return None, exc


def _reason(problem) -> str:
    return getattr(problem, "reason", None) or getattr(problem, "message", None) or str(problem)


def _line_in(text: str) -> int | None:
    found = _LINE.search(text)
    return int(found.group(1)) if found else None


def _problem(code: str, reason: str, *, line: int | None = None, path: str = "") -> Problem:
    return Problem(code=code, message=catalogue_message(code), reason=reason, line=line, path=path, hint=hint_for(code))


def _record_element(root: etree._Element, request_id: str) -> etree._Element | None:
    for element in root.iter():
        if (
            isinstance(element.tag, str)
            and element.get("requestID") == request_id
            and element.tag in PRINCIPAL_TAG.values()
        ):
            return element
    return None


def _user_ids(root: etree._Element) -> list[str]:
    found = [root.get("userID")] + [e.get("userID") for e in root.iter() if isinstance(e.tag, str)]
    return list(dict.fromkeys(u.strip() for u in found if u and u.strip()))


# --- the described record state ------------------------------------------------------------------


class StateError(ValueError):
    """A --state file that cannot be used, with what to fix."""


@dataclass
class State:
    """Records (and optionally officials) as ``GET /control/records[/<sevis_id>]`` describes them."""

    records: list[dict] = field(default_factory=list)
    officials: list[dict] | None = None  # None: every userID a document names is a registered official [i]
    # org_id -> organization profile (GET /control/orgs/<id>/profile's "profile"); absent: the defaults
    profiles: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> "State":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StateError(f"{path}: not readable JSON ({exc})") from exc
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
                f'{path}: expected {{"records": [...]}} (GET /control/records), a list of records, '
                "or one record (GET /control/records/<sevis_id>)"
            )
        for n, record in enumerate(records):
            missing = [
                k for k in ("sevis_id", "org_id", "kind", "status") if not isinstance(record, dict) or not record.get(k)
            ]
            if missing:
                raise StateError(f"{path}: record {n} lacks {', '.join(missing)}")
            if record["kind"] not in PRINCIPAL_TAG:
                raise StateError(f"{path}: record {record['sevis_id']}: kind must be F/M or J, not {record['kind']!r}")
        if officials is not None and not all(isinstance(o, dict) and o.get("user_id") for o in officials):
            raise StateError(f"{path}: officials must be objects with user_id (and org_id, role)")
        for org_id, profile in profiles.items():
            kind = _kind_of_org_id(org_id)
            if kind is None or not isinstance(profile, dict):
                raise StateError(
                    f"{path}: profiles must map a school code or program number to a profile object "
                    "(GET /control/orgs/<id>/profile)"
                )
            try:
                validate_profile(kind, {k: v for k, v in profile.items() if k not in READ_ONLY})
            except ProfileError as exc:
                raise StateError(f"{path}: profile of {org_id}: {exc}") from exc
        return cls(records, officials, profiles)

    def officials_for(self, org_id: str, kind: str, named: Iterable[str]) -> list[tuple[str, str]]:
        if self.officials is None:
            return [(u, ROLES[kind]) for u in named]
        return [(o["user_id"], o.get("role", ROLES[kind])) for o in self.officials if o.get("org_id", org_id) == org_id]

    def load_into(self, session, environment: str) -> None:
        numbers = [0]
        seen: set[str] = set()
        for record in self.records:
            env = record.get("environment") or environment
            self._add(session, record, env, record.get("principal_sevis_id"), seen, numbers)
            for dep in record.get("dependents") or []:
                if dep.get("sevis_id") and dep["sevis_id"] not in seen:
                    merged = {"org_id": record["org_id"], "kind": record["kind"], **dep}
                    self._add(session, merged, env, record["sevis_id"], seen, numbers)
        session.flush()
        for record in self.records:
            for n, event in enumerate(record.get("history") or []):
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

    @staticmethod
    def _add(
        session, record: dict, environment: str, principal: str | None, seen: set[str], numbers: list[int]
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


# --- files and the command -----------------------------------------------------------------------


def collect(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".xml"))
        else:
            files.append(path)
    return files


def _text_report(verdict: Verdict, out) -> None:
    status = "clean" if verdict.clean else "problems"
    process = f", process {verdict.process}" if verdict.process else ""
    click.echo(f"{verdict.file}: upload {verdict.upload}{process} -- {status}", file=out)
    for p in verdict.problems:
        where = " ".join(x for x in (f"line {p.line}" if p.line else "", p.path) if x)
        who = f" record {p.request_id}" if p.request_id else ""
        click.echo(f"  {p.code}{who} {where}".rstrip(), file=out)
        click.echo(f"    SEVIS: {p.message}", file=out)
        if p.reason and p.reason != p.message:
            click.echo(f"    why:   {p.reason}", file=out)
        click.echo(f"    fix:   {p.hint}", file=out)


def _summary_table(verdicts: list[Verdict], out) -> None:
    width = min(70, max(len("file"), *(len(v.file) for v in verdicts)))
    click.echo("", file=out)
    click.echo(f"{'file':<{width}}  upload  process  problems", file=out)
    for v in verdicts:
        name = v.file if len(v.file) <= width else "..." + v.file[-(width - 3) :]
        click.echo(f"{name:<{width}}  {v.upload:<6}  {v.process or '-':<7}  {len(v.problems)}", file=out)
    clean = sum(v.clean for v in verdicts)
    click.echo(f"{len(verdicts)} files: {clean} clean, {len(verdicts) - clean} with problems", file=out)


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--rules", is_flag=True, help="Also apply the business rules, as processing would.")
@click.option(
    "--state",
    "state_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Records the updates apply to (JSON of GET /control/records or /control/records/<id>); implies --rules.",
)
@click.option(
    "--schemas",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    multiple=True,
    help="Validate with an official XSD release folder instead of the project's own (as serve). Repeatable.",
)
@click.option("--clock", default=None, help="The mock clock's 'now' for the rules (ISO-8601); default the real time.")
@click.option(
    "--environment",
    type=click.Choice(list(ENVIRONMENTS)),
    default="beta",
    show_default=True,
    help="The environment the records of --state live in when they do not say.",
)
@click.option("--orgid", default=None, help="The orgid upload field (default: each document's BatchHeader/OrgID).")
@click.option(
    "--batchid", default=None, help="The batchid upload field (default: each document's BatchHeader/BatchID)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout instead of text.")
def validate_command(paths, rules, state_file, schemas, clock, environment, orgid, batchid, as_json) -> None:
    """The verdict sevis-mock's server would give each batch FILE (or every .xml under DIR).

    Exit status: 0 all clean, 1 problems found, 2 usage error.
    """
    try:
        schema_set = SchemaSet.discover(list(schemas))
        schema_set.compile_all()
    except SchemaFolderError as exc:
        raise click.UsageError(f"--schemas: {exc}")
    try:
        state = State.load(state_file) if state_file else None
    except StateError as exc:
        raise click.UsageError(f"--state: {exc}")
    try:
        now = parse_iso(clock) if clock else None
    except ValueError:
        raise click.UsageError(f"--clock: {clock!r} is not an ISO-8601 date or date-time (e.g. 2027-01-15T09:00:00)")
    files = collect(paths)
    if not files:
        raise click.UsageError(f"no .xml files under {', '.join(map(str, paths))}")
    validator = Validator(
        schema_set,
        rules=rules or state is not None,
        state=state,
        now=now,
        environment=environment,
        orgid=orgid,
        batchid=batchid,
    )
    verdicts = _run(validator, files, show_progress=len(files) > 1 and not as_json)
    if as_json:
        clean = sum(v.clean for v in verdicts)
        click.echo(
            json.dumps(
                {
                    "files": [v.to_dict() for v in verdicts],
                    "summary": {"files": len(verdicts), "clean": clean, "with_problems": len(verdicts) - clean},
                },
                indent=2,
            )
        )
    else:
        for v in verdicts:
            if not v.clean or len(verdicts) == 1:
                _text_report(v, sys.stdout)
        if len(verdicts) > 1:
            _summary_table(verdicts, sys.stdout)
    sys.exit(0 if all(v.clean for v in verdicts) else 1)


def _run(validator: Validator, files: list[Path], *, show_progress: bool) -> list[Verdict]:
    verdicts = []
    with (
        click.progressbar(
            files, label="validating", file=sys.stderr, show_pos=True, item_show_func=lambda p: p.name if p else ""
        )
        if show_progress
        else nullcontext(files) as items
    ):
        for path in items:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise click.UsageError(f"{path}: cannot read ({exc.strerror})")
            verdicts.append(validator.check(data, str(path)))
    return verdicts
