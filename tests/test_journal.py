"""The request journal's pending entries (sevis_mock.server.batch.journal.PendingEntries): the entries of
requests that changed no state are written together, later, and none is lost, by a race or by a neighbour the
database refuses."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from sevis_mock.server.batch.journal import PendingEntries
from sevis_mock.server.store import JournalEntry, Store

NOW = datetime(2027, 1, 15, tzinfo=UTC)


@pytest.fixture
def store(backend, tmp_path):
    """A new store on each backend (tests/support/postgres.py)."""
    store = Store(backend.migrated_url(tmp_path))
    store.create_all()
    yield store
    store.writer.flush()
    store.engine.dispose()


def _row(batch_id: str, **changed) -> dict:
    row = dict(
        at=NOW,
        received_at=NOW,
        action="download",
        environment="beta",
        method="GET",
        client_subject="CN=test",
        org_id="MCK214F00001000",
        user_id="MCKPDSO001",
        batch_id=batch_id,
        file_name="",
        size=0,
        faults="",
        http_status=200,
        disposition="S0030",
        process_code="",
        detail="",
    )
    return {**row, **changed}


def _batch_ids(store) -> list[str]:
    with store.session() as s:
        return list(s.scalars(select(JournalEntry.batch_id).order_by(JournalEntry.id)))


def test_entries_handed_over_from_many_threads_are_all_written_by_the_next_flush(store):
    pending = PendingEntries(store)

    def requests(thread: int) -> None:
        for i in range(50):
            pending.add(_row(f"T{thread:02d}{i:010d}"))

    threads = [threading.Thread(target=requests, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.writer.flush()
    written = _batch_ids(store)
    assert len(written) == len(set(written)) == 400
    with store.session() as s:  # together: fewer write transactions than entries is the point, not checked here
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 400


def test_an_entry_the_database_refuses_costs_its_neighbours_nothing(store, caplog):
    pending = PendingEntries(store)
    with store.write():  # SQLite: hold the write lock so that the three wait for one unit of work together
        pending.add(_row("FIRST000000001"))
        pending.add(_row("REFUSED0000001", http_status=None))  # NOT NULL
        pending.add(_row("THIRD000000001"))
    assert store.writer.flush()
    assert _batch_ids(store) == ["FIRST000000001", "THIRD000000001"]
    assert "REFUSED0000001" in caplog.text


def test_what_a_dropped_connection_records_is_kept_whole(store):
    """A fault that cuts the body records "body cut mid-stream" as the disposition: longer than the 16 characters
    PostgreSQL once held, which refused the entry."""
    PendingEntries(store).add(_row("CUTBODY0000001", disposition="body cut mid-stream"))
    assert store.writer.flush()
    with store.session() as s:
        assert s.scalar(select(JournalEntry.disposition)) == "body cut mid-stream"
