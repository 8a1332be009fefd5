"""Stateful properties: random sequences of batches against a real sevis-mock, checked against a model.

:func:`lifecycle_machine` returns a Hypothesis ``RuleBasedStateMachine`` bound to a running
:class:`sevis_mock.harness.pytest_plugin.MockServer`. Start the mock with a processing delay longer than
:data:`MAX_ADVANCE_DAYS` (the machine processes with ``POST /control/process-now`` so that downloads
before processing are part of the walk, and it moves the mock clock forward by whole days). Each example
begins with ``POST /control/reset`` and the mock clock at :data:`CLOCK`.

Steps: create students / exchange visitors (with or without a dependent, with program dates around
today), duplicates (S1004 / S2141), principal events (F/M Registration, Status Cancel/Complete/Terminate;
J Validate, Status Invalid/NoShow/Terminate) and dependent events (F/M Dependent Add/Cancel/Terminate/
Reactivate; J Dependent Add/Terminate/Delete/EndStatus) on records in any status, days passing, re-used
batch IDs, schema-invalid uploads, downloads before and after processing and of batch IDs never sent.

The model is what SEVIS should hold: each record's status, program dates and dependents (SEVIS IDs,
relationship, status). It predicts every outcome when the batch is processed, at the mock's date then:
success, or the catalogue code of the refusal. The status tables decide first (F/M: S1054 Active only,
S1057 Initial only, S1106 Initial or Active; J: S2124) [i: the order the mock's rule registry uses]; then the
event's own rules (F/M Registration session dates S1032/S1085/S1115/S1116/S1068/S1114/S1103/S1086 and
S1063; J Validate's 30-day window S2284; dependent rules S1113/S1093/S1107/S1006, S2232/S2230/S2119;
creates S1004/S1010/S2141). When one request breaks several of those, SEVIS publishes no precedence among
them, so any of the broken rules' codes is accepted (the generator mostly sends one flaw at a time). A refused
request must leave the record as it was: the records-API checks compare every status with the model.

Checked at every step: every transaction log is valid against the TransLog schema given; a re-used
accepted batch ID is always S0010; RecordCount totals equal the records sent and success/failure add
up; every requestID is answered exactly once; SEVIS IDs (principals and dependents) are unique; each
record's status and its dependents' equal the model and the records API; every dependent SEVIS ID a log
reported is a dependent record of that log's principal in the records API, and the records API holds no
other dependents; no accepted record is lost or applied twice (exactly the model's records, each with the
model's number of applied events).
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from hypothesis import event as hypothesis_event
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from lxml import etree

from sevis_mock.fixtures import read_fixture

CLOCK = "2027-01-20T09:00:00"  # [i] as fixtures/events/*.steps set it before their update batches
TODAY = date(2027, 1, 20)
# Officials log in at reset; SEVIS makes a user inactive after 45 days without a login (S0003).
MAX_ADVANCE_DAYS = 40
OPEN = ("Initial", "Active")
FM, J = "F/M", "J"
SPOUSE, CHILD = "01", "02"
VALIDATION_WINDOW = timedelta(days=30)  # J: validation no earlier than 30 days before program start (S2284)

# kind -> (create fixture, create wrapper, update wrapper, principal tag, name path)
LAYOUT = {
    FM: ("fm/create-with-dependent.xml", "CreateStudent", "UpdateStudent", "Student", "PersonalInfo/FullName"),
    J: ("j/create-with-dependent-and-site.xml", "CreateEV", "UpdateEV", "ExchangeVisitor", "Biographical/FullName"),
}

# --- what SEVIS does with each event (the model's tables) -------------------------------------------

# Principal events: name -> status after. Dependent events: name -> the named dependent's status after.
PRINCIPAL_EVENTS = {
    FM: {
        "Registration": "Active",
        "Status/Cancel": "Canceled",
        "Status/Complete": "Completed",
        "Status/Terminate": "Terminated",
    },
    J: {
        "Validate": "Active",
        "Status/Invalid": "Invalid",
        "Status/NoShow": "No Show",
        "Status/Terminate": "Terminated",
    },
}
DEPENDENT_EVENTS = {
    FM: {
        "Dependent/Add": "Initial",
        "Dependent/Cancel": "Canceled",
        "Dependent/Terminate": "Terminated",
        "Dependent/Reactivate": None,
    },  # None: back to the principal's status
    J: {
        "Dependent/Add": "Initial",
        "Dependent/Terminate": "Terminated",
        "Dependent/Delete": "Invalid",
        "Dependent/EndStatus": "Inactive",
    },
}
ACTIVATING = {FM: "Registration", J: "Validate"}  # also activate Initial dependents of an Active principal

# Statuses each event may act on, and the code refusing it in any other ([c] catalogue S1054 "active only",
# S1057 "initial only", S1106 "initial or active", S2124 "cannot update ... when status type is").
STATUS_TABLE = {
    FM: {
        "Registration": (OPEN, "S1106"),
        "Status/Cancel": (("Initial",), "S1057"),
        "Status/Complete": (("Active",), "S1054"),
        "Status/Terminate": (("Active",), "S1054"),
    },
    J: {
        "Validate": (("Initial",), "S2124"),
        "Status/Invalid": (("Initial",), "S2124"),
        "Status/NoShow": (OPEN, "S2124"),
        "Status/Terminate": (("Active",), "S2124"),
    },
}
STATUS_DEFAULT = {FM: (OPEN, "S1106"), J: (OPEN, "S2124")}  # every dependent event
UNKNOWN_DEPENDENT = {FM: "S1113", J: "S2232"}
SECOND_SPOUSE = {FM: "S1006", J: "S2119"}
DUPLICATE = {FM: "S1004", J: "S2141"}


def status_refusal(kind: str, event: str, status: str) -> str | None:
    allowed, code = STATUS_TABLE[kind].get(event, STATUS_DEFAULT[kind])
    return None if status in allowed else code


def letters(n: int) -> str:
    """A distinct run of letters A-Z for each number (names must hold letters only): 0 -> "A", 27 -> "BB"."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out += chr(ord("A") + r)
        if n == 0:
            return out


