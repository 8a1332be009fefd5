"""The batch endpoints' replies: the transaction log as XML (an upload) or in a zip with the forms (a download),
with SEVIS's codes kept for the request journal and the mock's own explanation in the ``X-Sevis-Mock-Detail``
header. The views answer with them, and so do the faults that stand in for a view's answer."""

from __future__ import annotations

import io
import zipfile

from flask import Response, g

from ..xmlsafe import header_value
from .results import LOG_NAME

DETAIL_HEADER = "X-Sevis-Mock-Detail"


def explained(resp: Response, reasons: list[str] | None, code: str, process_code: str | None = None) -> Response:
    """The reply with its detail header, and the codes it carries kept for the request journal (which so need not
    read them back out of the reply)."""
    if reasons:
        resp.headers[DETAIL_HEADER] = header_value("; ".join(reasons))
    g.sevis_reply_codes = (code, process_code or "")
    return resp


def reply_xml(body: bytes, reasons: list[str] | None, *, code: str) -> Response:
    return explained(Response(body, status=200, mimetype="text/xml"), reasons, code)


def reply_zip(
    log_xml: bytes,
    pdfs: dict[str, bytes],
    batch_id: str,
    reasons: list[str] | None = None,
    *,
    code: str,
    process_code: str | None = None,
) -> Response:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(LOG_NAME, log_xml)
        for name, pdf in sorted(pdfs.items()):
            zf.writestr(f"{name}.pdf", pdf)
    resp = Response(buf.getvalue(), status=200, mimetype="application/zip")
    resp.headers.set("Content-Disposition", "attachment", filename=header_value(f"{batch_id or 'batch'}.zip", 100))
    return explained(resp, reasons, code, process_code)
