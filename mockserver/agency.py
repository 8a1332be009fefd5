"""Other agencies' events on a record: what CBP, the Department of State, USCIS and other schools record
in SEVIS about a person, which no batch carries but batch rules read.

Each event is one entry of the record's history, named ``Agency/<Event>`` with its facts as a small XML
element (so rules read it like any other history entry). A tester adds one with
``POST /control/records/<sevis_id>/agency-events`` (``{"event": "CBPAdmission", "date": ...}``) or the
pytest plugin's ``agency_event()``; RTI's record page lists them. Events, with their fields:

- ``CBPAdmission``: the person (student, exchange visitor or dependent) was admitted to the U.S.:
  ``date``, ``port_of_entry`` (SEVIS table 38), ``class_of_admission`` (table 41: F-1, M-1, J-1, F-2, M-2, J-2).
- ``VisaIssued``: the Department of State issued the visa: ``date``, ``visa_post`` (table 40).
- ``OPTApproved``: USCIS approved the student's post-completion OPT (the EAD): ``date``. SEVIS shows the
  latest requested OPT period as Approved.
- ``STEMOPTApproved``: USCIS approved the STEM OPT extension: ``date``. The latest requested STEM
  extension period shows as Approved.
- ``ChangeOfStatus``: a change of status filed with USCIS, then ``approved`` or ``denied``: ``status``
  (filed, approved, denied), ``to`` (e.g. H-1B), ``date``. When USCIS approves a student's change of
  status, SEVIS terminates the record with reason 20 (CHANGE OF STATUS APPROVED, table 13) [i].
- ``ExtensionRequest``: a program extension request adjudicated by USCIS: ``status`` (pending, approved,
  denied), ``date``.
- ``TransferRelease``: ``direction`` out (this school released the student to ``school``) or in (the
  record came to this school by a transfer release from ``school``), ``release_date``. SEVIS completes a
  released record on its release date [i]: when the release date is today or earlier, the record's
  status becomes Completed.
- ``OtherRecord``: a second record for the same person: ``sevis_id``, ``school`` (its school code; this
  school's own code means a record at a previous education level), ``status`` (Initial, Active,
  Completed, Terminated, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Callable

from lxml import etree

from .codetables import meaning, table

PREFIX = "Agency/"
SCHOOL_CODE = re.compile(r"[A-Z]{3}214F\d{8}")
SEVIS_ID = re.compile(r"N\d{10}")
CLASSES = {"1": "F-1", "2": "M-1", "3": "J-1", "4": "F-2", "5": "M-2", "6": "J-2"}  # table 41


class AgencyEventError(ValueError):
    """An event a tester sent that SEVIS would not hold; the message says what to send."""


@dataclass(frozen=True)
class Field:
    name: str  # JSON key
    element: str  # XML element of the history entry
    check: Callable[[str, object], str]
    required: bool = True


def _date(name: str, value) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise AgencyEventError(f"{name} must be a date such as 2027-01-10") from None


def _choice(*allowed: str):
    def check(name: str, value) -> str:
        if value not in allowed:
            raise AgencyEventError(f"{name} must be one of {', '.join(allowed)}")
        return str(value)

    return check


def _coded(type_name: str, what: str):
    def check(name: str, value) -> str:
        if not isinstance(value, str) or value not in table(type_name, "F/M"):
            raise AgencyEventError(f"{name} must be a {what} code (e.g. {next(iter(table(type_name, 'F/M')))})")
        return value

    return check


def _class_of_admission(name: str, value) -> str:
    value = CLASSES.get(str(value), value)
    if value not in CLASSES.values():
        raise AgencyEventError(f"{name} must be a class of admission of table 41: {', '.join(CLASSES.values())}")
    return str(value)


def _pattern(pattern: re.Pattern, shape: str):
    def check(name: str, value) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise AgencyEventError(f"{name} must be {shape}")
        return value

    return check


def _short_text(name: str, value) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 20 or not value.replace("-", "").isalnum():
        raise AgencyEventError(f"{name} must be a visa class such as H-1B (letters, digits and dashes)")
    return value.strip().upper()


EVENTS: dict[str, tuple[Field, ...]] = {
    "CBPAdmission": (
        Field("date", "Date", _date),
        Field("port_of_entry", "PortOfEntry", _coded("PoeCodeType", "port of entry (SEVIS table 38)")),
        Field("class_of_admission", "ClassOfAdmission", _class_of_admission),
    ),
    "VisaIssued": (
        Field("date", "Date", _date),
        Field("visa_post", "VisaPost", _coded("VisaPostCodeType", "visa post (SEVIS table 40)"), required=False),
    ),
    "OPTApproved": (Field("date", "Date", _date),),
    "STEMOPTApproved": (Field("date", "Date", _date),),
    "ChangeOfStatus": (
        Field("status", "Status", _choice("filed", "approved", "denied")),
        Field("to", "To", _short_text),
        Field("date", "Date", _date),
    ),
    "ExtensionRequest": (
        Field("status", "Status", _choice("pending", "approved", "denied")),
        Field("date", "Date", _date),
    ),
    "TransferRelease": (
        Field("direction", "Direction", _choice("out", "in")),
        Field("school", "School", _pattern(SCHOOL_CODE, "a school code such as ABC214F00000001")),
        Field("release_date", "ReleaseDate", _date),
    ),
    "OtherRecord": (
        Field("sevis_id", "SevisID", _pattern(SEVIS_ID, "a SEVIS ID such as N0001234567")),
        Field("school", "School", _pattern(SCHOOL_CODE, "a school code such as ABC214F00000001")),
        Field(
            "status",
            "Status",
            _choice("Initial", "Active", "Completed", "Terminated", "Canceled", "Deactivated"),
        ),
    ),
}
# Events that only concern students (F/M) or only exchange visitors (J); the others concern both.
KIND_OF = {
    "OPTApproved": "F/M",
    "STEMOPTApproved": "F/M",
    "ExtensionRequest": "F/M",
    "TransferRelease": "F/M",
    "OtherRecord": "F/M",
}
DEPENDENT_EVENTS = {"CBPAdmission", "VisaIssued"}


def build(body: object, *, kind: str, is_dependent: bool) -> tuple[str, etree._Element]:
    """(history event name, detail element) for a tester's ``body``; AgencyEventError says what is wrong."""
    if not isinstance(body, dict):
        raise AgencyEventError('send a JSON object such as {"event": "CBPAdmission", "date": "2027-01-10", ...}')
    name = body.get("event")
    if name not in EVENTS:
        raise AgencyEventError(f"event must be one of {', '.join(EVENTS)}")
    if KIND_OF.get(name, kind) != kind:
        raise AgencyEventError(f"{name} concerns {KIND_OF[name]} records; this is a {kind} record")
    if is_dependent and name not in DEPENDENT_EVENTS:
        raise AgencyEventError(
            f"{name} concerns the principal; send it to the student's or exchange visitor's SEVIS ID"
        )
    fields = EVENTS[name]
    unknown = sorted(k for k in body if k != "event" and k not in {f.name for f in fields})
    if unknown:
        raise AgencyEventError(f"{name} takes {', '.join(f.name for f in fields)}; not {', '.join(unknown)[:200]}")
    element = etree.Element(name)
    for f in fields:
        if body.get(f.name) is None:
            if f.required:
                raise AgencyEventError(f"{name} needs {f.name}")
            continue
        etree.SubElement(element, f.element).text = f.check(f.name, body[f.name])
    return PREFIX + name, element


