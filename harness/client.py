"""A client for the SEVIS Batch interface: upload a batch, download its transaction log and forms.

The same code talks to the real service (``https://egov.ice.gov``) and to sevis-mock:

* authentication is the TLS client certificate only (PEM cert + key, or a PKCS#12 file);
* upload is ``POST {base_url}/{environment}/action/batchUpload`` as multipart/form-data with the
  text fields ``orgid``, ``userid``, ``batchid`` and the file part ``xml``; the reply is HTTP 200
  with a ``TransactionLog`` holding the ``Upload`` result;
* download is ``{base_url}/{environment}/action/batchDownload`` with the same three fields (GET
  query string, POST multipart or POST urlencoded); the reply is a zip holding
  ``sevis_transaction_log.xml`` and one PDF per printed form, named with the SEVIS ID.

Errors form one tree: `SevisError` and its subclasses `SevisHTTPError` (the server answered with
something that is not the SEVIS protocol: a non-200 status, an HTML page), `SevisProtocolError`
(a SEVIS-looking reply that cannot be understood), `SevisConnectionError` (TLS or network
failure, e.g. a refused client certificate) and `SevisTimeout` (processing did not finish in time).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import time
import weakref
import zipfile
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Callable, NamedTuple

import requests
from lxml import etree

from .connection import Connection, SevisOrg

DETAIL_HEADER = "X-Sevis-Mock-Detail"  # sevis-mock says what to fix beside SEVIS's bare code

__all__ = [
    "BATCH_RESULT_CODES",
    "ENVIRONMENTS",
    "DependentResult",
    "DocumentInfo",
    "DownloadResult",
    "ProcessInfo",
    "RecordResult",
    "SevisClient",
    "SevisConnectionError",
    "SevisError",
    "SevisHTTPError",
    "SevisProtocolError",
    "SevisTimeout",
    "TransactionLog",
    "UploadInfo",
    "UploadResult",
    "describe_code",
    "parse_transaction_log",
    "read_document_info",
    "replace_batch_id",
]

#: Environment name -> path prefix on the SEVIS host.
ENVIRONMENTS: dict[str, str] = {
    "production": "sevisbatch",
    "beta": "sbtsevisbatch",
    "alpha": "alphasevisbatch",
}

#: Batch dispositions (upload, process and download result codes) and their SEVIS messages.
BATCH_RESULT_CODES: dict[str, str] = {
    "S0000": "Success",
    "S0001": "General upload/download failure",
    "S0002": "Invalid organization information",
    "S0003": "Invalid user ID",
    "S0010": "Duplicate Batch ID",
    "S0011": "Document name invalid",
    "S0012": "XML is not well-formed or does not agree with SEVIS-specific POSTing requirements",
    "S0013": "XML does not comply with SEVIS schema",
    "S0020": "One or more records failed processing due to business rule violations",
    "S0030": "Download unavailable - batch job not yet processed",
    "S0031": "Download invalid - batch job never submitted",
}

NOT_YET_PROCESSED = "S0030"
TRANSACTION_LOG_NAME = "sevis_transaction_log.xml"
MAX_XML_BYTES = 64 * 1024 * 1024  # a transaction log of 250 records is far below this
MAX_ZIP_MEMBERS = 2000
MAX_ZIP_UNCOMPRESSED = 512 * 1024 * 1024
_SEVIS_ID = re.compile(r"N\d{10}")
_BODY_START = 500


def describe_code(code: str | None) -> str:
    """The SEVIS message for a batch result code, or an empty string when unknown."""
    return BATCH_RESULT_CODES.get(code or "", "")


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
class SevisError(Exception):
    """Base of every error raised by this client."""


class SevisHTTPError(SevisError):
    """The server answered, but not with the SEVIS protocol (non-200 status, not a TransactionLog)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: bytes = b"",
        url: str | None = None,
        retry_after: float | None = None,
    ):
        self.status = status
        self.retry_after = retry_after  # seconds, from a Retry-After header (503)
        self.url = url
        self.body = body[: _BODY_START * 8]
        self.body_start = body[:_BODY_START].decode("utf-8", "replace")
        detail = f"{message} (HTTP {status})" if status is not None else message
        if self.body_start.strip():
            detail += f"; reply starts: {self.body_start.strip()[:200]!r}"
        super().__init__(detail)


class SevisProtocolError(SevisError):
    """A reply that should be SEVIS protocol (zip, TransactionLog) but cannot be understood."""


