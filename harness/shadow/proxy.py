"""`sevis-mock proxy`: stand between a college's client and SEVIS, forward every batch request with the
college's own certificate, give the client SEVIS's answer unchanged, and record the exchange; with ``--shadow``,
also put each request to an embedded mock and compare the two answers (:mod:`sevis_mock.harness.shadow.shadow`).

The client speaks to the proxy exactly as to SEVIS (same paths, same multipart or query string); the proxy listens
over TLS with a certificate from its own development CA, which the client must trust. The client's own certificate
is not needed by the proxy: it forwards with the one given by ``--cert/--key`` or ``--p12``.
"""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import requests
from werkzeug.formparser import parse_form_data
from werkzeug.wrappers import Request, Response

from sevis_mock.server.recordings import KEPT_HEADERS, Exchange, Recording, digest

from .compare import LOG_NAME, parse_log
from .scrub import Scrubber

ACTION_PATH = re.compile(r"/([^/]+)/action/(batchUpload|batchDownload)")
FIELDS = ("orgid", "userid", "batchid")


@dataclass
class Upstream:
    """Where the proxy forwards: ``url`` is SEVIS's environment root, e.g. ``https://host/sbtsevisbatch``."""

    url: str
    cert: tuple[str, str]
    verify: str | bool = True
    timeout: float = 300

    def action_url(self, action: str) -> str:
        return f"{self.url.rstrip('/')}/action/{action}"


@dataclass
class Forwarded:
    """One request as the client sent it and the reply as SEVIS gave it."""

    action: str
    environment: str
    method: str
    query: str
    content_type: str
    body: bytes
    fields: dict[str, str]
    file_name: str | None
    document: bytes | None
    status: int
    headers: dict[str, str]
    reply: bytes
    started_at: str
    elapsed_ms: float
    error: str | None = None


def request_fields(
    action: str, method: str, query: str, content_type: str, body: bytes
) -> tuple[dict, str | None, bytes | None]:
    """orgid/userid/batchid, the file name and the document, read from a copy of the request as SEVIS would read
    them (a garbled multipart yields none)."""
    environ = {
        "REQUEST_METHOD": method,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "QUERY_STRING": query,
    }
    try:
        _, form, files = parse_form_data(environ)
    except Exception:  # a body no parser can read: no fields, as SEVIS would find none
        form, files = {}, {}
    values = {k: v[0] for k, v in parse_qs(query).items()} if action == "batchDownload" else {}
    values.update({k: form.get(k) for k in FIELDS if form.get(k) is not None})
    fields = {k: values.get(k, "").strip() for k in FIELDS}
    part = files.get("xml") if action == "batchUpload" else None
    if part is None:
        return fields, None, None
    return fields, part.filename, part.read()


def reply_codes(reply: bytes) -> dict[str, str | None]:
    """The Upload, Process and Download result codes a reply carries (a bare log or a zip holding one)."""
    log = parse_log(log_bytes(reply) or b"")
    if log is None:
        return {}
    codes = {}
    for part in ("Upload", "Process", "Download"):
        el = log.find(f"BatchDetail/{part}")
        codes[part.lower()] = el.get("resultCode") if el is not None else None
    return codes


def log_bytes(reply: bytes) -> bytes | None:
    if reply.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(reply)) as zf:
                return zf.read(LOG_NAME)
        except (zipfile.BadZipFile, KeyError):
            return None
    return reply


def zip_entries(reply: bytes) -> list[dict]:
    if not reply.startswith(b"PK"):
        return []
    try:
        with zipfile.ZipFile(io.BytesIO(reply)) as zf:
            return [{"name": i.filename, "size": i.file_size, "sha256": digest(zf.read(i))} for i in zf.infolist()]
    except zipfile.BadZipFile:
        return []


