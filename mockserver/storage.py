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

from sqlalchemy.exc import DBAPIError

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
    """The plain reason when ``exc`` is storage trouble (SQLite's operational errors, an OSError of a full,
    read-only or failing disk), else None."""
    if isinstance(exc, DBAPIError):
        text = str(exc.orig if exc.orig is not None else exc).lower()
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
