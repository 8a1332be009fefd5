"""The store's units of work (mockserver/store/core.py): a write refused before its first statement leaves
nothing behind on the pooled connection."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, text

from sevis_mock.server.store import Store
from tests.support.postgres import holding_the_write_lock, migrated_database


def _open(url: str) -> Store:
    st = Store(url)
    if st.dialect == "sqlite":

        @event.listens_for(st.engine, "connect")
        def _short_busy_timeout(dbapi_connection, _record):  # runs after the store's own pragmas
            dbapi_connection.execute("PRAGMA busy_timeout=3000")

    return st


@pytest.fixture
def store(backend, tmp_path):
    """A new store on each backend (tests/support/postgres.py)."""
    st = _open(backend.migrated_url(tmp_path))
    st.create_all()
    yield st
    st.engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path):
    st = _open(f"sqlite:///{tmp_path / 'store.db'}")
    st.create_all()
    yield st
    st.engine.dispose()


@pytest.fixture
def instances(store):
    """A second store on the same database: what another `serve` instance (or another host) holds."""
    other = _open(store.engine.url.render_as_string(hide_password=False))
    yield store, other
    other.engine.dispose()


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


def test_core_statements_of_one_unit_stand_or_fall_together_in_a_group(store):
    """``GroupWriter.execute``: a unit of Core statements (an accepted upload's batch and journal entry) shares the
    group's transaction in a savepoint of its own; when its second statement fails (a used key) its first is
    rolled back with it, and the other units of the group stand."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import insert, select
    from sqlalchemy.exc import IntegrityError

    from sevis_mock.server.store import Setting

    add = insert(Setting.__table__)
    release = threading.Event()
    store.writer.submit(lambda s: release.wait(30))  # the writer thread is held, so the units below form groups

    def unit(n: int) -> str:
        second = "same" if n % 5 == 0 else f"second{n}"
        try:
            store.writer.execute([(add, {"key": f"first{n}", "value": "1"}), (add, {"key": second, "value": "2"})])
        except IntegrityError:
            return "duplicate"
        return "stored"

    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(unit, n) for n in range(40)]
        time.sleep(0.5)
        release.set()
        outcomes = [f.result(timeout=60) for f in futures]
    assert outcomes.count("duplicate") == 7  # eight units wrote "same": one got it
    with store.session() as s:
        keys = set(s.scalars(select(Setting.key)))
    for n, outcome in enumerate(outcomes):
        assert (f"first{n}" in keys) == (outcome == "stored"), (n, outcome)
        assert n % 5 == 0 or (f"second{n}" in keys) == (outcome == "stored"), (n, outcome)

    # consecutive units of the same statements, none failing: executed together, every row stored
    release.clear()
    store.writer.submit(lambda s: release.wait(30))
    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(unit, n) for n in range(41, 80) if n % 5]
        time.sleep(0.5)
        release.set()
        assert {f.result(timeout=60) for f in futures} == {"stored"}
    with store.session() as s:
        keys = set(s.scalars(select(Setting.key)))
    assert {f"first{n}" for n in range(41, 80) if n % 5} | {f"second{n}" for n in range(41, 80) if n % 5} <= keys


def test_work_handed_over_without_waiting_is_written_by_the_next_flush(store):
    from sevis_mock.server.store import Setting

    for n in range(20):
        store.writer.submit(lambda s, n=n: s.add(Setting(key=f"deferred{n}", value=str(n))))
    store.writer.submit(lambda s: s.add(Setting(key="deferred0", value="again")))  # fails alone, logged
    assert store.writer.flush(timeout=30)
    with store.session() as s:
        assert all(s.get(Setting, f"deferred{n}").value == str(n) for n in range(20))


