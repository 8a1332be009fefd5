"""The store's units of work (mockserver/store/core.py): a write refused before its first statement leaves
nothing behind on the pooled connection."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, text

from sevis_mock.server.store import Store


@pytest.fixture
def store(tmp_path):
    st = Store(f"sqlite:///{tmp_path / 'store.db'}")

    @event.listens_for(st.engine, "connect")
    def _short_busy_timeout(dbapi_connection, _record):  # runs after the store's own pragmas
        dbapi_connection.execute("PRAGMA busy_timeout=3000")

    st.create_all()
    yield st
    st.engine.dispose()


def test_a_write_refused_before_any_statement_does_not_turn_later_reads_into_writes(store):
    """A request refused inside ``write()`` before it ran SQL (e.g. a 400 on bad input) used to leave the
    BEGIN IMMEDIATE flag on its pooled connection; a read that later got that connection inside another
    write of the same thread waited for its own lock until the busy timeout, stalling every writer."""
    with store.engine.connect(), store.engine.connect():
        pass  # two pooled connections, so the next write and the read inside it get different ones
    with pytest.raises(ValueError):
        with store.write():
            raise ValueError("refused before any SQL")
    started = time.monotonic()
    with store.write() as s:
        s.execute(text("SELECT 1"))
        with store.session() as r:
            assert r.execute(text("SELECT 1")).scalar() == 1
    assert time.monotonic() - started < 2, "a read inside a write waited for the write lock"
    with store.engine.connect() as c:
        assert "immediate" not in c.info


def test_reads_never_take_the_write_lock(store):
    """While one connection holds the write lock, reads on others still answer at once (WAL)."""
    with store.write() as s:
        s.execute(text("SELECT 1"))
        started = time.monotonic()
        for _ in range(3):
            with store.session() as r:
                r.execute(text("SELECT 1"))
        assert time.monotonic() - started < 2


def test_concurrent_clock_advances_are_never_lost(store):
    """Control-API clock jumps from several clients at once add up (read and write in one transaction)."""
    import threading
    from datetime import timedelta

    from sevis_mock.server.clock import MockClock

    clock = MockClock(store)
    start = threading.Barrier(6)

    def jump():
        start.wait()
        for _ in range(10):
            clock.advance(timedelta(seconds=1))

    threads = [threading.Thread(target=jump) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.offset() == timedelta(seconds=60)


def test_group_commit_applies_each_unit_in_its_own_savepoint_and_answers_after_the_commit(store):
    """Units handed to the writer thread by many threads at once share transactions; a unit that fails (a
    duplicate key) costs only itself, and every caller returns only once its change is committed."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from sevis_mock.server.store import Setting

    def unit(n: int):
        key = "same" if n % 10 == 0 else f"key{n}"
        try:
            store.writer.run(lambda s: s.add(Setting(key=key, value=str(n))))
        except IntegrityError:
            return "duplicate"
        with store.session() as s:  # committed: visible to any other connection at once
            return "stored" if s.get(Setting, key) is not None else "lost"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(unit, range(80)))
    assert outcomes.count("lost") == 0
    assert outcomes.count("duplicate") == 7  # eight units wrote "same": one got it
    with store.session() as s:
        keys = set(s.scalars(select(Setting.key)))
    assert {f"key{n}" for n in range(80) if n % 10} | {"same"} <= keys


def test_work_handed_over_without_waiting_is_written_by_the_next_flush(store):
    from sevis_mock.server.store import Setting

    for n in range(20):
        store.writer.submit(lambda s, n=n: s.add(Setting(key=f"deferred{n}", value=str(n))))
    store.writer.submit(lambda s: s.add(Setting(key="deferred0", value="again")))  # fails alone, logged
    assert store.writer.flush(timeout=30)
    with store.session() as s:
        assert all(s.get(Setting, f"deferred{n}").value == str(n) for n in range(20))


def test_writers_of_all_processes_queue_on_a_lock_file_beside_the_database(store, tmp_path):
    """SQLite's busy handler sleeps between tries; the kernel's file lock wakes the next writer at once. The lock
    is held for exactly the write transaction, and only its owner can read or write the file."""
    import fcntl
    import os
    import stat

    lock_file = tmp_path / "store.db.write-lock"

    def free() -> bool:  # as another process would find it (a separate open file description)
        fd = os.open(lock_file, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
        return True

    with store.write() as s:
        s.execute(text("SELECT 1"))
        assert not free()
    assert free()
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