class SevisConnectionError(SevisError):
    """No usable HTTPS exchange: TLS handshake refused (often the client certificate), network error."""


class SevisTimeout(SevisError):
    """The batch was still not processed (S0030) when the wait ended. `last` is the last reply."""

    def __init__(self, message: str, *, last: DownloadResult | None = None):
        self.last = last
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# Result types (plain data)
# --------------------------------------------------------------------------------------------
class DependentResult(NamedTuple):
    """A `Dependent` of a record: (sevis_id, user_defined_a, user_defined_b)."""

    sevis_id: str | None
    user_defined_a: str | None
    user_defined_b: str | None


@dataclass
class RecordResult:
    """One `Process/Record`: the outcome of one principal (Student or ExchangeVisitor).

    Address dictionaries have the keys address1, address2, city, state, postal_code (None when
    absent or nil). `sites` holds one dict per `SiteOfActivity` with provided_address,
    corrected_address, address_result, address_message, site_id, site_name, phases.
    `employers` holds one dict per `Employer` with employer_name, start_date, provided_address,
    corrected_address, address_result, address_message. `physical_address` and `mailing_address`
    are dicts with provided, corrected, result, message (or None when not reported).
    """

    request_id: str
    sevis_id: str | None
    user_id: str | None
    user_defined_a: str | None
    user_defined_b: str | None
    process_date: datetime | None
    ok: bool
    error_code: str | None = None
    error_message: str | None = None
    dependents: list[DependentResult] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)
    employers: list[dict[str, Any]] = field(default_factory=list)
    physical_address: dict[str, Any] | None = None
    mailing_address: dict[str, Any] | None = None


@dataclass
class UploadInfo:
    """`BatchDetail/Upload`: the result of the security and schema checks at upload."""

    code: str
    timestamp: datetime | None
    file_name: str | None


@dataclass
class ProcessInfo:
    """`BatchDetail/Process`: the result of applying the records (business rules)."""

    code: str
    timestamp: datetime | None
    success: int | None
    failure: int | None
    total: int | None
    records: list[RecordResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.code == "S0000"


@dataclass
class TransactionLog:
    """A parsed SEVIS `TransactionLog` (SevisTransLog.xsd). `xml` keeps the document as received."""

    batch_id: str
    org_id: str
    status: bool
    system: str | None
    upload: UploadInfo | None
    process: ProcessInfo | None
    download_code: str | None
    xml: bytes = field(default=b"", repr=False, compare=False)
    #: sevis-mock's explanation beside SEVIS's code (the XML comment it puts at the top of the log; SEVIS has none)
    explanation: str | None = field(default=None, compare=False)

    @property
    def records(self) -> list[RecordResult]:
        return self.process.records if self.process else []

    @property
    def failures(self) -> list[RecordResult]:
        return [r for r in self.records if not r.ok]

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self)


@dataclass
class UploadResult:
    """The synchronous reply to an upload. `code` is the Upload resultCode (S0000 = queued)."""

    log: TransactionLog
    batch_id: str
    org_id: str
    user_id: str
    file_name: str
    http_status: int = 200
    detail: str | None = None  # the X-Sevis-Mock-Detail response header (sevis-mock only)

    @property
    def code(self) -> str | None:
        return self.log.upload.code if self.log.upload else None

    @property
    def explanation(self) -> str | None:
        """sevis-mock's own words on the reply (its X-Sevis-Mock-Detail header, else the log's comment)."""
        return self.detail or self.log.explanation

    @property
    def ok(self) -> bool:
        return self.code == "S0000"

    @property
    def meaning(self) -> str:
        return describe_code(self.code)

    def to_dict(self) -> dict[str, Any]:
        data = _jsonable(self)
        data.update(code=self.code, ok=self.ok, meaning=self.meaning, explanation=self.explanation)
        return data


