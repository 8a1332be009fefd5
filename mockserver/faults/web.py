"""Faults at the HTTP level: which request meets which fault, and the answer it gets instead.

:func:`before_request` (app-wide) claims the faults that fit a request to a batch endpoint or an RTI page
and answers for them (a disposition, an HTTP error page, the gateway's maintenance page, S0030), after any
delays; faults that change the real answer (a broken zip, a body cut mid-stream) are kept in ``g`` and
applied by :func:`after_request` on the batch blueprint. ``g.sevis_faults`` lists the ids that acted, for
the request journal.
"""

from __future__ import annotations

import html
import io
import time
import zipfile
from datetime import datetime

from flask import Response, g, request
from lxml import etree

from ..batch import translog
from ..batch.replies import DETAIL_HEADER, reply_xml, reply_zip
from ..config import ENVIRONMENTS
from ..store import Batch
from ..xmlsafe import header_value
from . import transport
from .model import ZIP_FAULTS, Claimed, FaultRule, RequestFacts, StoredRule, claim_fitting, fitting, stored_rules
from ..current import mock

FAULT_HEADER = "X-Sevis-Mock-Fault"
LOG_NAME = "sevis_transaction_log.xml"


# --- what a request is --------------------------------------------------------------------------------


def request_facts(now: datetime, *, fields: bool) -> RequestFacts | None:
    """The facts of this request a fault can match, or None for requests no fault touches (the control API,
    the SEVP console and the outbox are the mock's own tools and stay reachable). ``fields``: read orgid, userid
    and batchid from the body (only when a fault matches on them: the view must be the first to parse a body it
    answers for, such as a multipart body it reads as SEVIS misread it)."""
    endpoint = {"batch.upload": "upload", "batch.download": "download"}.get(request.endpoint or "")
    if endpoint is not None:
        prefix = (request.view_args or {}).get("env_prefix", "")
        environment = next((name for name, (p, _) in ENVIRONMENTS.items() if p == prefix), None)
        org, user, batch = _fields(endpoint) if fields else (None, None, None)
        return RequestFacts(endpoint, now, environment, org, user, batch)
    if request.blueprint == "rti":
        return RequestFacts("rti", now, g.get("environment"))
    return None


def _fields(endpoint: str) -> tuple[str, str, str]:
    try:
        values = request.form if endpoint == "upload" else request.values
        org_id, user_id, batch_id = (values.get(k, "").strip() for k in ("orgid", "userid", "batchid"))
        return org_id, user_id, batch_id
    except Exception:  # a body refused unread: the view answers it
        return "", "", ""


def _live_rules(m, now: datetime) -> list[StoredRule]:
    """The faults that could act on a request now. Read once per process while no fault (or clock, or cached
    row) changes: every change to a fault, its counters included, moves the cache generation that each request
    reads (``sevis_mock.server.store.cache``), so a fault set through any process acts on the very next request.
    Their windows are checked here, at each request; :func:`claim_fitting` counts their hits in the database."""
    rules = m.cache.derived("request faults", lambda: [r for r in stored_rules(m.store) if _answers_requests(r.rule)])
    return [r for r in rules if r.rule.live(r.hits, now) and r.rule.in_window(now)]


def _answers_requests(rule: FaultRule) -> bool:
    if rule.kind == "process" or rule.handshake_fault:
        return False
    return rule.kind != "certificate" or rule.respond.get("refuse") == "S0002"


# --- hooks --------------------------------------------------------------------------------------------


def before_request():
    if request.endpoint is None:
        return None
    m = mock()
    now = m.clock.now()
    if request.blueprint not in ("batch", "rti"):
        return None
    rules = _live_rules(m, now)
    if not rules:
        return None
    facts = request_facts(now, fields=any(r.rule.match.org or r.rule.match.user or r.rule.match.batch for r in rules))
    if facts is None:
        return None
    acted = claim_fitting(m.store, facts, fitting(rules, facts))
    if not acted:
        return None
    g.sevis_faults = [c.id for c in acted]
    wait = sum(c.rule.delay() for c in acted if c.kind == "delay_seconds")
    if wait:
        time.sleep(wait)
    answering = next((c for c in acted if c.rule.answers), None)
    if answering is None:
        return None
    if answering.kind in ("zip", "connection") and answering.rule.respond.get("connection") != "reset":
        g.sevis_fault_after = answering  # shapes the real answer
        return None
    return _ANSWER[answering.kind](answering, facts)


