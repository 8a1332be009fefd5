"""A throwaway PostgreSQL for the tests, and the ``backend`` fixture that runs a test once on SQLite and once on
PostgreSQL.

Where the server comes from, first match wins:

- ``SEVIS_MOCK_TEST_DATABASE_URL`` (a superuser's URL, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``, as
  CI exports it): each test that asks gets a database of its own on that server;
- Debian's ``postgresql`` package (``/usr/lib/postgresql/*/bin/initdb``): a cluster in a temporary directory on a
  free local port, started once per test run and removed at its end (as the current user, or as ``postgres``
  through ``runuser`` when the tests run as root, which initdb refuses);
- neither: the PostgreSQL half of each test is skipped with one reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import atexit
import threading
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from sevis_mock.server.store.core import database_url

URL_VARIABLE = "SEVIS_MOCK_TEST_DATABASE_URL"
NOT_INSTALLED = (
    "PostgreSQL is not installed: the PostgreSQL half of the store, batch, control API and RTI tests is skipped "
    f"(install Debian's `postgresql` package, or set {URL_VARIABLE} to a superuser's URL)"
)


def _bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian keeps each major version apart)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster of its own: initdb into a temporary directory, pg_ctl start on a free port with
    trust authentication on 127.0.0.1 only, pg_ctl stop and the directory removed at the end."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="sevis-mock-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:  # initdb refuses root: the cluster belongs to the postgres user
            shutil.chown(self.root, "postgres", "postgres")
        self.url = f"postgresql+psycopg://sevis@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self) -> str:
        self._run(
            "initdb", "-D", str(self.data), "-U", "sevis", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")
        atexit.register(self.stop)
        return self.url

    def stop(self) -> None:
        if self.data.exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


_server: dict[str, str | Cluster | None] = {}


def server_url() -> str | None:
    """A superuser's URL of the test PostgreSQL (started on first use), or None when there is none."""
    if "url" not in _server:
        url = os.environ.get(URL_VARIABLE)
        if not url:
            bin_dir = _bin_dir()
            if bin_dir is not None:
                cluster = Cluster(bin_dir)
                _server["cluster"] = cluster
                url = cluster.start()
        _server["url"] = url or None
    value = _server["url"]
    return value if isinstance(value, str) else None


def require_server() -> str:
    """The server's URL, or the test skipped (failed under CI=true) with the one reason."""
    url = server_url()
    if url is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true needs PostgreSQL: {NOT_INSTALLED}")
        pytest.skip(NOT_INSTALLED)
    return database_url(url)  # psycopg 3 named, as the store names it


_names = itertools.count(1)


def new_database(template: str | None = None) -> str:
    """A new database on the test server, empty or a copy of ``template`` (a database name); its URL (psycopg 3
    driver)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(require_server())
    name = f"sevis_test_{os.getpid()}_{next(_names)}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
                break
            except Exception:  # a cluster just started may still refuse for a moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


@contextmanager
def holding_the_write_lock(store):
    """Inside: another thread holds ``store``'s write lock (a write transaction kept open) until the block ends."""
    from sqlalchemy import text

    holding, release = threading.Event(), threading.Event()

    def hold():
        with store.write() as s:
            s.execute(text("SELECT 1"))
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(30), "the write lock could not be taken"
        yield
    finally:
        release.set()
        thread.join()


_migrated: list[str] = []


def migrated_database() -> str:
    """A new database holding this version's schema and nothing else: a copy of one migrated once per test run
    (copying is a file copy; migrating takes a second or more)."""
    from sqlalchemy.engine import make_url

    if not _migrated:
        from sevis_mock.server.store import Store

        url = new_database()
        store = Store(url)
        try:
            store.create_all()
        finally:
            store.engine.dispose()  # a template may have no connection open while it is copied
        _migrated.append(make_url(url).database)
    return new_database(template=_migrated[0])


@dataclass(frozen=True)
class Backend:
    """One store engine a test runs on: ``name`` is "sqlite" or "postgresql"."""

    name: str

    def database_url(self, data_dir: Path) -> str:
        """A new, empty database: SQLite's default file in ``data_dir``, or a new PostgreSQL database."""
        if self.name == "sqlite":
            return f"sqlite:///{Path(data_dir) / 'sevis-mock.db'}"
        return new_database()

    def migrated_url(self, data_dir: Path) -> str:
        """A new database with this version's schema (SQLite's file is migrated by whoever opens it first)."""
        if self.name == "sqlite":
            return self.database_url(data_dir)
        return migrated_database()

    def serve_args(self, data_dir: Path) -> list[str]:
        """The `sevis-mock serve` arguments that put a server on this backend (none for SQLite's default): a new
        database with the schema already made, as any start after the first finds it."""
        return [] if self.name == "sqlite" else ["--database", self.migrated_url(data_dir)]


# The PostgreSQL half is `slow`: its first test starts a cluster and each makes a database, so the quick subset
# (`-m "not server and not slow"`) runs the SQLite half only; the full suite and CI run both.
BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.slow))


@pytest.fixture(params=BACKENDS)
def backend(request) -> Backend:
    """Runs the test once on SQLite and once on PostgreSQL (skipped with one reason where there is none)."""
    if request.param == "postgresql":
        require_server()
    return Backend(request.param)


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend(request) -> Backend:
    """``backend`` for module-scoped fixtures (one server per module and backend)."""
    if request.param == "postgresql":
        require_server()
    return Backend(request.param)
