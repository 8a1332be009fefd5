"""Two answers to the same request, SEVIS's and the mock's, compared element by element.

What is compared, and how a difference is named (its ``kind``):

- ``upload-code``, ``process-code``, ``download-code``: the result codes of the log's parts (a process-code
  difference is only reported when every record's result agrees: otherwise it follows from them);
- ``record-result``: per requestID, the Result status and ErrorCode; ``record-missing``: a requestID only one side has;
- ``structure``: an element or attribute path present on one side only (batch level, and inside each record whose
  result agrees; repeated elements count once);
- ``format``: a path whose values have another shape (digits as ``9``, letter runs as ``A``: ``2019-05-21T11:55:36.234-04:00``
  is ``9-9-9A9:9:9.9-9:9``); free text (messages, names, file names, address lines) is not compared;
- ``zip-entries``: the zip's entry names, each SEVIS ID replaced by the requestID it belongs to (dependents by order),
  for records whose result agrees.

SEVIS IDs, timestamps' values, file names and the OrgID/userIDs that re-addressing changed differ by nature and are
never reported; only their shapes are.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from lxml import etree

FREE_TEXT = frozenset({
    "ErrorMessage", "FileName", "SiteName", "UserDefinedA", "UserDefinedB", "Address1", "Address2", "City",
    "BatchID", "OrgID",
})  # fmt: skip
FREE_TEXT_ATTRIBUTES = frozenset({"userID", "requestID"})
LOG_NAME = "sevis_transaction_log.xml"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
_SEVIS_ID = re.compile(r"N\d{10}")


@dataclass(frozen=True)
class Difference:
    kind: str
    where: str  # an element path, a requestID, or the part of the log
    upstream: str
    mock: str
    request_id: str | None = None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "where": self.where,
            "upstream": self.upstream,
            "mock": self.mock,
            "request_id": self.request_id,
        }


@dataclass
class Comparison:
    agreements: list[str] = field(default_factory=list)  # what was compared and agreed, one label each
    differences: list[Difference] = field(default_factory=list)

    def agree(self, label: str) -> None:
        self.agreements.append(label)

    def differ(self, kind: str, where: str, upstream: object, mock: object, request_id: str | None = None) -> None:
        self.differences.append(Difference(kind, where, _show(upstream), _show(mock), request_id))


def _show(value: object) -> str:
    if value is None:
        return "(absent)"
    return str(value)


def shape(value: str) -> str:
    """The form of a value without its content: letter runs as ``A``, digit runs as ``9``, the rest as it is."""
    return re.sub(r"\d+", "9", re.sub(r"[A-Za-z]+", "A", value.strip()))


def parse_log(data: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None


def _code(log: etree._Element, part: str) -> str | None:
    el = log.find(f"BatchDetail/{part}")
    return None if el is None else el.get("resultCode")


def _records(log: etree._Element) -> dict[str, etree._Element]:
    return {r.get("requestID", ""): r for r in log.iterfind("BatchDetail/Process/Record")}


def _result(record: etree._Element) -> tuple[str, str | None]:
    result = record.find("Result")
    if result is None:
        return ("(no Result)", None)
    return (result.get("status", ""), result.findtext("ErrorCode"))


def _paths(root: etree._Element, skip_records: bool) -> dict[str, set[str]]:
    """Every element and attribute path under ``root`` (repeats merged) with the shapes of its values."""
    found: dict[str, set[str]] = {}

    def walk(el: etree._Element, prefix: str) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            if skip_records and child.tag == "Record":
                continue
            path = f"{prefix}/{child.tag}"
            shapes = found.setdefault(path, set())
            if child.tag not in FREE_TEXT and len(child) == 0:
                shapes.add(shape(child.text or ""))
            for name, value in child.attrib.items():
                attr = found.setdefault(f"{path}/@{name}", set())
                if name not in FREE_TEXT_ATTRIBUTES:
                    attr.add(shape(value))
            walk(child, path)

    walk(root, "")
    return found


def _record_paths(record: etree._Element) -> dict[str, set[str]]:
    found = _paths(record, False)
    for name, value in record.attrib.items():
        found[f"/@{name}"] = set() if name in FREE_TEXT_ATTRIBUTES else {shape(value)}
    return found


def _compare_paths(
    out: Comparison, upstream: dict[str, set[str]], mock: dict[str, set[str]], scope: str, request_id: str | None = None
) -> None:
    for path in sorted(upstream.keys() | mock.keys()):
        where = f"{scope}{path}"
        if path not in mock:
            out.differ("structure", where, "present", None, request_id)
        elif path not in upstream:
            out.differ("structure", where, None, "present", request_id)
        elif upstream[path] != mock[path]:
            out.differ("format", where, " | ".join(sorted(upstream[path])), " | ".join(sorted(mock[path])), request_id)
        else:
            out.agree(f"{where}")


def compare_logs(upstream: etree._Element, mock: etree._Element, out: Comparison | None = None) -> Comparison:
    out = out or Comparison()
    record_results_agree = True
    up_records, mock_records = _records(upstream), _records(mock)
    for request_id in sorted(up_records.keys() | mock_records.keys()):
        if request_id not in mock_records or request_id not in up_records:
            record_results_agree = False
            out.differ(
                "record-missing",
                request_id,
                "present" if request_id in up_records else None,
                "present" if request_id in mock_records else None,
                request_id,
            )
            continue
        up, mo = _result(up_records[request_id]), _result(mock_records[request_id])
        if up != mo:
            record_results_agree = False
            out.differ("record-result", request_id, _result_text(up), _result_text(mo), request_id)
            continue
        out.agree(f"record {request_id}: {_result_text(up)}")
        _compare_paths(
            out, _record_paths(up_records[request_id]), _record_paths(mock_records[request_id]), "Record", request_id
        )
    for part in ("Upload", "Process", "Download"):
        up, mo = _code(upstream, part), _code(mock, part)
        if up == mo:
            out.agree(f"{part} {up}")
        elif part != "Process" or record_results_agree:
            out.differ(f"{part.lower()}-code", f"BatchDetail/{part}/@resultCode", up, mo)
    _compare_paths(out, _paths(upstream, True), _paths(mock, True), "")
    return out


def _result_text(result: tuple[str, str | None]) -> str:
    status, code = result
    return f"status={status}" + (f" {code}" if code else "")


def entry_names(names: list[str], log: etree._Element | None, only: set[str] | None = None) -> Counter:
    """Zip entry names with each SEVIS ID replaced by ``<requestID>`` or ``<requestID>/dependent-N``; entries of
    records outside ``only`` (requestIDs) are left out."""
    roles: dict[str, str] = {}
    owners: dict[str, str] = {}
    if log is not None:
        for record in log.iterfind("BatchDetail/Process/Record"):
            request_id = record.get("requestID", "")
            if record.get("sevisID"):
                roles[record.get("sevisID")] = f"<{request_id}>"
                owners[record.get("sevisID")] = request_id
            for n, dep in enumerate(record.iterfind("Dependent"), 1):
                if dep.get("dependentSevisID"):
                    roles[dep.get("dependentSevisID")] = f"<{request_id}/dependent-{n}>"
                    owners[dep.get("dependentSevisID")] = request_id
    found: Counter = Counter()
    for name in names:
        ids = _SEVIS_ID.findall(name)
        if only is not None and any(owners.get(i) not in only for i in ids):
            continue
        found[_SEVIS_ID.sub(lambda m: roles.get(m.group(), "<unknown SEVIS ID>"), name)] += 1
    return found


def compare_zips(
    up_names: list[str],
    up_log: etree._Element | None,
    mock_names: list[str],
    mock_log: etree._Element | None,
    out: Comparison,
) -> None:
    agreeing = None
    if up_log is not None and mock_log is not None:
        up_records, mock_records = _records(up_log), _records(mock_log)
        agreeing = {
            rid for rid in up_records.keys() & mock_records.keys()
            if _result(up_records[rid]) == _result(mock_records[rid])
        }  # fmt: skip
    up, mo = entry_names(up_names, up_log, agreeing), entry_names(mock_names, mock_log, agreeing)
    for name in sorted(up.keys() | mo.keys()):
        if up[name] != mo[name]:
            out.differ("zip-entries", name, up[name] or None, mo[name] or None)
        else:
            out.agree(f"zip entry {name}")
