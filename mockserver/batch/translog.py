"""Transaction logs (root ``TransactionLog``, no namespace), as SevisTransLog.xsd lays them out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from ..clock import sevis_timestamp
from ..xmlsafe import comment_text, xml_text
from .outcome import AddressResult, ProcessOutcome

FILE_NAME_MAX = 30


@dataclass(frozen=True)
class UploadPart:
    code: str
    at: datetime
    file_name: str | None


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str | None) -> etree._Element:
    el = etree.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = xml_text(text)
    return el


def build(
    *,
    batch_id: str,
    org_id: str,
    system: str,
    upload: UploadPart | None = None,
    process: ProcessOutcome | None = None,
    download_code: str | None = None,
    explanation: list[str] | None = None,
) -> bytes:
    """A TransactionLog. ``process`` is the stored processing outcome (``Batch.results``);
    ``explanation`` lines become an XML comment: sevis-mock's clearer word beside SEVIS's code."""
    root = etree.Element("TransactionLog")
    header = _sub(root, "BatchHeader")
    _sub(header, "BatchID", batch_id)
    _sub(header, "OrgID", org_id)
    ok = all(
        code == "S0000"
        for code in (upload.code if upload else None, process.code if process else None, download_code)
        if code is not None
    )
    detail = _sub(root, "BatchDetail", status="true" if ok else "false", system=system)
    if upload is not None:
        up = _sub(detail, "Upload", resultCode=upload.code, dateTimeStamp=sevis_timestamp(upload.at))
        if upload.file_name is not None:
            _sub(up, "FileName", upload.file_name[:FILE_NAME_MAX])
    if process is not None:
        _process(detail, process)
    if download_code is not None:
        _sub(detail, "Download", resultCode=download_code)
    if explanation:
        root.insert(0, etree.Comment(comment_text("sevis-mock: " + " ".join(explanation))))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _process(detail: etree._Element, process: ProcessOutcome) -> None:
    proc = _sub(detail, "Process", resultCode=process.code, dateTimeStamp=process.at)
    records = process.records
    if not records:
        return
    count = _sub(proc, "RecordCount")
    success = sum(1 for r in records if r.ok)
    _sub(count, "Success", str(success))
    _sub(count, "Failure", str(len(records) - success))
    _sub(count, "Total", str(len(records)))
    for r in records:
        rec = _sub(proc, "Record", sevisID=r.sevis_id, userID=r.user_id, requestID=r.request_id)
        if r.user_defined_a is not None:
            _sub(rec, "UserDefinedA", r.user_defined_a)
        if r.user_defined_b is not None:
            _sub(rec, "UserDefinedB", r.user_defined_b)
        _sub(rec, "ProcessDate", r.at or process.at)  # per record since SEVIS's format; older: the batch's
        result = _sub(rec, "Result", status="true" if r.ok else "false")
        if not r.ok:
            _sub(result, "ErrorCode", r.error_code)
            _sub(result, "ErrorMessage", (r.error_message or "")[:500])
        for site in r.sites or ():
            _site(rec, site)
        for dep in r.dependents or ():
            d = _sub(rec, "Dependent", dependentSevisID=dep.sevis_id)
            if dep.user_defined_a is not None:
                _sub(d, "UserDefinedA", dep.user_defined_a)
            if dep.user_defined_b is not None:
                _sub(d, "UserDefinedB", dep.user_defined_b)
        for prefix, addr in (("Physical", r.physical_address), ("Mailing", r.mailing_address)):
            if addr:
                _address(rec, f"{prefix}ProvidedAddress", addr["provided"])
                if addr.get("corrected"):
                    _address(rec, f"{prefix}CorrectedAddress", addr["corrected"])
                if addr.get("result"):
                    _sub(rec, f"{prefix}AddressResult", addr["result"])
                if addr.get("message") is not None:
                    _sub(rec, f"{prefix}AddressMessage", addr["message"])


ADDRESS_FIELDS = ("Address1", "Address2", "City", "State", "PostalCode")


def _address(parent: etree._Element, tag: str, address: dict[str, str | None]) -> None:
    el = _sub(parent, tag)
    for name in ADDRESS_FIELDS:
        value = address.get(name)
        if value is not None:
            _sub(el, name, value)


def _site(rec: etree._Element, site: AddressResult) -> None:
    el = _sub(rec, "SiteOfActivity")
    if site.get("provided"):
        _address(el, "ProvidedAddress", site["provided"])
    if site.get("corrected"):
        _address(el, "CorrectedAddress", site["corrected"])
    if site.get("result"):
        _sub(el, "AddressResult", site["result"])
    if site.get("message") is not None:
        _sub(el, "AddressMessage", site["message"])
    if site.get("site_id"):
        _sub(el, "SiteId", site["site_id"])
    if site.get("site_name"):
        _sub(el, "SiteName", site["site_name"])


def not_ready(batch) -> str:
    """Why a batch's download answers S0030: still queued (and until when), or its forms being drawn."""
    if batch.state == "processing":
        return f"batch {batch.batch_id} is being processed; download again in a moment"
    if batch.state == "printing":
        return f"batch {batch.batch_id} is processed and its forms are being printed; download again in a moment"
    return f"batch {batch.batch_id} is queued; processing is due at {batch.due_at.isoformat(timespec='seconds')} on the mock clock"
