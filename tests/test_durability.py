"""State survives restarts; every batch is processed exactly once, with several workers and across restarts."""

from __future__ import annotations

import json
import multiprocessing

import pytest
from sqlalchemy import func, select

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.store import Batch, Record, RecordEvent
from tests.support.server import new_batch_id, open_store, with_batch_id


@pytest.mark.slow
def test_restart_keeps_orgs_batches_records_and_queued_work(server_factory, tmp_path, backend):
    data_dir = tmp_path / "keep"
    database = backend.serve_args(data_dir)  # the same database across the restarts
    first = server_factory("--processing-delay", "0", *database, data_dir=data_dir)
    fm = first.org("F/M")
    done_id, queued_id = new_batch_id("P"), new_batch_id("Q")
    first.upload(with_batch_id(read_fixture("fm/create-with-dependent.xml"), done_id), org=fm, batch_id=done_id)
    before = first.wait_processed(org=fm, batch_id=done_id)
    assert before.process_code == "S0000"
    first.stop()

    # a batch accepted just before a stop is processed after the restart
    second = server_factory("--processing-delay", "2", *database, data_dir=data_dir)
    assert second.org("F/M")["client_cert"] == fm["client_cert"]  # same certificates, still registered
    second.upload(with_batch_id(read_fixture("fm/create-three-students.xml"), queued_id), org=fm, batch_id=queued_id)
    second.stop()

    third = server_factory("--processing-delay", "2", *database, data_dir=data_dir)
    after = third.download(org=fm, batch_id=done_id)
    assert after.raw.replace(b'<Download resultCode="S0000"/>', b"") == before.raw.replace(
        b'<Download resultCode="S0000"/>', b""
    )
    assert after.pdfs == before.pdfs
    assert (
        third.upload(
            with_batch_id(read_fixture("fm/create-with-dependent.xml"), done_id), org=fm, batch_id=done_id
        ).upload_code
        == "S0010"
    )
    late = third.wait_processed(org=fm, batch_id=queued_id, timeout=30)
    assert late.process_code == "S0000" and len(late.log.findall("BatchDetail/Process/Record")) == 3
    store = open_store(third)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Record).where(Record.principal_sevis_id.is_(None))) == 4


@pytest.mark.slow
def test_each_batch_processed_exactly_once_with_two_workers(server_factory, tmp_path, backend):
    server = server_factory("--processing-delay", "0", "--workers", "2", *backend.serve_args(tmp_path))
    fm = server.org("F/M")
    batch_ids = [new_batch_id("E") for _ in range(16)]
    for batch_id in batch_ids:
        reply = server.upload(
            with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id), org=fm, batch_id=batch_id
        )
        assert reply.upload_code == "S0000"
    logs = [server.wait_processed(org=fm, batch_id=b, timeout=60) for b in batch_ids]
    assert all(log.process_code == "S0000" for log in logs)
    answered = [r.get("sevisID") for log in logs for r in log.log.findall("BatchDetail/Process/Record")]
    assert len(answered) == 48 and len(set(answered)) == 48
    store = open_store(server)
    with store.session() as s:
        principals = s.scalars(select(Record.sevis_id).where(Record.principal_sevis_id.is_(None))).all()
        creates = s.scalar(select(func.count()).select_from(RecordEvent).where(RecordEvent.event == "Create"))
        states = s.scalars(select(Batch.state)).all()
    assert sorted(principals) == sorted(answered)
    assert creates == 48
    assert set(states) == {"processed"}


def _race(db_url: str, start, out) -> None:
    from sevis_mock.server.worker import process_due
    from sevis_mock.server.clock import MockClock
    from sevis_mock.server.store import Store

    class Headless:
        def __init__(self):
            self.store = Store(db_url)
            self.clock = MockClock(self.store)
            self.render_form = None

    mock = Headless()
    start.wait(60)  # every process loaded and connected: they claim at the same instant
    out.put(process_due(mock))


@pytest.mark.slow
def test_competing_processors_never_apply_a_batch_twice(server_factory, tmp_path, backend):
    """Three processes claim due batches at the same instant: the write lock on SQLite, ``FOR UPDATE SKIP
    LOCKED`` (under the shared write lock) on PostgreSQL; each batch is applied by exactly one of them."""
    server = server_factory("--processing-delay", "3600", "--workers", "1", *backend.serve_args(tmp_path))
    fm = server.org("F/M")
    for _ in range(12):
        batch_id = new_batch_id("Z")
        server.upload(with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id), org=fm, batch_id=batch_id)
    server.stop()
    store = open_store(server)
    with store.write() as s:  # make them all due now
        for batch in s.scalars(select(Batch)):
            batch.due_at = batch.uploaded_at
    db_url = server.database_url
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start = ctx.Barrier(3)
    procs = [ctx.Process(target=_race, args=(db_url, start, out)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    applied = sorted(out.get(timeout=5) for _ in procs)
    assert sum(applied) == 12
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Record)) == 36
        outcomes = [json.loads(r) for r in s.scalars(select(Batch.results))]
    assert all(o["code"] == "S0000" for o in outcomes)