def after_request(response: Response) -> Response:
    """Batch blueprint: break the real answer as the claimed fault says (runs before the journal records it)."""
    claimed = g.pop("sevis_fault_after", None)
    if claimed is None:
        return response
    _mark(response, claimed)
    if claimed.kind == "connection":  # cut_body
        transport.cut_body_after_headers(request.environ)
        g.sevis_fault_disposition = "body cut mid-stream"
        return response
    if response.mimetype != "application/zip":
        return response  # an upload, or a refusal that is not a zip: nothing to break
    response.set_data(break_zip(response.get_data(), claimed.rule.respond["zip"]))
    g.pop("sevis_reply_codes", None)  # the journal reads the broken reply as the client gets it
    return response


def _mark(response: Response, claimed: Claimed, detail: str | None = None) -> Response:
    response.headers[FAULT_HEADER] = str(claimed.id)
    if detail:
        response.headers[DETAIL_HEADER] = header_value(detail)
    return response


def _fault_words(claimed: Claimed) -> str:
    what = ", ".join(f"{k} {v}" for k, v in claimed.rule.respond.items())
    return f"sevis-mock fault #{claimed.id} ({what})"


# --- answers, one per kind ----------------------------------------------------------------------------

_ANSWER: dict = {}


def answer(kind: str):
    def register(func):
        _ANSWER[kind] = func
        return func

    return register


def _system(facts: RequestFacts) -> str:
    return ENVIRONMENTS.get(facts.environment or "beta", ENVIRONMENTS["beta"])[1]


def _log_reply(claimed: Claimed, facts: RequestFacts, code: str, reason: str, upload_part=None) -> Response:
    """A transaction log with ``code``: the upload reply, or a download zip."""
    words = f"{_fault_words(claimed)}: {reason}"
    if facts.org is None:  # not read for matching: read now, this answer stands in for the view's
        org, user, batch = _fields(facts.endpoint)
        facts = RequestFacts(facts.endpoint, facts.now, facts.environment, org, user, batch)
    if facts.endpoint == "upload":
        file_name = request.files["xml"].filename if "xml" in request.files else None
        body = translog.build(
            batch_id=facts.batch or "",
            org_id=facts.org or "",
            system=_system(facts),
            upload=translog.UploadPart(code, facts.now, file_name),
            explanation=[f"{code}:", words],
        )
        return _mark(reply_xml(body, [words], code=code), claimed)
    body = translog.build(
        batch_id=facts.batch or "",
        org_id=facts.org or "",
        system=_system(facts),
        upload=upload_part,
        download_code=code,
        explanation=[f"{code}:", words],
    )
    return _mark(reply_zip(body, {}, facts.batch or "", [words], code=code), claimed)


@answer("disposition")
def _disposition(claimed: Claimed, facts: RequestFacts) -> Response:
    code = claimed.rule.respond["disposition"]
    return _log_reply(claimed, facts, code, f"{code} injected whatever the request held")


@answer("not_yet_processed")
def _not_yet_processed(claimed: Claimed, facts: RequestFacts) -> Response:
    from sqlalchemy import select

    if facts.org is None:
        facts = RequestFacts(facts.endpoint, facts.now, facts.environment, *_fields(facts.endpoint))
    upload_part = None
    with mock().store.session() as s:
        batch = s.scalars(
            select(Batch).where(
                Batch.environment == (facts.environment or ""), Batch.org_id == facts.org, Batch.batch_id == facts.batch
            )
        ).first()
        if batch is not None:
            upload_part = translog.UploadPart("S0000", batch.uploaded_at, batch.file_name)
    return _log_reply(claimed, facts, "S0030", "the batch is reported not yet processed", upload_part)


