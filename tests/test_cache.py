"""The per-process row cache (sevis_mock.server.store.cache): every change to a cached row or the clock, made by any process
through any path, is seen by every other process's cache at its next refresh (its next request)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

import sevis_mock.server.store.cache
from sevis_mock.server.store.cache import RowCache, changed
from sevis_mock.server.clock import MockClock
from sevis_mock.server.control.reset import clear_all
from sevis_mock.server.faults.model import RequestFacts, add_fault, claim_fitting, parse_rule, stored_rules
from sevis_mock.server.store import Fault, Official, Organization, Store

NOW = datetime(2027, 1, 15, tzinfo=UTC)


@pytest.fixture
def stores(tmp_path):
    """Two stores on one database file: a worker process with its cache, and "another process"."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    mine, other = Store(url), Store(url)
    mine.create_all()
    with mine.write() as s:
        changed(s)
        s.add(Organization(org_id="MCK214F00001000", kind="F/M", name="Old name", created_at=NOW))
        s.flush()
        s.add(Official(user_id="MCKPDSO001", org_id="MCK214F00001000", name="P D S O", role="PDSO"))
    cache = RowCache(mine)
    cache.refresh()
    sevis_mock.server.store.cache._caches.discard(
        cache
    )  # it stands for another process's: no commit here empties it directly
    return mine, other, cache


def test_a_cached_row_is_served_without_the_database_until_it_changes(stores):
    mine, other, cache = stores
    assert cache.get(Organization, "MCK214F00001000").name == "Old name"
    with mine.engine.connect() as conn:  # behind the hooks' back: the cache does not look
        conn.exec_driver_sql("UPDATE organizations SET name = 'Sneaked in'")
        conn.commit()
    cache.refresh()
    assert cache.get(Organization, "MCK214F00001000").name == "Old name"


def test_another_process_changing_a_row_reaches_the_cache_at_its_next_refresh(stores):
    mine, other, cache = stores
    assert cache.get(Organization, "MCK214F00001000").batch_registered is False
    with other.write() as s:
        s.get(Organization, "MCK214F00001000").batch_registered = True
    assert cache.get(Organization, "MCK214F00001000").batch_registered is False  # same request: as it began
    cache.refresh()
    assert cache.get(Organization, "MCK214F00001000").batch_registered is True


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.add(Organization(org_id="P-1-12345", kind="J", name="New sponsor", created_at=NOW)),
        lambda s: s.execute(update(Official).values(last_login_at=NOW)),
        lambda s: s.execute(delete(Official)),
        lambda s: s.delete(s.get(Official, "MCKPDSO001")),
    ],
    ids=["added", "bulk update", "bulk delete", "deleted"],
)
def test_every_kind_of_change_moves_the_generation(stores, change):
    mine, other, cache = stores
    before = (cache.get(Organization, "P-1-12345"), cache.get(Official, "MCKPDSO001"))
    with other.write() as s:
        change(s)
    cache.refresh()
    after = (cache.get(Organization, "P-1-12345"), cache.get(Official, "MCKPDSO001"))
    assert after != before


def test_the_clock_offset_follows_a_jump_made_by_another_process(stores):
    mine, other, cache = stores
    clock, elsewhere = MockClock(mine, cache), MockClock(other)
    assert abs(clock.offset().total_seconds()) < 1
    elsewhere.advance(timedelta(days=46))
    cache.refresh()
    assert clock.offset() == timedelta(days=46)


def test_a_change_made_by_this_process_is_seen_at_once(stores):
    mine, other, cache = stores
    sevis_mock.server.store.cache._caches.add(cache)
    clock = MockClock(mine, cache)
    clock.offset()
    clock.set(NOW)
    assert abs((clock.now() - NOW).total_seconds()) < 5  # no refresh in between: the commit emptied the cache


def test_a_reset_empties_every_cache(stores):
    mine, other, cache = stores
    assert cache.get(Organization, "MCK214F00001000") is not None
    clear_all(other, keep_clock=False)
    cache.refresh()
    assert cache.get(Organization, "MCK214F00001000") is None
    with other.write() as s:  # the generation survives the cleared settings table: later changes still count
        s.add(Organization(org_id="MCK214F00001000", kind="F/M", name="Seeded again", created_at=NOW))
    cache.refresh()
    assert cache.get(Organization, "MCK214F00001000").name == "Seeded again"


def test_a_real_other_process_changing_the_clock_reaches_the_cache(stores, tmp_path):
    mine, other, cache = stores
    clock = MockClock(mine, cache)
    assert abs(clock.offset().total_seconds()) < 1
    script = (
        "import sys; from datetime import timedelta; from sevis_mock.server.store import Store; "
        "from sevis_mock.server.clock import MockClock; MockClock(Store(sys.argv[1])).advance(timedelta(days=46))"
    )
    subprocess.run([sys.executable, "-c", script, str(mine.engine.url)], check=True, timeout=60)
    assert abs(clock.offset().total_seconds()) < 1  # not looked at again before the next refresh
    cache.refresh()
    assert clock.offset() == timedelta(days=46)


def _one_fault(store) -> int:
    return add_fault(store, parse_rule({"respond": {"disposition": "S0001"}, "times": 2}, now=NOW), NOW).id


def _delete_all(store, fid) -> None:
    with store.write() as s:
        s.execute(delete(Fault))


def _delete_one(store, fid) -> None:
    with store.write() as s:
        s.delete(s.get(Fault, fid))


@pytest.mark.parametrize(
    "change",
    [
        lambda store, fid: _one_fault(store),
        lambda store, fid: claim_fitting(store, RequestFacts("upload", NOW), [fid]),
        _delete_all,
        _delete_one,
    ],
    ids=["added", "counted", "bulk delete", "deleted"],
)
def test_every_change_to_a_fault_moves_the_generation(stores, change):
    """The fault rules a request checks are kept per process (sevis_mock.server.faults.web): a fault added, hit
    or removed through any process reaches them at the next refresh."""
    mine, other, cache = stores
    fid = _one_fault(mine)
    cache.refresh()

    def kept():
        return cache.derived("faults", lambda: [(r.id, r.hits) for r in stored_rules(mine)])

    before = kept()
    assert before == [(fid, 0)]
    change(other, fid)
    assert kept() == before  # same request: as it began
    cache.refresh()
    assert kept() != before
