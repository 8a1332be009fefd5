"""``GET /control/journal``: the request journal (every request to the batch endpoints, written by
``sevis_mock.server.batch.journal``), so a CI job can check exactly what its integration sent (time, client
certificate subject, orgid/userid/batchid, file name, disposition). It reads the entries back (each with the ids of the faults that acted on it, see ``sevis_mock.server.faults``), filtered by ``org``, ``batch``, ``user``, ``action``, ``environment`` and ``since``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, jsonify, request
from sqlalchemy import select

from ..clock import parse_iso
from ..paging import Page, PagingError
from ..store import JournalEntry
from . import bp, mock

MAX_LIMIT = 10_000


# --- reading -------------------------------------------------------------------------------------


@bp.get("/journal")
def journal():
    """``?org=&batch=&user=&action=&environment=&since=ISO&limit=N&offset=M``; oldest first."""
    args = request.args
    query = select(JournalEntry).order_by(JournalEntry.id)
    for arg, column in (
        ("org", JournalEntry.org_id),
        ("batch", JournalEntry.batch_id),
        ("user", JournalEntry.user_id),
        ("action", JournalEntry.action),
        ("environment", JournalEntry.environment),
        ("disposition", JournalEntry.disposition),
    ):
        if args.get(arg):
            query = query.where(column == args[arg])
    if args.get("since"):
        query = query.where(JournalEntry.at >= _since(args["since"]))
    try:
        page = Page.from_args(args, default=MAX_LIMIT, maximum=MAX_LIMIT)
    except PagingError as exc:
        abort(400, description=str(exc))
    mock().store.writer.flush()  # the entries of this process's last replies are in
    with mock().store.session() as s:
        entries, paging = page.cut([e.to_dict() for e in s.scalars(page.apply(query))])
    return jsonify({"entries": entries, "count": len(entries), "paging": paging})


def _since(value: str) -> datetime:
    try:
        return parse_iso(value).astimezone(UTC)
    except ValueError:
        abort(
            400,
            description=f"since: {value!r} is not an ISO-8601 date or date-time (mock clock, e.g. 2027-01-15T09:00:00)",
        )
