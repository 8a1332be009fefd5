"""The batch endpoints of the three environments: ``/{env}/action/batchUpload`` and ``batchDownload``."""

from __future__ import annotations


from typing import cast

from flask import Blueprint, Response, g, request
from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from ..config import ENVIRONMENTS
from ..store import Batch
from ..tls import peer_certificate
from ..current import mock
from . import journal, results, translog
from .replay import REPLAY_HEADER, mark_not_recorded, replay_download, replay_upload
from .intake import Refusal, check_identity
from .judge import CertifiedUploader, UploadForm, judge_upload, used_batch_id
from .multipart import Misread, closing_delimiters_between_parts
from .replies import explained as _explained
from .replies import reply_xml as _reply_xml
from .replies import reply_zip as _reply_zip
from ..clock import real_now

bp = Blueprint("batch", __name__)

_QUEUE_BATCH = insert(cast(Table, Batch.__table__))  # an accepted upload's batch (declarative tables are Tables)


@bp.route("/<env_prefix>/action/batchUpload", methods=["POST"])
def upload(env_prefix: str):
    env = _environment(env_prefix)
    if env is None:
        return Response("unknown environment\n", status=404, mimetype="text/plain")
    m = mock()
    now = m.clock.now()
    system = ENVIRONMENTS[env][1]
    cert = peer_certificate(request.environ)
    if cert is None:
        return _no_certificate(system, now, upload=True)
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge as exc:
        misread = closing_delimiters_between_parts(request)  # the parts after a closing delimiter: the epilogue
        if misread is not None:
            return _misread_upload(misread, system, now)
        return Response(too_large(exc, m.settings.max_body_bytes) + "\n", status=413, mimetype="text/plain")
    misread = closing_delimiters_between_parts(request)
    if misread is not None:
        return _misread_upload(misread, system, now)
    org_id, user_id, batch_id = (form.get(k, "").strip() for k in ("orgid", "userid", "batchid"))
    part = files.get("xml")
    file_name = part.filename if part is not None else None
    data = part.read(m.settings.max_body_bytes + 1) if part is not None else None
    if (
        m.replay is not None
        and data is not None
        and org_id
        and batch_id
        and (recorded := replay_upload(m.replay, env_prefix, org_id, batch_id, data))
    ):
        return recorded
    uploader = CertifiedUploader(m.cache, m.store, cert, env, now)
    try:
        doc = judge_upload(
            UploadForm(org_id, user_id, batch_id, data),
            schemas=m.schemas,
            max_bytes=m.settings.max_body_bytes,
            uploader=uploader,
        )
        queued = dict(
            org_id=org_id,
            batch_id=batch_id,
            user_id=user_id,
            kind=doc.kind,
            environment=env,
            file_name=file_name or "",
            document=data,
            uploaded_at=now,
            due_at=m.settings.due_time(now),
            state="queued",
        )
        try:  # one transaction, shared with other requests' (group commit), durable before the reply
            m.store.writer.execute([(_QUEUE_BATCH, queued), journal.accepted_upload(now)])
        except IntegrityError:
            g.pop("journaled", None)  # rolled back with the batch: the refusal is journaled after the reply
            raise Refusal("S0010", [used_batch_id(org_id, batch_id)]) from None
    except Refusal as refusal:
        if refusal.code == "S0001":  # fields missing: a body no parser could read is echoed as SEVIS echoes it
            garbled = "" if form or files else request.get_data(as_text=True)[:200]
            return _upload_log(
                batch_id, org_id or garbled, system, now, file_name, "S0001", refusal.reasons, garbled=not org_id
            )
        return _upload_log(batch_id, org_id, system, now, file_name, refusal.code, refusal.reasons)
    m.wake_worker()
    return _upload_log(batch_id, org_id, system, now, file_name, "S0000", None)


def _misread_upload(misread: Misread, system: str, now) -> Response:
    """S0001 as SEVIS answered a body whose parts are separated by closing delimiters (PROTOCOL §3a): the fields
    as its parser misread them (an empty BatchID, the rest of the body in OrgID) and no FileName."""
    delimiter = f"--{misread.boundary}"
    reasons = [
        f"the multipart/form-data body ends after its first part: the parts are separated by the closing "
        f"delimiter {delimiter}-- , which only the last part may be followed by; put {delimiter} and a line "
        f"break between parts and {delimiter}-- once, at the end"
    ]
    return _upload_log(misread.batch_id, misread.org_id, system, now, None, "S0001", reasons, garbled=True)