@dataclass
class DownloadResult:
    """A download: the transaction log, the PDFs by SEVIS ID and the raw zip (None for bare XML)."""

    log: TransactionLog
    pdfs: dict[str, bytes] = field(default_factory=dict)
    zip_bytes: bytes | None = field(default=None, repr=False)
    http_status: int = 200
    detail: str | None = None  # the X-Sevis-Mock-Detail response header (sevis-mock only)

    @property
    def explanation(self) -> str | None:
        """sevis-mock's own words on the reply (its X-Sevis-Mock-Detail header, else the log's comment)."""
        return self.detail or self.log.explanation

    @property
    def code(self) -> str | None:
        """The Download resultCode (S0000 ok, S0030 not yet processed, S0031 never submitted)."""
        return self.log.download_code

    @property
    def ok(self) -> bool:
        return self.code == "S0000"

    @property
    def pending(self) -> bool:
        """True while SEVIS says the batch is not yet processed (S0030)."""
        process_code = self.log.process.code if self.log.process else None
        return NOT_YET_PROCESSED in (self.code, process_code)

    @property
    def meaning(self) -> str:
        return describe_code(self.code)

    def to_dict(self) -> dict[str, Any]:
        data = _jsonable(self)
        data["pdfs"] = {sevis_id: len(content) for sevis_id, content in self.pdfs.items()}
        data.update(code=self.code, ok=self.ok, meaning=self.meaning, explanation=self.explanation)
        return data


