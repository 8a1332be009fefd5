"""The control API for people and CI jobs: the mock clock and processing on demand.

Token-protected (``Authorization: Bearer <token>`` from connection.json); like every endpoint it is
reached over the same mutual-TLS listener, so the caller also needs a certificate the mock trusts.
"""
from __future__ import annotations

import hmac
from datetime import timedelta

from flask import Blueprint, abort, current_app, jsonify, request

from ..batch.worker import process_due
from ..clock import parse_iso

bp = Blueprint("control", __name__, url_prefix="/control")


def mock():
    return current_app.extensions["sevis_mock"]


@bp.before_request
def require_token():
    expected = mock().control_token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(401, description="control API: send Authorization: Bearer <control.token from connection.json>")


def _clock_state():
    m = mock()
    return {"now": m.clock.now().isoformat(timespec="seconds"), "offset_seconds": m.clock.offset().total_seconds()}


@bp.get("/clock")
def clock_get():
    return jsonify(_clock_state())


@bp.post("/clock")
def clock_set():
    """JSON ``{"now": "2027-01-15T09:00:00"}`` sets the clock; ``{"advance_seconds": 86400}`` moves it on."""
    body = request.get_json(silent=True) or {}
    m = mock()
    if "now" in body:
        try:
            m.clock.set(parse_iso(str(body["now"])))
        except ValueError:
            abort(400, description=f"now: {body['now']!r} is not an ISO-8601 date or date-time")
    elif "advance_seconds" in body:
        try:
            seconds = float(body["advance_seconds"])
        except (TypeError, ValueError):
            abort(400, description="advance_seconds must be a number")
        m.clock.advance(timedelta(seconds=seconds))
    else:
        abort(400, description='send {"now": ISO-8601} or {"advance_seconds": N}')
    m.wake_worker()
    return jsonify(_clock_state())


@bp.post("/process-now")
def process_now():
    """Process every queued batch at once, whatever its due time."""
    from sqlalchemy import update

    from ..db import Batch

    m = mock()
    with m.store.write() as s:
        s.execute(update(Batch).where(Batch.state == "queued").values(due_at=m.clock.now()))
    return jsonify({"processed": process_due(m)})


@bp.errorhandler(400)
@bp.errorhandler(401)
def json_error(err):
    return jsonify({"error": err.description}), err.code