@pytest.mark.parametrize("on_connection", [False, True], ids=["session", "connection"])
def test_work_nobody_waits_for_is_committed_without_a_flush_to_disk_and_waited_work_with_one(
    store, on_connection, monkeypatch
):
    """A journal entry handed over without waiting holds the write lock for moments (no flush of its own; the next
    flushed commit takes it to disk); a unit whose caller waits, an accepted upload, is flushed before it returns.
    The same for units on a Connection (journal entries, an accepted upload's statements) as on a Session. On
    SQLite the flush is the -wal file's, after the commit, when the write lock is free for the next writer (the
    database's other writers keep SQLite's FULL commit); on PostgreSQL it is the commit's own (``synchronous_commit``)."""
    import fcntl
    import os
    import sqlite3
    import threading

    from sevis_mock.server.store import Setting

    flushes: list[tuple[str, bool]] = []  # SQLite: (file flushed, whether another writer could take the lock then)
    real_fdatasync = os.fdatasync

    def fdatasync(fd: int) -> None:
        database = store.engine.url.database
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        queue = os.open(database + ".write-lock", os.O_RDWR)  # where other processes' writers queue
        try:
            fcntl.flock(queue, fcntl.LOCK_EX | fcntl.LOCK_NB)
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            free = True
        except (OSError, sqlite3.OperationalError):
            free = False
        finally:
            other.close()
            os.close(queue)
        flushes.append((os.readlink(f"/proc/self/fd/{fd}"), free))
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    groups: list[tuple[bool, list]] = []  # SQLite: each group the writer committed: anyone waiting?, its flushes
    real_apply = store.writer._apply

    def apply(group) -> None:
        before = len(flushes)
        real_apply(group)
        groups.append((any(unit.wait for unit in group), flushes[before:]))

    monkeypatch.setattr(store.writer, "_apply", apply)
    sqlite = store.dialect == "sqlite"
    query = "PRAGMA synchronous" if sqlite else "SHOW synchronous_commit"
    with store.session() as s:
        default = s.execute(text(query)).scalar()  # FULL (2) on SQLite; the server's own setting on PostgreSQL
    levels: list = []
    ran = threading.Event()

    def note(transaction) -> None:
        levels.append(transaction.execute(text(query)).scalar())
        ran.set()

    store.writer.submit(note, on_connection=on_connection)
    assert ran.wait(30)
    assert store.writer.flush(timeout=30)
    if on_connection:  # statements, as an accepted upload's: the level is kept in a row to be read back
        level = {
            "sqlite": "SELECT synchronous FROM pragma_synchronous()",
            "postgresql": "SELECT current_setting('synchronous_commit')",
        }[store.dialect]
        store.writer.execute([(text(f"INSERT INTO settings (key, value) SELECT 'level', ({level})"), {})])
        with store.session() as s:
            levels.append(type(default)(s.get(Setting, "level").value))
    else:
        store.writer.run(note)
    if sqlite:
        assert levels == [1, 1] and default == 2  # no group's commit flushes itself ...
        wal = store.engine.url.database + "-wal"
        assert groups[0] == (False, [])  # ... the handed-over unit's is not flushed ...
        assert groups[-1] == (True, [(wal, True)])  # ... the waited one's -wal is, the write lock let go first
        assert all(made == ([(wal, True)] if waited else []) for waited, made in groups)
    else:
        assert levels == ["off", default]


def test_writers_of_all_processes_queue_on_a_lock_file_beside_the_database(sqlite_store, tmp_path):
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

    with sqlite_store.write() as s:
        s.execute(text("SELECT 1"))
        assert not free()
    assert free()
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600


def test_a_deferring_writer_lets_waiting_writers_go_first_for_a_moment_at_most(tmp_path, monkeypatch):
    """The batch processor's store defers to writers waiting for the write lock (they hold the second lock file
    shared while they wait): it queues once none waits, or after `DEFER_SECONDS` whatever happens. Other
    stores' writers never defer."""
    import fcntl
    import os
    import stat
    import threading

    from sevis_mock.server.store import Store
    from sevis_mock.server.store.core import _ProcessWriteQueue

    url = f"sqlite:///{tmp_path / 'store.db'}"
    store, processor = Store(url), Store(url)
    processor.defer_to_waiting_writers()

    def write(s: Store) -> threading.Thread:
        def work() -> None:
            with s.write() as session:
                session.execute(text("SELECT 1"))

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        return thread

    try:
        store.create_all()
        write(processor).join(30)  # nobody waits
        waiting_file = tmp_path / "store.db.write-lock-waiting"
        assert stat.S_IMODE(waiting_file.stat().st_mode) == 0o600
        monkeypatch.setattr(_ProcessWriteQueue, "DEFER_SECONDS", 60.0)
        fd = os.open(waiting_file, os.O_RDWR)  # a writer of another process, waiting for the lock
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            ordinary = write(store)
            ordinary.join(30)
            assert not ordinary.is_alive()  # an ordinary writer does not defer
            deferring = write(processor)
            deferring.join(0.5)
            assert deferring.is_alive()  # the processor lets the waiting writer go first
            fcntl.flock(fd, fcntl.LOCK_UN)  # it has the lock now (and is done)
            deferring.join(30)
            assert not deferring.is_alive()
            monkeypatch.setattr(_ProcessWriteQueue, "DEFER_SECONDS", 0.2)
            fcntl.flock(fd, fcntl.LOCK_SH)  # a writer that waits for ever
            deferring = write(processor)
            deferring.join(30)
            assert not deferring.is_alive()  # deferred for a moment, not for ever
        finally:
            os.close(fd)
    finally:
        store.engine.dispose()
        processor.engine.dispose()


