"""Shadow mode: each exchange the proxy forwarded to SEVIS is also put to an embedded mock, re-addressed to the
mock's test school (OrgID, userIDs; the BatchID is kept), and the two answers are compared
(:mod:`sevis_mock.harness.shadow.compare`). The comparisons go to ``DIR/shadow/NNNN.json``, each with a minimal document that
reproduces its differences; ``sevis-mock shadow-report DIR`` turns them into a fidelity report.

The mock processes a batch only when SEVIS has: a download whose SEVIS answer carries a Process part makes the mock
process its copy first; while SEVIS still answers S0030 nothing is compared (timing is not fidelity).
"""

from __future__ import annotations

import copy
import io
import json
import queue
import threading
import time
import zipfile
from pathlib import Path

import requests
from lxml import etree

from sevis_mock._server import launch_mock
from sevis_mock.server.recordings import Exchange

from .compare import LOG_NAME, Comparison, compare_logs, compare_zips, parse_log
from .scrub import Scrubber

KIND_OF_ROOT = {"SEVISBatchCreateUpdateStudent": "F/M", "SEVISBatchCreateUpdateEV": "J"}
RECORD_PARENTS = ("CreateStudent", "UpdateStudent", "CreateEV", "UpdateEV")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def readdress(document: bytes, org_id: str, user_id: str, *, from_org: str, from_user: str) -> bytes:
    """The document addressed to the mock's ``org_id`` and ``user_id`` in place of the college's ``from_org`` and
    ``from_user`` (the upload's form fields): BatchHeader/OrgID and every userID that named them; the BatchID and any
    other value are kept, so a header that disagreed with the form, or a record naming someone else, still does
    [i: another official of the college is unknown to the mock, which answers S1001 where SEVIS may not]. A document
    that does not parse goes as it is."""
    try:
        root = etree.fromstring(document, _PARSER)
    except etree.XMLSyntaxError:
        return document
    header_org = root.find("BatchHeader/OrgID")
    if header_org is not None and (header_org.text or "").strip() == from_org:
        header_org.text = org_id
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("userID") == from_user:
            el.set("userID", user_id)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def document_kind(document: bytes | None) -> str | None:
    if not document:
        return None
    try:
        return KIND_OF_ROOT.get(etree.QName(etree.fromstring(document, _PARSER)).localname)
    except etree.XMLSyntaxError:
        return None


def minimal_document(document: bytes, request_id: str | None) -> bytes:
    """``document`` cut down to its header and the record ``request_id`` (the whole document when that record is not
    found or no record is named)."""
    try:
        root = etree.fromstring(document, _PARSER)
    except etree.XMLSyntaxError:
        return document
    if request_id is None:
        return document
    root = copy.deepcopy(root)
    kept = False
    for parent_name in RECORD_PARENTS:
        parent = root.find(parent_name)
        if parent is None:
            continue
        for record in list(parent):
            if isinstance(record.tag, str) and record.get("requestID") == request_id:
                kept = True
            else:
                parent.remove(record)
        if len(parent) == 0:
            root.remove(parent)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") if kept else document


