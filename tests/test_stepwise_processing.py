"""A batch is applied a few records per write transaction (sevis_mock.server.worker): the outcome is the same as in
one go, other writers get the lock between steps, and a processor that dies between steps loses nothing: another
goes on from the last committed step and every record is applied exactly once."""

from __future__ import annotations

import copy
import json
import threading
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Callable
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import func, select, text, update

from sevis_mock.fixtures import read_fixture
from sevis_mock.harness.lifecycle import letters
from sevis_mock.server.app import Mock
from sevis_mock.server import worker
from sevis_mock.server.batch.processing import BatchProcessor
from sevis_mock.server.catalog import INTERNAL_ERROR
from sevis_mock.server.clock import real_now
from sevis_mock.server.config import Settings
from sevis_mock.server.datadir import DataDir
from sevis_mock.server.forms import render_job
from sevis_mock.server.store import Batch, BatchForm, BatchProgress, PrintJob, Record
from sevis_mock.server.store import cache as row_cache
from tests.support.rows import add_batch

RECORDS = 30


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("stepwise"), processing_delay=0, fast_passwords=True)
    DataDir(settings).prepare()
    return settings


@pytest.fixture
def mock(seeded):
    m = Mock(seeded)
    m.render_pool = None  # forms drawn in this thread
    yield m
    m.store.engine.dispose()


def queue_batch(mock, batch_id: str, salt: int, records: int = RECORDS, print_form: bool = False) -> int:
    """A queued F/M batch of ``records`` new students (no forms unless ``print_form``), due now."""
    doc = etree.fromstring(read_fixture("fm/create-three-students.xml"))
    doc.find("BatchHeader/BatchID").text = batch_id
    create = doc.find("CreateStudent")
    template = create.find("Student")
    for student in create.findall("Student"):
        create.remove(student)
    for i in range(records):
        student = copy.deepcopy(template)
        student.set("requestID", f"S{salt}-{i:04d}")
        student.set("printForm", "true" if print_form else "false")
        student.find("PersonalInfo/FullName/LastName").text = f"STEP {letters(salt * 100 + i)}"
        create.append(student)
    now = mock.clock.now()
    with mock.store.write() as s:
        return add_batch(s, batch_id, now, document=etree.tostring(doc), state="queued").id


def killed_in_step(monkeypatch, step: int) -> Callable[[], None]:
    """Steps of 4 records, and a processor whose process is killed as step ``step`` begins (the steps before it
    committed); returns what puts the real processing back for the processor that takes over."""
    monkeypatch.setattr(worker, "STEP_RECORDS", 4)
    monkeypatch.setattr(worker, "STEP_SECONDS", 60)  # steps cut by count only
    real_apply = BatchProcessor.apply
    applied = []

    def dies(self, records):
        applied.append(1)
        if len(applied) == 4 * (step - 1) + 1:
            raise SystemExit("the processor's process was killed")
        return real_apply(self, records)

    monkeypatch.setattr(BatchProcessor, "apply", dies)
    return lambda: monkeypatch.setattr(BatchProcessor, "apply", real_apply)


def outcome(mock, pk: int) -> tuple[str, dict, int]:
    with mock.store.session() as s:
        batch = s.get(Batch, pk)
        created = s.scalar(select(func.count()).select_from(Record).where(Record.created_batch_pk == pk))
        return batch.state, json.loads(batch.results), created


def test_steps_commit_a_few_records_each_and_give_the_outcome_of_one_go(mock, monkeypatch):
    monkeypatch.setattr(worker, "STEP_RECORDS", 7)
    monkeypatch.setattr(worker, "STEP_SECONDS", 60)  # steps cut by count only: the test does not depend on speed
    steps = []
    real_apply = BatchProcessor.apply

    def counted(self, records):
        steps.append(self.session)
        return real_apply(self, records)

    monkeypatch.setattr(BatchProcessor, "apply", counted)
    pk = queue_batch(mock, "STEPWISE000001", 1)
    assert worker.process_due(mock) == 1
    state, result, created = outcome(mock, pk)
    assert state == "processed" and result["code"] == "S0000" and created == RECORDS
    assert [r["request_id"] for r in result["records"]] == [f"S1-{i:04d}" for i in range(RECORDS)]
    assert len({r["sevis_id"] for r in result["records"]}) == RECORDS
    assert len(set(map(id, steps))) >= RECORDS // 7  # one session (write transaction) per step


