"""The request journal: every request to the batch endpoints, so a CI job can check exactly what its
integration sent (time, client certificate subject, orgid/userid/batchid, file name, disposition).

The batch blueprint calls :func:`record_request` after each request; ``GET /control/journal`` reads
the entries back (each with the ids of the faults that acted on it, see ``sevis_mock.server.faults``), filtered by ``org``, ``batch``, ``user``, ``action``, ``environment`` and ``since``.
"""

from __future__ import annotations

import io
import logging
import zipfile
from datetime import UTC, datetime

from flask import Response, abort, g, jsonify, request
from lxml import etree
from sqlalchemy import select

from ..clock import parse_iso, real_now
from ..config import ENVIRONMENTS
from ..recordings import NOT_RECORDED
from ..paging import Page, PagingError
from ..store import JournalEntry
from ..tls import peer_certificate
from . import bp, mock

log = logging.getLogger(__name__)

MAX_LIMIT = 10_000
_REPLY_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


# --- writing -------------------------------------------------------------------------------------


def record_request(response: Response) -> Response:
    """after_request hook of the batch blueprint: journal the request (unless its own write transaction already
    did, see `accepted_upload`); never changes or breaks the reply."""
    if g.get("journaled"):
        return response
    try:
        _record(response)
    except Exception as exc:  # the journal is an aid; a failure to write it must not cost the college its reply
        from ..storage import report, storage_trouble

        reason = storage_trouble(exc)
        if reason is None:
            log.exception("could not journal %s %s", request.method, request.path)
        else:
            report(reason, f"the request journal ({request.method} {request.path} not journaled)")
    return response


def accepted_upload(now: datetime) -> JournalEntry:
    """The journal entry of the upload being accepted, for the write transaction that queues its batch: one
    transaction per request, and the entry is durable with the batch."""
    g.journaled = True
    detail = NOT_RECORDED if mock().replay is not None else ""  # serve --replay: the mock, not the recording
    return _entry("upload", now, http_status=200, disposition="S0000", process_code="", detail=detail)


def _record(response: Response) -> None:
    m = mock()
    action = {"batch.upload": "upload", "batch.download": "download"}.get(request.endpoint or "")
    if action is None:
        return
    disposition, process_code = _disposition(action, response)
    if g.get("sevis_fault_disposition"):  # the connection was dropped: no reply carried a code
        disposition = g.sevis_fault_disposition
    entry = _entry(
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
    m.store.writer.submit(lambda s: s.add(entry))


def _entry(action: str, now: datetime, **outcome) -> JournalEntry:
    fields, file_name, size = _fields(action)
    prefix = (request.view_args or {}).get("env_prefix", "")
    environment = next((name for name, (p, _) in ENVIRONMENTS.items() if p == prefix), prefix)
    return JournalEntry(
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