def _jsonable(value: Any) -> Any:
    """Plain JSON-ready data: dataclasses and named tuples as dicts, datetimes as ISO strings."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _jsonable(getattr(value, f.name))
            for f in fields(value)
            if f.repr and not isinstance(getattr(value, f.name), bytes)
        }
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return len(value)
    return value


# --------------------------------------------------------------------------------------------
# XML: hardened parsing and the transaction log
# --------------------------------------------------------------------------------------------
def _xml_parser() -> etree.XMLParser:
    # One parser per call: lxml parsers are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
    )


def _parse_xml(data: bytes, what: str) -> etree._Element:
    """Parse untrusted XML: no DTD (a DOCTYPE is refused), no entities, no network, bounded size."""
    if len(data) > MAX_XML_BYTES:
        raise SevisProtocolError(f"{what} is {len(data)} bytes, above the {MAX_XML_BYTES} byte limit")
    try:
        root = etree.fromstring(data.lstrip(b" \t\r\n"), parser=_xml_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        if b"<!DOCTYPE" in data:
            raise SevisProtocolError(
                f"{what} carries a DOCTYPE, which is refused (no DTDs, no entities): {exc}"
            ) from exc
        raise SevisProtocolError(f"{what} is not well-formed XML: {exc}") from exc
    if root is None:
        raise SevisProtocolError(f"{what} is empty")
    if root.getroottree().docinfo.doctype:
        raise SevisProtocolError(f"{what} carries a DOCTYPE, which is refused (no DTDs, no entities)")
    return root


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and _local(c) == name]


def _child(el: etree._Element, name: str) -> etree._Element | None:
    for c in el:
        if isinstance(c.tag, str) and _local(c) == name:
            return c
    return None


_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


XML_SPACE = " \t\r\n"  # XML's whitespace; str.strip() would also eat a no-break space a value may hold


def _text(el: etree._Element | None, name: str | None = None, *, strip: bool = True) -> str | None:
    """Text of `el` (or of its child `name`); None when absent or xsi:nil."""
    if el is not None and name is not None:
        el = _child(el, name)
    if el is None or el.get(_XSI_NIL, "").strip() in ("true", "1"):
        return None
    text = el.text or ""
    return text.strip(XML_SPACE) if strip else text


def _attr(el: etree._Element, name: str) -> str | None:
    value = el.get(name)
    return value.strip(XML_SPACE) if value is not None else None


def _bool(value: str | None, where: str) -> bool | None:
    """xsd:boolean: "true"/"1" -> True, "false"/"0" -> False."""
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise SevisProtocolError(f"{where} is {value!r}, not an xsd:boolean (true, false, 1, 0)")


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _datetime(value: str | None, where: str) -> datetime | None:
    """xsd:dateTime, with or without fraction and zone ("Z", "+hh:mm")."""
    if value is None or not value.strip():
        return None
    text = _FRACTION.sub(r"\1", value.strip())
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise SevisProtocolError(f"{where} is {value!r}, not an xsd:dateTime") from exc


def _date(value: str | None, where: str) -> date | None:
    if value is None or not value.strip():
        return None
    match = re.match(r"\d{4}-\d{2}-\d{2}", value.strip())
    try:
        if not match:
            raise ValueError(value)
        return date.fromisoformat(match.group(0))
    except ValueError as exc:
        raise SevisProtocolError(f"{where} is {value!r}, not an xsd:date") from exc


def _int(value: str | None, where: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError as exc:
        raise SevisProtocolError(f"{where} is {value!r}, not an integer") from exc


def _address(el: etree._Element | None) -> dict[str, str | None] | None:
    """A USAddrDoctorResponseType element as a dict (tolerates missing City/State)."""
    if el is None or el.get(_XSI_NIL, "").strip() in ("true", "1"):
        return None
    return {
        "address1": _text(el, "Address1"),
        "address2": _text(el, "Address2"),
        "city": _text(el, "City"),
        "state": _text(el, "State"),
        "postal_code": _text(el, "PostalCode"),
    }


def _address_result(record: etree._Element, prefix: str) -> dict[str, Any] | None:
    parts = {
        "provided": _address(_child(record, f"{prefix}ProvidedAddress")),
        "corrected": _address(_child(record, f"{prefix}CorrectedAddress")),
        "result": _text(record, f"{prefix}AddressResult"),
        "message": _text(record, f"{prefix}AddressMessage"),
    }
    return parts if any(v is not None for v in parts.values()) else None


def _site(el: etree._Element) -> dict[str, Any]:
    return {
        "site_id": _text(el, "SiteId"),
        "site_name": _text(el, "SiteName"),
        "provided_address": _address(_child(el, "ProvidedAddress")),
        "corrected_address": _address(_child(el, "CorrectedAddress")),
        "address_result": _text(el, "AddressResult"),
        "address_message": _text(el, "AddressMessage"),
        "phases": [
            {"phase_id": _text(p, "PhaseId"), "phase_name": _text(p, "PhaseName")} for p in _children(el, "Phase")
        ],
    }


def _employer(el: etree._Element, where: str) -> dict[str, Any]:
    return {
        "employer_name": _text(el, "EmployerName"),
        "start_date": _date(_text(el, "StartDate"), f"{where} Employer/StartDate"),
        "provided_address": _address(_child(el, "ProvidedAddress")),
        "corrected_address": _address(_child(el, "CorrectedAddress")),
        "address_result": _text(el, "AddressResult"),
        "address_message": _text(el, "AddressMessage"),
    }


def _record(el: etree._Element) -> RecordResult:
    request_id = _attr(el, "requestID") or ""
    where = f"Record requestID={request_id!r}"
    result = _child(el, "Result")
    error_code = _text(result, "ErrorCode") if result is not None else None
    error_message = _text(result, "ErrorMessage") if result is not None else None
    status = _bool(result.get("status"), f"{where} Result/@status") if result is not None else None
    ok = status if status is not None else (result is not None and error_code is None)
    return RecordResult(
        request_id=request_id,
        sevis_id=_attr(el, "sevisID") or None,
        user_id=_attr(el, "userID") or None,
        user_defined_a=_text(el, "UserDefinedA", strip=False),
        user_defined_b=_text(el, "UserDefinedB", strip=False),
        process_date=_datetime(_text(el, "ProcessDate"), f"{where} ProcessDate"),
        ok=ok,
        error_code=error_code,
        error_message=error_message,
        dependents=[
            DependentResult(
                _attr(d, "dependentSevisID") or None,
                _text(d, "UserDefinedA", strip=False),
                _text(d, "UserDefinedB", strip=False),
            )
            for d in _children(el, "Dependent")
        ],
        sites=[_site(s) for s in _children(el, "SiteOfActivity")],
        employers=[_employer(e, where) for e in _children(el, "Employer")],
        physical_address=_address_result(el, "Physical"),
        mailing_address=_address_result(el, "Mailing"),
    )


def _log_from_root(root: etree._Element, xml: bytes) -> TransactionLog:
    if _local(root) != "TransactionLog":
        raise SevisProtocolError(f"expected a TransactionLog document, got <{_local(root)}>")
    header = _child(root, "BatchHeader")
    detail = _child(root, "BatchDetail")
    if header is None or detail is None:
        raise SevisProtocolError("TransactionLog lacks BatchHeader or BatchDetail")

    upload = None
    if (up := _child(detail, "Upload")) is not None:
        upload = UploadInfo(
            code=_attr(up, "resultCode") or "",
            timestamp=_datetime(up.get("dateTimeStamp"), "Upload/@dateTimeStamp"),
            file_name=_text(up, "FileName", strip=False),
        )
    process = None
    if (pr := _child(detail, "Process")) is not None:
        counts = _child(pr, "RecordCount")
        process = ProcessInfo(
            code=_attr(pr, "resultCode") or "",
            timestamp=_datetime(pr.get("dateTimeStamp"), "Process/@dateTimeStamp"),
            success=_int(_text(counts, "Success"), "RecordCount/Success") if counts is not None else None,
            failure=_int(_text(counts, "Failure"), "RecordCount/Failure") if counts is not None else None,
            total=_int(_text(counts, "Total"), "RecordCount/Total") if counts is not None else None,
            records=[_record(r) for r in _children(pr, "Record")],
        )
    dl = _child(detail, "Download")
    status = _bool(detail.get("status"), "BatchDetail/@status")
    return TransactionLog(
        batch_id=_text(header, "BatchID") or "",
        org_id=_text(header, "OrgID") or "",
        status=bool(status),
        system=detail.get("system"),
        upload=upload,
        process=process,
        download_code=_attr(dl, "resultCode") if dl is not None else None,
        xml=xml,
        explanation=_mock_comment(root),
    )


MOCK_COMMENT = "sevis-mock:"


def _mock_comment(root: etree._Element) -> str | None:
    """The text of sevis-mock's comment at the top of a log (``<!--sevis-mock: ...-->``), if any."""
    for node in root:
        if isinstance(node, etree._Comment) and (node.text or "").strip().startswith(MOCK_COMMENT):
            return " ".join((node.text or "").strip()[len(MOCK_COMMENT) :].split()) or None
    return None


