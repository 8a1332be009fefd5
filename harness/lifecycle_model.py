"""What SEVIS should hold after each batch of the lifecycle walk: plain data and functions, no server.

The model is each record's status, program dates and dependents (SEVIS IDs, relationship, status). It predicts
every outcome when a batch is processed, at the mock's date then: success, or the catalogue code of the refusal.
The status tables decide first (F/M: S1054 Active only, S1057 Initial only, S1106 Initial or Active; J: S2124)
[i: the order the mock's rule registry uses]; then the event's own rules (F/M Registration session dates
S1032/S1085/S1115/S1116/S1068/S1114/S1103/S1086 and S1063; J Validate's 30-day window S2284; dependent rules
S1113/S1093/S1107/S1006, S2232/S2230/S2119; creates S1004/S1010/S2141). When one request breaks several of
those, SEVIS publishes no precedence among them, so any of the broken rules' codes is accepted (the generator
mostly sends one flaw at a time). A refused request leaves the record as it was.

:meth:`Model.processed` compares a processed batch's results (from its transaction log) with the prediction and
applies them; :meth:`Model.records_disagreement` compares what the records API holds with the model. Both raise
or return messages naming the batch, the request, the action and what was expected.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from .documents import CHILD, FM, J, SPOUSE, letters

__all__ = ["FM", "J", "SPOUSE", "CHILD", "letters"]  # re-exported: the kinds and relationships the model speaks of

CLOCK = "2027-01-20T09:00:00"  # [i] as fixtures/events/*.steps set it before their update batches
TODAY = date(2027, 1, 20)
# Officials log in at reset; SEVIS makes a user inactive after 45 days without a login (S0003).
MAX_ADVANCE_DAYS = 40
OPEN = ("Initial", "Active")
VALIDATION_WINDOW = timedelta(days=30)  # J: validation no earlier than 30 days before program start (S2284)
PROGRAM_DAYS = {FM: 700, J: 364}

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
DEPENDENT_EVENTS: dict[str, dict[str, str | None]] = {
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

# Days from today to a new record's program start. J visitors can be validated from 30 days before it
# (S2284), so most start within that window; F/M program starts before today are refused (S1010).
START_OFFSETS = {FM: [0, 7, 21, 45, 60, -3], J: [0, 10, 25, 28, 45, 90]}
# What a Registration's dates break: mostly nothing; else one rule at a time.
REGISTRATION_FLAWS = [""] * 14 + ["S1032", "S1085", "S1116", "S1068", "S1103", "S1086", "S1063"]
# Principal events; an Initial record is steered mostly to its activation (Registration / Validate).
PRINCIPAL_CHOICES = {
    FM: ["Registration", "Status/Cancel", "Status/Complete", "Status/Terminate"],
    J: ["Validate", "Status/Invalid", "Status/NoShow", "Status/Terminate"],
}


class LifecycleMismatch(AssertionError):
    """The mock holds or answers otherwise than SEVIS should; the message names the batch, request and action."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise LifecycleMismatch(message)


def status_refusal(kind: str, event: str, status: str | None) -> str | None:
    allowed, code = STATUS_TABLE[kind].get(event, STATUS_DEFAULT[kind])
    return None if status in allowed else code


# --- the records -------------------------------------------------------------------------------


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


Result = tuple[bool, "str | None", "str | None", tuple]  # (ok, error code, SEVIS ID, dependent SEVIS IDs)


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


def move_principal(person: Person, after: str, activating: bool) -> None:
    """The principal's new status; dependents in use (Initial/Active) follow it."""
    before, person.status = person.status, after
    for dep in person.dependents.values():
        if after != before and dep.status in OPEN:
            dep.status = after
        elif activating and after == "Active" and dep.status == "Initial":
            dep.status = "Active"


def dependents_of(view: dict) -> dict:
    """A records-API record's dependents as {SEVIS ID: (status, relationship)}."""
    return {d["sevis_id"]: (d["status"], d["relationship"]) for d in view["dependents"]}


def expected_dependents(person: Person) -> dict:
    return {d.sevis_id: (d.status, d.relationship) for d in person.dependents.values()}


# --- the model ---------------------------------------------------------------------------------


