"""``POST /control/reset``: the mock as a fresh data dir would hold it.

Every row of every table on ``sevis_mock.server.store.Base`` is deleted (children before parents, so whatever
tables other parts of the mock add are covered too), the clock offset is reset unless the body says
``{"keep_clock": true}``, and the default organizations, officials and certificate registrations are
seeded again by the same code that seeds a new data dir. The client certificate files in ``clients/``
are re-registered as they are, so connection.json stays valid.
"""

from __future__ import annotations

from flask import abort, jsonify, request
from sqlalchemy import delete, func, insert, select

from ..store import cache
from ..store import Base, Organization
from ..tls import CertificateAuthority
from . import _clock_state, bp, mock, refresh_connection_file
from ..datadir import DataDir
from ..clock import MockClock
from ..store import Store
from ..store import Setting

CLOCK_KEY = "clock_offset_seconds"


@bp.post("/reset")
def reset():
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    flags = ("keep_clock", "keep_organizations")
    if (
        not isinstance(body, dict)
        or set(body) - set(flags)
        or not all(isinstance(body.get(f, False), bool) for f in flags)
    ):
        abort(400, description='send no body, or {"keep_clock": true|false, "keep_organizations": true|false}')

    m = mock()
    m.store.writer.flush()  # journal entries still being written are cleared too, not written after
    if body.get("keep_organizations", False):
        cleared = clear_data(m.store)
    else:
        cleared = clear_all(m.store, keep_clock=body.get("keep_clock", False))
        data_dir = DataDir(m.settings)
        ca = CertificateAuthority.load_or_create(data_dir.certs)
        data_dir.seed(m.store, ca, m.clock.now())
    with m.store.session() as s:
        orgs = list(s.scalars(select(Organization.org_id).order_by(Organization.org_id)))
    m.wake_worker()
    refresh_connection_file()
    return jsonify({"deleted_rows": cleared, "organizations": orgs, "clock": _clock_state()})


def kept_tables() -> set[str]:
    """What ``sevis-mock reset`` without --all keeps: who the organizations and officials are, their certificate
    registrations, their RTI accounts and petitions, and the settings (the clock)."""
    return {"organizations", "officials", "certificates", "settings"} | {
        t.name for t in Base.metadata.sorted_tables if t.name.startswith("rti_")
    }


def clear_data(store) -> dict[str, int]:
    """Delete every batch, record, journal entry and e-mail (every table but :func:`kept_tables`) in one write
    transaction; returns the row counts per table."""
    counts: dict[str, int] = {}
    kept = kept_tables()
    with store.write() as s:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in kept:
                counts[table.name] = s.execute(select(func.count()).select_from(table)).scalar_one()
                s.execute(delete(table))
        cache.changed(s)  # workers drop what they cached
    return counts


def reset_data_dir(settings, *, everything: bool) -> dict[str, int]:
    """``sevis-mock reset``: :func:`clear_data`, or with ``everything`` what ``POST /control/reset`` does, on the
    data dir's database directly (a running server sees the change at its next request)."""

    store = Store(settings.db_url)
    try:
        store.create_all()
        if not everything:
            return clear_data(store)
        cleared = clear_all(store, keep_clock=False)
        data_dir = DataDir(settings)
        data_dir.seed(store, CertificateAuthority.load_or_create(data_dir.certs), MockClock(store).now())
        data_dir.write_connection(store)  # when a server runs, connection.json lists the seeds again
        return cleared
    finally:
        store.engine.dispose()


def clear_all(store, *, keep_clock: bool) -> dict[str, int]:
    """Delete every row of every table in one write transaction; returns the row counts per table."""
    counts: dict[str, int] = {}
    with store.write() as s:
        offset = s.scalar(select(Setting.value).where(Setting.key == CLOCK_KEY)) if keep_clock else None
        for table in reversed(Base.metadata.sorted_tables):
            counts[table.name] = s.execute(select(func.count()).select_from(table)).scalar_one()
            s.execute(delete(table))
        store.restart_sevis_ids(s)
        if offset is not None:
            s.execute(insert(Setting).values(key=CLOCK_KEY, value=offset))
        cache.changed(s)  # every worker's cached clock and rows are gone with the tables
    return counts
