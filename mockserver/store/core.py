"""The core tables (organizations, officials, certificates, batches, records) and the Store: SQLAlchemy 2 over
SQLite (WAL) in the data dir, or any database URL, with its sessions and group writer. The other tables of
``sevis_mock.server.store`` are declared on the same ``Base``."""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
import time
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, cast

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Table,
    UniqueConstraint,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Setting(Base):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Organization(Base):
    """A school (F/M, school code) or program sponsor (J, program number)."""

    __tablename__ = "organizations"
    org_id: Mapped[str] = mapped_column(String(15), primary_key=True)
    kind: Mapped[str] = mapped_column(String(3))  # "F/M" | "J"
    name: Mapped[str] = mapped_column(String(200))
    batch_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    agreement_on_file: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrganizationProfile(Base):
    """What SEVIS holds about an organization beyond its registration: a school's Form I-17 facts or a
    sponsor's designation (``mockserver/profiles.py``), as JSON. No row: the defaults."""

    __tablename__ = "organization_profiles"
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.org_id"), primary_key=True)
    profile: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Official(Base):
    """A school official (PDSO/DSO) or sponsor official (RO/ARO) with an RTI user ID."""

    __tablename__ = "officials"
    user_id: Mapped[str] = mapped_column(String(10), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.org_id"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(8))  # PDSO | DSO | RO | ARO
    batch_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Certificate(Base):
    """A client certificate registered (RTI "Register for Batch Processing") to one org and user."""

    __tablename__ = "certificates"
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the DER, hex
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.org_id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("officials.user_id"))
    subject: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    pem: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Batch(Base):
    """An accepted upload (disposition S0000), from queue to processed log."""

    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("environment", "org_id", "batch_id"),  # also the index of the batch-ID check (S0010)
        Index("ix_batches_list", "org_id", "environment", "uploaded_at", "id"),  # RTI's batch list, newest first
        Index("ix_batches_due", "state", "due_at"),  # the processor's look for due batches
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(15), index=True)
    batch_id: Mapped[str] = mapped_column(String(14))
    user_id: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(3))
    environment: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255))
    document: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[str] = mapped_column(String(12), default="queued", index=True)  # queued|processed
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    process_code: Mapped[str | None] = mapped_column(String(5), nullable=True)
    results: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON: per-record outcomes
    forms: Mapped[list["BatchForm"]] = relationship(back_populates="batch", cascade="all, delete-orphan")


class BatchProgress(Base):
    """A batch being processed (state "processing") a few records per transaction: how far it got, what the
    processor carries from one step to the next (results so far, duplicate keys, print jobs), and until when its
    processor holds it (real time; then another takes over from the last committed step)."""

    __tablename__ = "batch_progress"
    batch_pk: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    applied: Mapped[int] = mapped_column(Integer, default=0)
    results: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of the applied records' results
    carried: Mapped[str] = mapped_column(Text, default="{}")  # JSON of BatchProcessor.carry()
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class BatchForm(Base):
    """A PDF a batch made, by its name in the download zip without ".pdf": "<SEVIS ID>" for an I-20 / DS-2019 (a
    record sent with printForm="true", or a dependent's own form), "<SEVIS ID>-7002" for a DS-7002 (print7002).
    One table for every form, so every reader finds a batch's PDFs in one place."""

    __tablename__ = "batch_pdfs"
    batch_pk: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    batch: Mapped[Batch] = relationship(back_populates="forms")