def parse_transaction_log(xml_bytes: bytes | str) -> TransactionLog:
    """Parse a SEVIS TransactionLog (upload reply or downloaded log).

    Raises `SevisProtocolError` when the bytes are not well-formed XML, carry a DOCTYPE, are not a
    TransactionLog, or hold values of the wrong type.
    """
    if isinstance(xml_bytes, str):
        xml_bytes = _encode_text(xml_bytes)
    return _log_from_root(_parse_xml(xml_bytes, "transaction log"), xml_bytes)


# --------------------------------------------------------------------------------------------
# Batch documents (what is uploaded)
# --------------------------------------------------------------------------------------------
_DOCUMENT_KINDS = {"SEVISBatchCreateUpdateStudent": "F/M", "SEVISBatchCreateUpdateEV": "J"}


@dataclass
class DocumentInfo:
    """What the client needs from a batch document: root name, kind (F/M or J), header, userID."""

    root: str
    kind: str | None
    batch_id: str | None
    org_id: str | None
    user_id: str | None


def read_document_info(xml: bytes) -> DocumentInfo:
    """Read a batch document's root and BatchHeader. Raises `SevisProtocolError` if not parseable."""
    root = _parse_xml(xml, "batch document")
    header = _child(root, "BatchHeader")
    name = _local(root)
    return DocumentInfo(
        root=name,
        kind=_DOCUMENT_KINDS.get(name),
        batch_id=_text(header, "BatchID") if header is not None else None,
        org_id=_text(header, "OrgID") if header is not None else None,
        user_id=_attr(root, "userID"),
    )


def replace_batch_id(xml: bytes, batch_id: str) -> bytes:
    """Return the document with BatchHeader/BatchID set to `batch_id` (encoding kept)."""
    root = _parse_xml(xml, "batch document")
    header = _child(root, "BatchHeader")
    if header is None:
        raise SevisProtocolError(f"<{_local(root)}> has no BatchHeader to hold a BatchID")
    element = _child(header, "BatchID")
    if element is None:
        element = etree.Element("BatchID")
        header.insert(0, element)
    element.text = batch_id
    tree = root.getroottree()
    kwargs: dict[str, Any] = {}
    declaration = re.match(rb"\s*<\?xml[^>]*?standalone\s*=\s*[\"'](yes|no)[\"']", xml)
    if declaration:  # keep a declared standalone flag, add none
        kwargs["standalone"] = declaration.group(1) == b"yes"
    return etree.tostring(tree, xml_declaration=True, encoding=tree.docinfo.encoding or "UTF-8", **kwargs)