class Model:
    def __init__(self) -> None:
        self.today = TODAY
        self.advanced = 0
        self.counter = 0
        self.people: list[Person] = []  # created records (accepted creates), in creation order
        self.queued: list[QueuedBatch] = []
        self.processed: list[QueuedBatch] = []
        self.sevis_ids: list[str] = []
        self.logged_dependents: dict[str, tuple[str, str]] = {}  # dependent ID -> (kind, principal ID) per the logs

    def fresh(self, prefix: str) -> str:
        """A new 14-character batch ID starting with ``prefix``."""
        self.counter += 1
        return f"{prefix}{self.counter:0{14 - len(prefix)}d}"

    def used_batch_ids(self) -> list[QueuedBatch]:
        return self.queued + self.processed

    def created(self, kind: str) -> list[Person]:
        return [p for p in self.people if p.kind == kind]

    def dependents(self, kind: str) -> list[Dependent]:
        return [d for p in self.created(kind) for d in p.dependents.values()]

    def days_pass(self, days: int) -> int:
        """The mock clock moves on (at most to MAX_ADVANCE_DAYS in all); the days it moved."""
        days = min(days, MAX_ADVANCE_DAYS - self.advanced)
        self.advanced += days
        self.today += timedelta(days=days)
        return days

    # --- building requests (what the walk sends) ---
    def new_person(self, kind: str, identity: str, request_id: str, with_dependent: bool, offset: int) -> Person:
        start = self.today + timedelta(days=offset)
        end = start + timedelta(days=PROGRAM_DAYS[kind])
        return Person(kind, identity, request_id, with_dependent, start, end, projected="Initial")

    def new_people(self, kind: str, batch_id: str, dependents: list[bool], offsets: list[int]) -> list[Op]:
        """The creates of a new batch: one new person per entry (with a dependent or not, program starting
        ``offset`` days from today)."""
        people = [
            self.new_person(kind, letters(self.counter * 7 + n + 1000), f"{batch_id[-6:]}-{n}", with_dependent, offset)
            for n, (with_dependent, offset) in enumerate(zip(dependents, offsets))
        ]
        return [Op(p, p.request_id, "create") for p in people]

    def copies(self, original: Person, batch_id: str, copies: int) -> list[Op]:
        """``original`` sent again ``copies`` times (S1004 / S2141 while the first is in use)."""
        people = [
            self.new_person(original.kind, original.identity, f"{batch_id[-6:]}-{n}", original.with_dependent, 7)
            for n in range(copies)
        ]
        return [Op(p, p.request_id, "create") for p in people]

    def principal_op(self, person: Person, request_id: str, action: str, flaw: str = "") -> Op:
        """A principal event; steers ``projected`` when the model expects it applied."""
        op = Op(person, request_id, action)
        if action == "Registration":
            op.registration = registration(person, self.today, flaw)
            if registration_codes(op.registration, person, self.today):
                return op
        if action == "Validate" and self.today < person.program_start - VALIDATION_WINDOW:
            return op
        if status_refusal(person.kind, action, person.projected) is None:
            person.projected = PRINCIPAL_EVENTS[person.kind][action]
        return op

    def allowed_events(self, person: Person) -> list[str]:
        """The principal events the projected status allows (activation weighted up for an Initial record)."""
        kind = person.kind
        allowed = [e for e in PRINCIPAL_CHOICES[kind] if status_refusal(kind, e, person.projected) is None]
        if person.projected == "Initial":
            allowed += [ACTIVATING[kind]] * 3
        return allowed

    def others_dependents(self, person: Person) -> list[str]:
        return sorted(d.sevis_id for d in self.dependents(person.kind) if d.principal != person.sevis_id)

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

    # --- a processed batch: compare and apply ---
    def check_counts(self, batch: QueuedBatch, answered: list[str], counts: tuple[int, int, int], code: str) -> None:
        """The log's Process part: every requestID answered once, RecordCount adding up, the batch's code."""
        sent = [op.request_id for op in batch.ops]
        success, failure, total = counts
        expect(Counter(answered) == Counter(sent), f"{batch.batch_id}: requestIDs sent {sent}, answered {answered}")
        expect(
            total == len(sent) and success + failure == total,
            f"{batch.batch_id}: RecordCount {success}/{failure}/{total} for {len(sent)} records sent",
        )
        want = "S0000" if failure == 0 else "S0020"
        expect(code == want, f"{batch.batch_id}: process {code} with {failure} failures; SEVIS answers {want}")

    def processed_batch(self, batch: QueuedBatch, results: dict[str, Result]) -> list[tuple[str, str, str]]:
        """Predict each request's outcome at today's date, compare it with ``results`` (the log's), then apply
        it. Returns (kind, action, "ok" or the code) per request; raises LifecycleMismatch at the first
        disagreement."""
        batch.results = results
        seen: set[str] = set()
        outcomes = []
        for op in batch.ops:
            ok, code, sevis_id, dependent_ids = results[op.request_id]
            person = op.person
            if op.action == "create":
                expected = self.create_codes(person, seen)
                seen.add(person.identity)
            else:
                expected = self.event_codes(op)
            what = f"{batch.batch_id} {person.kind} {op.action} {op.request_id} on {person.status} ({op})"
            if expected:
                expect(
                    not ok and code in expected, f"{what}: expected refusal {sorted(expected)}, got {code or 'success'}"
                )
                expect(not dependent_ids, f"{what}: a refused request reported dependents {dependent_ids}")
                outcomes.append((person.kind, op.action, str(code)))
                continue
            expect(ok, f"{what}: expected success, got {code}")
            outcomes.append((person.kind, op.action, "ok"))
            if op.action == "create":
                self._created(what, person, sevis_id, dependent_ids)
            else:
                expect(sevis_id == person.sevis_id, f"{what}: answered for SEVIS ID {sevis_id}")
                self._applied(what, op, dependent_ids)
        self.processed.append(batch)
        return outcomes

    def settle(self) -> None:
        """Every batch processed: the projections are the statuses."""
        for person in self.people:
            person.projected = person.status

    def _created(self, what: str, person: Person, sevis_id: str | None, dependent_ids: tuple) -> None:
        expect(
            sevis_id and len(dependent_ids) == int(person.with_dependent),
            f"{what}: SEVIS ID {sevis_id}, dependents {dependent_ids}; expected one SEVIS ID and "
            f"{int(person.with_dependent)} dependent(s)",
        )
        assert sevis_id is not None
        person.sevis_id, person.status, person.projected = sevis_id, "Initial", "Initial"
        person.dependents = {d: Dependent(d, sevis_id, SPOUSE) for d in dependent_ids}  # the fixtures' spouse
        self.people.append(person)
        self._logged(person, [sevis_id, *dependent_ids])

    def _logged(self, person: Person, new_ids: list[str]) -> None:
        self.sevis_ids.extend(new_ids)
        for dep_id in new_ids:
            if dep_id != person.sevis_id:
                self.logged_dependents[dep_id] = (person.kind, person.sevis_id or "")

    def _applied(self, what: str, op: Op, dependent_ids: tuple) -> None:
        person, kind = op.person, op.person.kind
        person.events += 1
        if op.action in PRINCIPAL_EVENTS[kind]:
            expect(not dependent_ids, f"{what}: a principal event reported dependents {dependent_ids}")
            move_principal(person, PRINCIPAL_EVENTS[kind][op.action], op.action == ACTIVATING[kind])
            if op.registration is not None and op.registration.us_address:
                person.us_address = True
        elif op.action == "Dependent/Add":
            expect(len(dependent_ids) == 1 and dependent_ids[0], f"{what}: reported dependents {dependent_ids}")
            person.dependents[dependent_ids[0]] = Dependent(
                dependent_ids[0], person.sevis_id or "", op.relationship or CHILD
            )
            self._logged(person, list(dependent_ids))
        else:
            expect(not dependent_ids, f"{what}: a dependent event reported dependents {dependent_ids}")
            after = DEPENDENT_EVENTS[kind][op.action]
            assert op.dependent_id is not None
            person.dependents[op.dependent_id].status = (person.status or "") if after is None else after

    # --- what the records API must hold ---
    def record_disagreement(self, person: Person, view: dict) -> str | None:
        """How the records API's record of ``person`` differs from the model (status, dependents, events)."""
        if view["status"] != person.status:
            return f"{person.sevis_id}: records API {view['status']}, model {person.status}"
        if dependents_of(view) != expected_dependents(person):
            return (
                f"{person.sevis_id}: records API dependents {dependents_of(view)}, model {expected_dependents(person)}"
            )
        applied = [h for h in view.get("history", []) if h["event"] != "Create"]
        if "history" in view and len(applied) != person.events:
            return f"{person.sevis_id}: {len(applied)} events applied, model {person.events}"
        return None

    def records_disagreement(self, kind: str, held: dict[str, dict]) -> str | None:
        """How the records API's records of one organization (``held``: SEVIS ID -> record, dependents
        included) differ from the model: every created record and dependent, no more, no fewer."""
        principals = {s: r for s, r in held.items() if r["principal_sevis_id"] is None}
        expected = {p.sevis_id: p for p in self.created(kind)}
        if set(principals) != set(expected):
            return f"{kind}: records API {sorted(principals)}, model {sorted(expected)}"  # type: ignore[type-var]
        for sevis_id, person in expected.items():
            view = {k: v for k, v in principals[sevis_id].items() if k != "history"}
            wrong = self.record_disagreement(person, view)
            if wrong:
                return wrong
        # Every dependent SEVIS ID a log reported is a dependent record of that log's principal.
        logged = {d: p for d, (k, p) in self.logged_dependents.items() if k == kind}
        dependents = {s: r for s, r in held.items() if r["principal_sevis_id"] is not None}
        if set(dependents) != set(logged):
            return f"{kind}: dependent records {sorted(dependents)}, dependents in the logs {sorted(logged)}"
        for dep_id, principal in logged.items():
            record = dependents[dep_id]
            if record["principal_sevis_id"] != principal or record["kind"] != kind:
                return (
                    f"dependent {dep_id}: principal {record['principal_sevis_id']} ({record['kind']}), "
                    f"the log reported it for {principal} ({kind})"
                )
        return None
