"""Stateful properties: random sequences of batches against a real sevis-mock, checked against a model.

:func:`lifecycle_machine` returns a Hypothesis ``RuleBasedStateMachine`` bound to a running
:class:`harness.pytest_plugin.MockServer` (start it with a long processing delay: the machine processes
with ``POST /control/process-now`` so that downloads before processing are part of the walk). Each
example begins with ``POST /control/reset`` and the mock clock at :data:`CLOCK`.

Steps: create students / exchange visitors (with or without a dependent), F/M duplicates (S1004),
update events (Registration, Validate, Status Cancel/Complete/Terminate/Invalid) on records in any
status, re-used batch IDs, schema-invalid uploads, downloads before and after processing and of batch IDs
never sent. The model tracks what SEVIS should hold: each record's status and its dependents'.

Checked at every step: every transaction log is valid against the TransLog schema given; a re-used
accepted batch ID is always S0010; RecordCount totals equal the records sent and success/failure add
up; every requestID is answered exactly once; SEVIS IDs are unique; each record's status (and its
dependents') equals the model and the records API; no accepted record is lost or applied twice (the
records API holds exactly the model's records, each with the model's number of applied events).
"""
from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from lxml import etree

from fixtures import read_fixture

CLOCK = "2027-01-20T09:00:00"  # [i] as fixtures/events/*.steps set it before their update batches
FM_PROGRAM_START = "2027-01-25"  # creates need a program start on or after today (S1010)
OPEN = ("Initial", "Active")
FM, J = "F/M", "J"

# kind -> (create fixture, root, create wrapper, update wrapper, principal tag, name path)
LAYOUT = {
    FM: ("fm/create-with-dependent.xml", "CreateStudent", "UpdateStudent", "Student", "PersonalInfo/FullName"),
    J: ("j/create-with-dependent-and-site.xml", "CreateEV", "UpdateEV", "ExchangeVisitor", "Biographical/FullName"),
}

# Update events: kind -> name -> (event XML, {status before: status after}). From any status not listed
# the event must fail and change nothing ([c] PROTOCOL: Registration/Validate activate an Initial record,
# Status events complete, terminate, cancel or invalidate; Complete needs an Active student, S1054).
EVENTS = {
    FM: {
        "Registration": (
            "<Registration printForm=\"false\"><LastSession>false</LastSession>"
            "<CurrentSessionStartDate>2027-01-25</CurrentSessionStartDate>"
            "<CurrentSessionEndDate>2027-05-07</CurrentSessionEndDate>"
            "<NextSessionStartDate>2027-08-23</NextSessionStartDate><Email>student@example.com</Email>"
            "<USAddress><Address1>305 Memorial Drive</Address1><City>Cambridge</City><State>MA</State>"
            "<PostalCode>02139</PostalCode></USAddress></Registration>",
            {"Initial": "Active"}),
        "Status/Cancel": (
            "<Status><Cancel><Reason>01</Reason><Remarks>Student chose another school</Remarks></Cancel></Status>",
            {"Initial": "Canceled"}),
        "Status/Complete": (
            "<Status><Complete><Remarks>Completed all degree requirements</Remarks></Complete></Status>",
            {"Active": "Completed"}),
        "Status/Terminate": (
            "<Status><Terminate><Reason>02</Reason><Remarks>Unauthorized withdrawal</Remarks></Terminate></Status>",
            {"Active": "Terminated"}),
    },
    J: {
        "Validate": (
            "<Validate><USAddress><Address1>2400 M Street NW</Address1><City>Washington</City><State>DC</State>"
            "<PostalCode>20037</PostalCode></USAddress><EmailAddress>visitor@example.org</EmailAddress></Validate>",
            {"Initial": "Active"}),
        "Status/Invalid": (
            "<Status><Invalid><Remarks>Created in error</Remarks></Invalid></Status>",
            {"Initial": "Invalid"}),
        "Status/Terminate": (
            "<Status><Terminate><Reason>OTHER</Reason><EffectiveDate>2027-01-20</EffectiveDate>"
            "<OtherRemarks>Left the program early</OtherRemarks></Terminate></Status>",
            {"Active": "Terminated"}),
    },
}
# Events whose outcome in some status is not pinned down by the protocol notes; never sent there.
UNSURE = {("Registration", "Active"), ("Status/Cancel", "Active"), ("Status/Terminate", "Initial"),
          ("Validate", "Active"), ("Status/Invalid", "Active")}


