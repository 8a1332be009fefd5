"""Applying an accepted batch: each record through its event handler and rules, into the records table.

One call processes one batch inside the caller's write transaction, so a batch is applied exactly once:
all of it commits together with ``state = "processed"``, or nothing does. Forms are not drawn here: what each
shows is stored as a print job (``state = "printing"``) and drawn after the commit, with no lock held
(`sevis_mock.server.worker`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import datetime, timedelta
from contextlib import AbstractContextManager, contextmanager
from typing import Callable, Iterator, cast

from lxml import etree
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import addresses, profiles
from ..catalog import INTERNAL_ERROR
from ..clock import real_now, sevis_timestamp
from ..store import Batch, Official, Organization, Record, RecordEvent, Store, savepoint
from ..forms import plan_job
from ..store import BatchForm, PrintJob, plan_name
from ..records import events
from ..records.events import DependentRecord, Refused, Target
from ..rules import RuleContext, Violation, first_violation
from ..rules.keys import dependent_key, duplicate_key_for
from .outcome import DependentOutcome, ProcessOutcome, RecordOutcome
from ..xmlsafe import XML_SPACE, parse
from .results import form_jobs, stored_form_jobs

log = logging.getLogger(__name__)

LAYOUT = {  # kind -> (create path, update path, principal tag)
    "F/M": ("CreateStudent/Student", "UpdateStudent/Student", "Student"),
    "J": ("CreateEV/ExchangeVisitor", "UpdateEV/ExchangeVisitor", "ExchangeVisitor"),
}
NOT_FOUND = {"F/M": "S1003", "J": "S2001"}
USER_DEFINED = ("UserDefinedA", "UserDefinedB")

FormRenderer = Callable[..., bytes]
RecordHandler = Callable[[etree._Element, RecordOutcome], RecordOutcome]
PRINT_LEASE = timedelta(minutes=2)  # real time the processor has to draw a batch's forms before another takes over


def is_true(value: str | None) -> bool:
    return (value or "").strip() in ("true", "1")


def _ud(element: etree._Element, tag: str) -> str | None:
    child = element.find(tag)
    return None if child is None else (child.text or "")


def _text(element: etree._Element, path: str) -> str:
    child = element.find(path)
    return "" if child is None else (child.text or "").strip(XML_SPACE)


_RECORDS = cast(Table, Record.__table__)  # declarative tables are Tables; SQLAlchemy types them wider
_RECORD_EVENTS = cast(Table, RecordEvent.__table__)
_BATCHES = cast(Table, Batch.__table__)
# A batch's outcome (`BatchProcessor.finish`), written by one statement built once
_OUTCOME = (
    update(_BATCHES)
    .where(_BATCHES.c.id == bindparam("pk"))
    .values(
        state=bindparam("state"),
        processed_at=bindparam("processed_at", type_=_BATCHES.c.processed_at.type),
        process_code=bindparam("process_code"),
        results=bindparam("results"),
    )
)

# An active or initial principal record of the organization with the same name, birth date, birth country and
# gender (the duplicate-student check, once per created record): built once, its parameters bound per query.
_DUPLICATE = (
    select(Record.sevis_id)
    .where(
        Record.org_id == bindparam("org_id"),
        Record.environment == bindparam("environment"),
        Record.principal_sevis_id.is_(None),
        Record.status.in_(("Initial", "Active")),
        Record.surname == bindparam("surname"),
        Record.given_name == bindparam("given_name"),
        Record.birth_date == bindparam("birth_date"),
        Record.birth_country == bindparam("birth_country"),
        Record.gender == bindparam("gender"),
    )
    .limit(1)
)


class BatchProcessor:
    """Applies one batch. ``render_form`` None prints no forms (validate, headless processors); otherwise each
    form asked for becomes a print job, drawn after the commit by the worker."""

    def __init__(
        self,
        session: Session,
        store: Store,
        batch: Batch,
        now: datetime,
        org_name: str,
        render_form: FormRenderer | None,
        on_print: Callable[[str, str, dict], None] | None = None,
    ) -> None:
        self.session = session
        self.store = store
        self.batch = batch
        self.now = now
        self.org_name = org_name
        self.render_form = render_form
        self.on_print = on_print  # told of each print job as it is made ("forms"/"plans", SEVIS ID, job)
        self.seen_keys: set = set()
        self.officials: dict[str, Official | None] = {}
        self.profile: dict | None = None  # the organization's, read at most once per step (see `next_step`)
        # its stored JSON (None: no row) when the claim read it already (sevis_mock.server.worker): the first step
        # then need not read it again
        self.stored_profile: tuple[str | None] | None = None
        self.forms: dict[str, dict] = {}  # I-20 / DS-2019 print jobs by SEVIS ID
        self.plans: dict[str, dict] = {}  # DS-7002 print jobs by SEVIS ID
        self.sites_numbered = 0  # site IDs are unique across the batch
        self._started = time.monotonic()
        self._last_applied: datetime | None = None
        self._connection_of: Session | None = None  # the session whose connection `connection` holds
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        """The session's connection, for Core statements: asked of the session once per step (each ask walks its
        transaction's states, as much CPU as a small statement)."""
        if self._connection is None or self._connection_of is not self.session:
            self._connection, self._connection_of = self.session.connection(), self.session
        return self._connection

    def elapsed_now(self) -> datetime:
        """The mock clock's time now: ``now`` (when the batch was claimed) plus the real time spent on it."""
        return self.now + timedelta(seconds=time.monotonic() - self._started)

    # --- entry point ---------------------------------------------------------------------------
    def run(self) -> ProcessOutcome:
        """The whole batch at once, in the caller's transaction."""
        return self.finish(self.apply(self.records()))

    # --- the same in steps (sevis_mock.server.worker applies a batch in several short transactions) ----------
    def records(self) -> list[tuple[etree._Element, RecordHandler]]:
        """Every record of the batch with its handler, in the order they are applied: creates, then updates."""
        create_path, update_path, _ = LAYOUT[self.batch.kind]
        root = parse(self.batch.document).getroot()
        handlers: list[tuple[etree._Element, RecordHandler]] = [(e, self._create) for e in root.iterfind(create_path)]
        return handlers + [(e, self._update) for e in root.iterfind(update_path)]

    def next_step(self, session: Session, batch: Batch) -> None:
        """Go on in a later step's session: what was read in the last one is read again."""
        self.session, self.batch, self.officials, self.profile, self.stored_profile = session, batch, {}, None, None

    def apply(self, records: list[tuple[etree._Element, RecordHandler]]) -> list[RecordOutcome]:
        """Apply records (each in a savepoint of the current session) and return their results."""
        return [self._guarded(element, handler) for element, handler in records]

    def mark(self) -> tuple[set, dict, dict]:
        """Where a step begins, for `carry` to give what changed in it."""
        return set(self.seen_keys), dict(self.forms), dict(self.plans)

    def carry(self, since: tuple[set, dict, dict] | None = None) -> dict:
        """What a later step needs of the records applied so far (JSON-ready), see `resume`; with ``since`` (a
        `mark`), only what the records applied after it added or changed (see `merge_carried`)."""
        keys, forms, plans = since if since is not None else (set(), {}, {})
        return {
            "seen_keys": [list(key) for key in self.seen_keys - keys],
            "sites_numbered": self.sites_numbered,
            "forms": {k: v for k, v in self.forms.items() if forms.get(k) is not v},
            "plans": {k: v for k, v in self.plans.items() if plans.get(k) is not v},
            "last_applied": self._last_applied.isoformat() if self._last_applied else None,
        }

    def resume(self, carried: dict) -> None:
        """Go on from `carry`'s account of the records already applied (by this processor or one that died)."""
        self.seen_keys = {tuple(key) for key in carried["seen_keys"]}
        self.sites_numbered = carried["sites_numbered"]
        self.forms, self.plans = carried["forms"], carried["plans"]
        if carried.get("last_applied"):
            self._last_applied = datetime.fromisoformat(carried["last_applied"])
            self.now, self._started = max(self.now, self._last_applied), time.monotonic()  # times go on rising

    def finish(self, results: list[RecordOutcome], drawn: dict | None = None) -> ProcessOutcome:
        """The batch's outcome from all its records' results: the log's Process part, and the batch marked
        processed (or printing, with its print job). ``drawn`` holds every form's PDF when they were all drawn
        in time ({"forms": {SEVIS ID: PDF}, "plans": {...}}): they are stored now and no print job is left."""
        # [c, one log] each Record/ProcessDate is the time it was applied; Process/@dateTimeStamp the time the
        # batch ended, after its last record (a millisecond later at least: SEVIS writes milliseconds).
        ended = self.elapsed_now()
        if self._last_applied is not None:
            ended = max(ended, self._last_applied + timedelta(milliseconds=1))
        failed = any(not r.ok for r in results)
        outcome = ProcessOutcome(code="S0020" if failed else "S0000", at=sevis_timestamp(ended), records=results)
        printing = bool(self.forms or self.plans) and drawn is None
        if printing:  # drawn after the commit (sevis_mock.server.worker.print_forms)
            self.session.add(
                PrintJob(
                    batch_pk=self.batch.id,
                    jobs=json.dumps({"forms": self.forms, "plans": self.plans}),
                    lease_until=real_now() + PRINT_LEASE,
                )
            )
        elif drawn is not None:
            add_forms(self.session, self.batch.id, drawn)
        outcome_row = {
            "state": "printing" if printing else "processed",
            "processed_at": ended,
            "process_code": outcome.code,
            "results": outcome.to_json(),
        }
        # one statement, and the batch's object given the same values as stored ones: the session's unit of work
        # (a flush of its own for each small batch of a step) has nothing left to write for it
        self.connection.execute(_OUTCOME, {"pk": self.batch.id, **outcome_row})
        for name, value in outcome_row.items():
            set_committed_value(self.batch, name, value)
        return outcome

    def _guarded(self, element: etree._Element, handler: RecordHandler) -> RecordOutcome:
        base = RecordOutcome(
            request_id=element.get("requestID", ""),
            user_id=element.get("userID"),
            user_defined_a=_ud(element, "UserDefinedA"),
            user_defined_b=_ud(element, "UserDefinedB"),
        )
        forms_before, plans_before = dict(self.forms), dict(self.plans)
        try:
            with self._record_savepoint(handler):
                result = handler(element, base)
                if not result.ok:
                    raise _Refused(result)  # what the record did is taken back
        except _Refused as refused:
            self.forms, self.plans = forms_before, plans_before
            result = refused.result
        except Exception:  # a mock bug must cost one record, never the batch
            log.exception("record %s of batch %s failed", base.request_id, self.batch.batch_id)
            self.forms, self.plans = forms_before, plans_before
            result = self._failed(base, Violation.of(INTERNAL_ERROR))
        self._last_applied = self.elapsed_now()
        result.at = sevis_timestamp(self._last_applied)
        return result

    def _record_savepoint(self, handler: RecordHandler) -> AbstractContextManager:
        """What takes a record's changes back when it fails. A create writes through Core statements only (the
        SEVIS number, `_insert_records`), never through the session's objects: a savepoint of the driver's own,
        at a fraction of the CPU of SQLAlchemy's nested transaction (a sixth of a one-record batch's), once what
        earlier records left pending is flushed, so that a rollback takes back this record's statements only.
        An update changes the session's objects: a nested transaction, which also expires what it rolls back."""
        if handler == self._create:
            return self._core_savepoint("record")
        return self.session.begin_nested()

    def _core_savepoint(self, name: str) -> AbstractContextManager:
        """A savepoint of the driver's own around work that writes through Core statements only, once what the
        session holds pending is flushed: its rollback takes back that work's statements and nothing before."""
        self.session.flush()
        return savepoint(self.connection, name)

    @contextmanager
    def batch_guard(self, records: list[tuple[etree._Element, RecordHandler]]) -> Iterator[None]:
        """Around applying and finishing a batch after another in the same transaction (a step that goes on with
        the next small due batch): a failure (a mock bug) takes back that batch only, and raises. A batch of
        creates only, whose records write through Core statements (see `_record_savepoint`), gets a savepoint of
        the driver's own: what the session held before is flushed first, what `finish` added (a print job, forms)
        is flushed inside it, and on a failure what is still pending of it leaves the session (the caller expires
        the batch's object, which `finish` may have given its outcome's values, whichever guard it had). A batch
        with updates (which change the session's objects) gets a nested transaction."""
        if any(handler != self._create for _, handler in records):
            with self.session.begin_nested():
                yield
            return
        try:
            with self._core_savepoint("following_batch"):
                yield
                self.session.flush()
        except Exception:
            for pending in list(self.session.new):
                self.session.expunge(pending)
            raise

    @staticmethod
    def _failed(base: RecordOutcome, violation: Violation) -> RecordOutcome:
        return base.failed(violation.code, violation.message)

    # --- what rules may look up ------------------------------------------------------------------
    def _official(self, user_id: str) -> Official | None:
        if user_id not in self.officials:  # a batch names the same few officials in every record
            self.officials[user_id] = self.session.get(Official, user_id)
        return self.officials[user_id]

    def _queue(self, group: str, sevis_id: str, job: dict) -> None:
        """Keep a print job ("forms" or "plans") and tell ``on_print``, which may start drawing it at once."""
        getattr(self, group)[sevis_id] = job
        if self.on_print is not None:
            self.on_print(group, sevis_id, job)

    def _profile(self) -> dict:
        if self.profile is None and self.stored_profile is not None:
            self.profile = profiles.merged(self.batch.kind, self.stored_profile[0])
        if self.profile is None:  # read once per step: no record of a batch changes it
            self.profile = profiles.load(self.session, self.batch.org_id, self.batch.kind)
        return self.profile

    def _agency_events(self, sevis_id: str) -> list[etree._Element]:
        """Other agencies' events on a record (principal or dependent), oldest first."""
        rows = self.session.scalars(
            select(RecordEvent)
            .where(RecordEvent.sevis_id == sevis_id, RecordEvent.event.startswith("Agency/"))
            .order_by(RecordEvent.id)
        )
        return [etree.fromstring(r.detail) for r in rows if r.detail]

    def _count_org_records(self) -> int:
        return profiles.count_records(self.session, self.batch.org_id)

    def _dependents(self, sevis_id: str) -> list[Record]:
        return list(
            self.session.scalars(select(Record).where(Record.principal_sevis_id == sevis_id).order_by(Record.sevis_id))
        )

    def _history(self, sevis_id: str) -> list[tuple[str, etree._Element | None]]:
        rows = self.session.scalars(
            select(RecordEvent).where(RecordEvent.sevis_id == sevis_id).order_by(RecordEvent.id)
        )
        return [(r.event, etree.fromstring(r.detail) if r.detail else None) for r in rows]

    # --- creates -------------------------------------------------------------------------------
    def _existing_duplicate(self, key: tuple) -> bool:
        surname, given, birth_date, country, gender = key
        found = self.connection.execute(  # a Core read: nothing of this record is pending in the session
            _DUPLICATE,
            {
                "org_id": self.batch.org_id,
                "environment": self.batch.environment,
                "surname": surname,
                "given_name": given,
                "birth_date": birth_date,
                "birth_country": country,
                "gender": gender,
            },
        ).first()
        return found is not None

    def _create(self, element: etree._Element, base: RecordOutcome) -> RecordOutcome:
        kind = self.batch.kind
        ctx = RuleContext(
            kind=kind,
            event="create",
            element=element,
            event_element=None,
            now=self.now,
            duplicate_keys_seen=self.seen_keys,
            existing_duplicate=self._existing_duplicate,
            lookup_official=self._official,
            load_profile=self._profile,
            count_org_records=self._count_org_records,
            load_agency_events=self._agency_events,
            org_id=self.batch.org_id,
        )
        violation = first_violation(ctx)
        key = duplicate_key_for(kind, element)
        self.seen_keys.add(key)
        if violation is not None:
            return self._failed(base, violation)

        dependents = element.findall("CreateDependent/Dependent")
        for site in element.iterfind("AddSiteOfActivity/SiteOfActivity"):
            site.set("siteId", self._next_site_id())  # kept on the stored record; reported as SiteId
        events.number_tipp(element)
        ids = self.store.next_sevis_ids(self.session, 1 + len(dependents))
        sevis_id, dependent_ids = ids[0], ids[1:]
        rows = [self._record_rows(sevis_id, element, key, principal=None)]
        dep_results = []
        for dep_id, dep in zip(dependent_ids, dependents):
            rows.append(self._record_rows(dep_id, dep, dependent_key(dep), principal=sevis_id))
            dep_results.append(DependentOutcome(dep_id, _ud(dep, "UserDefinedA"), _ud(dep, "UserDefinedB")))
        self._insert_records(rows)
        result = replace(base, sevis_id=sevis_id, dependents=dep_results)
        self._addresses(result, element)
        if is_true(element.get("printForm")):
            self._print(element, kind, sevis_id, list(zip(dependent_ids, dependents)))
        tipp = element.find("AddTIPP")
        if tipp is not None and is_true(tipp.get("print7002")):
            self._render_plan(sevis_id, element)
        return result

    def _addresses(
        self, result: RecordOutcome, element: etree._Element, sites: list[etree._Element] | None = None
    ) -> None:
        """Address results for the log: the sites of activity and the physical/mailing addresses sent."""
        if self.batch.kind == "J":
            if sites is None:
                sites = element.findall("AddSiteOfActivity/SiteOfActivity")
            result.sites = [self._site_result(site) for site in sites]
            physical, mailing = element.find("USAddress"), element.find("MailAddress")
            codes = addresses.J_US, addresses.J_MAIL
        else:
            physical, mailing = element.find("USAddress"), element.find("MailingAddress")
            codes = addresses.FM_PERSON, addresses.FM_PERSON
        if physical is not None and physical.find("Address1") is not None:
            result.physical_address = addresses.person_address(physical, codes[0])
        if mailing is not None and mailing.find("Address1") is not None:
            result.mailing_address = addresses.person_address(mailing, codes[1])

    @staticmethod
    def _site_result(site: etree._Element) -> dict:
        # A site without a street address (EXEMPT, ONTRAVEL, SEEKINGEMP) has nothing to standardize: the
        # log names the site only.
        found = addresses.doctor(site) if _text(site, "Address1") else {}
        found["site_name"] = _text(site, "SiteName") or None
        found["site_id"] = site.get("siteId")
        return found

    def _next_site_id(self) -> str:
        self.sites_numbered += 1
        return site_id(self.batch.id, self.sites_numbered)

    def _record_rows(
        self,
        sevis_id: str,
        element: etree._Element,
        key: tuple,
        principal: str | None,
        *,
        status: str = "Initial",
        request_id: str | None = None,
        event: str = "Create",
        detail: str = "",
    ) -> tuple[dict, dict]:
        """A new record's row and the row of its first history entry (see `_insert_records`)."""
        surname, given, birth_date, country, gender = key
        record = {
            "sevis_id": sevis_id,
            "org_id": self.batch.org_id,
            "environment": self.batch.environment,
            "kind": self.batch.kind,
            "principal_sevis_id": principal,
            "status": status,
            "surname": surname,
            "given_name": given,
            "birth_date": birth_date,
            "birth_country": country,
            "gender": gender,
            "relationship_code": _text(element, "Relationship"),
            "request_id": element.get("requestID", "") if request_id is None else request_id,
            "created_batch_pk": self.batch.id,
            "document": etree.tostring(element, encoding="unicode"),
            "created_at": self.now,
            "updated_at": self.now,
        }
        history = {"sevis_id": sevis_id, "batch_pk": self.batch.id, "event": event, "detail": detail, "at": self.now}
        return record, history

    def _insert_records(self, rows: list[tuple[dict, dict]]) -> None:
        """Insert new records and their first history entries (`_record_rows`) in two statements, at once: nothing
        reads them back as objects, so they skip the session's unit of work (its flush at each record's end was
        most of a record's cost). Changes still pending in the session are flushed first, so that history entries
        keep the order they were made in."""
        self.session.flush()
        connection = self.connection
        connection.execute(insert(_RECORDS), [record for record, _ in rows])
        connection.execute(insert(_RECORD_EVENTS), [history for _, history in rows])

    # --- updates -------------------------------------------------------------------------------
    def _update(self, element: etree._Element, base: RecordOutcome) -> RecordOutcome:
        kind = self.batch.kind
        sevis_id = element.get("sevisID", "")
        base = replace(base, sevis_id=sevis_id)
        record = self.session.scalars(
            select(Record).where(
                Record.sevis_id == sevis_id,
                Record.org_id == self.batch.org_id,
                Record.environment == self.batch.environment,
                Record.principal_sevis_id.is_(None),
            )
        ).first()
        if record is None:
            return self._failed(base, Violation.of(NOT_FOUND[kind]))
        event_element = next(c for c in element if isinstance(c.tag, str) and c.tag not in USER_DEFINED)
        ctx = RuleContext(
            kind=kind,
            event=event_element.tag,
            element=element,
            event_element=event_element,
            now=self.now,
            record=record,
            lookup_official=self._official,
            load_profile=self._profile,
            count_org_records=self._count_org_records,
            load_agency_events=self._agency_events,
            org_id=self.batch.org_id,
            load_dependents=lambda: self._dependents(record.sevis_id),
            load_history=lambda: self._history(record.sevis_id),
        )
        violation = first_violation(ctx)
        if violation is not None:
            return self._failed(base, violation)
        target = self._target(record)
        try:
            action = events.apply_event(target, event_element)
        except Refused as refused:
            return self._failed(base, refused.violation)
        detail = etree.tostring(event_element, encoding="unicode")
        self._store_target(record, target, action, detail, element.get("requestID", ""))
        if any(is_true(e.get("printForm")) for e in element.iter() if isinstance(e.tag, str)) or (
            action == "Reprint" and event_element.get("printForm") is None
        ):  # Reprint prints by default
            self._render_stored(record)
        asked, site_id = plan_request(event_element)
        if asked:
            self._render_plan(record.sevis_id, etree.fromstring(record.document), site_id)
        result = replace(
            base, dependents=[DependentOutcome(d.sevis_id, d.user_defined_a, d.user_defined_b) for d in target.added]
        )
        self._addresses(result, event_element, sites=target.sites)
        return result

    def _target(self, record: Record) -> Target:
        dependents = [
            DependentRecord(
                d.sevis_id,
                etree.fromstring(d.document),
                d.status,
                followed_last=not self._last_event(d.sevis_id).startswith("Dependent/"),
            )
            for d in self._dependents(record.sevis_id)
        ]
        return Target(
            kind=record.kind,
            doc=etree.fromstring(record.document),
            status=record.status,
            now=self.now,
            dependents=dependents,
            next_site_id=self._next_site_id,
        )

    def _last_event(self, sevis_id: str) -> str:
        """The name of the newest entry in a record's history ("" when it has none)."""
        return (
            self.session.scalars(
                select(RecordEvent.event)
                .where(RecordEvent.sevis_id == sevis_id, ~RecordEvent.event.startswith("Agency/"))
                .order_by(RecordEvent.id.desc())
                .limit(1)
            ).first()
            or ""
        )

    def _store_target(self, record: Record, target: Target, action: str, detail: str, request_id: str) -> None:
        """Write the amended record, its dependents and the history entries back to the store."""
        record.document = etree.tostring(target.doc, encoding="unicode")
        record.status = target.status
        record.updated_at = self.now
        _sync_columns(record, target.doc, "PersonalInfo" if record.kind == "F/M" else "Biographical")
        self.session.add(
            RecordEvent(sevis_id=record.sevis_id, batch_pk=self.batch.id, event=action, detail=detail, at=self.now)
        )
        rows = {d.sevis_id: d for d in self._dependents(record.sevis_id)}
        for dep in target.dependents:
            row = rows[dep.sevis_id or ""]  # a stored dependent: its SEVIS ID is known
            if dep.changed:
                row.document = etree.tostring(dep.doc, encoding="unicode")
                row.status = dep.status
                row.relationship_code = _text(dep.doc, "Relationship") or row.relationship_code
                row.updated_at = self.now
                _sync_columns(row, dep.doc, None)
            if dep.action or dep.changed:
                self.session.add(
                    RecordEvent(
                        sevis_id=dep.sevis_id,
                        batch_pk=self.batch.id,
                        event=dep.action or action,
                        detail=detail,
                        at=self.now,
                    )
                )
        if target.added:
            ids = self.store.next_sevis_ids(self.session, len(target.added))
            added = []
            for dep_id, dep in zip(ids, target.added):
                dep.sevis_id = dep_id
                added.append(
                    self._record_rows(
                        dep_id,
                        dep.doc,
                        dependent_key(dep.doc),
                        principal=record.sevis_id,
                        status=dep.status,
                        request_id=request_id,
                        event="Dependent/Add",
                        detail=detail,
                    )
                )
            self._insert_records(added)

    def _render_stored(self, record: Record) -> None:
        """The record's form as it stands now (an update sent with printForm="true"), as RTI prints it too."""
        if self.render_form is None:
            return
        for sevis_id, job in stored_form_jobs(self.session, record, self.org_name, self.now.date()).items():
            self._queue("forms", sevis_id, job)

    def _print(
        self, element: etree._Element, kind: str, sevis_id: str, dependents: list[tuple[str, etree._Element]]
    ) -> None:
        """The principal's I-20 / DS-2019 and, as a real J client expects in the zip, each dependent's own form
        (a J-2's DS-2019; an F-2's or M-2's I-20 [i]), each named by its SEVIS ID."""
        if self.render_form is None:
            return
        jobs = form_jobs(
            element,
            kind=kind,
            sevis_id=sevis_id,
            org_id=self.batch.org_id,
            org_name=self.org_name,
            issue_date=self.now.date(),
            dependents=dependents,
        )
        for form_id, job in jobs.items():
            self._queue("forms", form_id, job)

    def _render_plan(self, sevis_id: str, visitor: etree._Element, site_id: str | None = None) -> None:
        """The record's DS-7002 (T/IPP) as it stands after this record's create or event."""
        if self.render_form is None:  # a processor without forms (validate, durability races) prints none
            return
        self._queue(
            "plans",
            sevis_id,
            plan_job(
                visitor,
                sevis_id=sevis_id,
                org_id=self.batch.org_id,
                org_name=self.org_name,
                issue_date=self.now.date(),
                site_id=site_id,
            ),
        )