def test_a_processor_that_dies_between_steps_is_taken_over_and_each_record_applied_once(mock, monkeypatch):
    revive = killed_in_step(monkeypatch, 3)  # steps 1 and 2 (8 records) are committed, step 3 is not
    pk = queue_batch(mock, "STEPWISE000002", 2)
    with pytest.raises(SystemExit):
        worker.process_due(mock)
    with mock.store.session() as s:
        assert s.get(Batch, pk).state == "processing"
        assert s.get(BatchProgress, pk).applied == 8
        assert s.scalar(select(func.count()).select_from(Record).where(Record.created_batch_pk == pk)) == 8
    revive()
    assert worker.process_due(mock) == 0  # still under its lease: left alone
    with mock.store.write() as s:
        s.execute(update(BatchProgress).values(lease_until=real_now() - timedelta(seconds=1)))
    worker.process_due(mock)
    state, result, created = outcome(mock, pk)
    assert state == "processed" and created == RECORDS
    assert [r["request_id"] for r in result["records"]] == [f"S2-{i:04d}" for i in range(RECORDS)]
    assert len({r["sevis_id"] for r in result["records"]}) == RECORDS


def test_the_lease_is_the_servers_setting(mock, monkeypatch):
    """`serve --processing-lease 2`: a processor that dies mid-batch is taken over 2 s later, not 15."""
    monkeypatch.setattr(mock.settings, "processing_lease", 2.0)
    revive = killed_in_step(monkeypatch, 2)
    pk = queue_batch(mock, "STEPWISE000003", 3)
    start = real_now()
    with pytest.raises(SystemExit):
        worker.process_due(mock)
    with mock.store.session() as s:
        lease = s.get(BatchProgress, pk).lease_until
    lease = lease if lease.tzinfo else lease.replace(tzinfo=start.tzinfo)
    assert timedelta(seconds=1.5) < lease - start < timedelta(seconds=5)
    # taken over and finished here: left behind, its lease would run out during a later test of this module, whose
    # processor would go on with it first (and die in it instead of that test's own batch)
    revive()
    with mock.store.write() as s:
        s.execute(update(BatchProgress).values(lease_until=real_now() - timedelta(seconds=1)))
    worker.process_due(mock)
    assert outcome(mock, pk)[0] == "processed"


class DrawnAtOnce:
    """Form helpers that have drawn each form by the time it is sent (a quiet machine, a small batch)."""

    def submit(self, job: dict) -> Future:
        future: Future = Future()
        future.set_result(render_job(job))
        return future


class DrawnLate:
    """Form helpers that take longer than a step to draw a form."""

    def __init__(self) -> None:
        self.timers: list[threading.Timer] = []

    def submit(self, job: dict) -> Future:
        future: Future = Future()
        timer = threading.Timer(0.3, lambda: future.set_result(render_job(job)))
        timer.start()
        self.timers.append(timer)
        return future


def counting_writes(mock, monkeypatch) -> list[int]:
    """Count the store's write transactions from now on."""
    writes: list[int] = []
    real_write = mock.store.write

    @contextmanager
    def write(*args, **kwargs):
        writes.append(1)
        with real_write(*args, **kwargs) as session:
            yield session

    monkeypatch.setattr(mock.store, "write", write)
    return writes


