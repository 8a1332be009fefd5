"""The store's schema is made and upgraded by Alembic migrations, on SQLite and on PostgreSQL: a database of the
last release before migrations keeps its rows, a new one gets exactly the tables' schema, and a database this
version cannot take is refused with what to do."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, insert, select, text

from sevis_mock.server.store import migrations
from sevis_mock.server.store import Base, Batch, Official, Organization, Record, Setting, Store
from tests.support.rows import batch_values, official_values, organization_values, record_values

PREVIOUS_RELEASE = Path(__file__).parent / "data" / "previous-release"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OLD_ORG, OLD_PDSO, OLD_RECORD = "OLD214F00001000", "OLDPDSO001", "N0001000041"


def _previous_release_database(backend, tmp_path) -> str:
    """A database as sevis-mock at git f903775 made it (its recorded DDL), holding a school, a processed batch, a
    record and the SEVIS number counter."""
    url = backend.database_url(tmp_path)
    engine = create_engine(url)
    ddl = (PREVIOUS_RELEASE / f"schema-{backend.name}.sql").read_text()
    try:
        with engine.begin() as conn:
            for statement in ddl.split(";"):
                if any(line.strip() and not line.startswith("--") for line in statement.splitlines()):
                    conn.exec_driver_sql(statement)
            conn.execute(insert(Organization.__table__).values(**organization_values(OLD_ORG, "Old College", NOW)))
            conn.execute(insert(Official.__table__).values(**official_values(OLD_PDSO, OLD_ORG, NOW)))
            old_batch = dict(id=7, state="processed", process_code="S0000", results="[]")
            conn.execute(insert(Batch.__table__).values(**_batch_values("OLDBATCH000001", **old_batch)))
            old_record = dict(surname="OLDSTUDENT", given_name="ANNA", request_id="1", created_batch_pk=7)
            conn.execute(
                insert(Record.__table__).values(**record_values(OLD_RECORD, NOW, org_id=OLD_ORG, **old_record))
            )
            conn.execute(insert(Setting.__table__).values(key="next_sevis_number", value="1000042"))
    finally:
        engine.dispose()
    return url


def test_a_database_of_the_previous_release_is_upgraded_and_keeps_its_rows(backend, tmp_path):
    url = _previous_release_database(backend, tmp_path)
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            assert migrations.check(conn) == "legacy"
        store.create_all()
        with store.engine.connect() as conn:
            assert migrations.current(conn) == migrations.head()
        with store.session() as s:
            assert s.get(Organization, OLD_ORG).name == "Old College"
            assert s.get(Official, OLD_PDSO).org_id == OLD_ORG
            batch = s.get(Batch, 7)
            assert (batch.batch_id, batch.state, batch.uploaded_at) == ("OLDBATCH000001", "processed", NOW)
            assert s.get(Record, OLD_RECORD).surname == "OLDSTUDENT"
        with store.write() as s:  # new SEVIS IDs go on after the stored ones, on either engine
            assert store.next_sevis_ids(s, 2) == ["N0001000042", "N0001000043"]
        with store.write() as s:  # and the batch-ID constraint of that release still decides S0010
            s.add(Batch(**_batch_values("OLDBATCH000002")))
        with pytest.raises(Exception, match="(?i)unique|duplicate"):
            with store.write() as s:
                s.add(Batch(**_batch_values("OLDBATCH000002")))
        store.create_all()  # at head: nothing to do, nothing lost
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(Batch)) == 2
    finally:
        store.engine.dispose()


def _batch_values(batch_id: str, **fields) -> dict:
    return batch_values(batch_id, NOW, org_id=OLD_ORG, user_id=OLD_PDSO, **fields)


def test_the_migrations_make_exactly_the_tables_of_this_version(backend, tmp_path):
    """A change to a table without a migration fails here: write one in mockserver/migrations/versions/ (print
    ``compare_metadata``'s list to see what it must do)."""
    store = Store(backend.database_url(tmp_path))
    try:
        store.create_all()
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [d for d in compare_metadata(context, Base.metadata) if not _is_version_table(d)]
        assert differences == [], "the tables differ from what the migrations make:\n" + "\n".join(
            map(str, differences)
        )
    finally:
        store.engine.dispose()


def _is_version_table(difference) -> bool:
    return difference[0] == "remove_table" and difference[1].name == migrations.VERSION_TABLE


def test_a_database_with_a_column_missing_is_refused_with_what_to_do(backend, tmp_path):
    url = backend.database_url(tmp_path)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE batches (id INTEGER PRIMARY KEY)"))
        with engine.connect() as conn, pytest.raises(migrations.OutdatedDatabase) as refused:
            migrations.check(conn, "the test database")
        assert "made by another sevis-mock version" in str(refused.value)
        assert "batches.batch_id" in str(refused.value) and "new data dir" in str(refused.value)
    finally:
        engine.dispose()


def test_a_database_a_newer_version_migrated_is_refused(backend, tmp_path):
    store = Store(backend.database_url(tmp_path))
    try:
        store.create_all()
        with store.engine.begin() as conn:
            conn.execute(text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = 'f00d0099'"))
        with pytest.raises(migrations.OutdatedDatabase, match="newer sevis-mock .*f00d0099"):
            store.create_all()
    finally:
        store.engine.dispose()


def test_head_names_the_newest_migration():
    """A new file in versions/ moves migrations.HEAD along with it: a start on a database at HEAD runs nothing."""
    assert migrations.HEAD == migrations.head(), f"set migrations.HEAD to {migrations.head()!r}"


def test_a_start_on_a_database_at_head_does_not_load_alembic(tmp_path):
    """Alembic (with every dialect's DDL module) is loaded only when there is a migration to run or a database to
    judge: a server process opening a database already at HEAD (each serve worker, each restart) does without."""
    url = f"sqlite:///{tmp_path / 'at-head.db'}"
    store = Store(url)
    try:
        store.create_all()
    finally:
        store.engine.dispose()
    opened = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from sevis_mock.server.store import Store; s = Store(sys.argv[1]); s.create_all(); "
            "s.engine.dispose(); print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.strip() == "[]", opened.stdout