# --- the model ---------------------------------------------------------------------------------


@dataclass
class Dependent:
    sevis_id: str
    principal: str
    relationship: str
    status: str = "Initial"


@dataclass
class Person:
    kind: str
    identity: str  # the last-name suffix that makes the person unique (shared by a duplicate)
    request_id: str
    with_dependent: bool
    program_start: date
    program_end: date
    sevis_id: str | None = None
    status: str | None = None  # after the processed batches
    projected: str | None = None  # a guess at the status after the queued batches too (to steer the walk)
    dependents: dict[str, Dependent] = field(default_factory=dict)
    events: int = 0  # events applied (processed)
    us_address: bool = False  # F/M: the record holds a U.S. address (S1063)


@dataclass
class Registration:
    start: date
    end: date
    next_start: date | None
    last_session: bool
    us_address: bool
    flaw: str  # what the generator meant to break ("" for none): for the statistics only


@dataclass
class Op:
    person: Person
    request_id: str
    action: str  # "create" or an event name
    registration: Registration | None = None
    dependent_id: str | None = None  # the dependent an event names
    relationship: str | None = None  # the relationship of a dependent an Add adds


@dataclass
class QueuedBatch:
    kind: str
    batch_id: str
    document: bytes
    ops: list[Op]
    results: dict | None = None  # requestID -> (ok, code, sevis_id, dependent IDs) once processed


class Model:
    def __init__(self) -> None:
        self.today = TODAY
        self.advanced = 0
        self.people: list[Person] = []  # created records (accepted creates), in creation order
        self.queued: list[QueuedBatch] = []
        self.processed: list[QueuedBatch] = []
        self.sevis_ids: list[str] = []
        self.logged_dependents: dict[str, tuple[str, str]] = {}  # dependent ID -> (kind, principal ID) per the logs

    def used_batch_ids(self) -> list[QueuedBatch]:
        return self.queued + self.processed

    def created(self, kind: str) -> list[Person]:
        return [p for p in self.people if p.kind == kind]

    def dependents(self, kind: str) -> list[Dependent]:
        return [d for p in self.created(kind) for d in p.dependents.values()]

    # --- predictions at processing time ---
    def create_codes(self, person: Person, seen_in_batch: set[str]) -> set[str]:
        codes = set()
        if person.identity in seen_in_batch or any(
            p.identity == person.identity and p.status in OPEN for p in self.created(person.kind)
        ):
            codes.add(DUPLICATE[person.kind])
        if person.kind == FM and person.program_start < self.today:
            codes.add("S1010")  # program start date before today
        return codes

    def event_codes(self, op: Op) -> set[str]:
        """The codes refusing ``op`` now (empty: SEVIS applies it)."""
        person, kind = op.person, op.person.kind
        status_code = status_refusal(kind, op.action, person.status)
        if status_code:
            return {status_code}  # [i] the status tables are checked before the event's own rules
        if op.registration is not None:
            return registration_codes(op.registration, person, self.today)
        if op.action == "Validate" and self.today < person.program_start - VALIDATION_WINDOW:
            return {"S2284"}
        if op.action == "Dependent/Add":
            spouse = any(d.relationship == SPOUSE and d.status in OPEN for d in person.dependents.values())
            return {SECOND_SPOUSE[kind]} if op.relationship == SPOUSE and spouse else set()
        if op.dependent_id is None:
            return set()
        dependent = person.dependents.get(op.dependent_id)
        if dependent is None:
            return {UNKNOWN_DEPENDENT[kind]}
        if kind == FM and op.action == "Dependent/Cancel" and dependent.status != "Initial":
            return {"S1093"}
        if kind == FM and op.action == "Dependent/Terminate" and dependent.status not in OPEN:
            return {"S1107"}
        if kind == J and dependent.status not in OPEN:
            return {"S2230"}
        return set()