def pdfs_and_leftovers(mock, pk: int) -> tuple[list[str], int, int]:
    with mock.store.session() as s:
        names = list(s.scalars(select(BatchForm.name).where(BatchForm.batch_pk == pk)))
        jobs = s.scalar(select(func.count()).select_from(PrintJob).where(PrintJob.batch_pk == pk))
        progress = s.scalar(select(func.count()).select_from(BatchProgress).where(BatchProgress.batch_pk == pk))
    return names, jobs, progress


def test_a_batch_applied_in_one_step_with_its_forms_drawn_in_time_commits_once(mock, monkeypatch):
    mock.render_pool = DrawnAtOnce()
    pk = queue_batch(mock, "STEPWISE000004", 4, records=1, print_form=True)
    writes = counting_writes(mock, monkeypatch)
    assert worker.process_due(mock) == 1
    state, result, created = outcome(mock, pk)
    assert state == "processed" and result["code"] == "S0000" and created == 1
    assert len(writes) == 1  # claim, record, outcome and PDF in one write transaction
    names, jobs, progress = pdfs_and_leftovers(mock, pk)
    assert names == [result["records"][0]["sevis_id"]] and jobs == 0 and progress == 0


def test_forms_not_drawn_within_the_step_are_stored_after_its_commit(mock, monkeypatch):
    late = DrawnLate()
    mock.render_pool = late
    records = worker.INLINE_RECORDS + 1  # a batch too large to draw its forms in the processor thread
    monkeypatch.setattr(worker, "STEP_SECONDS", 30.0)  # applied in one step, however loaded the machine,
    in_time = worker.drawn_in_time  # and the step's time is up once its records are applied (forms 0.3 s away)
    monkeypatch.setattr(worker, "drawn_in_time", lambda processor, drawing, _: in_time(processor, drawing, 0.0))
    pk = queue_batch(mock, "STEPWISE000005", 5, records=records, print_form=True)
    writes = counting_writes(mock, monkeypatch)
    assert worker.process_due(mock) == 1
    assert len(late.timers) == records  # every form was sent to the helpers
    for timer in late.timers:
        timer.join()
    state, result, created = outcome(mock, pk)
    assert state == "processed" and created == records
    assert len(writes) == 2  # the records (the batch "printing", S0030), then the PDFs once drawn
    names, jobs, progress = pdfs_and_leftovers(mock, pk)
    assert sorted(names) == sorted(r["sevis_id"] for r in result["records"]) and jobs == 0 and progress == 0


def test_a_small_batch_draws_its_forms_in_the_processor_thread_and_commits_once(mock, monkeypatch):
    """Up to INLINE_RECORDS records, the forms are drawn in the processor's own step: no helper is asked (one that
    would be slow, as at its lower priority on a busy machine, is not waited for) and the batch commits once."""
    late = DrawnLate()
    mock.render_pool = late
    monkeypatch.setattr(worker, "STEP_SECONDS", 30.0)  # applied in one step, however loaded the machine
    pk = queue_batch(mock, "STEPWISE000008", 8, records=worker.INLINE_RECORDS, print_form=True)
    writes = counting_writes(mock, monkeypatch)
    assert worker.process_due(mock) == 1
    assert late.timers == []
    state, result, created = outcome(mock, pk)
    assert state == "processed" and created == worker.INLINE_RECORDS and len(writes) == 1
    names, jobs, progress = pdfs_and_leftovers(mock, pk)
    assert sorted(names) == sorted(r["sevis_id"] for r in result["records"]) and jobs == 0 and progress == 0


