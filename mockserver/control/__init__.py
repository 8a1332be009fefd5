"""The control API for people and CI jobs: reset, seed, the mock clock, processing on demand, the
request journal and faults (``journal.py``, ``reset.py``, ``seed.py``, ``faults.py``, ``orgs.py``, ``agency.py``:
their routes join this blueprint when the app factory imports them).

Token-protected (``Authorization: Bearer <token>`` from connection.json); like every endpoint it is
reached over the same mutual-TLS listener, so the caller also needs a certificate the mock trusts.
"""

from __future__ import annotations

import hmac
import math
from datetime import timedelta

from flask import Blueprint, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from ..clock import ClockOutOfRange, parse_iso
from ..current import mock
from ..tls import peer_certificate
from ..datadir import DataDir
from ..worker import process_due, wait_printed
from ..store import Batch


def truncated(value: str, limit: int = 60) -> str:
    """An echoed value cut to ``limit`` characters (a hostile one may be megabytes long)."""
    return value if len(value) <= limit else value[:limit] + "..."


bp = Blueprint("control", __name__, url_prefix="/control")


@bp.before_request
def require_token():
    if peer_certificate(request.environ) is None:  # the listener lets RTI pages in without one
        abort(
            403,
            description="control API: connect with a client certificate the mock trusts (e.g. one in "
            "DATA_DIR/clients) and send Authorization: Bearer <control.token from connection.json>",
        )
    expected = mock().control_token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(401, description="control API: send Authorization: Bearer <control.token from connection.json>")


def refresh_connection_file() -> None:
    """Rewrite connection.json (after seed or reset) so that it lists the organizations the mock now has; nothing
    to do when no running `serve` wrote one (an in-process app)."""
    m = mock()
    DataDir(m.settings).write_connection(m.store)


def _clock_state():
    m = mock()
    return {"now": m.clock.now().isoformat(timespec="seconds"), "offset_seconds": m.clock.offset().total_seconds()}


@bp.get("/clock")
def clock_get():
    return jsonify(_clock_state())


@bp.post("/clock")
def clock_set():
    """JSON ``{"now": "2027-01-15T09:00:00"}`` sets the clock; ``{"advance_seconds": 86400}`` moves it on."""
    body = request.get_json(silent=True)
    body = {} if body is None else body
    m = mock()
    if not isinstance(body, dict):
        abort(400, description='send a JSON object: {"now": ISO-8601} or {"advance_seconds": N}')
    if "now" in body:
        shown = truncated(str(body["now"]))
        try:
            when = parse_iso(str(body["now"]))
        except ClockOutOfRange as exc:
            abort(400, description=f"now: {exc}")
        except ValueError:
            abort(400, description=f"now: {shown!r} is not an ISO-8601 date or date-time (e.g. 2027-01-15T09:00:00)")
        try:
            m.clock.set(when)
        except ClockOutOfRange as exc:
            abort(400, description=f"now: {exc}")
    elif "advance_seconds" in body:
        value = body["advance_seconds"]
        try:
            seconds = float(value)
            if isinstance(value, bool) or not math.isfinite(seconds):
                raise ValueError
            delta = timedelta(seconds=seconds)
        except (TypeError, ValueError):
            abort(400, description=f"advance_seconds: {truncated(str(value))!r} is not a finite number of seconds")
        except OverflowError:
            abort(400, description=f"advance_seconds: {seconds:g} s leaves the years the mock clock can show")
        try:
            m.clock.advance(delta)
        except ClockOutOfRange as exc:
            abort(400, description=f"advance_seconds: {exc}")
    else:
        abort(400, description='send {"now": ISO-8601} or {"advance_seconds": N}')
    m.wake_worker()
    return jsonify(_clock_state())


@bp.post("/process-now")
def process_now():
    """Process every queued batch at once, whatever its due time. ``processed`` counts every batch that was
    queued when the call began (or that this call applied) and is processed when it answers, whichever
    processor applied it: the processor process of every worker process takes part."""
    from sqlalchemy import select, update

    m = mock()
    with m.store.write() as s:
        waiting = set(s.scalars(select(Batch.id).where(Batch.state == "queued")))
        s.execute(update(Batch).where(Batch.state == "queued").values(due_at=m.clock.now()))
    applied: list[int] = []
    process_due(m, applied=applied)  # returns once no due batch is left (one being applied elsewhere is awaited)
    wait_printed(m)  # forms another thread or process is still drawing: the logs are complete on return
    counted = waiting | set(applied)
    done = 0
    if counted:
        with m.store.session() as s:
            done = sum(
                1
                for pk in s.scalars(
                    select(Batch.id).where(Batch.state.in_(("printing", "processed")), Batch.id >= min(counted))
                )
                if pk in counted
            )
    return jsonify({"processed": done})


@bp.errorhandler(HTTPException)
def json_error(err: HTTPException):
    """Every refusal of the control API is JSON ``{"error": ...}`` (the records routes and unknown
    ``/control/...`` URLs use this too)."""
    return jsonify({"error": err.description}), err.code