def summary(event: str, detail: str) -> str:
    """One line for RTI's record page: what the agency recorded."""
    if not event.startswith(PREFIX) or not detail:
        return ""
    try:
        element = etree.fromstring(detail)
    except etree.XMLSyntaxError:
        return ""
    parts = []
    for child in element:
        value = child.text or ""
        if child.tag == "PortOfEntry":
            value = f"{value} ({meaning('PoeCodeType', value)})"
        elif child.tag == "VisaPost":
            value = f"{value} ({meaning('VisaPostCodeType', value)})"
        parts.append(f"{child.tag} {value}")
    return ", ".join(parts)


def released_on_or_before(element: etree._Element, today: date) -> bool:
    """A TransferRelease out whose release date has come: SEVIS completes the releasing school's record."""
    if element.tag != "TransferRelease" or element.findtext("Direction") != "out":
        return False
    released = element.findtext("ReleaseDate")
    return released is not None and date.fromisoformat(released) <= today


def sevis_changes(element: etree._Element, kind: str, status: str, document: etree._Element, today: date) -> str | None:
    """What SEVIS itself does to the record on this event: amends ``document`` in place and returns the new
    status (or None when the status stays)."""
    if element.tag in ("OPTApproved", "STEMOPTApproved"):
        stem = element.tag == "STEMOPTApproved"
        requested = [
            e
            for e in document.iter("OPTEmployment")
            if e.get("status") == "Requested" and (e.get("extension") == "STEM") == stem
        ]
        if requested:
            requested[-1].set("status", "Approved")
        return None
    if status not in ("Initial", "Active"):
        return None
    if released_on_or_before(element, today):
        completion = etree.SubElement(document, "Completion", date=today.isoformat())
        etree.SubElement(completion, "Remarks").text = f"Transferred to {element.findtext('School')}"
        return "Completed"
    if element.tag == "ChangeOfStatus" and kind == "F/M" and element.findtext("Status") == "approved":
        termination = etree.SubElement(document, "Termination", date=today.isoformat())
        etree.SubElement(termination, "Reason").text = "20"
        etree.SubElement(
            termination, "Remarks"
        ).text = f"Change of status to {element.findtext('To')} approved by USCIS"
        return "Terminated"
    return None