def _encode_text(text: str) -> bytes:
    """Encode XML text in the encoding its declaration names (UTF-8 when none or unknown)."""
    match = re.match(r"""\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", text)
    if match:
        try:
            return text.encode(match.group(1))
        except (LookupError, UnicodeEncodeError):
            pass
    return text.encode("utf-8")


# --------------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------------
def _log_from_reply(response: requests.Response, body: bytes) -> TransactionLog:
    """A 200 reply that must be a TransactionLog (else `SevisHTTPError`)."""
    try:
        root = _parse_xml(body, "reply")
    except SevisProtocolError:
        root = None
    if root is None or _local(root) != "TransactionLog":
        raise SevisHTTPError(
            f"{response.url} answered with something that is not a SEVIS TransactionLog",
            status=response.status_code,
            body=body,
            url=response.url,
        )
    return _log_from_root(root, body.lstrip(b" \t\r\n"))


def _member_name(info: zipfile.ZipInfo) -> str:
    return PurePosixPath(info.filename.replace("\\", "/")).name


def _read_zip(body: bytes) -> tuple[TransactionLog, dict[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile as exc:
        raise SevisProtocolError(f"the download reply is not a readable zip: {exc}") from exc
    with archive:
        members = [i for i in archive.infolist() if not i.is_dir() and _member_name(i)]
        if len(members) > MAX_ZIP_MEMBERS:
            raise SevisProtocolError(f"the zip holds {len(members)} files, above {MAX_ZIP_MEMBERS}")
        if sum(i.file_size for i in members) > MAX_ZIP_UNCOMPRESSED:
            raise SevisProtocolError("the zip expands beyond the size limit")
        xml_members = [i for i in members if _member_name(i).lower().endswith(".xml")]
        logs = [i for i in xml_members if _member_name(i).lower() == TRANSACTION_LOG_NAME]
        if not logs and len(xml_members) == 1:
            logs = xml_members
        if not logs:
            raise SevisProtocolError(
                f"the zip holds no {TRANSACTION_LOG_NAME} (it holds: "
                f"{', '.join(i.filename for i in members) or 'nothing'})"
            )
        try:
            log_xml = archive.read(logs[0])
            pdfs: dict[str, bytes] = {}
            for info in members:
                name = _member_name(info)
                if not name.lower().endswith(".pdf"):
                    continue
                match = _SEVIS_ID.search(name)
                stem = name[:-4]
                # The I-20 / DS-2019 is filed under its SEVIS ID; a second form of the same record named
                # "<SEVIS ID>-<form>" (the DS-7002: "N0001000001-7002.pdf") under that name.
                key = match.group(0) if match and not stem.startswith(match.group(0) + "-") else stem
                if key in pdfs:
                    key = name
                pdfs[key] = archive.read(info)
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            raise SevisProtocolError(f"cannot read the zip: {exc}") from exc
    return parse_transaction_log(log_xml), pdfs


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------
def _pkcs12_to_pem(p12_path: str | os.PathLike[str], password: bytes | str | None, directory: str) -> tuple[str, str]:
    """Write the key and certificate chain of a PKCS#12 file as PEM files in `directory`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    data = Path(p12_path).read_bytes()
    secret = password.encode("utf-8") if isinstance(password, str) else password
    attempts = [secret] if secret is not None else [None, b""]
    last_error: Exception | None = None
    for attempt in attempts:
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, attempt)
            break
        except ValueError as exc:  # wrong password or not PKCS#12
            last_error = exc
    else:
        hint = "wrong password?" if secret is not None else "it needs a password (p12_password)"
        raise SevisError(f"cannot read PKCS#12 file {p12_path}: {hint} ({last_error})")
    if key is None or cert is None:
        raise SevisError(f"PKCS#12 file {p12_path} must hold a private key and its certificate")

    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [cert, *(extra or [])])
    cert_path = os.path.join(directory, "client-cert.pem")
    key_path = os.path.join(directory, "client-key.pem")
    for path, content in ((cert_path, chain_pem), (key_path, key_pem)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
    return cert_path, key_path


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; an HTTP date is read as well), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