class Record(Base):
    """A SEVIS record: a principal (student / exchange visitor) or a dependent of one."""

    __tablename__ = "records"
    __table_args__ = (
        # the duplicate-student check (S1004 and J's): one organization's records by name and birth date
        Index("ix_records_duplicate", "org_id", "environment", "surname", "given_name", "birth_date"),
        # record lists of principals, newest first: of an organization on one system, or of all
        Index("ix_records_list", "org_id", "environment", "principal_sevis_id", "created_at", "sevis_id"),
        Index("ix_records_newest", "principal_sevis_id", "created_at", "sevis_id"),
    )
    sevis_id: Mapped[str] = mapped_column(String(11), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(15), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(3))
    principal_sevis_id: Mapped[str | None] = mapped_column(String(11), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16))
    surname: Mapped[str] = mapped_column(String(60), default="")
    given_name: Mapped[str] = mapped_column(String(60), default="")
    birth_date: Mapped[str] = mapped_column(String(10), default="")
    birth_country: Mapped[str] = mapped_column(String(4), default="")
    gender: Mapped[str] = mapped_column(String(2), default="")
    relationship_code: Mapped[str] = mapped_column(String(4), default="")  # dependents only
    request_id: Mapped[str] = mapped_column(String(20), default="")
    created_batch_pk: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), nullable=True)
    document: Mapped[str] = mapped_column(Text)  # the create element as sent, then as amended
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecordEvent(Base):
    """One applied event in a record's history."""

    __tablename__ = "record_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sevis_id: Mapped[str] = mapped_column(ForeignKey("records.sevis_id"), index=True)
    batch_pk: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), nullable=True)
    event: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


def _sqlite_pragmas(dbapi_connection, record) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cur = dbapi_connection.cursor()
    wal = cur.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    file = next((row[2] for row in cur.execute("PRAGMA database_list") if row[1] == "main"), "")
    # the -wal file that a commit flushed after it (Store.write's ``flush_after_commit``) flushes; none without WAL
    record.info["wal"] = f"{file}-wal" if wal and file else None
    cur.execute("PRAGMA synchronous=FULL")  # an accepted upload survives power loss
    record.info["synchronous"] = "FULL"
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


