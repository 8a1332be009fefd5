"""Applying an accepted batch: each record through its event handler and rules, into the records table.

One call processes one batch inside the caller's write transaction, so a batch is applied exactly once:
all of it commits together with ``state = "processed"``, or nothing does.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Callable

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import addresses
from ..clock import sevis_timestamp
from ..db import Batch, BatchForm, Official, Record, RecordEvent, Store
from ..rules import RuleContext, Violation, event_name, first_violation
from ..rules.fm import duplicate_key
from ..xmlsafe import parse

log = logging.getLogger(__name__)

LAYOUT = {  # kind -> (create path, update path, principal tag)
    "F/M": ("CreateStudent/Student", "UpdateStudent/Student", "Student"),
    "J": ("CreateEV/ExchangeVisitor", "UpdateEV/ExchangeVisitor", "ExchangeVisitor"),
}
NOT_FOUND = {"F/M": "S1003", "J": "S2001"}
INTERNAL_ERROR = "S2000"  # [i] the catalogue's only "exception while processing" code; used for both kinds
USER_DEFINED = ("UserDefinedA", "UserDefinedB")

# Status each applied event leaves the record in (events not listed keep the status).
FM_TRANSITIONS = {
    "Registration": "Active",
    "Status/Cancel": "Canceled",
    "Status/Complete": "Completed",
    "Status/Terminate": "Terminated",
}
J_TRANSITIONS = {
    "Validate": "Active",
    "Status/Invalid": "Invalid",
    "Status/NoShow": "No Show",
    "Status/Terminate": "Terminated",
    "Status/CorrectInfraction": "Active",
}

FormRenderer = Callable[..., bytes]


def is_true(value: str | None) -> bool:
    return (value or "").strip() in ("true", "1")


def _ud(element: etree._Element, tag: str) -> str | None:
    child = element.find(tag)
    return None if child is None else (child.text or "")


def _text(element: etree._Element, path: str) -> str:
    child = element.find(path)
    return "" if child is None else (child.text or "").strip()


class BatchProcessor:
    def __init__(self, session: Session, store: Store, batch: Batch, now: datetime,
                 org_name: str, render_form: FormRenderer | None) -> None:
        self.session = session
        self.store = store
        self.batch = batch
        self.now = now
        self.org_name = org_name
        self.render_form = render_form
        self.seen_keys: set = set()
        self.forms: dict[str, bytes] = {}

    # --- entry point ---------------------------------------------------------------------------
    def run(self) -> dict:
        kind = self.batch.kind
        create_path, update_path, _ = LAYOUT[kind]
        root = parse(self.batch.document).getroot()
        results = []
        for element in root.iterfind(create_path):
            results.append(self._guarded(element, self._create))
        for element in root.iterfind(update_path):
            results.append(self._guarded(element, self._update))
        failures = sum(1 for r in results if not r["ok"])
        outcome = {
            "code": "S0020" if failures else "S0000",
            "at": sevis_timestamp(self.now),
            "records": results,
        }
        for sevis_id, pdf in self.forms.items():
            self.session.add(BatchForm(batch_pk=self.batch.id, sevis_id=sevis_id, pdf=pdf))
        self.batch.state = "processed"
        self.batch.processed_at = self.now
        self.batch.process_code = outcome["code"]
        self.batch.results = json.dumps(outcome)
        return outcome

    def _guarded(self, element: etree._Element, handler) -> dict:
        base = {
            "request_id": element.get("requestID", ""),
            "user_id": element.get("userID"),
            "user_defined_a": _ud(element, "UserDefinedA"),
            "user_defined_b": _ud(element, "UserDefinedB"),
            "ok": True,
        }
        savepoint = self.session.begin_nested()
        forms_before = dict(self.forms)
        try:
            result = handler(element, base)
        except Exception:  # a mock bug must cost one record, never the batch
            log.exception("record %s of batch %s failed", base["request_id"], self.batch.batch_id)
            savepoint.rollback()
            self.forms = forms_before
            return self._failed(base, Violation.of(INTERNAL_ERROR))
        if result["ok"]:
            savepoint.commit()
        else:
            savepoint.rollback()
            self.forms = forms_before
        return result

    @staticmethod
    def _failed(base: dict, violation: Violation) -> dict:
        return {**base, "ok": False, "error_code": violation.code, "error_message": violation.message}

    # --- what rules may look up ------------------------------------------------------------------
    def _official(self, user_id: str) -> Official | None:
        return self.session.get(Official, user_id)

    def _dependents(self, sevis_id: str) -> list[Record]:
        return list(self.session.scalars(select(Record).where(Record.principal_sevis_id == sevis_id)
                                         .order_by(Record.sevis_id)))

    def _history(self, sevis_id: str) -> list[tuple[str, etree._Element]]:
        rows = self.session.scalars(select(RecordEvent).where(RecordEvent.sevis_id == sevis_id)
                                    .order_by(RecordEvent.id))
        return [(r.event, etree.fromstring(r.detail) if r.detail else None) for r in rows]

    # --- creates -------------------------------------------------------------------------------
    def _existing_duplicate(self, key: tuple) -> bool:
        surname, given, birth_date, country, gender = key
        found = self.session.scalars(
            select(Record.sevis_id).where(
                Record.org_id == self.batch.org_id,
                Record.environment == self.batch.environment,
                Record.principal_sevis_id.is_(None),
                Record.status.in_(("Initial", "Active")),
                Record.surname == surname,
                Record.given_name == given,
                Record.birth_date == birth_date,
                Record.birth_country == country,
                Record.gender == gender,
            ).limit(1)
        ).first()
        return found is not None

    def _create(self, element: etree._Element, base: dict) -> dict:
        kind = self.batch.kind
        ctx = RuleContext(kind=kind, event="create", element=element, event_element=None, now=self.now,
                          duplicate_keys_seen=self.seen_keys, existing_duplicate=self._existing_duplicate,
                          lookup_official=self._official, org_id=self.batch.org_id)
        violation = first_violation(ctx)
        key = duplicate_key_for(kind, element)
        self.seen_keys.add(key)
        if violation is not None:
            return self._failed(base, violation)

        dependents = element.findall("CreateDependent/Dependent")
        ids = self.store.next_sevis_ids(self.session, 1 + len(dependents))
        sevis_id, dependent_ids = ids[0], ids[1:]
        self._add_record(sevis_id, element, key, principal=None)
        dep_results = []
        for dep_id, dep in zip(dependent_ids, dependents):
            self._add_record(dep_id, dep, dependent_key(dep), principal=sevis_id)
            dep_results.append({"sevis_id": dep_id, "user_defined_a": _ud(dep, "UserDefinedA"),
                                "user_defined_b": _ud(dep, "UserDefinedB")})
        result = {**base, "sevis_id": sevis_id, "dependents": dep_results}
        result.update(self._addresses(element))
        if is_true(element.get("printForm")) and self.render_form is not None:
            self.forms[sevis_id] = self.render_form(
                element, kind=kind, sevis_id=sevis_id, org_id=self.batch.org_id, org_name=self.org_name,
                issue_date=self.now.date(), dependents=list(zip(dependent_ids, dependents)),
            )
        return result

    def _addresses(self, element: etree._Element) -> dict:
        out: dict = {}
        if self.batch.kind == "J":
            sites = []
            for n, site in enumerate(element.iterfind("AddSiteOfActivity/SiteOfActivity"), start=1):
                found = addresses.doctor(site)
                found["site_name"] = _text(site, "SiteName") or None
                found["site_id"] = f"{base_site_id(self.batch.id)}{n:02d}"
                sites.append(found)
            out["sites"] = sites
            physical, mailing = element.find("USAddress"), element.find("MailAddress")
        else:
            physical, mailing = element.find("USAddress"), element.find("MailingAddress")
        if physical is not None:
            out["physical_address"] = addresses.doctor(physical)
        if mailing is not None:
            out["mailing_address"] = addresses.doctor(mailing)
        return out

    def _add_record(self, sevis_id: str, element: etree._Element, key: tuple, principal: str | None) -> None:
        surname, given, birth_date, country, gender = key
        self.session.add(Record(
            sevis_id=sevis_id, org_id=self.batch.org_id, environment=self.batch.environment,
            kind=self.batch.kind, principal_sevis_id=principal, status="Initial",
            surname=surname, given_name=given, birth_date=birth_date, birth_country=country, gender=gender,
            relationship_code=_text(element, "Relationship"), request_id=element.get("requestID", ""),
            created_batch_pk=self.batch.id, document=etree.tostring(element, encoding="unicode"),
            created_at=self.now, updated_at=self.now,
        ))
        self.session.add(RecordEvent(sevis_id=sevis_id, batch_pk=self.batch.id, event="Create",
                                     detail="", at=self.now))

    # --- updates -------------------------------------------------------------------------------
    def _update(self, element: etree._Element, base: dict) -> dict:
        kind = self.batch.kind
        sevis_id = element.get("sevisID", "")
        base = {**base, "sevis_id": sevis_id}
        record = self.session.scalars(select(Record).where(
            Record.sevis_id == sevis_id, Record.org_id == self.batch.org_id,
            Record.environment == self.batch.environment, Record.principal_sevis_id.is_(None),
        )).first()
        if record is None:
            return self._failed(base, Violation.of(NOT_FOUND[kind]))
        event_element = next(c for c in element if isinstance(c.tag, str) and c.tag not in USER_DEFINED)
        ctx = RuleContext(kind=kind, event=event_element.tag, element=element, event_element=event_element,
                          now=self.now, record=record, lookup_official=self._official, org_id=self.batch.org_id,
                          load_dependents=lambda: self._dependents(record.sevis_id),
                          load_history=lambda: self._history(record.sevis_id))
        violation = first_violation(ctx)
        if violation is not None:
            return self._failed(base, violation)
        action = event_name(event_element)
        new_status = (FM_TRANSITIONS if kind == "F/M" else J_TRANSITIONS).get(action)
        if new_status is not None:
            record.status = new_status
            self._dependents_follow(record, new_status)
        record.updated_at = self.now
        self.session.add(RecordEvent(sevis_id=sevis_id, batch_pk=self.batch.id, event=action,
                                     detail=etree.tostring(event_element, encoding="unicode"), at=self.now))
        if any(is_true(e.get("printForm")) for e in element.iter() if isinstance(e.tag, str)):
            self._render_stored(record)
        return {**base, **self._addresses(event_element)} if kind == "J" and action == "Validate" else base

    def _render_stored(self, record: Record) -> None:
        """The record's form as it stands now (an update sent with printForm="true")."""
        if self.render_form is None:
            return
        dependents = self.session.scalars(select(Record).where(Record.principal_sevis_id == record.sevis_id)
                                          .order_by(Record.sevis_id))
        self.forms[record.sevis_id] = self.render_form(
            etree.fromstring(record.document), kind=record.kind, sevis_id=record.sevis_id,
            org_id=self.batch.org_id, org_name=self.org_name, issue_date=self.now.date(),
            dependents=[(d.sevis_id, etree.fromstring(d.document)) for d in dependents],
        )

    def _dependents_follow(self, principal: Record, status: str) -> None:
        for dep in self.session.scalars(select(Record).where(Record.principal_sevis_id == principal.sevis_id)):
            if dep.status in ("Initial", "Active"):
                dep.status = status
                dep.updated_at = self.now


def base_site_id(batch_pk: int) -> str:
    return f"SOA{batch_pk:08d}"


def duplicate_key_for(kind: str, element: etree._Element) -> tuple:
    if kind == "F/M":
        return duplicate_key(element)
    return (
        _text(element, "Biographical/FullName/LastName").upper(),
        _text(element, "Biographical/FullName/FirstName").upper(),
        _text(element, "Biographical/BirthDate"),
        _text(element, "Biographical/BirthCountryCode"),
        _text(element, "Biographical/Gender"),
    )


def dependent_key(dep: etree._Element) -> tuple:
    return (
        _text(dep, ".//FullName/LastName").upper(),
        _text(dep, ".//FullName/FirstName").upper(),
        _text(dep, ".//BirthDate"),
        _text(dep, ".//BirthCountryCode"),
        _text(dep, ".//Gender"),
    )
