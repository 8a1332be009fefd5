"""The lifecycle machine's model and documents without a server: predictions, application of a batch's results,
the records comparison, and every update document valid against the project's schemas."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from sevis_mock.harness.documents import ROOTS, RecordDocuments
from sevis_mock.harness.lifecycle_model import (
    CHILD,
    DEPENDENT_EVENTS,
    FM,
    J,
    PRINCIPAL_EVENTS,
    REGISTRATION_FLAWS,
    SPOUSE,
    TODAY,
    LifecycleMismatch,
    Model,
    Op,
    QueuedBatch,
    registration,
    registration_codes,
)
from sevis_mock.schemas import schema_for_root

SCHEMAS = {kind: etree.XMLSchema(etree.parse(str(schema_for_root(root)))) for kind, root in ROOTS.items()}
DOCUMENTS = RecordDocuments({FM: "MCK214F00001000", J: "P-1-00001"}, {FM: "MCKPDSO001", J: "MCKRO00001"})


def created(model: Model, kind: str, with_dependent: bool = True, offset: int = 10):
    """One person created and processed (the mock's answer: SEVIS ID N0000000001, dependent N0000000002)."""
    batch_id = model.fresh("LC")
    ops = model.new_people(kind, batch_id, [with_dependent], [offset])
    n = len(model.sevis_ids)
    deps = (f"N{n + 2:010d}",) if with_dependent else ()
    model.processed_batch(
        QueuedBatch(kind, batch_id, b"", ops), {ops[0].request_id: (True, None, f"N{n + 1:010d}", deps)}
    )
    return ops[0].person


def process(model: Model, op: Op, ok: bool, code: str | None = None, deps: tuple = ()):
    batch = QueuedBatch(op.person.kind, model.fresh("LU"), b"", [op])
    return model.processed_batch(batch, {op.request_id: (ok, code, op.person.sevis_id, deps)})


def test_a_create_then_activation_and_completion_move_the_principal_and_its_dependent():
    m = Model()
    person = created(m, FM)
    assert person.status == "Initial" and [d.status for d in person.dependents.values()] == ["Initial"]
    assert process(m, m.principal_op(person, "R1", "Registration"), True) == [(FM, "Registration", "ok")]
    assert person.status == "Active" and [d.status for d in person.dependents.values()] == ["Active"]
    process(m, m.principal_op(person, "R2", "Status/Complete"), True)
    assert person.status == "Completed" and [d.status for d in person.dependents.values()] == ["Completed"]
    assert person.events == 2


def test_an_event_the_status_forbids_is_predicted_refused_and_a_success_there_is_reported():
    m = Model()
    person = created(m, FM)
    op = m.principal_op(person, "R1", "Status/Complete")  # Initial: S1054 active only
    assert m.event_codes(op) == {"S1054"}
    with pytest.raises(LifecycleMismatch, match=r"Status/Complete .*expected refusal \['S1054'\], got success"):
        process(m, op, True)


def test_a_refused_request_leaves_the_record_as_it_was():
    m = Model()
    person = created(m, J, offset=90)  # validation opens 30 days before the program start
    op = m.principal_op(person, "R1", "Validate")
    assert m.event_codes(op) == {"S2284"}
    assert process(m, op, False, "S2284") == [(J, "Validate", "S2284")]
    assert person.status == "Initial" and person.events == 0


def test_a_duplicate_in_one_batch_and_of_a_record_in_use():
    m = Model()
    original = created(m, FM)
    ops = m.copies(original, m.fresh("LD"), 2)
    assert m.create_codes(ops[0].person, set()) == {"S1004"}  # the first is Initial
    assert m.create_codes(ops[1].person, {original.identity}) == {"S1004"}
    process(m, m.principal_op(original, "R1", "Registration"), True)
    process(m, m.principal_op(original, "R2", "Status/Terminate"), True)
    assert m.create_codes(m.copies(original, m.fresh("LD"), 1)[0].person, set()) == set()


def test_dependent_events_name_their_codes():
    m = Model()
    one, other = created(m, FM), created(m, FM)
    dep = next(iter(one.dependents))
    assert m.event_codes(Op(one, "R1", "Dependent/Cancel", dependent_id=next(iter(other.dependents)))) == {"S1113"}
    assert m.event_codes(Op(one, "R2", "Dependent/Add", relationship=SPOUSE)) == {"S1006"}
    assert m.event_codes(Op(one, "R3", "Dependent/Add", relationship=CHILD)) == set()
    process(m, Op(one, "R4", "Dependent/Terminate", dependent_id=dep), True)
    assert one.dependents[dep].status == "Terminated"
    assert m.event_codes(Op(one, "R5", "Dependent/Terminate", dependent_id=dep)) == {"S1107"}
    assert m.event_codes(Op(one, "R6", "Dependent/Cancel", dependent_id=dep)) == {"S1093"}
    process(m, Op(one, "R7", "Dependent/Add", relationship=SPOUSE), True, deps=("N0000000099",))
    assert one.dependents["N0000000099"].relationship == SPOUSE and "N0000000099" in m.logged_dependents


def test_the_log_must_answer_each_request_once_with_counts_that_add_up():
    m = Model()
    ops = m.new_people(FM, "LC000000000001", [True, False], [10, 10])
    batch = QueuedBatch(FM, "LC000000000001", b"", ops)
    m.check_counts(batch, [op.request_id for op in ops], (2, 0, 2), "S0000")
    with pytest.raises(LifecycleMismatch, match="answered"):
        m.check_counts(batch, [ops[0].request_id] * 2, (2, 0, 2), "S0000")
    with pytest.raises(LifecycleMismatch, match="RecordCount 1/0/2"):
        m.check_counts(batch, [op.request_id for op in ops], (1, 0, 2), "S0000")
    with pytest.raises(LifecycleMismatch, match="SEVIS answers S0020"):
        m.check_counts(batch, [op.request_id for op in ops], (1, 1, 2), "S0000")


def test_the_records_comparison_finds_a_lost_record_a_wrong_status_and_a_stray_dependent():
    m = Model()
    person = created(m, FM)
    dep = next(iter(person.dependents))
    principal = {"sevis_id": person.sevis_id, "principal_sevis_id": None, "status": "Initial", "kind": FM}
    principal["dependents"] = [{"sevis_id": dep, "status": "Initial", "relationship": SPOUSE}]
    dependent = {"sevis_id": dep, "principal_sevis_id": person.sevis_id, "kind": FM}
    held = {person.sevis_id: principal, dep: dependent}
    assert m.records_disagreement(FM, held) is None
    assert "model" in m.records_disagreement(FM, {dep: dependent})
    assert "records API Active, model Initial" in m.records_disagreement(
        FM, {**held, person.sevis_id: {**principal, "status": "Active"}}
    )
    stray = {"sevis_id": "N0000000077", "principal_sevis_id": person.sevis_id, "kind": FM}
    assert "dependents in the logs" in m.records_disagreement(FM, {**held, "N0000000077": stray})
    with_history = {**principal, "history": [{"event": "Create"}, {"event": "Registration"}]}
    assert "1 events applied, model 0" in m.record_disagreement(person, with_history)


@given(
    offset=st.sampled_from([0, 7, 21, 45, 60, -3]), days=st.integers(0, 40), flaw=st.sampled_from(REGISTRATION_FLAWS)
)
def test_a_registration_breaks_exactly_the_rule_it_was_drawn_to_break(offset, days, flaw):
    m = Model()
    person = m.new_person(FM, "A", "R", True, offset)
    today = TODAY + timedelta(days=days)
    codes = registration_codes(registration(person, today, flaw), person, today)
    if flaw == "S1032" and not person.program_start < today - timedelta(days=1):
        flaw = ""  # no session can have ended yet: the generator sends a valid one
    assert codes == ({flaw} if flaw else set())


EVENTS = [(kind, action) for kind in (FM, J) for action in [*PRINCIPAL_EVENTS[kind], *DEPENDENT_EVENTS[kind]]]


@given(
    event=st.sampled_from(EVENTS),
    relationship=st.sampled_from([SPOUSE, CHILD]),
    flaw=st.sampled_from(REGISTRATION_FLAWS),
    days=st.integers(0, 40),
)
def test_every_document_the_walk_sends_is_valid_against_the_schema(event, relationship, flaw, days):
    """What the machine uploads as valid is valid: a refusal in a walk is then about the rules, never the XML."""
    kind, action = event
    m = Model()
    person = created(m, kind)
    if action.startswith("Dependent/"):
        op = Op(person, "R1", action, relationship=relationship, dependent_id=next(iter(person.dependents)))
    else:
        op = m.principal_op(person, "R1", action, flaw)
    today = date(2027, 1, 20) + timedelta(days=days)
    for xml in (
        DOCUMENTS.create(kind, "LC000000000001", [person]),
        DOCUMENTS.update(kind, "LU000000000001", [op], today),
    ):
        schema = SCHEMAS[kind]
        assert schema.validate(etree.fromstring(xml)), f"{kind} {action}: {schema.error_log}"
    assert not SCHEMAS[kind].validate(etree.fromstring(DOCUMENTS.schema_invalid(kind, "LX000000000001")))


def test_batch_ids_are_fresh_and_fourteen_characters():
    m = Model()
    ids = [m.fresh(prefix) for prefix in ("LC", "LU", "LD", "LX", "LN") * 20]
    assert len(set(ids)) == len(ids) and {len(i) for i in ids} == {14}
