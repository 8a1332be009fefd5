"""PostgreSQL's troubles in words: the storage classifier (mockserver/storage.py) tells a stopped server, a
refused user, a missing database, a full disk and a lock held too long from a bug, and `serve --database` names
what to fix in one paragraph (exit 2) instead of a traceback."""

from __future__ import annotations

import socket

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from sevis_mock.server.store.core import PG_WRITE_LOCK, Store
from sevis_mock.server.storage import storage_trouble
from tests.support.postgres import holding_the_write_lock, migrated_database, new_database, require_server
from tests.test_operations import assert_one_paragraph, sevis_mock

pytestmark = pytest.mark.slow  # a PostgreSQL cluster, or a `sevis-mock serve` process, for most of them


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when this returns: nothing listens there


def _raised(url: str, statement: str = "SELECT 1") -> DBAPIError:
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    except DBAPIError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{statement} on {url} raised nothing")


def test_a_stopped_server_is_connection_refused():
    reason = storage_trouble(_raised(f"postgresql+psycopg://sevis@127.0.0.1:{_closed_port()}/sevis"))
    assert reason is not None and "connection refused" in reason and "PostgreSQL is running" in reason


def test_an_unknown_user_and_an_unknown_database_are_named():
    server = make_url(require_server())
    user = storage_trouble(_raised(server.set(username="nobody_here").render_as_string(hide_password=False)))
    assert user is not None and "user" in user and "does not exist" in user
    database = storage_trouble(_raised(server.set(database="no_such_db").render_as_string(hide_password=False)))
    assert database is not None and "database" in database and "does not exist" in database


def test_a_lock_held_beyond_the_wait_is_storage_trouble_not_a_bug():
    url = migrated_database()
    holder, waiter = Store(url), Store(url)
    try:
        with holding_the_write_lock(holder), pytest.raises(OperationalError) as waited:
            with waiter.engine.connect() as conn:  # the store's own wait (60 s), shortened to 0.2 s
                conn.execute(text("SET lock_timeout = 200"))
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_WRITE_LOCK})
    finally:
        holder.engine.dispose()
        waiter.engine.dispose()
    assert (
        storage_trouble(waited.value)
        == "the database stayed locked by another writer beyond its wait; try again shortly"
    )


@pytest.mark.parametrize(
    "error, words",
    [
        (psycopg.errors.DiskFull("could not extend file: No space left on device"), "disk holding the PostgreSQL"),
        (psycopg.errors.TooManyConnections("sorry, too many clients already"), "max_connections"),
        (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), "shut down"),
        (psycopg.errors.InvalidPassword("password authentication failed for user x"), "password"),
    ],
)
def test_postgresql_errors_by_sqlstate(error, words):
    """Those a test cannot provoke safely (a full disk, a shutdown) are classified by their SQLSTATE."""
    reason = storage_trouble(OperationalError("INSERT", {}, error))
    assert reason is not None and words in reason


def test_a_bug_stays_a_bug():
    """A missing table or a broken statement is not the operator's to fix: no storage reason, an HTTP 500."""
    url = new_database()
    assert storage_trouble(_raised(url, "SELECT * FROM no_such_table")) is None
    assert storage_trouble(_raised(url, "SELEC 1")) is None


def test_serve_with_an_unreachable_database_exits_2_with_what_to_do(tmp_path):
    url = f"postgresql://sevis@127.0.0.1:{_closed_port()}/sevis"
    result = sevis_mock("serve", "--data-dir", str(tmp_path / "d"), "--port", "0", "--database", url)
    assert_one_paragraph(result, "connection refused", "PostgreSQL is running", "--database")


def test_serve_with_a_database_it_cannot_use_exits_2(tmp_path):
    result = sevis_mock("serve", "--data-dir", str(tmp_path / "d"), "--port", "0", "--database", "mysql://a@b/c")
    assert_one_paragraph(result, "--database", "postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
    result = sevis_mock(
        "serve", "--data-dir", str(tmp_path / "d"), "--port", "0", "--database", "postgresql+psycopg2://a@b/c"
    )
    assert_one_paragraph(result, "psycopg2", "psycopg 3")