class _ProcessWriteQueue:
    """SQLite only: the writers of several processes (gunicorn workers, a CLI) queue on an exclusive lock of a
    file beside the database before BEGIN IMMEDIATE. The kernel wakes the next waiter the moment the lock is
    released, where SQLite's busy handler sleeps 1 to 100 ms between tries, so that under load a writer could
    miss window after window and wait seconds. Re-entrant within a thread (the caller holds the process's RLock);
    with no usable lock file (read-only directory) writers fall back on the busy handler."""

    DEFER_SECONDS = 0.02  # a deferring writer (the batch processor) lets waiting writers go first for this long at most

    def __init__(self, path: Path) -> None:
        self._path = path
        self._waiting_path = path.with_name(path.name + "-waiting")
        self._fd: int | None = None
        self._waiting_fd: int | None = None
        self._depth = 0
        self.deferring = False
        self.urgent = True  # the next acquisition's writer is answered once it commits: it is seen waiting

    def __enter__(self) -> None:
        if self._depth == 0:
            try:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                if self._waiting_fd is None:
                    self._waiting_fd = os.open(self._waiting_path, os.O_RDWR | os.O_CREAT, 0o600)
                if self.deferring:
                    self._defer()
                    fcntl.flock(self._fd, fcntl.LOCK_EX)
                elif not self.urgent:  # nobody waits for this write (a poll's journal entry): a deferring writer
                    fcntl.flock(self._fd, fcntl.LOCK_EX)  # need not let it go first
                else:  # seen waiting (a shared lock of the second file) until it has the lock
                    fcntl.flock(self._waiting_fd, fcntl.LOCK_SH)
                    try:
                        fcntl.flock(self._fd, fcntl.LOCK_EX)
                    finally:
                        fcntl.flock(self._waiting_fd, fcntl.LOCK_UN)
            except OSError:
                self._fd = None
        self._depth += 1

    def _defer(self) -> None:
        """Wait while other writers wait for the lock (`others_waiting`), `DEFER_SECONDS` at most: then queue like
        them."""
        deadline = time.monotonic() + self.DEFER_SECONDS
        while self.others_waiting() and time.monotonic() < deadline:
            time.sleep(0.001)

    def others_waiting(self) -> bool:
        """Whether a writer of another process waits for the lock now (holds the second file shared)."""
        if self._waiting_fd is None:
            return False
        try:
            fcntl.flock(self._waiting_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        fcntl.flock(self._waiting_fd, fcntl.LOCK_UN)
        return False

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


def _sqlite_begin(conn) -> None:
    # A write transaction takes the database lock up front (BEGIN IMMEDIATE) so that two workers
    # can never both read a batch as queued and both apply it.
    immediate = conn.info.pop("immediate", False)
    # A transaction that need not survive a power loss (Store.write(durable=False)), or that is flushed once it has
    # committed (``flush_after_commit``), commits without SQLite's flush; the level can only change between
    # transactions, so each sets its own when it differs.
    level = "NORMAL" if conn.info.pop("lazy", False) else "FULL"
    if conn.info.get("synchronous", "FULL") != level:
        conn.connection.dbapi_connection.execute(f"PRAGMA synchronous={level}")
        conn.info["synchronous"] = level
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _flush_wal(path: str) -> None:
    """Take a commit to disk: the -wal file ``path`` flushed (``fdatasync``, as SQLite's own FULL commit does), with
    whatever any connection appended to it. No -wal file: nothing waits there, the last checkpoint (which flushes
    the database file) having taken it in before the file went. A failed flush raises: the caller must not tell a
    client that its change is stored."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


#: The key of the transaction-level advisory lock that PostgreSQL's exclusive writers take: the counterpart of
#: SQLite's BEGIN IMMEDIATE, across every instance on the database (see Store.write).
PG_WRITE_LOCK = 0x5E7150C4
#: PostgreSQL: SEVIS numbers come from this sequence (made by the migrations), unique across instances.
SEVIS_NUMBER_SEQUENCE = "sevis_number_seq"
FIRST_SEVIS_NUMBER = 1_000_001
#: SQLite: the setting that holds the next SEVIS number, and the statement that takes ``count`` of them (the new
#: value returned; no row: none was taken yet)
_SEVIS_COUNTER = "next_sevis_number"
_SETTINGS = cast(Table, Setting.__table__)  # declarative tables are Tables; SQLAlchemy types them wider
_TAKE_SEVIS_NUMBERS = (
    update(_SETTINGS)
    .where(_SETTINGS.c.key == _SEVIS_COUNTER)
    .values(value=sql_cast(sql_cast(_SETTINGS.c.value, Integer) + bindparam("count", type_=Integer), String))
    .returning(_SETTINGS.c.value)
)


def database_url(url: str) -> str:
    """``url`` with the driver the mock ships: ``postgresql://`` (and ``postgres://``) mean psycopg 3, which
    `serve --database` documents, not SQLAlchemy's default psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _engine_options(url: str) -> dict:
    if url.startswith("postgresql"):
        # [i] as long as SQLite's busy timeout: a writer waits up to 60 s for the write lock, then gets an error
        # that the storage classifier words; a connection that cannot be made fails within 10 s
        return {
            "pool_pre_ping": True,
            "pool_size": 10,
            "max_overflow": 20,
            "connect_args": {"connect_timeout": 10, "options": "-c lock_timeout=60000 -c timezone=UTC"},
        }
    return {}


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_nul(v) for v in value)
    return value


def _pg_text_without_nul(conn, cursor, statement, parameters, context, executemany):
    # PostgreSQL's text cannot hold NUL, which hostile form fields carry: as U+FFFD a key finds no row (as no stored
    # key holds one) and a stored echo keeps its place, where the driver would refuse the whole statement
    return statement, _without_nul(parameters)