class _Refused(Exception):
    """A record that broke a rule: its savepoint is rolled back, and its result (the rule's code) stands."""

    def __init__(self, result: RecordOutcome) -> None:
        super().__init__(result.request_id)
        self.result = result


def merge_carried(text: str) -> dict:
    """One `BatchProcessor.carry` from what the steps of a batch stored: one JSON object per line, the first step's
    whole carry and each later step's additions (a batch's progress row grows by a line per step instead of being
    rewritten whole)."""
    merged: dict = {"seen_keys": [], "sites_numbered": 0, "forms": {}, "plans": {}, "last_applied": None}
    for line in text.split("\n"):
        if not line.strip():
            continue
        part = json.loads(line)
        merged["seen_keys"] += part.get("seen_keys", [])
        merged["forms"].update(part.get("forms", {}))
        merged["plans"].update(part.get("plans", {}))
        merged["sites_numbered"] = part.get("sites_numbered", merged["sites_numbered"])
        merged["last_applied"] = part.get("last_applied") or merged["last_applied"]
    return merged


def add_forms(session: Session, batch_pk: int, pdfs: dict) -> None:
    """Store a batch's drawn PDFs ({"forms": {SEVIS ID: PDF}, "plans": {SEVIS ID: PDF}}) under their names in the
    download zip."""
    for sevis_id, pdf in pdfs.get("forms", {}).items():
        session.add(BatchForm(batch_pk=batch_pk, name=sevis_id, pdf=pdf))
    for sevis_id, pdf in pdfs.get("plans", {}).items():
        session.add(BatchForm(batch_pk=batch_pk, name=plan_name(sevis_id), pdf=pdf))


