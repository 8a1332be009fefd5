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

The machine is thin: what SEVIS should hold and answer is :mod:`sevis_mock.harness.lifecycle_model` (plain
data, tested without a server), the XML each step sends is :mod:`sevis_mock.harness.documents`; the machine
draws the steps, sends them and compares the mock's answers with the model.

Checked at every step: every transaction log is valid against the TransLog schema given; a re-used
accepted batch ID is always S0010; RecordCount totals equal the records sent and success/failure add
up; every requestID is answered exactly once; SEVIS IDs (principals and dependents) are unique; each
record's status and its dependents' equal the model and the records API; every dependent SEVIS ID a log
reported is a dependent record of that log's principal in the records API, and the records API holds no
other dependents; no accepted record is lost or applied twice (exactly the model's records, each with the
model's number of applied events).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from hypothesis import event as hypothesis_event
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from lxml import etree

from .documents import RecordDocuments, letters
from .lifecycle_model import (
    CHILD,
    CLOCK,
    DEPENDENT_EVENTS,
    FM,
    J,
    MAX_ADVANCE_DAYS,
    PRINCIPAL_CHOICES,
    REGISTRATION_FLAWS,
    SPOUSE,
    START_OFFSETS,
    LifecycleMismatch,
    Model,
    Op,
    Person,
    QueuedBatch,
    expect,
)

__all__ = ["MAX_ADVANCE_DAYS", "LifecycleMismatch", "SevisLifecycle", "letters", "lifecycle_machine", "summary"]

MOSTLY = st.sampled_from([True, True, True, False])  # three times in four


class SevisLifecycle(RuleBasedStateMachine):
    """Bound to a server by :func:`lifecycle_machine` (class attributes below); see the module docstring."""

    server: Any  # a MockServer
    orgs: dict[str, Any]
    clients: dict[str, Any]
    documents: RecordDocuments
    translog_schema: etree.XMLSchema
    stats: Counter
    on_step: Callable[[], None] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.server.set_clock(CLOCK)
        self.server.reset(keep_clock=True)  # seeded officials log in at CLOCK (inactive after 45 days: S0003)
        self.model = Model()

    def _step(self) -> None:
        if self.on_step is not None:
            self.on_step()

    def _count(self, kind: str, action: str, outcome: str) -> None:
        self.stats[(kind, action, outcome)] += 1
        hypothesis_event(f"{kind} {action}: {outcome}")

    # --- talking to the mock -------------------------------------------------------------------
    def _valid_log(self, log) -> None:
        doc = etree.fromstring(log.xml)
        expect(
            self.translog_schema.validate(doc.getroottree()),
            f"transaction log invalid against the TransLog XSD: {self.translog_schema.error_log}\n{log.xml.decode()}",
        )

    def _upload(self, kind: str, batch_id: str, document: bytes) -> str:
        org = self.orgs[kind]
        result = self.clients[kind].upload(document, org_id=org.org_id, user_id=org.user_id, batch_id=batch_id)
        self._valid_log(result.log)
        return result.code

    def _download(self, kind: str, batch_id: str):
        org = self.orgs[kind]
        result = self.clients[kind].download(org_id=org.org_id, user_id=org.user_id, batch_id=batch_id)
        self._valid_log(result.log)
        return result

    def _queue(self, kind: str, batch_id: str, document: bytes, ops: list[Op]) -> None:
        code = self._upload(kind, batch_id, document)
        expect(code == "S0000", f"upload of a valid batch {batch_id} answered {code}; SEVIS answers S0000")
        self.model.queued.append(QueuedBatch(kind, batch_id, document, ops))
        note(f"queued {batch_id}: {[(op.action, op.person.sevis_id or op.person.identity) for op in ops]}")

    # --- creates --------------------------------------------------------------------------------
    @initialize(data=st.data())
    def enrolled(self, data):
        """Every walk starts with records to act on: students and visitors created and processed."""
        for kind in (FM, J):
            self._create(kind, [True, False, True], data)
        self._process()

    @rule(kind=st.sampled_from([FM, J]), dependents=st.lists(st.booleans(), min_size=1, max_size=2), data=st.data())
    def create(self, kind, dependents, data):
        self._step()
        self._create(kind, dependents, data)

    def _create(self, kind: str, dependents: list[bool], data) -> None:
        batch_id = self.model.fresh("LC")
        offsets = [data.draw(st.sampled_from(START_OFFSETS[kind]), label="program start offset") for _ in dependents]
        ops = self.model.new_people(kind, batch_id, dependents, offsets)
        self._queue(kind, batch_id, self.documents.create(kind, batch_id, [op.person for op in ops]), ops)

    @precondition(lambda self: self.model.people)
    @rule(data=st.data())
    def create_again(self, data):
        """A person sent again: S1004 / S2141 while the first is Initial or Active (or was sent earlier in
        the same batch), else a new record."""
        self._step()
        original = data.draw(st.sampled_from(self.model.people))
        copies = data.draw(st.sampled_from([1, 1, 2]), label="copies in the batch")
        batch_id = self.model.fresh("LD")
        ops = self.model.copies(original, batch_id, copies)
        self._queue(
            original.kind, batch_id, self.documents.create(original.kind, batch_id, [o.person for o in ops]), ops
        )

    # --- updates ----------------------------------------------------------------------------------
    @precondition(lambda self: self.model.people)
    @rule(data=st.data())
    def update(self, data):
        self._step()
        m = self.model
        kind = data.draw(st.sampled_from(sorted({p.kind for p in m.people})))
        people = m.created(kind)
        in_use = [p for p in people if p.projected in ("Initial", "Active")]
        # Mostly records still in use (so they go on to be activated and ended); any record otherwise.
        pool = in_use if in_use and data.draw(MOSTLY, label="records in use?") else people
        picked = data.draw(
            st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=4, unique=True), label="records"
        )
        chosen = [pool[i] for i in picked]
        if not data.draw(MOSTLY, label="each record once?"):
            chosen.append(chosen[0])  # two events for one record in one batch, applied in order
        batch_id = m.fresh("LU")
        ops = [op for n, p in enumerate(chosen) if (op := self._draw_event(data, p, f"{batch_id[-6:]}-{n}"))]
        if ops:
            self._queue(kind, batch_id, self.documents.update(kind, batch_id, ops, m.today), ops)

    # Updates are the heart of the walk: more rules for them make them drawn more often, and keep them in the
    # walk when Hypothesis's swarm testing leaves some rules out.
    more_updates = precondition(lambda self: self.model.people)(
        rule(data=st.data())(lambda self, data: self.update(data))
    )
    even_more_updates = precondition(lambda self: self.model.people)(
        rule(data=st.data())(lambda self, data: self.update(data))
    )

    def _draw_event(self, data, person: Person, request_id: str) -> Op | None:
        if not data.draw(MOSTLY, label="principal event?"):
            return self._draw_dependent_event(data, person, request_id)
        allowed = self.model.allowed_events(person)
        steer = data.draw(MOSTLY, label="steer to an allowed event?")
        choices = allowed if allowed and steer else PRINCIPAL_CHOICES[person.kind]
        action = data.draw(st.sampled_from(choices), label="event")
        flaw = (
            data.draw(st.sampled_from(REGISTRATION_FLAWS), label="registration flaw")
            if action == "Registration"
            else ""
        )
        return self.model.principal_op(person, request_id, action, flaw)

    def _draw_dependent_event(self, data, person: Person, request_id: str) -> Op | None:
        own = sorted(person.dependents)
        action = data.draw(st.sampled_from(sorted(DEPENDENT_EVENTS[person.kind])), label="dependent event")
        if not own and data.draw(MOSTLY, label="add one first?"):
            action = "Dependent/Add"
        if action == "Dependent/Add":
            relationship = data.draw(st.sampled_from([CHILD, CHILD, SPOUSE]), label="relationship")
            return Op(person, request_id, action, relationship=relationship)
        others = self.model.others_dependents(person)
        if not own and not others:
            return None
        # Mostly one of the principal's own dependents; sometimes another principal's (S1113 / S2232).
        pool = own if own and (not others or data.draw(MOSTLY, label="own dependent?")) else others
        return Op(person, request_id, action, dependent_id=data.draw(st.sampled_from(pool), label="dependent"))

    # --- time -------------------------------------------------------------------------------------
    @precondition(lambda self: self.model.advanced < MAX_ADVANCE_DAYS)
    @rule(days=st.sampled_from([1, 5, 12]))
    def days_pass(self, days):
        """The mock clock moves on (queued batches are processed at the later date)."""
        self._step()
        days = self.model.days_pass(days)
        self.server.advance_clock(days * 86400)
        self.stats["days passed"] += days
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
        code = self._upload(used.kind, used.batch_id, used.document)
        expect(code == "S0010", f"re-used batch ID {used.batch_id} answered {code}; SEVIS answers S0010")
        self.stats["upload S0010"] += 1

    def _upload_schema_invalid(self, data) -> None:
        kind = data.draw(st.sampled_from([FM, J]), label="kind")
        batch_id = self.model.fresh("LX")
        code = self._upload(kind, batch_id, self.documents.schema_invalid(kind, batch_id))
        expect(code == "S0013", f"schema-invalid {kind} batch {batch_id} answered {code}; SEVIS answers S0013")
        self.stats["upload S0013"] += 1

    def _download_before_processing(self, data) -> None:
        batch = data.draw(st.sampled_from(self.model.queued), label="batch")
        result = self._download(batch.kind, batch.batch_id)
        expect(
            result.code == "S0030" and result.log.process is None,
            f"download of queued batch {batch.batch_id} answered {result.code}; SEVIS answers S0030 (not processed)",
        )
        self.stats["download S0030"] += 1

    def _download_never_sent(self, data) -> None:
        kind = data.draw(st.sampled_from([FM, J]), label="kind")
        batch_id = self.model.fresh("LN")
        code = self._download(kind, batch_id).code
        expect(code == "S0031", f"download of never-sent batch {batch_id} answered {code}; SEVIS answers S0031")
        self.stats["download S0031"] += 1

    def _download_again(self, data) -> None:
        """A processed batch downloads the same results every time (nothing applied twice)."""
        batch = data.draw(st.sampled_from(self.model.processed), label="batch")
        again = self._results(batch)
        expect(
            again == batch.results,
            f"download again of {batch.batch_id}: results {again}, first download {batch.results}: applied twice?",
        )
        self.stats["download again"] += 1

    # --- processing -------------------------------------------------------------------------------
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
        processed = self.server.process_now()
        expect(processed <= len(queued), f"process-now processed {processed} batches; only {len(queued)} were queued")
        for batch in queued:
            for outcome in self.model.processed_batch(batch, self._results(batch)):
                self._count(*outcome)
            note(f"processed {batch.batch_id}: {batch.results}")
        self._check_records(queued)
        self.model.settle()

    def _results(self, batch: QueuedBatch) -> dict:
        result = self._download(batch.kind, batch.batch_id)
        expect(result.code == "S0000", f"download of processed batch {batch.batch_id}: {result.code}; SEVIS: S0000")
        process = result.log.process
        self.model.check_counts(
            batch,
            [r.request_id for r in process.records],
            (process.success, process.failure, process.total),
            process.code,
        )
        return {
            r.request_id: (r.ok, r.error_code, r.sevis_id, tuple(d.sevis_id for d in r.dependents))
            for r in process.records
        }

    def _check_records(self, batches: list[QueuedBatch]) -> None:
        """Each record touched by these batches holds the model's status, dependents and events."""
        touched = {op.person.sevis_id: op.person for b in batches for op in b.ops if op.person.sevis_id}
        for sevis_id, person in touched.items():
            wrong = self.model.record_disagreement(person, self.server.record(sevis_id))
            expect(wrong is None, f"after processing {[b.batch_id for b in batches]}: {wrong}")

    # --- invariants -------------------------------------------------------------------------------
    @invariant()
    def sevis_ids_unique(self):
        ids = self.model.sevis_ids
        expect(
            len(set(ids)) == len(ids), f"SEVIS IDs given twice: {sorted(i for i, n in Counter(ids).items() if n > 1)}"
        )

    @invariant()
    def records_api_equals_model(self):
        """Every created record and dependent (no more, no fewer) as the model and the logs have them."""
        for kind, org in self.orgs.items():
            held = {
                r["sevis_id"]: r for r in self.server.records(org=org.org_id, principals_only="false", limit="5000")
            }
            wrong = self.model.records_disagreement(kind, held)
            expect(wrong is None, wrong or "")


def lifecycle_machine(server, translog_schema: etree.XMLSchema, *, on_step: Callable[[], None] | None = None):
    """A RuleBasedStateMachine class driving ``server``; every log is checked against ``translog_schema``."""
    orgs = {kind: server.org(kind) for kind in (FM, J)}

    class Bound(SevisLifecycle):
        pass

    Bound.server, Bound.orgs, Bound.translog_schema = server, orgs, translog_schema
    Bound.clients = {kind: server.client(orgs[kind]) for kind in (FM, J)}
    Bound.documents = RecordDocuments({k: o.org_id for k, o in orgs.items()}, {k: o.user_id for k, o in orgs.items()})
    Bound.stats = Counter()  # what the walks exercised: (kind, action, outcome) and the dispositions seen
    Bound.on_step = staticmethod(on_step) if on_step is not None else None  # type: ignore[assignment]
    Bound.__name__ = Bound.__qualname__ = "SevisLifecycle"
    return Bound


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