def registration_codes(reg: Registration, person: Person, today: date) -> set[str]:
    """Every F/M Registration date rule ``reg`` breaks (catalogue wording in the comments)."""
    broken = {
        "S1032": reg.end < today,  # current session end date is before today
        "S1085": reg.end <= reg.start,  # current session end date not after its start [i]
        "S1115": reg.end < person.program_start,  # current session end date before the program start date
        "S1116": reg.end > person.program_end,  # current session end date after the program end date
        "S1068": reg.last_session == (reg.next_start is not None),  # next session iff not the last session
        "S1114": reg.next_start is not None and reg.next_start < today,  # next session start before today
        "S1103": reg.next_start is not None and reg.next_start < reg.end,  # next session before current end
        "S1086": reg.next_start is not None and reg.next_start > person.program_end,  # [i]
        "S1063": not reg.us_address and not person.us_address,  # no U.S. address sent or held [i]
    }
    return {code for code, yes in broken.items() if yes}


def move_principal(person: Person, after: str, activating: bool) -> None:
    """The principal's new status; dependents in use (Initial/Active) follow it."""
    before, person.status = person.status, after
    for dep in person.dependents.values():
        if after != before and dep.status in OPEN:
            dep.status = after
        elif activating and after == "Active" and dep.status == "Initial":
            dep.status = "Active"


# --- documents -------------------------------------------------------------------------------------


