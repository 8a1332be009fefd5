"""``POST /control/reset``: the mock as a fresh data dir would hold it.

Every row of every table on ``mockserver.db.Base`` is deleted (children before parents, so whatever
tables other parts of the mock add are covered too), the clock offset is reset unless the body says
``{"keep_clock": true}``, and the default organizations, officials and certificate registrations are
seeded again by the same code that seeds a new data dir. The client certificate files in ``clients/``
are re-registered as they are, so connection.json stays valid.
"""

from __future__ import annotations

from flask import abort, jsonify, request
from sqlalchemy import delete, func, insert, select

from .. import cache
from ..datadir import DataDir
from ..db import Base, Organization
from ..tls import CertificateAuthority
from . import _clock_state, bp, mock, refresh_connection_file

CLOCK_KEY = "clock_offset_seconds"


@bp.post("/reset")
def reset():
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict) or not isinstance(body.get("keep_clock", False), bool):
        abort(400, description='send no body, or {"keep_clock": true|false}')
    m = mock()
    cleared = clear_all(m.store, keep_clock=body.get("keep_clock", False))
    data_dir = DataDir(m.settings)
    ca = CertificateAuthority.load_or_create(data_dir.certs)
    data_dir.seed(m.store, ca, m.clock.now())
    with m.store.session() as s:
        orgs = list(s.scalars(select(Organization.org_id).order_by(Organization.org_id)))
    m.wake_worker()
    refresh_connection_file()
    return jsonify({"deleted_rows": cleared, "organizations": orgs, "clock": _clock_state()})


def clear_all(store, *, keep_clock: bool) -> dict[str, int]:
    """Delete every row of every table in one write transaction; returns the row counts per table."""
    from ..db import Setting

    counts: dict[str, int] = {}
    with store.write() as s:
        offset = s.scalar(select(Setting.value).where(Setting.key == CLOCK_KEY)) if keep_clock else None
        for table in reversed(Base.metadata.sorted_tables):
            counts[table.name] = s.execute(select(func.count()).select_from(table)).scalar_one()
            s.execute(delete(table))
        if offset is not None:
            s.execute(insert(Setting.__table__).values(key=CLOCK_KEY, value=offset))
        cache.changed(s)  # every worker's cached clock and rows are gone with the tables
    return counts