class Proxy:
    """The WSGI application: forward, answer, record, and hand the exchange to the shadow (if any)."""

    def __init__(
        self,
        upstream: Upstream,
        recording: Recording,
        *,
        keep_personal_data: bool = False,
        shadow=None,
        scrubber: Scrubber | None = None,
    ) -> None:
        self.upstream = upstream
        self.recording = recording
        self.keep_personal_data = keep_personal_data
        self.scrubber = scrubber or Scrubber()
        self.shadow = shadow
        self._session = requests.Session()
        self._session.trust_env = (
            False  # REQUESTS_CA_BUNDLE or a proxy variable must not redirect the college's traffic
        )
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        match = ACTION_PATH.fullmatch(request.path)
        if match is None:
            resp = Response(
                "sevis-mock proxy forwards only /<environment>/action/batchUpload and batchDownload\n",
                status=404,
                mimetype="text/plain",
            )
            return resp(environ, start_response)
        forwarded = self.forward(request, environment=match.group(1), action=match.group(2))
        self.record(forwarded)
        resp = Response(forwarded.reply, status=forwarded.status)
        for name, value in forwarded.headers.items():
            resp.headers[name] = value
        return resp(environ, start_response)

    def forward(self, request: Request, *, environment: str, action: str) -> Forwarded:
        body = request.get_data(cache=False)
        query = request.query_string.decode("latin-1")
        content_type = request.headers.get("Content-Type", "")
        fields, file_name, document = request_fields(action, request.method, query, content_type, body)
        headers = {"Content-Type": content_type} if content_type else {}
        if request.user_agent.string:
            headers["User-Agent"] = request.user_agent.string
        started = datetime.now(UTC)
        clock = time.perf_counter()
        error = None
        try:
            reply = self._session.request(
                request.method,
                self.upstream.action_url(action) + (f"?{query}" if query else ""),
                data=body,
                headers=headers,
                cert=self.upstream.cert,
                verify=self.upstream.verify,
                timeout=self.upstream.timeout,
            )
            status, content = reply.status_code, reply.content
            kept = {k: reply.headers[k] for k in KEPT_HEADERS if k in reply.headers}
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
            status, kept = 502, {"Content-Type": "text/plain; charset=utf-8"}
            content = f"sevis-mock proxy: the upstream {self.upstream.url} could not be reached ({error})\n".encode()
        return Forwarded(
            action="upload" if action == "batchUpload" else "download",
            environment=environment,
            method=request.method,
            query=query,
            content_type=content_type,
            body=body,
            fields=fields,
            file_name=file_name,
            document=document,
            status=status,
            headers=kept,
            reply=content,
            started_at=started.isoformat(timespec="milliseconds"),
            elapsed_ms=round((time.perf_counter() - clock) * 1000, 1),
            error=error,
        )

    def record(self, f: Forwarded) -> None:
        seq = self.recording.next_seq()
        with self._lock:  # one scrubber, consistent fakes across threads
            document = f.document if self.keep_personal_data or f.document is None else self.scrubber.xml(f.document)
            if self.keep_personal_data or f.error is not None:
                reply = f.reply
            elif f.reply.startswith(b"PK"):
                reply = self.scrubber.zip(f.reply)
            elif f.headers.get("Content-Type", "").split(";")[0].strip().endswith("xml"):
                reply = self.scrubber.xml(f.reply)
            else:
                reply = f.reply
        exchange = Exchange(
            seq=seq,
            action=f.action,
            environment=f.environment,
            method=f.method,
            query=f.query,
            fields=f.fields,
            file_name=f.file_name,
            document_sha256=digest(f.document) if f.document is not None else None,
            status=f.status,
            headers=f.headers,
            reply_sha256=digest(f.reply),
            codes=reply_codes(f.reply),
            zip_entries=zip_entries(f.reply),
            started_at=f.started_at,
            elapsed_ms=f.elapsed_ms,
            scrubbed=not self.keep_personal_data,
            error=f.error,
        )
        self.recording.add(exchange, document=document, reply=reply)
        if self.shadow is not None and f.error is None:
            self.shadow.submit(exchange, f)

    def close(self) -> None:
        self._session.close()
        if self.shadow is not None:
            self.shadow.close()


def proxy_tls_context(tls_dir: Path, host: str):
    """The proxy's listening certificate, from its own development CA in ``tls_dir`` (made on first use)."""
    import ssl

    from sevis_mock.server.tls import CertificateAuthority

    ca = CertificateAuthority.load_or_create(tls_dir)
    server = ca.issue_server(tls_dir, host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(server.cert_path), str(server.key_path))
    return context, tls_dir / "ca.pem"
