"""What does not change from one request to the next, cached in each server process: the mock clock's offset,
the organization, official and certificate rows that every batch request checks, and what is derived from the
fault rules (the faults that could answer a request: ``sevis_mock.server.faults.web``).

Invalidation reaches every gunicorn worker through the database: a generation token (the setting
``cache_generation``, a fresh random value on each change) is rewritten in the same transaction as any change to
a cached row, and each process reads it once per request (one primary-key SELECT) and empties its cache when it
differs. Every change is covered however it is made: a session hook sees cached rows (and fault rules, their
counters included) added, changed or deleted
(the control API, RTI pages, the SEVP console, the CLI, tests arranging states), bulk UPDATE/DELETE statements on
them, and `sevis_mock.server.control.reset` bumps it after clearing every table. A process that made the change empties
its own cache at commit, so its next read in the same request is fresh.

Why not a TTL: the control API answers a clock jump or a reset, and the very next request (on any worker) must
see it; a TTL short enough for that would cost as much as no cache. Why not a file's time stamp: the store may be
a database URL that other hosts share.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from typing import Callable, TypeVar, cast

from sqlalchemy import Table, event, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .core import Certificate, Official, Organization, Setting
from .faults import Fault

GENERATION_KEY = "cache_generation"
CACHED_ROWS = (Organization, Official, Certificate)
WATCHED_ROWS = (*CACHED_ROWS, Fault)  # a change to these moves the generation (faults: see RowCache.derived)
CACHED_SETTINGS = frozenset({"clock_offset_seconds"})
_SETTINGS = cast(Table, Setting.__table__)  # declarative tables are Tables; SQLAlchemy types them wider

_caches: weakref.WeakSet = weakref.WeakSet()  # this process's caches, emptied when a local commit changed rows


def bump(connection) -> None:
    """Give the generation a new value, on the caller's transaction (a Connection or Session)."""
    token = secrets.token_hex(8)
    done = connection.execute(update(_SETTINGS).where(_SETTINGS.c.key == GENERATION_KEY).values(value=token))
    if done.rowcount == 0:
        connection.execute(insert(_SETTINGS).values(key=GENERATION_KEY, value=token))


def _touches_cache(objects) -> bool:
    return any(
        isinstance(obj, WATCHED_ROWS) or (isinstance(obj, Setting) and obj.key in CACHED_SETTINGS) for obj in objects
    )


@event.listens_for(Session, "before_flush")
def _changed_rows(session: Session, _context, _instances) -> None:
    if _touches_cache(session.new) or _touches_cache(session.deleted) or _touches_cache(session.dirty):
        _bump_in(session)


@event.listens_for(Session, "do_orm_execute")
def _bulk_statements(state) -> None:
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and (issubclass(mapper.class_, WATCHED_ROWS) or mapper.class_ is Setting):
        _bump_in(state.session)


def _bump_in(session: Session, *, again: bool = False) -> None:
    if again or not session.info.get("cache_bumped"):
        bump(session.connection())
        session.info["cache_bumped"] = True


def changed(session: Session) -> None:
    """Mark cached rows as changed by statements the hooks do not see (Core statements on whole tables)."""
    _bump_in(session, again=True)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop("cache_bumped", False):
        for cache in list(_caches):
            cache.invalidate()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop("cache_bumped", None)


T = TypeVar("T")


class RowCache:
    """Per-process cache of rarely changing rows, valid while the database's generation token is unchanged.

    ``refresh()`` once per request (and per processor round); ``get(Model, key)`` answers like
    ``Session.get`` with a detached row (read-only: never change or re-attach it); ``derived(name, load)`` keeps
    what ``load()`` reads from watched tables (read-only too)."""

    def __init__(self, store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._token: str | None = None
        self._rows: dict = {}
        self._settings: dict[str, str | None] = {}
        self._select = select(_SETTINGS.c.value).where(_SETTINGS.c.key == GENERATION_KEY)
        self._sql = str(self._select.compile(store.engine, compile_kwargs={"literal_binds": True}))
        _caches.add(self)

    def refresh(self) -> None:
        token = self._read_token()
        if token != self._token or token is None:
            with self._lock:
                self._token = token
                self._rows, self._settings = {}, {}

    def _read_token(self) -> str | None:
        engine = self._store.engine
        if engine.dialect.name != "sqlite":
            with engine.connect() as conn:
                return conn.execute(self._select).scalar()
        # SQLite: the driver's own cursor, in its autocommit mode (see sevis_mock.server.store.core), one statement
        # that is its own read transaction; a seventh of the CPU of a Connection's BEGIN, SELECT and ROLLBACK, on
        # every request. An error is wrapped as SQLAlchemy wraps it, for the storage handlers.
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(self._sql)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(self._sql, None, exc, engine.dialect.loaded_dbapi.Error) from exc
        finally:
            raw.close()
        return row[0] if row is not None else None

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
            self._rows, self._settings = {}, {}

    def get(self, model, key):
        rows = self._rows
        if (model, key) in rows:
            return rows[(model, key)]
        token = self._token
        with self._store.session() as s:
            row = s.get(model, key)
            if row is not None:
                s.expunge(row)
        self._keep(token, rows, (model, key), row)
        return row

    def derived(self, name: str, load: Callable[[], T]) -> T:
        """``load()``'s value, kept until the generation changes: for what is read from the tables whose every
        change moves it (``WATCHED_ROWS``), such as the fault rules."""
        rows, key = self._rows, ("derived", name)
        if key in rows:
            return rows[key]
        token = self._token
        value = load()
        self._keep(token, rows, key, value)
        return value

    def setting(self, key: str, default: str | None = None) -> str | None:
        settings = self._settings
        if key not in settings:
            token = self._token
            value = self._store.get_setting(key)
            self._keep(token, settings, key, value)
            return default if value is None else value
        value = settings[key]
        return default if value is None else value

    def _keep(self, token, table: dict, key, value) -> None:
        # only if nothing was invalidated meanwhile: a value read before a change must not outlive it
        with self._lock:
            if token is not None and token == self._token and (table is self._rows or table is self._settings):
                table[key] = value