def processor_for(
    session: Session,
    store: Store,
    batch: Batch,
    render_form: FormRenderer | None,
    on_print: Callable[[str, str, dict], None] | None = None,
) -> BatchProcessor:
    """The processor of a claimed batch, as the worker and `sevis_mock.server.batch.judge` make it: the mock clock
    of the claim (``batch.processed_at``) and the organization's name for its forms."""
    org = session.get(Organization, batch.org_id)
    assert batch.processed_at is not None, "a batch is processed once claimed"
    return BatchProcessor(
        session, store, batch, batch.processed_at, org.name if org else batch.org_id, render_form, on_print
    )


def plan_request(event_element: etree._Element) -> tuple[bool, str | None]:
    """Whether a J update event asks for the DS-7002, and of which T/IPP site (None: the whole plan).

    Reprint7002 (print7002 fixed to "true", optional SiteId) and print7002="true" on TIPP/AddTIPP,
    TIPP/AddSite or TIPP/EditSite. [i] a TIPP add/edit prints the whole plan as it now stands.
    """
    if event_element.tag == "Reprint7002":
        return is_true(event_element.get("print7002")), _text(event_element, "SiteId") or None
    return any(is_true(e.get("print7002")) for e in event_element.iter() if isinstance(e.tag, str)), None


def _sync_columns(row: Record, doc: etree._Element, bio_tag: str | None) -> None:
    """Keep the searchable name/birth columns equal to the amended document."""
    bio = doc if bio_tag is None else doc.find(bio_tag)
    if bio is None:
        return
    row.surname = _text(bio, "FullName/LastName").upper()
    row.given_name = _text(bio, "FullName/FirstName").upper()
    row.birth_date = _text(bio, "BirthDate")
    row.birth_country = _text(bio, "BirthCountryCode")
    row.gender = _text(bio, "Gender")


SITES_PER_BATCH = 100_000  # more than a batch can add: 500 records of at most 25 sites each


def site_id(batch_pk: int, n: int) -> str:
    """The SiteId of the ``n``-th site a batch adds: a plain number as SEVIS's (``108087``, PROTOCOL §3a),
    unique across batches and kept on the stored record, so a site keeps its ID. [i] the numbering."""
    return str(batch_pk * SITES_PER_BATCH + n)
