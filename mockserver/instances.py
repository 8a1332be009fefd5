"""Who serves a data dir: the data-dir lock, and the instances that connection.json lists.

With SQLite (the embedded default) one ``serve`` owns a data dir: it holds an exclusive lock of
``DATA_DIR/serve.lock`` for as long as it (or one of its worker processes) lives, and the operating system
releases it when the process ends, ``kill -9`` included. A second ``serve`` on that data dir cannot take it and
exits 2 naming the running instance (the lock file holds its pid and URL), instead of starting on another port
and rewriting connection.json under the first one's clients. Commands that do not serve (``reset``,
``certs issue``, ``upload``...) never take the lock and keep working beside a running server.

With PostgreSQL, the database holds everything the instances share, so any number of ``serve`` instances may
use one data dir (on one host, or on shared storage): each holds a *shared* lock of ``serve.lock`` (so that a
SQLite ``serve`` is refused while they run, and the other way round), and connection.json lists every instance
under ``instances`` (``url``, ``pid``, ``host``, ``started_at``, ``backend``) beside the top-level keys, which
describe the first instance still running, as they described the only one before. An instance adds itself once
it listens and removes itself on a clean stop; an entry whose process is gone (killed) is dropped by the next
instance that starts or stops, and ignored by readers meanwhile (``live_instances``).

Every change of connection.json happens under an exclusive lock of ``DATA_DIR/connection.lock``, so that two
instances starting at once never lose each other's entry.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

LOCK_FILE = "serve.lock"
REGISTRY_LOCK_FILE = "connection.lock"
STARTING = "(still starting: no URL yet)"
# A holder whose main process is gone may keep the lock a moment while its workers exit: wait this long for it.
ORPHANED_LOCK_WAIT = 10.0


@dataclass(frozen=True)
class Instance:
    """One running ``serve``: where it listens and which process it is."""

    url: str
    pid: int
    host: str
    started_at: str
    backend: str  # "sqlite" | "postgresql" (or another SQLAlchemy dialect's name)
    pid_started: int | None = None  # the process's start time (Linux clock ticks): a reused pid is not taken for it
    public_url: str | None = None  # the address clients use when a proxy is in front of the instances (--public-url)

    @classmethod
    def this_process(cls, url: str, backend: str, public_url: str | None = None) -> "Instance":
        return cls(
            url=url,
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            backend=backend,
            pid_started=process_start(os.getpid()),
            public_url=public_url,
        )

    @classmethod
    def from_json(cls, value: Any) -> "Instance | None":
        """An entry of connection.json's ``instances``, or None when it is not one (a hand-edited file)."""
        if not isinstance(value, dict):
            return None
        try:
            started, public = value.get("pid_started"), value.get("public_url")
            instance = cls(
                url=str(value["url"]),
                pid=int(value["pid"]),
                host=str(value["host"]),
                started_at=str(value.get("started_at", "")),
                backend=str(value.get("backend", "")),
                pid_started=None if started is None else int(started),
                public_url=None if public is None else str(public),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return instance if instance.pid > 0 else None

    def to_json(self) -> dict:
        return asdict(self)

    def same_process(self, other: "Instance") -> bool:
        return (self.host, self.pid) == (other.host, other.pid)

    def alive(self) -> bool:
        """Whether this instance still runs: its process on this host (the same process, not a reused pid), or
        its port on another host (whose processes this one cannot see) accepting a connection [i]."""
        if self.host != socket.gethostname():
            return _accepts(self.url)
        if not pid_alive(self.pid):
            return False
        started = process_start(self.pid)
        return self.pid_started is None or started is None or started == self.pid_started


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        return True
    return True


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, /proc's field 22), or None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _accepts(url: str, timeout: float = 0.5) -> bool:
    try:
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


class DataDirBusy(Exception):
    """Another ``serve`` holds the data dir; the message (one paragraph) names it and says what to do."""


class DataDirLock:
    """The lock ``serve`` holds on its data dir for its whole life (see the module's doc). Exclusive with
    SQLite, shared with PostgreSQL."""

    def __init__(self, root: Path, *, exclusive: bool) -> None:
        self.root = Path(root)
        self.exclusive = exclusive
        self.path = self.root / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise DataDirBusy. The file descriptor stays open for the process's life (worker
        processes forked from it share it), so the lock ends only when the last of them does."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        mode = fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + ORPHANED_LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            holder = read_holder(self.path)  # an exclusive holder (SQLite) writes itself there
            if holder is not None and not holder.alive():
                holder = None  # an earlier holder's record: the lock is held by its exiting workers, or by others
            running = [holder] if holder is not None else live_instances(self.root / "connection.json")
            if running or time.monotonic() > deadline:  # a live holder: refuse at once
                os.close(fd)
                raise DataDirBusy(busy_message(self.root, exclusive=self.exclusive, running=running))
            time.sleep(0.1)  # no live holder known: a killed server's workers are exiting and will release the lock
        self._fd = fd
        if self.exclusive:
            self.announce(STARTING)

    def announce(self, url: str, backend: str = "sqlite") -> None:
        """Write who holds the exclusive lock into the lock file, for the message of a second ``serve``."""
        if self._fd is None or not self.exclusive:
            return
        holder = Instance.this_process(url, backend)
        data = (json.dumps(holder.to_json()) + "\n").encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def read_holder(path: Path) -> Instance | None:
    try:
        return Instance.from_json(json.loads(path.read_text() or "null"))
    except (OSError, ValueError):
        return None


def busy_message(root: Path, *, exclusive: bool, running: list[Instance]) -> str:
    who = "; ".join(f"pid {i.pid} on {i.host}, {i.url}" for i in running) or "its pid and URL unknown"
    if exclusive:
        return (
            f"the data dir {root} is in use by another sevis-mock serve ({who}). With SQLite one server owns a "
            "data dir: a second one would rewrite connection.json and leave its clients talking to the wrong port. "
            "Use the running server (connection.json points to it), stop it first, choose another data dir with "
            "--data-dir DIR, or run several instances on one PostgreSQL database (--database URL; README, "
            '"Shared deployment").'
        )
    return (
        f"the data dir {root} is in use by a sevis-mock serve on SQLite ({who}), which owns it alone. Stop it first, "
        "or give the PostgreSQL instances a data dir of their own with --data-dir DIR."
    )


@contextmanager
def registry_lock(root: Path) -> Iterator[None]:
    """Held while connection.json is read and rewritten, so that concurrent instances never lose an entry."""
    fd = os.open(Path(root) / REGISTRY_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def listed_instances(connection_file: Path) -> list[Instance]:
    """The instances connection.json lists, live or not (none when it is missing, unreadable or older)."""
    try:
        listed = json.loads(connection_file.read_text()).get("instances", [])
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(listed, list):
        return []
    return [i for i in (Instance.from_json(v) for v in listed) if i is not None]


def live_instances(connection_file: Path) -> list[Instance]:
    """The instances connection.json lists whose process still runs, in the order they started."""
    return [i for i in listed_instances(connection_file) if i.alive()]


def updated(
    listed: list[Instance], *, joining: Instance | None = None, leaving: Instance | None = None
) -> list[Instance]:
    """The instances to list once ``joining`` has started and ``leaving`` stopped: the live ones, in the order
    they started, ``joining`` last."""
    keep = [
        i
        for i in listed
        if not (leaving is not None and i.same_process(leaving))
        and not (joining is not None and i.same_process(joining))
        and i.alive()
    ]
    return keep + ([joining] if joining is not None else [])
