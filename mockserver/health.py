"""``GET /healthz`` and ``GET /readyz``: JSON, no client certificate needed, for CI scripts and orchestrators.

``/healthz`` says the process answers. ``/readyz`` says whether this server can take a batch now: the database
answers a query, the background processor is running (when this process runs one) and every schema is
compiled. 200 when all checks pass, 503 with each failing check's reason otherwise. ``sevis-mock wait`` polls
it.
"""

from __future__ import annotations

from typing import Callable

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)

#: Readiness checks by name; each takes the Mock and answers (ok, detail).
CHECKS: dict[str, Callable[..., tuple[bool, str]]] = {}


def check(name: str):
    """Register a readiness check by name (each a small function of the Mock, answering (ok, detail))."""

    def register(func):
        CHECKS[name] = func
        return func

    return register


@check("database")
def database_reachable(mock) -> tuple[bool, str]:
    from sqlalchemy import text

    try:
        with mock.store.session() as s:
            s.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable"; say which
        return False, f"the database does not answer: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    return True, "answers"


@check("worker")
def worker_running(mock) -> tuple[bool, str]:
    if not mock.settings.run_worker:
        return True, "not run by this process (run_worker is off)"
    if mock.worker_alive():
        return True, mock.worker_state()
    return False, "the batch processor of this server process is not running; batches would stay queued"


@check("schemas")
def schemas_loaded(mock) -> tuple[bool, str]:
    try:
        mock.schemas.compile_all()
    except Exception as exc:  # a schema that stopped compiling (files changed under a running server)
        return False, f"a schema does not compile: {str(exc)[:300]}"
    return True, f"{len(mock.schemas.files)} documents compiled"


@check("storage")
def storage_writable(mock) -> tuple[bool, str]:
    """Not ready while the disk holding the database is (nearly) full, or a write failed for lack of space,
    a read-only file or a lock held too long in the last minute (the reason is the one the refused request got)."""
    import os

    from .datadir import sqlite_path
    from .storage import MIN_FREE_BYTES, latest

    database = sqlite_path(mock.settings)
    if database is not None:
        try:
            stats = os.statvfs(database.parent)
        except OSError as exc:
            return False, f"the database's folder cannot be examined: {exc}"
        free = stats.f_bavail * stats.f_frsize
        if free < MIN_FREE_BYTES:
            return False, f"the disk holding the database has {free} bytes free; free some space"
    trouble = latest()
    if trouble is not None:  # a write failed lately: try one now, and be ready again as soon as one succeeds
        from datetime import UTC, datetime

        from .storage import clear, storage_trouble

        try:
            mock.store.set_setting("storage_probe", datetime.now(UTC).isoformat())
        except Exception as exc:  # noqa: BLE001 -- any failure keeps it not ready; storage trouble says why
            return False, f"the database cannot be written: {storage_trouble(exc) or trouble}"
        clear()
    return True, "writable"


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    mock = current_app.extensions["sevis_mock"]
    checks = {}
    for name, func in CHECKS.items():
        ok, detail = func(mock)
        checks[name] = {"ok": ok, "detail": detail}
    ready = all(c["ok"] for c in checks.values())
    return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), 200 if ready else 503