def test_print_jobs_carried_across_steps_reach_the_processor_that_takes_over(mock, monkeypatch):
    """Each step adds a line to the progress row (its records' results and print jobs), not the whole batch's
    again; a processor that takes over merges the lines and draws every form, those of the dead one's steps too."""
    revive = killed_in_step(monkeypatch, 4)  # steps 1 to 3 (12 records) are committed
    pk = queue_batch(mock, "STEPWISE000006", 6, records=14, print_form=True)
    with pytest.raises(SystemExit):
        worker.process_due(mock)
    with mock.store.session() as s:
        row = s.get(BatchProgress, pk)
        lines = row.carried.split("\n")
        assert row.applied == 12 and len(lines) == 3 and len(row.results.split("\n")) == 3
        assert [len(json.loads(line)["forms"]) for line in lines] == [4, 4, 4]  # each step's own print jobs
    revive()
    with mock.store.write() as s:
        s.execute(update(BatchProgress).values(lease_until=real_now() - timedelta(seconds=1)))
    worker.process_due(mock)
    state, result, created = outcome(mock, pk)
    assert state == "processed" and created == 14
    assert [r["request_id"] for r in result["records"]] == [f"S6-{i:04d}" for i in range(14)]
    names, jobs, progress = pdfs_and_leftovers(mock, pk)
    assert sorted(names) == sorted(r["sevis_id"] for r in result["records"]) and jobs == 0 and progress == 0


def test_a_progress_row_of_one_line_is_read_as_before():
    """A row written whole (one JSON object, one JSON list) by an earlier version is still read."""
    from sevis_mock.server.batch.outcome import RecordOutcome, records_from_json, records_to_json
    from sevis_mock.server.batch.processing import merge_carried

    whole = {"seen_keys": [["A", "B", "2000-01-01", "FR", "F"]], "sites_numbered": 2, "forms": {"N1": {"x": 1}}}
    whole.update(plans={}, last_applied="2027-01-01T00:00:00")
    assert merge_carried(json.dumps(whole)) == whole
    records = [RecordOutcome(request_id="1", sevis_id="N0000000001"), RecordOutcome(request_id="2")]
    assert records_from_json(records_to_json(records)) == records
    assert records_from_json(records_to_json(records[:1]) + "\n" + records_to_json(records[1:])) == records


def test_only_the_steps_that_cannot_finish_a_batch_skip_the_flush_to_disk(mock, monkeypatch):
    """Steps with more records left than a step applies commit without flushing (a power loss takes the batch back
    to an earlier step, redone once its lease runs out); the claim and the steps that may finish it, whose outcome a
    download shows, are flushed."""
    monkeypatch.setattr(worker, "STEP_RECORDS", 7)
    monkeypatch.setattr(worker, "STEP_SECONDS", 60)
    levels: list[int] = []
    real_apply = BatchProcessor.apply

    def noted(self, records):
        levels.append(self.session.execute(text("PRAGMA synchronous")).scalar())
        return real_apply(self, records)

    monkeypatch.setattr(BatchProcessor, "apply", noted)
    pk = queue_batch(mock, "STEPWISE000007", 7)
    assert worker.process_due(mock) == 1
    state, _, created = outcome(mock, pk)
    assert state == "processed" and created == RECORDS
    steps = [levels[i] for i in range(0, RECORDS, 7)]  # 30 records in steps of 7: 30, 23, 16, 9 and 2 left
    assert steps == [2, 1, 1, 1, 2]  # FULL (2) for the claim and the last step, NORMAL (1) in between
    with mock.store.write() as s:  # the connection is back to FULL for everyone else
        assert s.execute(text("PRAGMA synchronous")).scalar() == 2


def test_small_due_batches_are_applied_together_in_one_write_transaction(mock, monkeypatch):
    """A step that finished its batch goes on with the next due ones while their records fit in it, each applied
    whole and exactly once (one commit for several); a batch that does not fit is left for a step of its own, and
    ``limit`` still bounds how many are applied."""
    monkeypatch.setattr(worker, "STEP_SECONDS", 60)  # steps cut by count only: the test does not depend on speed
    small = [queue_batch(mock, f"STEPWISE00010{i}", 100 + i, records=1) for i in range(4)]
    large = queue_batch(mock, "STEPWISE000110", 110, records=worker.STEP_RECORDS)  # more than is left after one
    writes = counting_writes(mock, monkeypatch)
    applied: list[int] = []
    assert worker.process_due(mock, limit=3, applied=applied) == 3
    assert applied == small[:3] and len(writes) == 1
    assert worker.process_due(mock, applied=applied) == 2
    assert applied == [*small, large] and len(writes) == 3  # the last small one, then the large one on its own
    for pk in small:
        state, result, created = outcome(mock, pk)
        assert state == "processed" and result["code"] == "S0000" and created == 1
    state, result, created = outcome(mock, large)
    assert state == "processed" and created == worker.STEP_RECORDS