def letters(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 26)
        out += chr(ord("A") + r)
        if n == 0:
            return out


# --- the model ---------------------------------------------------------------------------------

@dataclass
class Person:
    kind: str
    identity: str  # the last-name suffix that makes the person unique (shared by a duplicate)
    request_id: str
    with_dependent: bool
    sevis_id: str | None = None
    status: str | None = None  # after the processed batches
    projected: str | None = None  # after the queued batches too
    dependents: dict[str, str] = field(default_factory=dict)  # sevis_id -> status
    events: int = 0  # events applied (processed)


@dataclass
class Op:
    person: Person
    request_id: str
    action: str  # "create" or an event name
    ok: bool
    after: str | None  # the status the record has after this op (None: unchanged)


@dataclass
class QueuedBatch:
    kind: str
    batch_id: str
    document: bytes
    ops: list[Op]
    results: dict | None = None  # requestID -> (ok, code, sevis_id) once processed


class Model:
    def __init__(self) -> None:
        self.people: list[Person] = []
        self.queued: list[QueuedBatch] = []
        self.processed: list[QueuedBatch] = []
        self.sevis_ids: list[str] = []

    def used_batch_ids(self) -> list[QueuedBatch]:
        return self.queued + self.processed

    def created(self, kind: str) -> list[Person]:
        return [p for p in self.people if p.kind == kind and p.sevis_id is not None]

    def open_identities(self, kind: str) -> set[str]:
        return {p.identity for p in self.people if p.kind == kind and p.projected in OPEN}


def event_outcome(kind: str, event: str, status: str) -> str | None:
    """The status after ``event`` from ``status``, or None when SEVIS refuses it."""
    return EVENTS[kind][event][1].get(status)


def sendable(kind: str, person: Person) -> list[str]:
    return [e for e in EVENTS[kind] if (e, person.projected) not in UNSURE]


# --- documents -------------------------------------------------------------------------------------

