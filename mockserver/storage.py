"""Storage trouble (a full disk, a read-only data dir, a database locked beyond its wait) answered, never
crashed on: uploads get S0001 with the reason, RTI, SEVP, the outbox and the control API HTTP 503 JSON
(or an HTML page for the RTI and SEVP pages), and the error is written to stderr as well as the log, since
a log file on the full disk cannot take it. Implemented at the application level, around whatever the
store raises; ``/readyz`` (mockserver/health.py, check "storage") tells the latest trouble with :func:`latest`
and a disk with less than MIN_FREE_BYTES free.
"""

from __future__ import annotations

import errno
import logging
import sys
import threading
import time

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger("sevis_mock.server.storage")

RETRY_AFTER_SECONDS = 30
MIN_FREE_BYTES = 1 << 20  # /readyz: less free space than this under the database is not ready

# What SQLite (or the OS) says, and what it means to the person running the mock. [i] SQLite's messages.
_CAUSES = (
    ("database or disk is full", "the disk holding the mock's database is full; free some space"),
    ("disk i/o error", "the disk holding the mock's database failed to write (I/O error); check the disk"),
    ("readonly database", "the mock's database is read-only; make the data dir and its files writable"),
    ("read-only file system", "the mock's data dir is on a read-only file system"),
    ("database is locked", "the database stayed locked by another writer beyond its wait; try again shortly"),
    ("unable to open database file", "the mock cannot open its database file; check the data dir"),
    ("database disk image is malformed", "the mock's database file is damaged; restore it or start a new data dir"),
    ("out of memory", "the database ran out of memory; restart the mock"),
)
# What PostgreSQL (through psycopg 3) answers, by SQLSTATE first (the message may be translated), then by
# the words of errors that have none (a connection that could not be made). [i] which of them a mock meets.
_PG_STATES = {
    "53100": "the disk holding the PostgreSQL database is full; free some space on the database server",
    "53200": "the PostgreSQL server ran out of memory; try again shortly or give it more",
    "53300": "the PostgreSQL server has no connection left (too many clients); raise its max_connections or run "
    "fewer sevis-mock workers",
    "28P01": "PostgreSQL refused the password of the user in --database (SEVIS_MOCK_DATABASE_URL); correct it",
    "28000": "PostgreSQL refused the user in --database (SEVIS_MOCK_DATABASE_URL): no such role, or pg_hba.conf "
    "does not let it in from here",
    "3D000": "the database named in --database does not exist on the PostgreSQL server; create it (createdb NAME)",
    "42501": "the user in --database may not use the mock's tables or create them; grant it the rights on the database",
    "55P03": "the database stayed locked by another writer beyond its wait; try again shortly",
    "57P01": "the PostgreSQL server was shut down; start it again and retry",
    "57P03": "the PostgreSQL server is starting up or shutting down; try again shortly",
    "25006": "the PostgreSQL server is a read-only standby; point --database at the primary",
    "57014": "a database statement was cancelled (statement timeout); try again shortly",
}
_PG_CAUSES = (
    (
        "connection refused",
        "the mock cannot reach its PostgreSQL database (connection refused): check that PostgreSQL is running and "
        "that --database names its host and port",
    ),
    ("password authentication failed", _PG_STATES["28P01"]),
    ("no password supplied", "PostgreSQL asks for a password: put it in the --database URL (user:password@host)"),
    ("does not exist", "the database or user named in --database does not exist on the PostgreSQL server"),
    ("no space left on device", _PG_STATES["53100"]),
    ("could not extend file", _PG_STATES["53100"]),
    ("too many clients", _PG_STATES["53300"]),
    (
        "could not translate host name",
        "the host named in --database is unknown (no address for it); check the URL",
    ),
    ("timeout expired", "the PostgreSQL server did not answer in time; check that it runs and the network to it"),
    (
        "server closed the connection unexpectedly",
        "the PostgreSQL server closed the connection (it stopped or restarted); check it and retry",
    ),
    (
        "terminating connection",
        "the PostgreSQL server ended the connection (it stopped or restarted); check it and retry",
    ),
    ("connection failed", "the mock cannot connect to its PostgreSQL database; check --database and the server"),
)
_ERRNOS = {
    errno.ENOSPC: "the disk holding the mock's data is full; free some space",
    errno.EDQUOT: "the disk quota of the mock's data dir is used up; free some space",
    errno.EROFS: "the mock's data dir is on a read-only file system",
    errno.EIO: "the disk holding the mock's data failed to write (I/O error); check the disk",
    errno.EACCES: "the mock may not write its data dir; make it writable by the user running serve",
}

_latest: tuple[float, str] | None = None
_lock = threading.Lock()


def storage_trouble(exc: BaseException) -> str | None:
    """The plain reason when ``exc`` is storage trouble (SQLite's operational errors, PostgreSQL's connection,
    authentication, disk and lock errors, an OSError of a full, read-only or failing disk), else None."""
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None)
        if state in _PG_STATES:
            return _PG_STATES[state]
        text = str(exc.orig if exc.orig is not None else exc).lower()
        if exc.orig is not None and type(exc.orig).__module__.startswith("psycopg"):
            if state is not None and not state.startswith("08"):
                return None  # another SQLSTATE is a bug (e.g. 42P01, a missing table): an HTTP 500 with its traceback
            if not isinstance(exc, OperationalError):
                return None  # raised by the driver itself (a value it cannot send): a bug too
            for needle, reason in _PG_CAUSES:  # no SQLSTATE, or class 08: the connection itself failed
                if needle in text:
                    return reason
            return _PG_CAUSES[-1][1]
        for needle, reason in _CAUSES:
            if needle in text:
                return reason
        return None  # another database error is a bug: it stays an HTTP 500 with its traceback in the log
    if isinstance(exc, OSError) and exc.errno in _ERRNOS:
        return _ERRNOS[exc.errno]
    return None


STORAGE_ERRORS = (DBAPIError, OSError)


def report(reason: str, where: str) -> None:
    """Note the trouble for /readyz and say it on stderr and in the log (either may be on the full disk)."""
    global _latest
    with _lock:
        _latest = (time.time(), reason)
    line = f"sevis-mock: storage trouble during {where}: {reason}"
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
    try:
        log.error(line)
    except Exception:  # noqa: BLE001 -- a handler writing to the full disk must not turn this into a crash
        pass


def latest(within_seconds: float = 60) -> str | None:
    """The reason of the latest storage trouble of this process if it happened within ``within_seconds``."""
    with _lock:
        if _latest is None or time.time() - _latest[0] > within_seconds:
            return None
        return _latest[1]


def clear() -> None:
    global _latest
    with _lock:
        _latest = None