@answer("certificate")
def _certificate(claimed: Claimed, facts: RequestFacts) -> Response:
    what = claimed.rule.respond["certificate"]
    since = claimed.rule.match.starts
    moment = f" at {since.isoformat(timespec='seconds')} (mock clock)" if since else ""
    reason = (
        f"the client certificate registered for {facts.org or 'this organization'} {what}{moment}; "
        "register a new certificate in RTI (Register for Batch Processing)"
    )
    return _log_reply(claimed, facts, "S0002", reason)


@answer("connection")
def _reset(claimed: Claimed, facts: RequestFacts) -> Response:
    transport.reset_after_answer(request.environ)
    g.sevis_fault_disposition = "connection reset"
    return _mark(Response(b"", status=200), claimed)


GATEWAY_PAGES = {
    403: (
        "Access Denied",
        "You don't have permission to access this resource on this server. Reference #18.{ref}",
    ),
    500: ("Internal Server Error", "The server encountered an internal error and was unable to complete your request."),
    502: ("Bad Gateway", "The proxy server received an invalid response from an upstream server."),
    503: ("Service Unavailable", "The server is temporarily unable to service your request. Please try again later."),
    504: ("Gateway Timeout", "The proxy server did not receive a timely response from the upstream server."),
}


def _page(title: str, text: str, claimed: Claimed) -> bytes:
    return (
        "<!DOCTYPE html>\n<html><head><title>{t}</title></head><body><h1>{t}</h1><p>{x}</p>"
        "<!-- {f} --></body></html>\n".format(
            t=html.escape(title), x=html.escape(text), f=html.escape(_fault_words(claimed)).replace("--", "- -")
        )
    ).encode()


@answer("http_status")
def _http_status(claimed: Claimed, facts: RequestFacts) -> Response:
    status = claimed.rule.respond["http_status"]
    title, text = GATEWAY_PAGES[status]
    resp = Response(_page(title, text.format(ref=f"{claimed.id:08x}"), claimed), status=status, mimetype="text/html")
    if status == 503:
        resp.headers["Retry-After"] = str(claimed.rule.respond["retry_after"])
    return _mark(resp, claimed, f"{_fault_words(claimed)}: HTTP {status} injected")


@answer("maintenance")
def _maintenance(claimed: Claimed, facts: RequestFacts) -> Response:
    rule = claimed.rule
    ends = rule.match.ends
    if rule.match.schedule is not None:
        window = rule.match.schedule.window_at(facts.now)
        if window is not None:
            ends = min(ends, window[1]) if ends else window[1]
    text = rule.respond.get("message") or (
        "SEVIS is unavailable due to scheduled maintenance. We apologize for any inconvenience."
    )
    if ends is not None:
        text += f" Service will resume at {ends.isoformat(timespec='minutes')}."
    resp = Response(_page("Scheduled Maintenance", text, claimed), status=503, mimetype="text/html")
    if ends is not None:
        resp.headers["Retry-After"] = str(max(1, int((ends - facts.now).total_seconds())))
    return _mark(resp, claimed, f"{_fault_words(claimed)}: SEVIS is down for maintenance")


# --- broken zips --------------------------------------------------------------------------------------


def break_zip(body: bytes, how: str) -> bytes:
    """The zip ``body`` broken as ``how`` (one of :data:`ZIP_FAULTS`) says."""
    if how not in ZIP_FAULTS:
        raise ValueError(how)
    if how == "truncated":
        return body[: max(1, len(body) // 2)]
    if how == "corrupt":
        cut = 30  # past the first local file header's fixed part: the name, data and directory are garbled
        return body[:cut] + bytes(b ^ 0x5A for b in body[cut:])
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    log = members.pop(LOG_NAME, None)
    if how == "no_pdfs":
        members = {}
    elif how == "no_log":
        log = None
    elif how == "malformed_log" and log is not None:
        log = log[: len(log) // 2]  # cut inside the document: not well-formed
    elif how == "no_download_part" and log is not None:
        root = etree.fromstring(log, etree.XMLParser(resolve_entities=False, no_network=True))
        for part in root.findall("BatchDetail/Download"):
            parent = part.getparent()
            if parent is not None:
                parent.remove(part)
        log = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        if log is not None:
            zf.writestr(LOG_NAME, log)
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()