class Store:
    def __init__(self, url: str) -> None:
        url = database_url(url)
        self.engine = create_engine(url, future=True, **_engine_options(url))
        self.dialect = self.engine.dialect.name
        self._write_lock = threading.RLock()
        self._writers_queue = None
        self.writer = GroupWriter(self)
        if self.dialect == "postgresql":
            event.listen(self.engine, "before_cursor_execute", _pg_text_without_nul, retval=True)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
            database = self.engine.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                self._writers_queue = _ProcessWriteQueue(Path(database + ".write-lock"))

    @property
    def row_locks(self) -> bool:
        """True on a database with row locks (PostgreSQL): writers need no lock of the whole database to insert,
        and claims skip rows that another instance holds (``FOR UPDATE SKIP LOCKED``)."""
        return self.dialect == "postgresql"

    def create_all(self) -> None:
        """Create or upgrade the schema to this version's (the Alembic migrations in mockserver/store/migrations/)."""
        from .migrations import upgrade

        upgrade(self)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read-mostly unit of work, committed on success."""
        with Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    @contextmanager
    def write(
        self, exclusive: bool = True, durable: bool = True, flush_after_commit: bool = False
    ) -> Iterator[Session]:
        """A unit of work that holds the write lock from its first statement, so that what it reads stays true
        until it commits. On SQLite, writers of one process queue on a lock of their own first, so that at most
        one per process waits on the database's lock (whose busy handler sleeps and retries, unfairly, rather
        than queueing). On PostgreSQL the write lock is a transaction-level advisory lock that every instance on
        the database shares (released at commit, or when a killed instance's connection drops); with
        ``exclusive=False`` a unit that only inserts (an accepted upload, a journal entry) runs beside the others,
        the database's constraints deciding between them.

        ``durable=False``: the commit is not flushed to disk (SQLite's ``synchronous=NORMAL``, PostgreSQL's
        ``synchronous_commit`` off). It survives the process being killed, not a power loss or an operating system
        crash, after which the database is as of an earlier commit: for work that is redone when lost (the
        intermediate steps of a batch), never for what a client was told.

        ``flush_after_commit`` (SQLite in WAL mode; durable work): the commit is flushed to disk after it, once the
        write lock is let go, and before this returns, instead of by SQLite's FULL commit, which flushes while it
        holds the lock (about 4 ms here, during which every writer of every process waits). Others may read the
        change during that flush, before it is on disk: for work whose only reader that matters is the caller,
        who answers once it is flushed (an accepted upload: a power loss in those milliseconds takes back a batch
        nobody was told of, and the processor's own FULL commit of its outcome flushes the upload with it)."""
        if self.dialect != "sqlite":
            with Session(self.engine, expire_on_commit=False) as session:
                with session.begin():
                    if exclusive:
                        session.execute(select(func.pg_advisory_xact_lock(PG_WRITE_LOCK)))
                    if not durable:
                        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
                    yield session
            return
        with self._sqlite_writer(durable, flush_after_commit) as conn:
            with Session(bind=conn, expire_on_commit=False) as session:
                with session.begin():
                    yield session
            conn.commit()

    @contextmanager
    def write_connection(self, durable: bool = True, flush_after_commit: bool = False) -> Iterator[Connection]:
        """`write` for Core statements that only insert: a Connection in a transaction, committed on success,
        without a Session around it (whose transaction costs more CPU than an INSERT). On SQLite it holds the
        write lock as `write` does; on PostgreSQL it runs beside the others (``exclusive=False``)."""
        if self.dialect != "sqlite":
            with self.engine.begin() as conn:
                if not durable:
                    conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
                yield conn
            return
        with self._sqlite_writer(durable, flush_after_commit) as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def _sqlite_writer(self, durable: bool, flush_after_commit: bool = False) -> Iterator[Connection]:
        """A connection whose next transaction takes SQLite's write lock at BEGIN, once this process's writers and
        then every process's have queued for it."""
        # a durable write is one a caller waits for (a request's reply): it is seen waiting for the lock
        with self._write_lock, self._between_processes(urgent=durable), self.engine.connect() as conn:
            wal = conn.info.get("wal") if durable and flush_after_commit else None
            conn.info["immediate"] = True
            conn.info["lazy"] = not durable or wal is not None
            try:
                yield conn
            finally:
                # a unit of work refused before its first statement never began: the flag must not stay on
                # the pooled connection, or a later read would take the write lock (and, inside another
                # write of the same thread, wait for itself until the busy timeout)
                conn.info.pop("immediate", None)
                conn.info.pop("lazy", None)
        if wal is not None:  # committed, and every lock let go: the next writer goes on while this one flushes
            _flush_wal(wal)

    def defer_to_waiting_writers(self) -> None:
        """This store's writers (the batch processor's) let other processes' writers that are waiting for the write
        lock have it first (SQLite; a few milliseconds at most each time): an upload does not wait behind a
        processor that, asking again the moment it let go of the lock, would win it back."""
        if self._writers_queue is not None:
            self._writers_queue.deferring = True

    def writers_waiting(self) -> bool:
        """Whether a writer of another process is waiting for the write lock (SQLite; always False elsewhere): a
        deferring writer that holds the lock (the batch processor between two batches of one step) lets it go."""
        return self._writers_queue is not None and self._writers_queue.others_waiting()

    @contextmanager
    def _between_processes(self, urgent: bool = True) -> Iterator[None]:
        if self._writers_queue is None:
            yield
        else:
            self._writers_queue.urgent = urgent  # read when it takes the lock (the caller holds this process's)
            with self._writers_queue:
                yield

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self.session() as s:
            row = s.get(Setting, key)
            return row.value if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self.write() as s:
            s.merge(Setting(key=key, value=value))

    def update_setting(self, key: str, change: Callable[[str | None], str]) -> str:
        """Read one setting and write ``change(old value)`` in a single write transaction, so that two
        concurrent updates never lose one. Returns the new value."""
        with self.write() as s:
            row = s.get(Setting, key)
            value = change(row.value if row else None)
            s.merge(Setting(key=key, value=value))
            return value

    def next_sevis_ids(self, session: Session, count: int) -> list[str]:
        """Reserve ``count`` new SEVIS IDs (``N`` + 10 digits) inside the caller's write transaction: from a
        sequence on PostgreSQL (unique whichever instance asks, never handed out twice even when the transaction
        rolls back), from a counter row under the write lock on SQLite."""
        if self.dialect == "postgresql":
            numbers: list[int] = list(
                session.scalars(select(func.nextval(SEVIS_NUMBER_SEQUENCE)).select_from(func.generate_series(1, count)))
            )
            return [f"N{n:010d}" for n in sorted(numbers)]
        # one statement, on the session's connection: the counter is not held as an object in the session (whose
        # flush at the end of each record would cost more than the statement) and its change is no cached row's
        connection = session.connection()
        last = connection.execute(_TAKE_SEVIS_NUMBERS, {"count": count}).scalar()
        if last is None:
            first = FIRST_SEVIS_NUMBER
            connection.execute(insert(_SETTINGS).values(key=_SEVIS_COUNTER, value=str(first + count)))
        else:
            first = int(last) - count
        return [f"N{n:010d}" for n in range(first, first + count)]

    def restart_sevis_ids(self, session: Session) -> None:
        """The next SEVIS ID is the first again (a reset that forgets every record): the sequence restarted on
        PostgreSQL, the counter row deleted on SQLite, in the caller's write transaction."""
        if self.dialect == "postgresql":
            session.execute(text(f"ALTER SEQUENCE {SEVIS_NUMBER_SEQUENCE} RESTART WITH {FIRST_SEVIS_NUMBER}"))
        else:
            session.execute(delete(Setting).where(Setting.key == _SEVIS_COUNTER))

    def org(self, org_id: str) -> Organization | None:
        with self.session() as s:
            return s.get(Organization, org_id)

    def organizations(self) -> list[Organization]:
        with self.session() as s:
            return list(s.scalars(select(Organization).order_by(Organization.kind, Organization.org_id)))


#: Statements with their parameters, executed in order (`GroupWriter.execute`).
Statements = Sequence[tuple[Executable, Mapping[str, Any]]]


@contextmanager
def savepoint(connection: Connection, name: str) -> Iterator[None]:
    """A savepoint of the driver's own around the block (SQLAlchemy's nested transactions cost more CPU than an
    INSERT): rolled back to when the block raises, which it then re-raises; released either way."""
    connection.exec_driver_sql(f"SAVEPOINT {name}")
    try:
        yield
    except Exception:
        connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}")
        raise
    finally:
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {name}")


def _execute_all(statements: Statements, connection: Connection) -> None:
    for statement, parameters in statements:
        connection.execute(statement, parameters)


class _Unit:
    __slots__ = ("work", "on_connection", "statements", "result", "error", "done", "wait")

    def __init__(
        self,
        work: Callable[[Any], object],
        *,
        wait: bool = True,
        on_connection: bool = False,
        statements: Statements | None = None,
    ) -> None:
        self.work = work  # work(session), or work(connection) when on_connection
        self.on_connection = on_connection
        self.statements = statements  # what work executes, when it is only statements (GroupWriter.execute)
        self.wait = wait  # False: nobody waits for it, so a failure is logged here
        self.result: object = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def perform(self, transaction: Session | Connection, *, alone: bool) -> object:
        """The unit's work in ``transaction``: alone in it (a failure rolls the whole transaction back), or among
        other units, in a savepoint that a failure rolls back."""
        if not self.on_connection:
            session = cast(Session, transaction)
            if alone:
                return self.work(session)
            with session.begin_nested():
                return self.work(session)
        connection = transaction if isinstance(transaction, Connection) else transaction.connection()
        if alone:
            return self.work(connection)
        with savepoint(connection, "group_unit"):
            return self.work(connection)


def _shape(unit: _Unit) -> tuple | None:
    """What units must share to be executed together: the same statements, with the same parameter names."""
    if unit.statements is None:
        return None
    return tuple((id(statement), tuple(parameters)) for statement, parameters in unit.statements)


def _runs(group: list[_Unit]) -> Iterator[list[_Unit]]:
    """The group in order, in runs of consecutive units of the same statements (each other unit a run of its own)."""
    run: list[_Unit] = []
    for unit in group:
        if run and (_shape(unit) is None or _shape(unit) != _shape(run[0])):
            yield run
            run = []
        run.append(unit)
    if run:
        yield run


def _executed_together(run: list[_Unit], transaction: Session | Connection) -> bool:
    """Each statement of ``run``'s units once for all of them (one executemany: a fraction of the CPU of one
    execution per unit), in a savepoint. False when that failed (a used key, say), the savepoint rolled back: the
    caller then gives each unit a savepoint of its own, so that only the failing one fails."""
    connection = transaction if isinstance(transaction, Connection) else transaction.connection()
    first = run[0].statements
    assert first is not None
    try:
        with savepoint(connection, "group_units"):
            for index, (statement, _) in enumerate(first):
                connection.execute(statement, [cast(Statements, unit.statements)[index][1] for unit in run])
    except Exception:
        return False
    return True


class GroupWriter:
    """Group commit: one writer thread per process applies the small units of work that request threads hand it
    (an accepted upload, a journal entry) together, each in a savepoint of its own, in one write transaction, and
    wakes each caller when that transaction has committed. A commit costs a flush to disk; sixteen clients
    uploading at once share a few commits instead of queueing for sixteen, and each reply still waits until its
    own change is durable. Work that changes no state (the journal entry of a refusal or a download) is handed
    over without waiting (`submit`): it is written moments later, without a flush to disk of its own, and `flush`
    (the journal's readers, a clean stop) waits until everything handed over is written.

    Units work on a Session (`run`, `submit`) or on a Connection (`execute`, ``submit(on_connection=True)``): a
    group of the latter only (uploads, journal entries) is written without a Session at all, and consecutive units
    of the same statements (uploads) have each statement executed once for all of them."""

    MAX_GROUP = 64

    def __init__(self, store: "Store") -> None:
        self._store = store
        self._queue: queue.SimpleQueue[_Unit] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def run(self, work: Callable[[Session], object]) -> object:
        """``work(session)`` inside the next group's transaction; returns its result once committed, or raises
        what it raised (its savepoint rolled back; the others' work stands) or what the commit raised. On
        PostgreSQL, which commits concurrent transactions side by side, the work runs at once in the caller's own
        transaction."""
        return self._wait(_Unit(work))

    def execute(self, statements: Statements) -> None:
        """Each Core statement (built once, at import) with its parameters, in order, as `run` runs work: in the
        next group's transaction, returning once it is committed, raising what a statement raised (none of the
        unit's statements stands) or what the commit raised. For the rows of a request that the ORM would only
        flush (an accepted upload's batch and journal entry), at a fraction of the CPU."""
        self._wait(_Unit(partial(_execute_all, statements), on_connection=True, statements=statements))

    def _wait(self, unit: _Unit) -> object:
        if self._store.row_locks:
            with self._transaction([unit], exclusive=False, durable=True) as transaction:
                return unit.perform(transaction, alone=True)
        self._queue.put(unit)
        self._ensure_thread()
        unit.done.wait()
        if unit.error is not None:
            raise unit.error
        return unit.result

    def submit(self, work: Callable[[Any], object], *, on_connection: bool = False) -> None:
        """``work(session)`` (``work(connection)`` with ``on_connection``) in a coming group, without waiting; a
        failure is logged."""
        self._queue.put(_Unit(work, wait=False, on_connection=on_connection))
        self._ensure_thread()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until all work handed over so far is committed (or has failed); False on timeout."""
        marker = _Unit(lambda connection: None, on_connection=True)
        self._queue.put(marker)
        self._ensure_thread()
        return marker.done.wait(timeout)

    def _transaction(
        self, units: list[_Unit], *, exclusive: bool, durable: bool
    ) -> AbstractContextManager[Session | Connection]:
        """A Connection in a write transaction when every unit works on one, else a Session's."""
        # each unit's caller answers once the group is on disk, so its commit is flushed after the lock is let go
        if all(unit.on_connection for unit in units):  # takes the write lock exactly where write() does:
            return self._store.write_connection(durable=durable, flush_after_commit=True)
        return self._store.write(exclusive=exclusive, durable=durable, flush_after_commit=True)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._loop, name="sevis-mock-writer", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            group = [self._queue.get()]
            while len(group) < self.MAX_GROUP:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._apply(group)

    def _apply_alone(self, unit: _Unit, *, exclusive: bool) -> None:
        """``unit`` in a write transaction of its own."""
        try:
            with self._transaction([unit], exclusive=exclusive, durable=unit.wait) as transaction:
                unit.result = unit.perform(transaction, alone=True)
        except BaseException as exc:
            unit.error = exc
        finally:
            if unit.error is not None and not unit.wait:
                logging.getLogger(__name__).error("a deferred write failed: %r", unit.error)
            unit.done.set()

    def _apply(self, group: list[_Unit]) -> None:
        if self._store.row_locks:  # no lock of the whole database to share: each unit commits on its own
            for unit in group:
                self._apply_alone(unit, exclusive=False)
            return
        if len(group) == 1:  # alone in its transaction: a failure rolls the transaction back, no savepoint needed
            self._apply_alone(group[0], exclusive=True)
            return
        try:
            # work nobody waits for (a refusal's or a download's journal entry) is not flushed to disk on its own: it
            # holds the write lock for moments, and the next flushed commit (an upload, a batch's last step) takes it
            # to disk too; only a power loss in between loses it
            with self._transaction(group, exclusive=True, durable=any(unit.wait for unit in group)) as transaction:
                for run in _runs(group):
                    if len(run) > 1 and _executed_together(run, transaction):
                        continue
                    for unit in run:
                        try:
                            unit.result = unit.perform(transaction, alone=False)
                        except Exception as exc:  # this unit's savepoint is rolled back; the group goes on
                            unit.error = exc
        except BaseException as exc:  # the commit itself failed: nothing of the group is stored
            for unit in group:
                unit.error = unit.error or exc
        finally:
            for unit in group:
                if unit.error is not None and not unit.wait:
                    logging.getLogger(__name__).error("a deferred write failed: %r", unit.error)
                unit.done.set()