class SevisClient:
    """Upload batches to and download results from SEVIS Batch (or sevis-mock) over mutual TLS.

    `cert` is (certificate PEM path, private key PEM path); `p12` a PKCS#12 file instead, converted
    to PEM in a private temporary directory (0700) that `close()` removes. `ca_bundle` is passed
    to requests as `verify` (a CA file, or True for the system store). `environment` is the path
    prefix: `sevisbatch` (production), `sbtsevisbatch` (beta), `alphasevisbatch` (alpha); the
    names production/beta/alpha are accepted too.
    """

    def __init__(
        self,
        base_url: str,
        *,
        cert: tuple[str, str] | None = None,
        p12: str | os.PathLike[str] | None = None,
        p12_password: bytes | str | None = None,
        ca_bundle: str | bool = True,
        environment: str = "sbtsevisbatch",
        timeout: float = 60,
    ):
        if cert is not None and p12 is not None:
            raise ValueError("give either cert=(cert, key) or p12=..., not both")
        self.base_url = base_url.rstrip("/")
        self.environment = ENVIRONMENTS.get(environment, environment).strip("/")
        self.timeout = timeout
        self.verify: str | bool = str(ca_bundle) if isinstance(ca_bundle, os.PathLike) else ca_bundle
        self._p12_dir: str | None = None
        self._cleanup: weakref.finalize | None = None
        self.cert: tuple[str, str] | None = None
        if cert is not None:
            cert_path, key_path = (str(cert[0]), str(cert[1]))
            for path in (cert_path, key_path):
                if not Path(path).is_file():
                    raise SevisError(f"client certificate file not found: {path}")
            self.cert = (cert_path, key_path)
        elif p12 is not None:
            if not Path(p12).is_file():
                raise SevisError(f"PKCS#12 file not found: {p12}")
            self._p12_dir = tempfile.mkdtemp(prefix="sevis-client-")
            os.chmod(self._p12_dir, 0o700)
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._p12_dir, True)
            try:
                self.cert = _pkcs12_to_pem(p12, p12_password, self._p12_dir)
            except BaseException:
                self._cleanup()
                raise
        if isinstance(self.verify, str) and not Path(self.verify).exists():
            raise SevisError(f"CA bundle not found: {self.verify}")
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "sevis-mock-harness/0.1 (SEVIS Batch client)"

    @classmethod
    def for_org(
        cls,
        connection: Connection,
        org: SevisOrg | str | None = None,
        *,
        environment: str = "beta",
        p12_password: bytes | str | None = None,
        timeout: float = 60,
    ) -> SevisClient:
        """A client acting as ``org`` (an organization of ``connection``, or its org ID; the first listed when
        None), trusting the connection's CA."""
        if org is None or isinstance(org, str):
            found = connection.find_org(org) if org else next(iter(connection.organizations), None)
            if found is None:
                listed = ", ".join(o.org_id for o in connection.organizations) or "none"
                raise SevisError(
                    f"{connection.source} lists no organization {org or ''!s}".rstrip() + f" (listed: {listed})"
                )
            org = found
        return cls(
            connection.base_url,
            cert=org.cert,
            p12=None if org.cert else org.client_p12,
            p12_password=p12_password,
            ca_bundle=connection.ca_cert or True,
            environment=connection.batch_prefix(environment),
            timeout=timeout,
        )

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP session and remove the PEM files made from a PKCS#12 file."""
        self._session.close()
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> SevisClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SevisClient({self.base_url!r}, environment={self.environment!r})"

    # -- HTTP ------------------------------------------------------------------------------------
    def url(self, action: str) -> str:
        """`{base_url}/{environment}/action/{action}` (batchUpload or batchDownload)."""
        return f"{self.base_url}/{self.environment}/action/{action}"

    def _send(self, method: str, action: str, **kwargs: Any) -> tuple[requests.Response, bytes]:
        url = self.url(action)
        # A download is safe to repeat: one retry covers a kept-alive connection that the server
        # closed just as the request went out. An upload is never sent twice.
        attempts = 2 if action == "batchDownload" else 1
        try:
            for attempt in range(attempts):
                try:
                    response = self._session.request(
                        method, url, timeout=self.timeout, verify=self.verify, cert=self.cert, **kwargs
                    )
                    break
                except requests.exceptions.ConnectionError as exc:
                    if (
                        isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.Timeout))
                        or attempt + 1 == attempts
                    ):
                        raise
            body = response.content
        except requests.exceptions.SSLError as exc:
            given = (
                "a client certificate was given: check that the server trusts its issuer"
                if self.cert
                else "no client certificate was given, and SEVIS requires one"
            )
            raise SevisConnectionError(
                f"TLS failure talking to {url}: {exc}. Check that the server certificate is "
                f"trusted (CA bundle); {given}"
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise SevisConnectionError(f"no answer from {url} within {self.timeout:g} s: {exc}") from exc
        except requests.exceptions.RequestException as exc:
            hint = "" if self.cert else " (no client certificate was given; SEVIS requires one)"
            raise SevisConnectionError(f"cannot talk to {url}: {exc}{hint}") from exc
        if response.status_code != 200:
            raise SevisHTTPError(
                f"{method} {url} failed",
                status=response.status_code,
                body=body,
                url=url,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        return response, body

    # -- upload ----------------------------------------------------------------------------------
    def upload(
        self,
        xml: bytes | str | os.PathLike[str],
        *,
        org_id: str,
        user_id: str,
        batch_id: str | None = None,
        filename: str | None = None,
    ) -> UploadResult:
        """POST a batch document. `batch_id` defaults to the document's BatchHeader/BatchID.

        `xml` is the document as bytes, as XML text (str), or a Path to a file. The reply's
        Upload resultCode is in `.code` (S0000 = accepted and queued for processing).
        """
        if isinstance(xml, os.PathLike):
            path = Path(xml)
            data = path.read_bytes()
            filename = filename or path.name
        elif isinstance(xml, str):
            if not xml.lstrip("\ufeff \t\r\n").startswith("<"):
                raise SevisError("upload() got a str that is not XML text; pass a Path to upload a file")
            data = _encode_text(xml)
        else:
            data = bytes(xml)
        filename = filename or "batch.xml"
        if batch_id is None:
            try:
                batch_id = read_document_info(data).batch_id
            except SevisProtocolError as exc:
                raise SevisError(f"cannot read the BatchID of the document ({exc}); pass batch_id=") from exc
            if not batch_id:
                raise SevisError("the document has no BatchHeader/BatchID; pass batch_id=")
        response, body = self._send(
            "POST",
            "batchUpload",
            data={"orgid": org_id, "userid": user_id, "batchid": batch_id},
            files={"xml": (filename, data, "text/xml")},
        )
        return UploadResult(
            log=_log_from_reply(response, body),
            batch_id=batch_id,
            org_id=org_id,
            user_id=user_id,
            file_name=filename,
            http_status=response.status_code,
            detail=response.headers.get(DETAIL_HEADER) or None,
        )

    # -- download --------------------------------------------------------------------------------
    def download(self, *, org_id: str, user_id: str, batch_id: str, method: str = "GET") -> DownloadResult:
        """Fetch a batch's transaction log and PDFs.

        `method`: "GET" (query string), "POST" (multipart/form-data) or "FORM" (POST
        application/x-www-form-urlencoded). `.code` is the Download resultCode.
        """
        fields_ = {"orgid": org_id, "userid": user_id, "batchid": batch_id}
        how = method.upper()
        if how == "GET":
            response, body = self._send("GET", "batchDownload", params=fields_)
        elif how == "POST":
            response, body = self._send("POST", "batchDownload", files={k: (None, v) for k, v in fields_.items()})
        elif how == "FORM":
            response, body = self._send("POST", "batchDownload", data=fields_)
        else:
            raise ValueError(f"method must be GET, POST or FORM, not {method!r}")
        if body[:4] == b"PK\x03\x04" or body[:4] == b"PK\x05\x06":
            log, pdfs = _read_zip(body)
            return DownloadResult(
                log=log,
                pdfs=pdfs,
                zip_bytes=body,
                http_status=response.status_code,
                detail=response.headers.get(DETAIL_HEADER) or None,
            )
        return DownloadResult(
            log=_log_from_reply(response, body),
            http_status=response.status_code,
            detail=response.headers.get(DETAIL_HEADER) or None,
        )

    def wait_for_processing(
        self,
        *,
        org_id: str,
        user_id: str,
        batch_id: str,
        timeout: float = 120,
        interval: float = 2.0,
        method: str = "GET",
        on_poll: Callable[[DownloadResult, float], None] | None = None,
    ) -> DownloadResult:
        """Download until the batch is no longer "not yet processed" (S0030), at most `timeout` s.

        Returns the first reply that is not S0030 (whatever its code). `on_poll(result, remaining)`
        is called after each S0030 reply. Raises `SevisTimeout` (with `.last`) when time runs out.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            result = self.download(org_id=org_id, user_id=user_id, batch_id=batch_id, method=method)
            if not result.pending:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SevisTimeout(
                    f"batch {batch_id} of {org_id} was still not processed (S0030) after "
                    f"{timeout:g} s; download it again later",
                    last=result,
                )
            if on_poll is not None:
                on_poll(result, remaining)
            time.sleep(min(max(interval, 0.0), remaining))
