"""``/control/records``: the stored records as JSON, behind the control token."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request

from werkzeug.exceptions import HTTPException

from ..paging import Page, PagingError
from ..records import queries
from . import json_error, require_token

bp = Blueprint("records", __name__, url_prefix="/control/records")
bp.before_request(require_token)

KINDS = {"F/M": "F/M", "FM": "F/M", "F": "F/M", "M": "F/M", "J": "J"}
MAX_LIMIT = 5000


def _store():
    return current_app.extensions["sevis_mock"].store


@bp.get("")
@bp.get("/")
def list_view():
    """``?org=&environment=&status=&kind=&principals_only=&limit=&offset=`` -> ``{"records": [...], "paging": {...}}``."""
    kind = request.args.get("kind") or None
    if kind is not None and kind.upper() not in KINDS:
        abort(400, description=f"kind: {kind!r} is not a record kind; use F/M or J")
    try:
        page = Page.from_args(request.args, default=500, maximum=MAX_LIMIT)
    except PagingError as exc:
        abort(400, description=str(exc))
    principals_only = request.args.get("principals_only", "true").lower() not in ("false", "0", "no")
    with _store().session() as s:
        records = queries.list_records(
            s,
            org_id=request.args.get("org") or None,
            environment=request.args.get("environment") or None,
            status=request.args.get("status") or None,
            kind=KINDS[kind.upper()] if kind else None,
            principals_only=principals_only,
            limit=page.limit + 1,
            offset=page.offset,
        )
    records, paging = page.cut(records)
    return jsonify({"records": records, "paging": paging})


@bp.get("/<sevis_id>")
def record_detail(sevis_id: str):
    with _store().session() as s:
        view = queries.record_view(s, sevis_id, environment=request.args.get("environment") or None)
    if view is None:
        abort(404, description=f"no record with SEVIS ID {sevis_id!r}; list them at /control/records")
    return jsonify(view)


bp.register_error_handler(HTTPException, json_error)