def too_large(exc: RequestEntityTooLarge, max_document: int) -> str:
    """What was too large in a multipart body Werkzeug refused (it raises the same exception for each limit):
    the whole body, one form field, or the number of parts; told from where the parser stopped."""
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        return f"request body over {limit} bytes refused unread; a batch document may hold at most {max_document} bytes"
    where = set()
    tb = exc.__traceback__
    while tb is not None:
        where.add(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    parts, field = request.max_form_parts, request.max_form_memory_size
    if "next_event" in where:
        return (
            f"the multipart body has more than {parts} parts; a batch upload has four: orgid, userid, batchid "
            "and the file part xml"
        )
    return (
        f"a form field (not a file part) is larger than {field} bytes; orgid, userid and batchid hold at most "
        f"{ORG_ID_MAX}, {USER_ID_MAX} and {BATCH_ID_MAX} characters, and the document goes in the file part xml"
    )


BATCH_ID_MAX, ORG_ID_MAX, USER_ID_MAX = 14, 15, 10  # the XSD lengths (BatchIDType, OrganizationIDType, UserIdType)
REASON_MAX = 500


def _echoed(value: str, limit: int) -> str:
    """A form value as the log's header echoes it: at most its XSD length (a hostile one may be 500 KB)."""
    return value[:limit]


def _short(reasons: list[str] | None) -> list[str] | None:
    """Reasons cut to REASON_MAX characters each (they quote the values sent, which may be huge)."""
    if not reasons:
        return reasons
    return [
        r if len(r) <= REASON_MAX else f"{r[:REASON_MAX]}... ({len(r) - REASON_MAX} characters more)" for r in reasons
    ]


def storage_refusal(reason: str) -> Response:
    """The answer to a batch request the store could not write: S0001 with the reason (nothing accepted)."""
    m = mock()
    env = _environment((request.view_args or {}).get("env_prefix", "")) or "beta"
    system = ENVIRONMENTS[env][1]
    try:
        values = request.form if request.endpoint == "batch.upload" else request.values
        org_id, batch_id = (values.get(k, "").strip() for k in ("orgid", "batchid"))
        part = request.files.get("xml") if request.endpoint == "batch.upload" else None
    except Exception:  # noqa: BLE001 -- the form was readable in the view; this is only for the echo
        org_id = batch_id = ""
        part = None
    try:
        now = m.clock.now()
    except Exception:  # noqa: BLE001 -- the clock lives in the same store
        now = real_now()
    reasons = [f"sevis-mock could not store the request: {reason}; nothing was accepted, send it again later"]
    if request.endpoint == "batch.upload":
        file_name = part.filename if part is not None else None
        return _upload_log(batch_id, org_id, system, now, file_name, "S0001", reasons)
    return _download_only(batch_id, org_id, system, "S0001", reasons)


def _upload_log(batch_id, org_id, system, now, file_name, code, reasons, *, garbled: bool = False):
    reasons = _short(reasons)
    body = translog.build(
        batch_id=_echoed(batch_id, BATCH_ID_MAX),
        org_id=org_id if garbled else _echoed(org_id, ORG_ID_MAX),
        system=system,
        upload=translog.UploadPart(code, now, file_name),
        explanation=[f"{code}:"] + reasons if reasons else None,
    )
    return _reply_xml(body, reasons, code=code)


@bp.route("/<env_prefix>/action/batchDownload", methods=["GET", "POST"])
def download(env_prefix: str):
    env = _environment(env_prefix)
    if env is None:
        return Response("unknown environment\n", status=404, mimetype="text/plain")
    m = mock()
    now = m.clock.now()
    system = ENVIRONMENTS[env][1]
    cert = peer_certificate(request.environ)
    if cert is None:
        return _no_certificate(system, now, upload=False)
    try:
        values = request.values
    except RequestEntityTooLarge as exc:
        return Response(too_large(exc, m.settings.max_body_bytes) + "\n", status=413, mimetype="text/plain")
    org_id, user_id, batch_id = (values.get(k, "").strip() for k in ("orgid", "userid", "batchid"))
    missing = [k for k, v in (("orgid", org_id), ("userid", user_id), ("batchid", batch_id)) if not v]
    if missing:
        return _download_only(
            batch_id,
            org_id,
            system,
            "S0001",
            [f"the download request lacks {', '.join(missing)}; send orgid, userid and batchid"],
        )
    if m.replay is not None and (recorded := replay_download(m.replay, m.store, env_prefix, org_id, batch_id)):
        return recorded
    try:
        check_identity(m.cache, cert, org_id, user_id, now)
        found = results.for_download(m.store, env, org_id, batch_id)
        if found is None:
            raise Refusal("S0031", [f"no batch {batch_id} was accepted for {org_id} on this system ({system})"])
        log, pdfs = found
    except Refusal as refusal:
        return _download_only(batch_id, org_id, system, refusal.code, refusal.reasons)
    return _reply_zip(log.body, pdfs, batch_id, log.reasons, code=log.download_code, process_code=log.process_code)


def _download_only(batch_id, org_id, system, code, reasons):
    reasons = _short(reasons)
    body = translog.build(
        batch_id=_echoed(batch_id, BATCH_ID_MAX),
        org_id=_echoed(org_id, ORG_ID_MAX),
        system=system,
        download_code=code,
        explanation=[f"{code}:"] + reasons,
    )
    return _reply_zip(body, {}, batch_id, reasons, code=code)


NO_CERTIFICATE = (
    "no client certificate was presented; connect with the client certificate registered for batch "
    "in RTI (Register for Batch Processing) and its private key"
)


def _no_certificate(system: str, now, *, upload: bool) -> Response:
    """HTTP 403 with S0001, as SEVIS answers a batch request without a certificate (PROTOCOL §2)."""
    org_id, batch_id = (request.args.get(k, "").strip()[:20] for k in ("orgid", "batchid"))
    part = {"upload": translog.UploadPart("S0001", now, None)} if upload else {"download_code": "S0001"}
    body = translog.build(
        batch_id=batch_id, org_id=org_id, system=system, explanation=["S0001:", NO_CERTIFICATE], **part
    )
    return _explained(Response(body, status=403, mimetype="text/xml"), [NO_CERTIFICATE], "S0001")


def _environment(prefix: str) -> str | None:
    return next((name for name, (p, _) in ENVIRONMENTS.items() if p == prefix), None)


def flag_replay(resp: Response) -> Response:
    """Under ``serve --replay``, a reply the recording did not hold says so (after each batch request, before the
    journal records it: see the app factory)."""
    m = mock()
    if m.replay is not None and REPLAY_HEADER not in resp.headers:
        mark_not_recorded(resp)
    return resp