def _e(tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.Element(tag, **attrs)
    el.text = text
    return el


def _tree(tag: str, *kids: etree._Element, **attrs: str) -> etree._Element:
    el = etree.Element(tag, **attrs)
    el.extend(kids)
    return el


def us_address(address1: str, city: str, state: str, zip_code: str) -> etree._Element:
    return _tree(
        "USAddress", _e("Address1", address1), _e("City", city), _e("State", state), _e("PostalCode", zip_code)
    )


class Documents:
    """Batch documents built from the fixtures, with fresh names, dates and request IDs."""

    def __init__(self, org_ids: dict[str, str], user_ids: dict[str, str]) -> None:
        self.org_ids = org_ids
        self.user_ids = user_ids
        self._bases = {kind: etree.fromstring(read_fixture(LAYOUT[kind][0])) for kind in LAYOUT}

    def _skeleton(self, kind: str, batch_id: str) -> etree._Element:
        root = copy.deepcopy(self._bases[kind])
        for child in list(root):
            if child.tag != "BatchHeader":
                root.remove(child)
        root.find("BatchHeader/BatchID").text = batch_id
        root.find("BatchHeader/OrgID").text = self.org_ids[kind]
        root.set("userID", self.user_ids[kind])
        return root

    def create(self, kind: str, batch_id: str, people: list[Person]) -> bytes:
        _, create_tag, _, tag, name_path = LAYOUT[kind]
        root = self._skeleton(kind, batch_id)
        wrapper = etree.SubElement(root, create_tag)
        template = self._bases[kind].find(f"{create_tag}/{tag}")
        dates = "EducationalInfo/" if kind == FM else ""
        for person in people:
            element = copy.deepcopy(template)
            element.set("requestID", person.request_id)
            element.set("userID", self.user_ids[kind])
            element.set("printForm", "false")
            element.find(f"{dates}PrgStartDate").text = person.program_start.isoformat()
            element.find(f"{dates}PrgEndDate").text = person.program_end.isoformat()
            last = element.find(f"{name_path}/LastName")
            last.text = f"{last.text} {person.identity}"
            for dep in element.iter("Dependent"):
                dep_last = dep.find(".//FullName/LastName")
                dep_last.text = f"{dep_last.text} {person.identity}"
            if not person.with_dependent:
                for block in element.findall("CreateDependent"):
                    element.remove(block)
            wrapper.append(element)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def update(self, kind: str, batch_id: str, ops: list[Op], today: date) -> bytes:
        _, _, update_tag, tag, _ = LAYOUT[kind]
        root = self._skeleton(kind, batch_id)
        wrapper = etree.SubElement(root, update_tag)
        for op in ops:
            element = etree.SubElement(
                wrapper, tag, sevisID=op.person.sevis_id, requestID=op.request_id, userID=self.user_ids[kind]
            )
            element.append(event_element(kind, op, today))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def schema_invalid(self, kind: str, batch_id: str) -> bytes:
        root = self._skeleton(kind, batch_id)
        etree.SubElement(root, "NotASevisElement").text = "x"
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def event_element(kind: str, op: Op, today: date) -> etree._Element:
    """The event's XML, as the 6.55 (F/M) and 6.27 (J) update schemas order it."""
    action, day = op.action, today.isoformat()
    if action == "Registration":
        reg = op.registration
        parts = [
            _e("LastSession", "true" if reg.last_session else "false"),
            _e("CurrentSessionStartDate", reg.start.isoformat()),
            _e("CurrentSessionEndDate", reg.end.isoformat()),
        ]
        if reg.next_start is not None:
            parts.append(_e("NextSessionStartDate", reg.next_start.isoformat()))
        parts.append(_e("Email", "student@example.com"))
        if reg.us_address:
            parts.append(us_address("305 Memorial Drive", "Cambridge", "MA", "02139"))
        return _tree("Registration", *parts, printForm="false")
    if action == "Validate":
        return _tree(
            "Validate",
            us_address("2400 M Street NW", "Washington", "DC", "20037"),
            _e("EmailAddress", "visitor@example.org"),
        )
    if action.startswith("Status/"):
        return _tree("Status", status_action(kind, action.partition("/")[2], day))
    return _tree("Dependent", dependent_action(kind, op, day))


def status_action(kind: str, name: str, day: str) -> etree._Element:
    if name == "Cancel":
        return _tree("Cancel", _e("Reason", "01"), _e("Remarks", "Student chose another school"))
    if name == "Complete":
        return _tree("Complete", _e("Remarks", "Completed all degree requirements"))
    if name == "Invalid":
        return _tree("Invalid", _e("Remarks", "Created in error"))
    if name == "NoShow":
        return _e("NoShow")
    if kind == FM:  # Terminate
        return _tree("Terminate", _e("Reason", "01"), _e("Remarks", "Unauthorized withdrawal"))
    return _tree(
        "Terminate", _e("Reason", "OTHER"), _e("EffectiveDate", day), _e("OtherRemarks", "Left the program early")
    )


def dependent_action(kind: str, op: Op, day: str) -> etree._Element:
    name = op.action.partition("/")[2]
    if name == "Add":
        return added_dependent(kind, op)
    named = {"dependentSevisID": op.dependent_id}
    if name == "Cancel":
        return _tree("Cancel", _e("Reason", "01"), **named)
    if name == "Reactivate":
        return _e("Reactivate", printForm="false", **named)
    if name == "Delete":
        return _e("Delete", **named)
    if name == "EndStatus":
        return _tree("EndStatus", _e("Reason", "02"), **named)
    if kind == FM:  # Terminate
        return _tree("Terminate", _e("Reason", "02"), **named)
    return _tree("Terminate", _e("Reason", "01"), _e("EffectiveDate", day), **named)


def added_dependent(kind: str, op: Op) -> etree._Element:
    spouse = op.relationship == SPOUSE
    name = _tree(
        "FullName", _e("LastName", f"DEPENDENT {op.person.identity}"), _e("FirstName", "SAM" if spouse else "MEERA")
    )
    born = "1996-04-02" if spouse else "2021-06-30"
    if kind == FM:
        return _tree(
            "Add",
            name,
            _e("BirthDate", born),
            _e("Gender", "M" if spouse else "F"),
            _e("BirthCity", "Chennai"),
            _e("BirthCountryCode", "IN"),
            _e("CitizenshipCountryCode", "IN"),
            _e("VisaType", "04"),
            _e("Relationship", op.relationship),
            printForm="false",
        )
    return _tree(
        "Add",
        name,
        _e("BirthDate", born),
        _e("Gender", "M" if spouse else "F"),
        _e("BirthCity", "Heidelberg"),
        _e("BirthCountryCode", "GM"),
        _e("CitizenshipCountryCode", "GM"),
        _e("PermanentResidenceCountryCode", "GM"),
        _e("Relationship", op.relationship),
        _e("FormPurpose", "06"),
        printForm="false",
    )


# --- strategies --------------------------------------------------------------------------------------

# Days from today to a new record's program start. J visitors can be validated from 30 days before it
# (S2284), so most start within that window; F/M program starts before today are refused (S1010).
START_OFFSETS = {FM: [0, 7, 21, 45, 60, -3], J: [0, 10, 25, 28, 45, 90]}
# What a Registration's dates break: mostly nothing; else one rule at a time.
REGISTRATION_FLAWS = [""] * 14 + ["S1032", "S1085", "S1116", "S1068", "S1103", "S1086", "S1063"]


def registration(person: Person, today: date, flaw: str) -> Registration:
    """Session dates that satisfy every date rule relative to ``today`` and the program, but ``flaw``."""
    start = max(person.program_start, today)
    end, last, address = start + timedelta(days=105), False, flaw != "S1063"
    next_start: date | None = end + timedelta(days=30)
    if flaw == "S1032" and person.program_start < today - timedelta(days=1):
        start, end = person.program_start, today - timedelta(days=1)  # a session that ended yesterday
        next_start = today + timedelta(days=30)
    elif flaw == "S1085":
        start = end
    elif flaw == "S1116":
        start, end, last, next_start = (
            person.program_end - timedelta(days=20),
            person.program_end + timedelta(days=10),
            True,
            None,
        )
    elif flaw == "S1068":
        next_start = None  # not the last session, yet no next session
    elif flaw == "S1103":
        next_start = end - timedelta(days=5)
    elif flaw == "S1086":
        start, end = person.program_end - timedelta(days=100), person.program_end - timedelta(days=10)
        next_start = person.program_end + timedelta(days=20)
    return Registration(start, end, next_start, last, address, flaw)


MOSTLY = st.sampled_from([True, True, True, False])  # three times in four

# Principal events; an Initial record is steered mostly to its activation (Registration / Validate).
PRINCIPAL_CHOICES = {
    FM: ["Registration", "Status/Cancel", "Status/Complete", "Status/Terminate"],
    J: ["Validate", "Status/Invalid", "Status/NoShow", "Status/Terminate"],
}


# --- the machine -----------------------------------------------------------------------------------


def lifecycle_machine(server, translog_schema: etree.XMLSchema, *, on_step: Callable[[], None] | None = None):
    """A RuleBasedStateMachine class driving ``server``; every log is checked against ``translog_schema``."""
    orgs = {kind: server.org(kind) for kind in (FM, J)}
    clients = {kind: server.client(orgs[kind]) for kind in (FM, J)}
    documents = Documents({k: o.org_id for k, o in orgs.items()}, {k: o.user_id for k, o in orgs.items()})
    counter = [0]
    stats: Counter = Counter()  # what the walks exercised: (kind, action, outcome) and the dispositions seen

    def fresh(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}{counter[0]:0{14 - len(prefix)}d}"

    def valid_log(log) -> None:
        doc = etree.fromstring(log.xml)
        assert translog_schema.validate(doc.getroottree()), (
            f"transaction log invalid against the TransLog XSD: {translog_schema.error_log}\n{log.xml.decode()}"
        )

    def count(kind: str, action: str, outcome: str) -> None:
        stats[(kind, action, outcome)] += 1
        hypothesis_event(f"{kind} {action}: {outcome}")

    class SevisLifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            server.set_clock(CLOCK)
            server.reset(keep_clock=True)  # seeded officials log in at CLOCK (inactive after 45 days: S0003)
            self.model = Model()

        def _step(self) -> None:
            if on_step is not None:
                on_step()

        # --- uploads ---------------------------------------------------------------------------
        def _upload(self, kind: str, batch_id: str, document: bytes) -> str:
            org = orgs[kind]
            result = clients[kind].upload(document, org_id=org.org_id, user_id=org.user_id, batch_id=batch_id)
            valid_log(result.log)
            return result.code

        def _queue(self, kind: str, document: bytes, batch_id: str, ops: list[Op]) -> None:
            code = self._upload(kind, batch_id, document)
            assert code == "S0000", f"upload of a valid batch {batch_id} answered {code}:\n{document.decode()}"
            self.model.queued.append(QueuedBatch(kind, batch_id, document, ops))
            note(f"queued {batch_id}: {[(op.action, op.person.sevis_id or op.person.identity) for op in ops]}")

        def _new_person(self, kind: str, identity: str, request_id: str, with_dependent: bool, offset: int) -> Person:
            start = self.model.today + timedelta(days=offset)
            end = start + timedelta(days=700 if kind == FM else 364)
            return Person(kind, identity, request_id, with_dependent, start, end, projected="Initial")

        @rule(kind=st.sampled_from([FM, J]), dependents=st.lists(st.booleans(), min_size=1, max_size=2), data=st.data())
        def create(self, kind, dependents, data):
            self._step()
            self._create(kind, dependents, data)

        @initialize(data=st.data())
        def enrolled(self, data):
            """Every walk starts with records to act on: students and visitors created and processed."""
            for kind in (FM, J):
                self._create(kind, [True, False, True], data)
            self._process()

        def _create(self, kind: str, dependents: list[bool], data) -> None:
            batch_id = fresh("LC")
            people = []
            for n, with_dependent in enumerate(dependents):
                offset = data.draw(st.sampled_from(START_OFFSETS[kind]), label="program start offset")
                people.append(
                    self._new_person(
                        kind, letters(counter[0] * 7 + n + 1000), f"{batch_id[-6:]}-{n}", with_dependent, offset
                    )
                )
            ops = [Op(p, p.request_id, "create") for p in people]
            self._queue(kind, documents.create(kind, batch_id, people), batch_id, ops)

        @precondition(lambda self: self.model.people)
        @rule(data=st.data())
        def create_again(self, data):
            """A person sent again: S1004 / S2141 while the first is Initial or Active (or was sent earlier in
            the same batch), else a new record."""
            self._step()
            original = data.draw(st.sampled_from(self.model.people))
            copies = data.draw(st.sampled_from([1, 1, 2]), label="copies in the batch")
            batch_id = fresh("LD")
            people = [
                self._new_person(original.kind, original.identity, f"{batch_id[-6:]}-{n}", original.with_dependent, 7)
                for n in range(copies)
            ]
            self._queue(
                original.kind,
                documents.create(original.kind, batch_id, people),
                batch_id,
                [Op(p, p.request_id, "create") for p in people],
            )

        @precondition(lambda self: self.model.people)
        @rule(data=st.data())
        def update(self, data):
            self._step()
            kind = data.draw(st.sampled_from(sorted({p.kind for p in self.model.people})))
            people = self.model.created(kind)
            in_use = [p for p in people if p.projected in OPEN]
            # Mostly records still in use (so they go on to be activated and ended); any record otherwise.
            pool = in_use if in_use and data.draw(MOSTLY, label="records in use?") else people
            picked = data.draw(
                st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=4, unique=True), label="records"
            )
            chosen = [pool[i] for i in picked]
            if not data.draw(MOSTLY, label="each record once?"):
                chosen.append(chosen[0])  # two events for one record in one batch, applied in order
            batch_id = fresh("LU")
            ops = []
            for n, person in enumerate(chosen):
                op = self._draw_event(data, person, f"{batch_id[-6:]}-{n}")
                if op is not None:
                    ops.append(op)
            if ops:
                self._queue(kind, documents.update(kind, batch_id, ops, self.model.today), batch_id, ops)

        def _draw_event(self, data, person: Person, request_id: str) -> Op | None:
            kind = person.kind
            if not data.draw(MOSTLY, label="principal event?"):
                return self._draw_dependent_event(data, person, request_id)
            choices = PRINCIPAL_CHOICES[kind]
            allowed = [e for e in choices if status_refusal(kind, e, person.projected) is None]
            if person.projected == "Initial":
                allowed += [ACTIVATING[kind]] * 3
            steer = data.draw(MOSTLY, label="steer to an allowed event?")
            action = data.draw(st.sampled_from(allowed if allowed and steer else choices), label="event")
            op = Op(person, request_id, action)
            if action == "Registration":
                flaw = data.draw(st.sampled_from(REGISTRATION_FLAWS), label="registration flaw")
                op.registration = registration(person, self.model.today, flaw)
                if registration_codes(op.registration, person, self.model.today):
                    return op
            if action == "Validate" and self.model.today < person.program_start - VALIDATION_WINDOW:
                return op
            if status_refusal(kind, action, person.projected) is None:
                person.projected = PRINCIPAL_EVENTS[kind][action]
            return op

        def _draw_dependent_event(self, data, person: Person, request_id: str) -> Op | None:
            kind = person.kind
            own = sorted(person.dependents)
            action = data.draw(st.sampled_from(sorted(DEPENDENT_EVENTS[kind])), label="dependent event")
            if not own and data.draw(MOSTLY, label="add one first?"):
                action = "Dependent/Add"
            if action == "Dependent/Add":
                relationship = data.draw(st.sampled_from([CHILD, CHILD, SPOUSE]), label="relationship")
                return Op(person, request_id, action, relationship=relationship)
            others = sorted(d.sevis_id for d in self.model.dependents(kind) if d.principal != person.sevis_id)
            if not own and not others:
                return None
            # Mostly one of the principal's own dependents; sometimes another principal's (S1113 / S2232).
            pool = own if own and (not others or data.draw(MOSTLY, label="own dependent?")) else others
            return Op(person, request_id, action, dependent_id=data.draw(st.sampled_from(pool), label="dependent"))

        # Updates are the heart of the walk: more rules for them (and a second one for processing) make them
        # drawn more often, and keep them in the walk when Hypothesis's swarm testing leaves some rules out.
        more_updates = precondition(lambda self: self.model.people)(
            rule(data=st.data())(lambda self, data: self.update(data))
        )
        even_more_updates = precondition(lambda self: self.model.people)(
            rule(data=st.data())(lambda self, data: self.update(data))
        )

        @precondition(lambda self: self.model.advanced < MAX_ADVANCE_DAYS)
        @rule(days=st.sampled_from([1, 5, 12]))
        def days_pass(self, days):
            """The mock clock moves on (queued batches are processed at the later date)."""
            self._step()
            days = min(days, MAX_ADVANCE_DAYS - self.model.advanced)
            server.advance_clock(days * 86400)
            self.model.advanced += days
            self.model.today += timedelta(days=days)
            stats["days passed"] += days
            note(f"today is {self.model.today}")

        # --- protocol probes: one rule drawing among them (so swarm testing keeps or drops them together) ---
        @rule(data=st.data())
        def probe(self, data):
            """Re-used batch IDs, schema-invalid uploads, downloads before processing, of batch IDs never
            sent and of processed batches again."""
            self._step()
            probes = [self._upload_schema_invalid]
            if self.model.used_batch_ids():
                probes.append(self._reuse_batch_id)
            if self.model.queued:
                probes.append(self._download_before_processing)
            if self.model.processed:
                probes += [self._download_never_sent, self._download_again]
            data.draw(st.sampled_from(probes), label="probe")(data)

        def _reuse_batch_id(self, data) -> None:
            """A batch ID accepted before, queued or processed, is always S0010; nothing is queued."""
            used = data.draw(st.sampled_from(self.model.used_batch_ids()), label="batch")
            assert self._upload(used.kind, used.batch_id, used.document) == "S0010"
            stats["upload S0010"] += 1

        def _upload_schema_invalid(self, data) -> None:
            kind = data.draw(st.sampled_from([FM, J]), label="kind")
            batch_id = fresh("LX")
            assert self._upload(kind, batch_id, documents.schema_invalid(kind, batch_id)) == "S0013"
            stats["upload S0013"] += 1

        def _download(self, kind: str, batch_id: str):
            org = orgs[kind]
            result = clients[kind].download(org_id=org.org_id, user_id=org.user_id, batch_id=batch_id)
            valid_log(result.log)
            return result

        def _download_before_processing(self, data) -> None:
            batch = data.draw(st.sampled_from(self.model.queued), label="batch")
            result = self._download(batch.kind, batch.batch_id)
            assert result.code == "S0030" and result.log.process is None
            stats["download S0030"] += 1

        def _download_never_sent(self, data) -> None:
            kind = data.draw(st.sampled_from([FM, J]), label="kind")
            assert self._download(kind, fresh("LN")).code == "S0031"
            stats["download S0031"] += 1

        def _download_again(self, data) -> None:
            """A processed batch downloads the same results every time (nothing applied twice)."""
            batch = data.draw(st.sampled_from(self.model.processed), label="batch")
            assert self._results(batch) == batch.results
            stats["download again"] += 1

        # --- processing ------------------------------------------------------------------------
        @rule()
        def process(self):
            self._step()
            self._process()

        process_again = rule()(lambda self: self.process())

        def _process(self) -> None:
            queued, self.model.queued = self.model.queued, []
            # process-now returns when every queued batch is processed; it makes them all due, so the server's
            # own processor thread may apply some of them first and the count it reports may be smaller.
            # (The processing delay outlasts every clock move, so nothing is processed before process-now.)
            assert server.process_now() <= len(queued)
            for batch in queued:
                batch.results = self._results(batch)
                self._apply(batch)
                self.model.processed.append(batch)
            self._check_records(queued)
            for person in self.model.people:
                person.projected = person.status

        def _results(self, batch: QueuedBatch) -> dict:
            result = self._download(batch.kind, batch.batch_id)
            assert result.code == "S0000", f"download of processed batch {batch.batch_id}: {result.code}"
            process = result.log.process
            sent = [op.request_id for op in batch.ops]
            answered = [r.request_id for r in process.records]
            assert Counter(answered) == Counter(sent), f"requestIDs sent {sent}, answered {answered}"
            assert process.total == len(sent) and process.success + process.failure == process.total, (
                f"RecordCount {process.success}/{process.failure}/{process.total} for {len(sent)} records sent"
            )
            assert process.code == ("S0000" if process.failure == 0 else "S0020")
            return {
                r.request_id: (r.ok, r.error_code, r.sevis_id, tuple(d.sevis_id for d in r.dependents))
                for r in process.records
            }

        def _apply(self, batch: QueuedBatch) -> None:
            """Predict each request's outcome at today's date, compare it with the log, then apply it."""
            seen: set[str] = set()
            for op in batch.ops:
                ok, code, sevis_id, dependent_ids = batch.results[op.request_id]
                person = op.person
                if op.action == "create":
                    expected = self.model.create_codes(person, seen)
                    seen.add(person.identity)
                else:
                    expected = self.model.event_codes(op)
                what = f"{batch.batch_id} {person.kind} {op.action} {op.request_id} on {person.status} ({op})"
                note(
                    f"{batch.batch_id} {op.request_id} {op.action} on {person.sevis_id} ({person.status}): "
                    f"model {sorted(expected) or 'success'}, mock {code or 'success'}"
                )
                if expected:
                    assert not ok and code in expected, (
                        f"{what}: expected refusal {sorted(expected)}, got {code or 'success'}"
                    )
                    assert not dependent_ids, f"{what}: a refused request reported dependents {dependent_ids}"
                    count(person.kind, op.action, code)
                    continue
                assert ok, f"{what}: expected success, got {code}"
                count(person.kind, op.action, "ok")
                if op.action == "create":
                    self._created(person, sevis_id, dependent_ids)
                else:
                    assert sevis_id == person.sevis_id, f"{what}: answered for SEVIS ID {sevis_id}"
                    self._applied(op, dependent_ids)

        def _created(self, person: Person, sevis_id: str, dependent_ids: tuple) -> None:
            assert sevis_id and len(dependent_ids) == int(person.with_dependent), (
                f"create {person.request_id}: SEVIS ID {sevis_id}, dependents {dependent_ids}"
            )
            person.sevis_id, person.status, person.projected = sevis_id, "Initial", "Initial"
            person.dependents = {d: Dependent(d, sevis_id, SPOUSE) for d in dependent_ids}  # the fixtures' spouse
            self.model.people.append(person)
            self._logged(person, [sevis_id, *dependent_ids])

        def _logged(self, person: Person, new_ids: list[str]) -> None:
            self.model.sevis_ids.extend(new_ids)
            for dep_id in new_ids:
                if dep_id != person.sevis_id:
                    self.model.logged_dependents[dep_id] = (person.kind, person.sevis_id)

        def _applied(self, op: Op, dependent_ids: tuple) -> None:
            person, kind = op.person, op.person.kind
            person.events += 1
            if op.action in PRINCIPAL_EVENTS[kind]:
                assert not dependent_ids
                move_principal(person, PRINCIPAL_EVENTS[kind][op.action], op.action == ACTIVATING[kind])
                if op.registration is not None and op.registration.us_address:
                    person.us_address = True
            elif op.action == "Dependent/Add":
                assert len(dependent_ids) == 1 and dependent_ids[0], f"Dependent/Add reported {dependent_ids}"
                person.dependents[dependent_ids[0]] = Dependent(dependent_ids[0], person.sevis_id, op.relationship)
                self._logged(person, list(dependent_ids))
            else:
                assert not dependent_ids
                after = DEPENDENT_EVENTS[kind][op.action]
                person.dependents[op.dependent_id].status = person.status if after is None else after

        def _check_records(self, batches: list[QueuedBatch]) -> None:
            """Each record touched by these batches holds the model's status, dependents and events."""
            touched = {op.person.sevis_id: op.person for b in batches for op in b.ops if op.person.sevis_id}
            for sevis_id, person in touched.items():
                view = server.record(sevis_id)
                assert view["status"] == person.status, (
                    f"{sevis_id}: records API {view['status']}, model {person.status}"
                )
                assert dependents_of(view) == expected_dependents(person), (
                    f"{sevis_id}: records API dependents {dependents_of(view)}, model {expected_dependents(person)}"
                )
                applied = [h for h in view["history"] if h["event"] != "Create"]
                assert len(applied) == person.events, (
                    f"{sevis_id}: {len(applied)} events applied, model {person.events}"
                )

        # --- invariants ------------------------------------------------------------------------
        @invariant()
        def sevis_ids_unique(self):
            assert len(set(self.model.sevis_ids)) == len(self.model.sevis_ids)

        @invariant()
        def records_api_equals_model(self):
            """Every created record and dependent (no more, no fewer) as the model and the logs have them."""
            for kind, org in orgs.items():
                held = {r["sevis_id"]: r for r in server.records(org=org.org_id, principals_only="false", limit="5000")}
                principals = {s: r for s, r in held.items() if r["principal_sevis_id"] is None}
                expected = {p.sevis_id: p for p in self.model.created(kind)}
                assert set(principals) == set(expected), (
                    f"{kind}: records API {sorted(principals)}, model {sorted(expected)}"
                )
                for sevis_id, person in expected.items():
                    assert principals[sevis_id]["status"] == person.status, (
                        f"{sevis_id}: records API {principals[sevis_id]['status']}, model {person.status}"
                    )
                    assert dependents_of(principals[sevis_id]) == expected_dependents(person), (
                        f"{sevis_id}: records API dependents {dependents_of(principals[sevis_id])}, "
                        f"model {expected_dependents(person)}"
                    )
                # Every dependent SEVIS ID a log reported is a dependent record of that log's principal.
                logged = {d: p for d, (k, p) in self.model.logged_dependents.items() if k == kind}
                dependents = {s: r for s, r in held.items() if r["principal_sevis_id"] is not None}
                assert set(dependents) == set(logged), (
                    f"{kind}: dependent records {sorted(dependents)}, dependents in the logs {sorted(logged)}"
                )
                for dep_id, principal in logged.items():
                    record = dependents[dep_id]
                    assert record["principal_sevis_id"] == principal and record["kind"] == kind, (
                        f"dependent {dep_id}: principal {record['principal_sevis_id']} ({record['kind']}), "
                        f"the log reported it for {principal} ({kind})"
                    )

    SevisLifecycle.clients = clients
    SevisLifecycle.stats = stats
    return SevisLifecycle


def dependents_of(view: dict) -> dict:
    return {d["sevis_id"]: (d["status"], d["relationship"]) for d in view["dependents"]}


def expected_dependents(person: Person) -> dict:
    return {d.sevis_id: (d.status, d.relationship) for d in person.dependents.values()}


def summary(stats: Counter) -> str:
    """Applied and refused counts per (kind, event), one line each."""
    rows: dict[tuple[str, str], Counter] = {}
    for key, n in stats.items():
        if isinstance(key, tuple):
            kind, action, outcome = key
            rows.setdefault((kind, action), Counter())[outcome] += n
    lines = []
    for (kind, action), outcomes in sorted(rows.items()):
        refused = ", ".join(f"{code} x{n}" for code, n in sorted(outcomes.items()) if code != "ok")
        applied, total = outcomes["ok"], sum(outcomes.values())
        lines.append(
            f"  {kind:3} {action:22} applied {applied:3}  refused {total - applied:3}"
            + (f" ({refused})" if refused else "")
        )
    other = ", ".join(f"{k} {n}" for k, n in sorted(stats.items(), key=str) if not isinstance(k, tuple))
    return "\n".join(lines + [f"  {other}"])