class Documents:
    """Batch documents built from the fixtures, with fresh names and request IDs."""

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
        if kind == FM:
            template = copy.deepcopy(template)
            template.find("EducationalInfo/PrgStartDate").text = FM_PROGRAM_START
        for person in people:
            element = copy.deepcopy(template)
            element.set("requestID", person.request_id)
            element.set("userID", self.user_ids[kind])
            element.set("printForm", "false")
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

    def update(self, kind: str, batch_id: str, ops: list[Op]) -> bytes:
        _, _, update_tag, tag, _ = LAYOUT[kind]
        root = self._skeleton(kind, batch_id)
        wrapper = etree.SubElement(root, update_tag)
        for op in ops:
            element = etree.SubElement(wrapper, tag, sevisID=op.person.sevis_id, requestID=op.request_id,
                                       userID=self.user_ids[kind])
            element.append(etree.fromstring(EVENTS[kind][op.action][0]))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def schema_invalid(self, kind: str, batch_id: str) -> bytes:
        root = self._skeleton(kind, batch_id)
        etree.SubElement(root, "NotASevisElement").text = "x"
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


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
        assert translog_schema.validate(doc.getroottree()), \
            f"transaction log invalid against the TransLog XSD: {translog_schema.error_log}\n{log.xml.decode()}"

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
            assert code == "S0000", f"upload of a valid batch {batch_id} answered {code}"
            self.model.queued.append(QueuedBatch(kind, batch_id, document, ops))

        @rule(kind=st.sampled_from([FM, J]), dependents=st.lists(st.booleans(), min_size=1, max_size=3))
        def create(self, kind, dependents):
            self._step()
            batch_id = fresh("LC")
            people, ops = [], []
            for n, with_dependent in enumerate(dependents):
                person = Person(kind, letters(counter[0] * 7 + n + 1000), f"{batch_id[-6:]}-{n}", with_dependent)
                person.projected = "Initial"
                people.append(person)
                ops.append(Op(person, person.request_id, "create", True, "Initial"))
            self._queue(kind, documents.create(kind, batch_id, people), batch_id, ops)
            self.model.people.extend(people)

        @precondition(lambda self: any(p.kind == FM for p in self.model.people))
        @rule(data=st.data())
        def create_again(self, data):
            """An F/M student sent again: S1004 while the first is Initial or Active, else a new record."""
            self._step()
            original = data.draw(st.sampled_from([p for p in self.model.people if p.kind == FM]))
            batch_id = fresh("LD")
            person = Person(FM, original.identity, f"{batch_id[-6:]}-0", original.with_dependent)
            duplicate = original.identity in self.model.open_identities(FM)
            person.projected = None if duplicate else "Initial"
            op = Op(person, person.request_id, "create", not duplicate, person.projected)
            self._queue(FM, documents.create(FM, batch_id, [person]), batch_id, [op])
            if not duplicate:
                self.model.people.append(person)
            else:
                self.model.queued[-1].ops[0].person = person  # tracked by its op only

        @precondition(lambda self: any(p.sevis_id for p in self.model.people))
        @rule(data=st.data())
        def update(self, data):
            self._step()
            kinds = sorted({p.kind for p in self.model.people if p.sevis_id})
            kind = data.draw(st.sampled_from(kinds))
            chosen = data.draw(st.lists(st.sampled_from(self.model.created(kind)), min_size=1, max_size=3))
            batch_id = fresh("LU")
            ops = []
            for n, person in enumerate(chosen):
                options = sendable(kind, person)
                if not options:
                    continue
                event = data.draw(st.sampled_from(options))
                after = event_outcome(kind, event, person.projected)
                ops.append(Op(person, f"{batch_id[-6:]}-{n}", event, after is not None, after))
                if after is not None:
                    person.projected = after
            if ops:
                self._queue(kind, documents.update(kind, batch_id, ops), batch_id, ops)

        # Creates and updates are the heart of the walk: a second rule each makes them drawn more often.
        more_creates = rule(kind=st.sampled_from([FM, J]),
                            dependents=st.lists(st.booleans(), min_size=1, max_size=3))(
            lambda self, kind, dependents: self.create(kind, dependents))
        more_updates = precondition(lambda self: any(p.sevis_id for p in self.model.people))(
            rule(data=st.data())(lambda self, data: self.update(data)))

        @precondition(lambda self: self.model.used_batch_ids())
        @rule(data=st.data())
        def reuse_batch_id(self, data):
            """A batch ID accepted before, queued or processed, is always S0010; nothing is queued."""
            self._step()
            used = data.draw(st.sampled_from(self.model.used_batch_ids()))
            assert self._upload(used.kind, used.batch_id, used.document) == "S0010"
            stats["upload S0010"] += 1

        @rule(kind=st.sampled_from([FM, J]))
        def upload_schema_invalid(self, kind):
            self._step()
            batch_id = fresh("LX")
            assert self._upload(kind, batch_id, documents.schema_invalid(kind, batch_id)) == "S0013"

        # --- downloads -------------------------------------------------------------------------
        def _download(self, kind: str, batch_id: str):
            org = orgs[kind]
            result = clients[kind].download(org_id=org.org_id, user_id=org.user_id, batch_id=batch_id)
            valid_log(result.log)
            return result

        @precondition(lambda self: self.model.queued)
        @rule(data=st.data())
        def download_before_processing(self, data):
            self._step()
            batch = data.draw(st.sampled_from(self.model.queued))
            result = self._download(batch.kind, batch.batch_id)
            assert result.code == "S0030" and result.log.process is None
            stats["download S0030"] += 1

        @precondition(lambda self: self.model.processed)
        @rule(kind=st.sampled_from([FM, J]))
        def download_never_sent(self, kind):
            self._step()
            assert self._download(kind, fresh("LN")).code == "S0031"
            stats["download S0031"] += 1

        @precondition(lambda self: self.model.processed)
        @rule(data=st.data())
        def download_again(self, data):
            """A processed batch downloads the same results every time (nothing applied twice)."""
            self._step()
            batch = data.draw(st.sampled_from(self.model.processed))
            assert self._results(batch) == batch.results
            stats["download again"] += 1

        # --- processing ------------------------------------------------------------------------
        @rule()
        def process(self):
            self._step()
            queued, self.model.queued = self.model.queued, []
            # process-now returns when every queued batch is processed; the server's own processor thread
            # may have applied some of them first, so the count it reports may be smaller.
            assert server.process_now() <= len(queued)
            for batch in queued:
                batch.results = self._results(batch)
                self._apply(batch)
                self.model.processed.append(batch)
            self._check_records(queued)

        def _results(self, batch: QueuedBatch) -> dict:
            result = self._download(batch.kind, batch.batch_id)
            assert result.code == "S0000", f"download of processed batch {batch.batch_id}: {result.code}"
            process = result.log.process
            sent = [op.request_id for op in batch.ops]
            answered = [r.request_id for r in process.records]
            assert Counter(answered) == Counter(sent), f"requestIDs sent {sent}, answered {answered}"
            outcome = {r.request_id: r.error_code or "ok" for r in process.records}
            assert process.total == len(sent) and process.success + process.failure == process.total, \
                f"RecordCount {process.success}/{process.failure}/{process.total} for {len(sent)} records sent"
            assert process.success == sum(op.ok for op in batch.ops), \
                f"{batch.batch_id}: expected {[(op.action, op.ok) for op in batch.ops]}, got {outcome}"
            assert process.code == ("S0000" if all(op.ok for op in batch.ops) else "S0020")
            return {r.request_id: (r.ok, r.error_code, r.sevis_id, tuple(d.sevis_id for d in r.dependents))
                    for r in process.records}

        def _apply(self, batch: QueuedBatch) -> None:
            for op in batch.ops:
                ok, code, sevis_id, dependent_ids = batch.results[op.request_id]
                assert ok == op.ok, f"{batch.batch_id} {op.action} {op.request_id}: expected " \
                                    f"{'success' if op.ok else 'failure'}, got {code or 'success'}"
                person = op.person
                stats[(person.kind, op.action, "ok" if ok else code)] += 1
                if op.action == "create":
                    if not ok:
                        assert code == "S1004", f"a duplicate student answered {code}"
                        continue
                    assert sevis_id and len(dependent_ids) == int(person.with_dependent)
                    person.sevis_id, person.status = sevis_id, "Initial"
                    person.dependents = {d: "Initial" for d in dependent_ids}
                    self.model.sevis_ids.extend([sevis_id, *dependent_ids])
                elif ok:
                    assert sevis_id == person.sevis_id
                    person.events += 1
                    if op.after != person.status:
                        person.dependents = {d: (op.after if s in OPEN else s) for d, s in person.dependents.items()}
                    person.status = op.after

        def _check_records(self, batches: list[QueuedBatch]) -> None:
            """Each record touched by these batches holds the model's status, dependents and events."""
            touched = {op.person.sevis_id: op.person for b in batches for op in b.ops if op.person.sevis_id}
            for sevis_id, person in touched.items():
                view = server.record(sevis_id)
                assert view["status"] == person.status, f"{sevis_id}: records API {view['status']}, model {person.status}"
                assert {d["sevis_id"]: d["status"] for d in view["dependents"]} == person.dependents
                applied = [h for h in view["history"] if h["event"] != "Create"]
                assert len(applied) == person.events, f"{sevis_id}: {len(applied)} events applied, model {person.events}"

        # --- invariants ------------------------------------------------------------------------
        @invariant()
        def sevis_ids_unique(self):
            assert len(set(self.model.sevis_ids)) == len(self.model.sevis_ids)

        @invariant()
        def records_api_equals_model(self):
            """Every created record (no more, no fewer) with the model's status, in the records API."""
            for kind, org in orgs.items():
                held = {r["sevis_id"]: r for r in server.records(org=org.org_id)}
                expected = {p.sevis_id: p for p in self.model.created(kind)}
                assert set(held) == set(expected), f"{kind}: records API {sorted(held)}, model {sorted(expected)}"
                for sevis_id, person in expected.items():
                    assert held[sevis_id]["status"] == person.status, \
                        f"{sevis_id}: records API {held[sevis_id]['status']}, model {person.status}"
                    assert {d["sevis_id"]: d["status"] for d in held[sevis_id]["dependents"]} == person.dependents

    SevisLifecycle.clients = clients
    SevisLifecycle.stats = stats
    return SevisLifecycle