@contextmanager
def another_writer_waiting(settings):
    """A writer of another process waiting for the store's write lock, as the store sees one: the file beside the
    lock file held shared (`Store.writers_waiting`), until the block ends."""
    import fcntl
    import os

    waiting = os.open(settings.data_dir / "sevis-mock.db.write-lock-waiting", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(waiting, fcntl.LOCK_SH)
        yield
    finally:
        os.close(waiting)  # its lock goes with it


def test_a_step_goes_on_with_no_next_batch_while_another_process_waits_for_the_write_lock(mock, seeded, monkeypatch):
    """While a writer of another process (an upload's group commit) waits for the write lock (it holds the file
    beside the lock file shared), a step that finished its batch commits and lets it go instead of going on with
    the next small ones: each is applied in a step of its own, once, all the same."""
    monkeypatch.setattr(worker, "STEP_SECONDS", 60)  # steps cut by count and by waiting writers only
    small = [queue_batch(mock, f"STEPWISE00020{i}", 200 + i, records=1) for i in range(3)]
    writes = counting_writes(mock, monkeypatch)
    applied: list[int] = []
    with another_writer_waiting(seeded):
        assert worker.process_due(mock, applied=applied) == 3
        assert applied == small and len(writes) == 3
    # it has had the lock: nobody waits now
    more = [queue_batch(mock, f"STEPWISE00021{i}", 210 + i, records=1) for i in range(3)]
    del writes[:]  # the three queued
    assert worker.process_due(mock, applied=applied) == 3
    assert applied == small + more and len(writes) == 1  # one step for the three
    for pk in small + more:
        state, result, created = outcome(mock, pk)
        assert state == "processed" and result["code"] == "S0000" and created == 1


def test_a_step_of_a_larger_batch_ends_after_its_first_record_while_another_process_waits(mock, seeded, monkeypatch):
    """A step applies one record at least; while a writer of another process waits for the write lock, it applies no
    more than that before it commits and lets the lock go. The batch's outcome is the same."""
    monkeypatch.setattr(worker, "STEP_SECONDS", 60)  # steps cut by count and by waiting writers only
    waited = queue_batch(mock, "STEPWISE000301", 301, records=5)
    alone = queue_batch(mock, "STEPWISE000302", 302, records=5)
    writes = counting_writes(mock, monkeypatch)
    with another_writer_waiting(seeded):
        assert worker.process_due(mock, limit=1) == 1
        assert len(writes) == 5  # a step per record
    assert worker.process_due(mock) == 1
    assert len(writes) == 6  # the five records in one step
    for pk in (waited, alone):
        state, result, created = outcome(mock, pk)
        assert state == "processed" and result["code"] == "S0000" and created == 5


def test_no_batch_of_an_organization_is_claimed_while_another_of_its_batches_is_between_steps(mock, monkeypatch):
    """[i] An organization's batches are applied one at a time, in order: while a batch stands between two steps
    (its processor stalled or died), its organization's next batch waits, even for another processor; once the
    first is taken over and finished, the next is applied."""
    revive = killed_in_step(monkeypatch, 2)  # the first step (4 records) is committed, then the processor dies
    first = queue_batch(mock, "STEPWISE000009", 9, records=6)
    second = queue_batch(mock, "STEPWISE000010", 10, records=1)
    with pytest.raises(SystemExit):
        worker.process_due(mock)
    revive()
    assert worker.process_due(mock, resume=False) == 0  # the lease has not run out: the second batch waits
    assert states(mock, first, second) == ["processing", "queued"]
    with mock.store.write() as s:
        s.execute(update(BatchProgress).values(lease_until=real_now() - timedelta(seconds=1)))
    worker.process_due(mock)
    assert states(mock, first, second) == ["processed", "processed"]
    assert outcome(mock, first)[2] == 6 and outcome(mock, second)[2] == 1


def states(mock, *pks: int) -> list[str]:
    with mock.store.session() as s:
        return [s.get(Batch, pk).state for pk in pks]


def test_a_batch_that_fails_after_another_in_their_transaction_costs_only_itself(mock, monkeypatch):
    """A mock bug in a batch applied after another in the same transaction rolls back that batch only: the one before
    it commits, and the failing one stays queued, claimed next on its own (where the failure is reported as usual)."""
    monkeypatch.setattr(worker, "STEP_SECONDS", 60)
    first = queue_batch(mock, "STEPWISE000120", 120, records=1)
    failing = queue_batch(mock, "STEPWISE000121", 121, records=1)
    real_finish = BatchProcessor.finish

    def finish(self, results, drawn=None):
        if self.batch.id == failing:
            raise RuntimeError("a mock bug")
        return real_finish(self, results, drawn)

    monkeypatch.setattr(BatchProcessor, "finish", finish)
    with pytest.raises(RuntimeError):
        worker.process_due(mock)
    assert outcome(mock, first)[:1] == ("processed",)
    with mock.store.session() as s:
        assert s.get(Batch, failing).state == "queued"
    monkeypatch.setattr(BatchProcessor, "finish", real_finish)
    assert worker.process_due(mock) == 1
    state, result, created = outcome(mock, failing)
    assert state == "processed" and created == 1


def test_a_create_that_fails_after_its_rows_were_written_takes_back_only_its_own(mock, monkeypatch):
    """A mock bug in a create after its record rows were inserted costs that record only (an internal error in the
    log): its rows and its SEVIS number's reservation are taken back, the records before and after it stand."""
    pk = queue_batch(mock, "STEPWISE000130", 130, records=3)
    real_addresses = BatchProcessor._addresses

    def addresses(self, result, element, sites=None):
        if element.get("requestID", "").endswith("0001"):
            raise RuntimeError("a mock bug after the INSERTs")
        return real_addresses(self, result, element, sites)

    monkeypatch.setattr(BatchProcessor, "_addresses", addresses)
    assert worker.process_due(mock) == 1
    state, results, created = outcome(mock, pk)
    assert state == "processed" and created == 2
    with mock.store.session() as s:
        stored = s.scalars(select(Record).where(Record.created_batch_pk == pk).order_by(Record.sevis_id)).all()
        assert [r.request_id for r in stored] == ["S130-0000", "S130-0002"]
        numbers = [int(r.sevis_id[1:]) for r in stored]
    assert numbers[1] == numbers[0] + 1  # the failed record's number was taken back with it
    codes = {r["request_id"]: (r["ok"], r.get("error_code")) for r in results["records"]}
    assert codes == {"S130-0000": (True, None), "S130-0001": (False, INTERNAL_ERROR), "S130-0002": (True, None)}


def test_a_create_leaves_nothing_pending_in_the_session(mock, monkeypatch):
    """A create's savepoint is the driver's own, which takes back statements, not the session's objects: a create
    must write through Core statements only. Checked after each create of batches with forms and a dependent
    (should one ever add an object to the session, it would outlive a rollback of its record)."""
    pending: list[tuple] = []
    real_create = BatchProcessor._create

    def create(self, element, base):
        result = real_create(self, element, base)
        session = self.session
        pending.append((list(session.new), list(session.dirty), list(session.deleted)))
        return result

    monkeypatch.setattr(BatchProcessor, "_create", create)
    pks = [queue_batch(mock, "STEPWISE000140", 140, records=3, print_form=True)]
    doc = etree.fromstring(read_fixture("fm/create-with-dependent.xml"))  # a dependent too
    doc.find("BatchHeader/BatchID").text = "STEPWISE000141"
    for n, surname in enumerate(doc.iter("LastName")):
        surname.text = f"PENDING {letters(141_00 + n)}"
    with mock.store.write() as s:
        pks.append(add_batch(s, "STEPWISE000141", mock.clock.now(), document=etree.tostring(doc), state="queued").id)
    assert worker.process_due(mock) == len(pks)
    assert all(outcome(mock, pk)[2] >= 2 for pk in pks)  # created: the path that writes was taken
    assert len(pending) == 4 and all(p == ([], [], []) for p in pending)


@pytest.mark.parametrize("records", [1, 3], ids=["forms-stored", "print-job"])
def test_a_batch_that_fails_after_its_forms_were_added_leaves_none_of_them(mock, monkeypatch, records):
    """A batch applied after another in the same transaction that fails once `finish` added its forms (one record:
    drawn and stored at once) or its print job (three) leaves no row of them: it stays queued, and applied on its
    own later it has its records and forms once."""
    monkeypatch.setattr(worker, "STEP_SECONDS", 60)
    salt = 150 + records
    first = queue_batch(mock, f"STEPWISE000{salt}", salt, records=1)
    failing = queue_batch(mock, f"STEPWISE00{salt}9", salt * 10, records=records, print_form=True)
    real_finish = BatchProcessor.finish

    def finish(self, results, drawn=None):
        outcome_ = real_finish(self, results, drawn)
        if self.batch.id == failing:
            raise RuntimeError("a mock bug after the forms")
        return outcome_

    monkeypatch.setattr(BatchProcessor, "finish", finish)
    with pytest.raises(RuntimeError):
        worker.process_due(mock)
    assert outcome(mock, first)[0] == "processed"
    with mock.store.session() as s:
        assert s.get(Batch, failing).state == "queued"
        assert s.scalar(select(func.count()).select_from(BatchForm).where(BatchForm.batch_pk == failing)) == 0
        assert s.scalar(select(func.count()).select_from(PrintJob).where(PrintJob.batch_pk == failing)) == 0
    monkeypatch.setattr(BatchProcessor, "finish", real_finish)
    assert worker.process_due(mock) == 1
    state, _, created = outcome(mock, failing)
    assert state == "processed" and created == records
    with mock.store.session() as s:
        assert s.scalar(select(func.count()).select_from(BatchForm).where(BatchForm.batch_pk == failing)) == records


def test_a_claim_reads_the_mock_clock_as_it_stands_once_it_holds_the_write_lock(seeded):
    """A processor's round reads the clock as it begins. Set back meanwhile by another server process (a rehearsal
    starting over), the clock the claim goes by is the one in the database now: a batch due tomorrow on it is not
    applied because the round began 45 days ahead (under load a procedure-machine walk saw process-now find one of
    its two queued batches already processed)."""
    processor, other = Mock(seeded), Mock(seeded)  # two server processes' views of one store
    processor.render_pool = None
    row_cache._caches.discard(processor.cache)  # not told by this process's changes: it reads the generation
    pk = None
    try:
        other.clock.advance(timedelta(days=45))
        processor.cache.refresh()  # the round begins: the clock 45 days ahead, kept for the round
        assert processor.clock.now() > real_now() + timedelta(days=44)
        other.clock.set(real_now())  # set back by the other process
        pk = queue_batch(other, "CLOCKBACK00001", salt=77, records=1)
        with other.store.write() as s:
            s.execute(update(Batch).where(Batch.id == pk).values(due_at=other.clock.now() + timedelta(days=1)))
        assert worker.apply_batch(processor) is None  # nothing due on the clock as it stands
        with other.store.session() as s:
            assert s.get(Batch, pk).state == "queued"
    finally:
        with other.store.write() as s:
            if pk is not None:
                s.execute(text("DELETE FROM batches WHERE id = :pk"), {"pk": pk})
        other.clock.set(real_now())
        for m in (processor, other):
            m.store.engine.dispose()
