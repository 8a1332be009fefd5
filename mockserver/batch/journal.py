"""Writing the request journal: every request to the batch endpoints and the disposition it got (read back by
``GET /control/journal``, ``sevis_mock.server.control.journal``).

The app factory registers :func:`record_request` after each batch request; the upload view writes its entry
with the accepted batch (:func:`accepted_upload`); a fault that refuses a TLS handshake writes one too
(:func:`record_connection`).

An entry for a request that changed no state (a refusal, a download, a poll) is not waited for: it is kept as
plain column values and handed to the store's group writer (`sevis_mock.server.store.core.GroupWriter`), the
entries of the requests in between in one INSERT of several rows. Written moments later; the writer's ``flush``
(the journal's readers, a clean stop) waits for it.
"""

from __future__ import annotations

import io
import logging
import threading
import weakref
import zipfile
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, Table, insert
from sqlalchemy.engine import Connection

from flask import Response, g, request
from lxml import etree

from ..clock import real_now
from ..config import ENVIRONMENTS
from ..current import mock
from ..recordings import NOT_RECORDED
from ..storage import report, storage_trouble
from ..store import JournalEntry, savepoint
from ..tls import peer_certificate

log = logging.getLogger(__name__)

_REPLY_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def record_request(response: Response) -> Response:
    """After each batch request (registered by the app factory): journal the request (unless its own write transaction already
    did, see `accepted_upload`); never changes or breaks the reply."""
    if g.get("journaled"):
        return response
    try:
        _record(response)
    except Exception as exc:  # the journal is an aid; a failure to write it must not cost the college its reply
        reason = storage_trouble(exc)
        if reason is None:
            log.exception("could not journal %s %s", request.method, request.path)
        else:
            report(reason, f"the request journal ({request.method} {request.path} not journaled)")
    return response


def accepted_upload(now: datetime) -> tuple[Insert, dict[str, Any]]:
    """The journal entry of the upload being accepted, as the statement that writes it and its values, for the
    write transaction that queues its batch: one transaction per request, and the entry is durable with the
    batch."""
    g.journaled = True
    detail = NOT_RECORDED if mock().replay is not None else ""  # serve --replay: the mock, not the recording
    return _INSERT, _values("upload", now, http_status=200, disposition="S0000", process_code="", detail=detail)


def _record(response: Response) -> None:
    m = mock()
    action = {"batch.upload": "upload", "batch.download": "download"}.get(request.endpoint or "")
    if action is None:
        return
    disposition, process_code = _disposition(action, response)
    if g.get("sevis_fault_disposition"):  # the connection was dropped: no reply carried a code
        disposition = g.sevis_fault_disposition
    row = _values(
        action,
        m.clock.now(),
        http_status=response.status_code,
        disposition=disposition,
        process_code=process_code,
        detail="; ".join(
            v for v in (response.headers.get("X-Sevis-Mock-Replay"), response.headers.get("X-Sevis-Mock-Detail")) if v
        ),
    )
    # no state changed: the reply need not wait; written with other requests' entries (group commit)
    _pending(m.store).add(row)


def _values(action: str, now: datetime, **outcome) -> dict[str, Any]:
    """The columns of the journal entry of this request."""
    fields, file_name, size = _fields(action)
    prefix = (request.view_args or {}).get("env_prefix", "")
    environment = next((name for name, (p, _) in ENVIRONMENTS.items() if p == prefix), prefix)
    return dict(
        at=now,
        received_at=real_now(),
        action=action,
        environment=environment[:16],
        method=request.method,
        client_subject=_subject(),
        org_id=fields.get("orgid", "")[:64],
        user_id=fields.get("userid", "")[:64],
        batch_id=fields.get("batchid", "")[:64],
        file_name=file_name,
        size=size,
        faults=",".join(str(f) for f in g.get("sevis_faults", ()))[:200],  # the faults that acted on it
        **outcome,
    )


_JOURNAL = cast(Table, JournalEntry.__table__)  # declarative tables are Tables; SQLAlchemy types them wider
_INSERT = insert(_JOURNAL)


class PendingEntries:
    """The journal entries of one store not written yet. The first one handed over after a write asks the
    store's group writer for a unit of work that writes every entry pending by the time it runs, in one
    statement; the next ones join it. Every entry is so written by a unit handed over before it was added,
    and the writer's ``flush`` waits for all of them."""

    def __init__(self, store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._rows.append(row)
            if len(self._rows) == 1:
                self._store.writer.submit(self._write, on_connection=True)

    def _write(self, conn: Connection) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return
        # one entry the database refuses costs no other its place: each is then written on its own
        try:
            with savepoint(conn, "journal_entries"):
                conn.execute(_INSERT, rows)
        except Exception:
            for row in rows:
                try:
                    with savepoint(conn, "journal_entry"):
                        conn.execute(_INSERT, [row])
                except Exception as exc:
                    log.error("a journal entry could not be written (%s %s): %r", row["action"], row["batch_id"], exc)


_by_store: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_by_store_lock = threading.Lock()


def _pending(store) -> PendingEntries:
    pending = _by_store.get(store)
    if pending is None:
        with _by_store_lock:
            pending = _by_store.setdefault(store, PendingEntries(store))
    return pending


def record_connection(store, now: datetime, fault_ids: list[int], detail: str) -> None:
    """A connection a fault refused before any request was read (a TLS handshake): action ``tls``."""
    entry = JournalEntry(
        at=now,
        received_at=real_now(),
        action="tls",
        method="",
        http_status=0,
        disposition="TLS handshake failure",
        detail=detail,
        faults=",".join(map(str, fault_ids))[:200],
    )
    with store.write() as s:
        s.add(entry)


def _fields(action: str) -> tuple[dict, str, int]:
    try:
        values = request.form if action == "upload" else request.values
        fields = {k: values.get(k, "").strip() for k in ("orgid", "userid", "batchid")}
        part = request.files.get("xml") if action == "upload" else None
    except Exception:  # a body refused unread (HTTP 413) has no fields to show
        return {}, "", request.content_length or 0
    if part is None:
        return fields, "", 0
    part.stream.seek(0, io.SEEK_END)
    return fields, part.filename or "", part.stream.tell()


def _subject() -> str:
    try:
        cert = peer_certificate(request.environ)
    except ValueError:
        return "(unreadable certificate)"
    return cert.subject.rfc4514_string() if cert is not None else ""


def _disposition(action: str, response: Response) -> tuple[str, str]:
    """The result code the reply carries (Upload or Download), and the Process code when present: as the view
    that built it said, or read from a reply the mock did not build (a recorded one under ``serve --replay``, a
    zip a fault broke)."""
    http = f"HTTP {response.status_code}"
    built = g.get("sevis_reply_codes")
    if built is not None:
        code, process_code = built
        return (
            code if response.status_code == 200 else f"{code} ({http})",
            process_code if action == "download" else "",
        )
    body = response.get_data()
    try:
        if response.mimetype == "application/zip":
            with zipfile.ZipFile(io.BytesIO(body)) as zf:
                body = zf.read("sevis_transaction_log.xml")
        elif response.mimetype != "text/xml":
            return http, ""
        root = etree.fromstring(body, _REPLY_PARSER)
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError):
        return http, ""
    part = root.find(f"BatchDetail/{'Upload' if action == 'upload' else 'Download'}")
    process = root.find("BatchDetail/Process")
    code = part.get("resultCode", "") if part is not None else ""
    if not code:
        return http, ""
    return (
        code if response.status_code == 200 else f"{code} ({http})",
        process.get("resultCode", "") if process is not None and action == "download" else "",
    )