def test_only_a_writer_that_someone_waits_for_is_seen_waiting_for_the_lock(tmp_path):
    """`Store.writers_waiting` (which the batch processor gives way to) is True while a durable writer of another
    store waits for the lock, not while one that nobody waits for (a poll's journal entry, written without a flush
    to disk) does: a client polling for its batch does not slow down the batch's processing."""
    import threading
    import time

    from sevis_mock.server.store import Store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    holder, lazy, durable = Store(url), Store(url), Store(url)
    holder.create_all()
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.write() as session:
            session.execute(text("SELECT 1"))
            held.set()
            release.wait(30)

    def write(s: Store, **options) -> threading.Thread:
        def work() -> None:
            with s.write(**options) as session:
                session.execute(text("SELECT 1"))

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        return thread

    def waiting_within(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if holder.writers_waiting():
                return True
            time.sleep(0.01)
        return False

    owner = threading.Thread(target=hold, daemon=True)
    owner.start()
    try:
        assert held.wait(30)
        first = write(lazy, durable=False)
        assert not waiting_within(0.5) and first.is_alive()  # it waits, unseen
        second = write(durable)
        assert waiting_within(10)
    finally:
        release.set()
    for thread in (owner, first, second):
        thread.join(30)
        assert not thread.is_alive()
    for s in (holder, lazy, durable):
        s.engine.dispose()


def test_writers_of_two_instances_hold_the_write_lock_one_after_the_other(instances):
    """What one unit of work reads stays true until it commits, whichever instance writes next: on SQLite the
    database lock, on PostgreSQL a transaction-level advisory lock that every instance shares."""
    import threading

    first, second = instances
    holding, spans = threading.Event(), {}

    def hold():
        with first.write() as s:
            s.execute(text("SELECT 1"))
            holding.set()
            spans["first"] = (time.monotonic(), None)
            time.sleep(0.5)
            spans["first"] = (spans["first"][0], time.monotonic())

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    with second.write() as s:
        s.execute(text("SELECT 1"))
        began = time.monotonic()
    thread.join()
    assert began >= spans["first"][1], "the second instance wrote while the first held the write lock"


def test_sevis_ids_are_unique_across_instances(instances):
    """SEVIS IDs from a sequence on PostgreSQL, from a counter row under the write lock on SQLite: two instances
    reserving at once never get the same one."""
    from concurrent.futures import ThreadPoolExecutor

    def reserve(n: int) -> list[str]:
        store = instances[n % 2]
        with store.write() as s:
            return store.next_sevis_ids(s, 1 + n % 3)

    with ThreadPoolExecutor(8) as pool:
        reserved = [i for ids in pool.map(reserve, range(60)) for i in ids]
    assert len(reserved) == len(set(reserved)) == sum(1 + n % 3 for n in range(60))
    assert all(len(i) == 11 and i.startswith("N") and i[1:].isdigit() for i in reserved)


@pytest.mark.slow  # a PostgreSQL database of its own
def test_inserting_writers_do_not_wait_for_the_write_lock_on_postgresql():
    """On PostgreSQL an accepted upload (an insert whose uniqueness the database decides) commits while another
    instance holds the write lock (on SQLite it waits, as every writer does)."""
    from sevis_mock.server.store import Setting

    url = migrated_database()
    first, second = _open(url), _open(url)
    try:
        with holding_the_write_lock(first):
            started = time.monotonic()
            second.writer.run(lambda s: s.add(Setting(key="inserted", value="1")))
            assert time.monotonic() - started < 2
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_hostile_text_with_nul_is_stored_and_looked_up_without_an_error(store):
    """A form field may carry NUL, which PostgreSQL's text refuses: a lookup by it finds nothing (as on SQLite)
    and a stored echo keeps its place (NUL as U+FFFD on PostgreSQL)."""
    from sevis_mock.server.store import Organization, Setting

    with store.session() as s:
        assert s.get(Organization, "MCK\x00214F") is None
    with store.write() as s:
        s.add(Setting(key="echo", value="a\x00b"))
    with store.session() as s:
        assert s.get(Setting, "echo").value in ("a\x00b", "a\ufffdb")