class ShadowMock:
    """An embedded `sevis-mock serve` whose batches are processed only when asked (the SEVIS side decides when)."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = Path(data_dir)
        self.server = launch_mock(
            self.data_dir, "--processing-delay", "86400", "--workers", "1", "--fast-passwords", *extra, answering=False
        )
        self.info = self.server.info
        # the batch endpoints raw, as the college's client met SEVIS's: the comparison is of the replies as sent
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = self.server.ca_cert

    def org(self, kind: str) -> dict:
        return next(o for o in self.info["organizations"] if o["kind"] == kind)

    def url(self, environment: str, action: str) -> str:
        return f"{self.info['base_url']}/{environment}/action/{action}"

    def upload(self, environment: str, org: dict, batch_id: str, document: bytes, file_name: str | None):
        fields = {"orgid": org["org_id"], "userid": org["user_id"], "batchid": batch_id}
        return self.http.post(
            self.url(environment, "batchUpload"),
            data=fields,
            files={"xml": (file_name or "batch.xml", document)},
            cert=(org["client_cert"], org["client_key"]),
            timeout=120,
        )

    def process_now(self) -> None:
        self.server.process_now()

    def download(self, environment: str, org: dict, batch_id: str):
        fields = {"orgid": org["org_id"], "userid": org["user_id"], "batchid": batch_id}
        return self.http.get(
            self.url(environment, "batchDownload"),
            params=fields,
            cert=(org["client_cert"], org["client_key"]),
            timeout=120,
        )

    def close(self) -> None:
        self.http.close()
        self.server.stop()


class Shadow:
    """Compares, in a background thread and in the order they happened, each exchange with the mock's answer."""

    def __init__(
        self,
        recording_dir: Path,
        mock: ShadowMock,
        *,
        keep_personal_data: bool = False,
        scrubber: Scrubber | None = None,
    ) -> None:
        self.out = Path(recording_dir) / "shadow"
        self.out.mkdir(parents=True, exist_ok=True)
        self.mock = mock
        self.keep_personal_data = keep_personal_data
        self.scrubber = scrubber or Scrubber()
        self.uploads: dict[tuple[str, str, str], tuple[str, bytes, str, dict]] = {}  # -> kind, document, batch, fields
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sevis-mock-shadow", daemon=True)
        self._thread.start()

    def submit(self, exchange: Exchange, forwarded) -> None:
        self._queue.put((exchange, forwarded))

    def drain(self, timeout: float = 600) -> None:
        """Wait until every exchange submitted so far has been compared."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.drain()
        self._queue.put(None)
        self._thread.join(timeout=10)
        self.mock.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                exchange, forwarded = item
                try:
                    result = self.compare(exchange, forwarded)
                except Exception as exc:  # a comparison that cannot be made is reported, never fatal to the proxy
                    result = {
                        "seq": exchange.seq,
                        "action": exchange.action,
                        "compared": False,
                        "reason": f"the comparison failed: {type(exc).__name__}: {exc}",
                    }
                path = self.out / f"{exchange.seq:04d}.json"
                path.write_text(json.dumps(result, indent=2, sort_keys=True))
            finally:
                self._queue.task_done()

    # -- one exchange ------------------------------------------------------------------------------
    def compare(self, exchange: Exchange, f) -> dict:
        key = (exchange.environment, exchange.fields.get("orgid", ""), exchange.fields.get("batchid", ""))
        base = {
            "seq": exchange.seq,
            "action": exchange.action,
            "environment": exchange.environment,
            "batch_id": key[2],
            "upstream_codes": exchange.codes,
        }
        if exchange.action == "upload":
            kind = document_kind(f.document) or "F/M"
            org = self.mock.org(kind)
            sent = self._readdress(f.document, org, exchange.fields) if f.document else b""
            self.uploads[key] = (kind, f.document or b"", key[2], dict(exchange.fields))
            reply = self.mock.upload(exchange.environment, org, key[2], sent, f.file_name)
            return base | self._judge(
                f.status, f.reply, reply.status_code, reply.content, f.document, kind, exchange.fields
            )
        if exchange.codes.get("download") == "S0030" or (
            exchange.codes.get("download") == "S0000" and exchange.codes.get("process") is None
        ):
            return base | {"compared": False, "reason": "SEVIS has not processed the batch yet (S0030)"}
        kind, document, _, fields = self.uploads.get(key, ("F/M", b"", key[2], exchange.fields))
        if exchange.codes.get("process") is not None:
            self.mock.process_now()
        reply = self.mock.download(exchange.environment, self.mock.org(kind), key[2])
        return base | self._judge(f.status, f.reply, reply.status_code, reply.content, document or None, kind, fields)

    @staticmethod
    def _readdress(document: bytes, org: dict, fields: dict) -> bytes:
        return readdress(
            document,
            org["org_id"],
            org["user_id"],
            from_org=fields.get("orgid", ""),
            from_user=fields.get("userid", ""),
        )

    def _judge(
        self,
        up_status: int,
        up_body: bytes,
        mock_status: int,
        mock_body: bytes,
        document: bytes | None,
        kind: str,
        fields: dict,
    ) -> dict:
        out = Comparison()
        if up_status != mock_status:
            out.differ("http-status", "HTTP status", up_status, mock_status)
        up_log, up_names = _log_and_names(up_body)
        mock_log, mock_names = _log_and_names(mock_body)
        if up_log is None or mock_log is None:
            if (up_log is None) != (mock_log is None):
                out.differ("reply-kind", "reply body", _describe(up_body, up_log), _describe(mock_body, mock_log))
        else:
            compare_logs(up_log, mock_log, out)
            if up_names is not None or mock_names is not None:
                compare_zips(up_names or [], up_log, mock_names or [], mock_log, out)
        result = {
            "compared": True,
            "mock_codes": _codes(mock_log),
            "agreements": len(out.agreements),
            "differences": [d.to_dict() for d in out.differences],
        }
        if out.differences and document:
            result["reproductions"] = self._reproductions(out, document, kind, fields)
        return result

    def _reproductions(self, out: Comparison, document: bytes, kind: str, fields: dict) -> dict[str, str]:
        """A minimal document per record named by a difference (``"*"``: the whole batch), addressed to the mock's
        test school, scrubbed unless personal data is kept."""
        org = self.mock.org(kind)
        found = {}
        for request_id in sorted({d.request_id or "*" for d in out.differences}):
            doc = minimal_document(document, None if request_id == "*" else request_id)
            doc = self._readdress(doc, org, fields)
            if not self.keep_personal_data:
                doc = self.scrubber.xml(doc)
            found[request_id] = doc.decode("utf-8", "replace")
        return found


def _log_and_names(body: bytes) -> tuple[etree._Element | None, list[str] | None]:
    if body.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(body)) as zf:
                names = zf.namelist()
                return (parse_log(zf.read(LOG_NAME)) if LOG_NAME in names else None), names
        except zipfile.BadZipFile:
            return None, None
    return parse_log(body), None


def _codes(log: etree._Element | None) -> dict:
    if log is None:
        return {}
    return {
        p.lower(): (
            log.find(f"BatchDetail/{p}").get("resultCode") if log.find(f"BatchDetail/{p}") is not None else None
        )
        for p in ("Upload", "Process", "Download")
    }


def _describe(body: bytes, log) -> str:
    if log is not None:
        return "a transaction log"
    if body.startswith(b"PK"):
        return "a zip without a readable transaction log"
    return f"{len(body)} bytes that are not a transaction log"
