"""The store's schema, versioned: Alembic migrations (``versions/``), run at start by ``Store.create_all``.

A new database gets every migration; one made by this or a later-migrated sevis-mock gets the ones it lacks. A
database made before migrations existed (no ``alembic_version`` table: sevis-mock 0.x's ``create_all``) is taken
as the first migration's schema when it has every column of it, and upgraded from there; one that lacks a column
was made by an older sevis-mock still and is refused, as is one stamped with a revision this version does not
know (a newer sevis-mock made it). The upgrade holds the store's write lock, so instances starting together on
one database migrate it one after the other.

A change to the tables needs a new file in ``versions/`` (``tests/test_migrations.py`` compares the migrated
schema with the tables on SQLite and PostgreSQL); ``alembic -x`` is not needed: write it by hand from
``script.py.mako``, or see the test module for a way to print what autogenerate proposes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).resolve().parent
BASELINE = "0001"  # the schema of the last release without migrations (git f903775)
# The newest revision in versions/ (tests/test_migrations.py checks that it is Alembic's head): a database stamped
# with it needs nothing, and a start on it does not load Alembic at all (its import, which loads every dialect's DDL
# module, and the reading of versions/ cost a server start about half a second of CPU).
HEAD = "0004"
VERSION_TABLE = "alembic_version"


class OutdatedDatabase(Exception):
    """The database cannot be migrated by this version; the message says why and what to do."""


def config(connection=None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def head() -> str:
    """The newest revision this version knows, as Alembic reads versions/ (:data:`HEAD` says it without Alembic)."""
    from alembic.script import ScriptDirectory

    found = ScriptDirectory.from_config(config()).get_current_head()
    assert found is not None
    return found


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(script.revision for script in ScriptDirectory.from_config(config()).walk_revisions())


@lru_cache(maxsize=1)
def baseline_columns() -> dict[str, frozenset[str]]:
    """Each table of the baseline revision and its columns (the baseline run on a throwaway in-memory SQLite)."""
    from alembic import command

    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            command.upgrade(config(conn), BASELINE)
            found = inspect(conn)
            return {
                table: frozenset(c["name"] for c in found.get_columns(table))
                for table in found.get_table_names()
                if table != VERSION_TABLE
            }
    finally:
        engine.dispose()


def current(connection) -> str | None:
    """The revision the database is at (None: no migrations have run on it)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def at_head(connection) -> bool:
    """The database is stamped with this version's newest revision (:data:`HEAD`): nothing to check or run."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return False
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == [HEAD]


def check(connection, where: str = "the database") -> str:
    """What ``upgrade`` will do: "new" (an empty database), "legacy" (made before migrations, baseline schema),
    or "migrated"; OutdatedDatabase when this version cannot take it."""
    tables = set(inspect(connection).get_table_names())
    if not tables:  # an empty database (every test server's, a first start's): no baseline to compare with
        return "new"
    if at_head(connection):
        return "migrated"
    advice = "Start with a new data dir (--data-dir DIR) or database, or run the sevis-mock version that made it."
    if VERSION_TABLE in tables:
        revision = current(connection)
        if revision is not None and revision not in known_revisions():
            raise OutdatedDatabase(
                f"{where} was migrated by a newer sevis-mock (schema revision {revision}; this one knows up to "
                f"{head()}). {advice}"
            )
        return "migrated" if revision is not None else "new"
    baseline = baseline_columns()
    present = tables & set(baseline)
    if not present:
        return "new"
    found = inspect(connection)
    missing = [
        f"{table}.{column}"
        for table in sorted(present)
        for column in sorted(baseline[table] - {c["name"] for c in found.get_columns(table)})
    ]
    if missing:
        raise OutdatedDatabase(
            f"{where} was made by another sevis-mock version: it lacks {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}. {advice}"
        )
    return "legacy"


def upgrade(store, where: str = "the database") -> str:
    """Bring ``store``'s database to this version's schema, under its write lock; returns what it found
    (see :func:`check`)."""
    with store.write() as session:
        connection = session.connection()
        if at_head(connection):
            return "migrated"
        state = check(connection, where)
        if state != "migrated" or current(connection) != head():
            from alembic import command

            command.upgrade(config(connection), "head")
    return state
