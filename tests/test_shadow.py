"""Record, replay and shadow: the proxy between a college's client and an upstream SEVIS (here a second `serve`),
`serve --replay`, and the shadow comparison with a planted-difference upstream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import requests
from lxml import etree

from sevis_mock.fixtures import read_fixture
from sevis_mock.fixtures.rules import load_cases
from sevis_mock.harness.shadow.compare import Comparison, compare_logs, entry_names, shape
from sevis_mock.harness.shadow.report import build
from sevis_mock.harness.shadow.scrub import Scrubber
from sevis_mock.harness.shadow.shadow import minimal_document
from sevis_mock.server.validation import SchemaSet
from tests.support.server import ROOT, new_batch_id, start_server, with_batch_id

# --- pure parts ------------------------------------------------------------------------------------------------


def test_shape_keeps_form_not_content():
    assert shape("2019-05-21T11:55:36.234-04:00") == "9-9-9A9:9:9.9-9:9"
    assert shape("2016-05-04T17:15:09") == "9-9-9A9:9:9"
    assert shape("N0001234567") == shape("N0009999999") == "A9"
    assert shape("108087") != shape("SOA0000000101")


def _log(upload="S0000", process=None, records=(), stamp="2019-05-21T11:55:36.234-04:00") -> etree._Element:
    root = etree.Element("TransactionLog")
    header = etree.SubElement(root, "BatchHeader")
    etree.SubElement(header, "BatchID").text = "ABCDEFGHIJKLMN"
    etree.SubElement(header, "OrgID").text = "MCK214F00001000"
    detail = etree.SubElement(root, "BatchDetail", status="true", system="PROD-SBT")
    etree.SubElement(detail, "Upload", resultCode=upload, dateTimeStamp=stamp)
    if process:
        proc = etree.SubElement(detail, "Process", resultCode=process, dateTimeStamp=stamp)
        for request_id, sevis_id, code in records:
            rec = etree.SubElement(proc, "Record", sevisID=sevis_id, requestID=request_id, userID="MCKPDSO001")
            etree.SubElement(rec, "ProcessDate").text = stamp
            result = etree.SubElement(rec, "Result", status="false" if code else "true")
            if code:
                etree.SubElement(result, "ErrorCode").text = code
                etree.SubElement(result, "ErrorMessage").text = "any words"
    return root


def test_identical_logs_but_for_ids_and_times_agree():
    up = _log(process="S0000", records=[("R1", "N0000000001", None)], stamp="2019-05-21T11:55:36.234-04:00")
    mock = _log(process="S0000", records=[("R1", "N0000099999", None)], stamp="2026-12-07T09:01:02.003-05:00")
    result = compare_logs(up, mock)
    assert result.differences == [] and result.agreements


def test_a_timestamp_format_is_a_format_difference():
    up = _log(stamp="2019-05-21T11:55:36.234-04:00")
    mock = _log(stamp="2019-05-21T11:55:36")
    kinds = {(d.kind, d.where) for d in compare_logs(up, mock).differences}
    assert kinds == {("format", "/BatchDetail/Upload/@dateTimeStamp")}


def test_a_record_result_difference_is_not_also_a_process_or_structure_difference():
    up = _log(process="S0000", records=[("R1", "N0000000001", None), ("R2", "N0000000002", None)])
    mock = _log(process="S0020", records=[("R1", "N0000000003", None), ("R2", "", "S1009")])
    found = compare_logs(up, mock).differences
    assert [(d.kind, d.request_id, d.upstream, d.mock) for d in found] == [
        ("record-result", "R2", "status=true", "status=false S1009")
    ]


def test_zip_entries_are_named_by_request_and_only_for_agreeing_records():
    log = _log(process="S0000", records=[("R1", "N0000000001", None), ("R2", "N0000000002", None)])
    names = entry_names(["sevis_transaction_log.xml", "N0000000001.pdf", "N0000000002.pdf"], log, only={"R1"})
    assert names == {"sevis_transaction_log.xml": 1, "<R1>.pdf": 1}
    out = Comparison()
    assert out.differences == []


def test_the_scrubber_fakes_personal_data_consistently_and_keeps_the_document_valid():
    schemas = SchemaSet.discover([])
    document = read_fixture("fm/create-with-dependent.xml")
    scrubber = Scrubber(key=b"k" * 32)
    scrubbed = scrubber.xml(document)
    original, faked = etree.fromstring(document), etree.fromstring(scrubbed)
    for tag in ("LastName", "FirstName", "BirthDate", "BirthCity"):
        before = [e.text for e in original.iter(tag)]
        after = [e.text for e in faked.iter(tag)]
        assert before and all(a != b for a, b in zip(before, after) if b and b.strip()), tag
    assert [e.get("requestID") for e in faked.iter("Student")] == [e.get("requestID") for e in original.iter("Student")]
    assert faked.findtext(".//BirthDate")[:4] == original.findtext(".//BirthDate")[:4]  # age rules still apply
    assert scrubber.xml(document) == scrubbed  # one value, one fake
    last = original.findtext(".//LastName")
    assert (
        scrubber.replace_known(f"student {last} already exists")
        == f"student {faked.findtext('.//LastName')} already exists"
    )
    assert not schemas.validate(etree.fromstring(scrubbed).getroottree()), schemas.validate(
        etree.fromstring(scrubbed).getroottree()
    )


def test_a_minimal_document_keeps_the_header_and_the_one_record():
    document = read_fixture("fm/create-three-students.xml")
    cut = etree.fromstring(minimal_document(document, "FM3-0002"))
    assert [s.get("requestID") for s in cut.iter("Student")] == ["FM3-0002"]
    assert cut.findtext("BatchHeader/BatchID")
    assert minimal_document(document, "NO-SUCH") == document


# --- through real servers --------------------------------------------------------------------------------------


class College:
    """A college's own client as PROTOCOL.md describes one: multipart upload with the xml file part, GET download
    with a query string, polling while S0030; it keeps every reply body it got."""

    def __init__(self, base_url: str, ca: str, cert: tuple[str, str] | None = None) -> None:
        self.base_url, self.http = base_url, requests.Session()
        self.http.trust_env = False
        self.http.verify = ca
        self.http.cert = cert
        self.replies: list[bytes] = []

    def upload(self, org: dict, batch_id: str, document: bytes) -> bytes:
        fields = {"orgid": org["org_id"], "userid": org["user_id"], "batchid": batch_id}
        r = self.http.post(
            f"{self.base_url}/sbtsevisbatch/action/batchUpload",
            data=fields,
            files={"xml": ("batchfile.xml", document, "text/xml")},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        self.replies.append(r.content)
        return r.content

    def download(self, org: dict, batch_id: str) -> bytes:
        fields = {"orgid": org["org_id"], "userid": org["user_id"], "batchid": batch_id}
        r = self.http.get(f"{self.base_url}/sbtsevisbatch/action/batchDownload", params=fields, timeout=60)
        assert r.status_code == 200, r.text
        self.replies.append(r.content)
        return r.content

    def poll(self, org: dict, batch_id: str, polls: int = 100) -> int:
        """Download until the batch is processed; returns how many downloads it took."""
        for n in range(1, polls + 1):
            if b'resultCode="S0030"' not in _log_of(self.download(org, batch_id)):
                return n
            time.sleep(0.1)
        raise AssertionError(f"{batch_id} was not processed")


def _log_of(body: bytes) -> bytes:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return zf.read("sevis_transaction_log.xml")


def start_proxy(tmp: Path, upstream, record: Path, *extra: str, kind: str = "F/M") -> tuple[subprocess.Popen, dict]:
    org = upstream.org(kind)
    record.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "sevis_mock",
        "proxy",
        "--upstream",
        f"{upstream.base_url}/sbtsevisbatch",
        "--record",
        str(record),
        "--cert",
        org["client_cert"],
        "--key",
        org["client_key"],
        "--upstream-ca",
        upstream.ca,
        "--listen",
        "127.0.0.1:0",
        "--tls-dir",
        str(tmp / "proxy-tls"),
        *extra,
    ]
    with open(record / "proxy.log", "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 90
    while True:  # the proxy may be caught writing proxy.json: wait until it holds the whole object
        try:
            return proc, json.loads((record / "proxy.json").read_text())
        except (OSError, ValueError):
            assert proc.poll() is None and time.monotonic() < deadline, (record / "proxy.log").read_text()
            time.sleep(0.05)


def stop_proxy(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=120)


def test_record_then_replay_gives_the_client_byte_identical_replies(tmp_path):
    upstream = start_server(tmp_path / "sevis", "--processing-delay", "0", "--workers", "1")
    try:
        org = upstream.org("F/M")
        proxy, info = start_proxy(tmp_path, upstream, tmp_path / "rec", "--keep-personal-data")
        batch_id = new_batch_id("R")
        document = with_batch_id(read_fixture("fm/create-with-dependent.xml"), batch_id)
        college = College(info["url"], info["ca_cert"])
        college.upload(org, batch_id, document)
        polls = college.poll(org, batch_id)
        stop_proxy(proxy)
    finally:
        upstream.stop(wait=False)
    recorded = college.replies
    assert len(recorded) == 1 + polls and recorded[-1].startswith(b"PK")

    replay = start_server(tmp_path / "replay", "--replay", str(tmp_path / "rec"), "--trust", upstream.ca)
    try:
        again = College(replay.base_url, replay.ca, cert=(org["client_cert"], org["client_key"]))
        again.upload(org, batch_id, document)
        for _ in range(polls):
            again.download(org, batch_id)
        assert again.replies == recorded
        other = again.download(org, "NOTRECORDED001")  # not in the recording: the mock answers (and says so)
        assert b"S0002" in _log_of(other)  # the college's certificate is not registered with this mock
        control = replay.info["control"]
        journal = requests.get(
            f"{control['url']}/journal",
            headers={"Authorization": f"Bearer {control['token']}"},
            verify=replay.ca,
            cert=(org["client_cert"], org["client_key"]),
            timeout=30,
        ).json()
        details = [e["detail"] for e in journal["entries"]]
        assert all(d.startswith("recorded exchange") for d in details[:-1]) and details[-1].startswith("not in the")
    finally:
        replay.stop(wait=False)


def _single_step_cases(kind: str) -> list:
    return [c for c in load_cases() if c.kind == kind and len(c.steps) == 1]


def _shadow_run(tmp_path: Path, upstream, cases, kind: str) -> dict:
    """The cases (all of one kind: the proxy forwards with that organization's certificate) through a shadowing
    proxy, each polled until processed; the shadow report of the recording."""
    record = tmp_path / f"rec-{kind.replace('/', '')}"
    proxy, info = start_proxy(tmp_path, upstream, record, "--shadow", kind=kind)
    try:
        college = College(info["url"], info["ca_cert"])
        org = upstream.org(kind)
        for case in cases:
            batch_id = new_batch_id("S")
            college.upload(org, batch_id, case.render(0, batch_id, {}, {}))
            college.poll(org, batch_id)
    finally:
        stop_proxy(proxy)
    return build(record).to_dict()


def test_shadow_against_a_faithful_upstream_finds_no_difference_in_50_batches(tmp_path):
    upstream = start_server(tmp_path / "sevis", "--processing-delay", "0", "--workers", "1")
    try:
        fm = _single_step_cases("F/M")[:30]
        j = _single_step_cases("J")[: 50 - len(fm)]
        reports = [_shadow_run(tmp_path, upstream, fm, "F/M"), _shadow_run(tmp_path, upstream, j, "J")]
    finally:
        upstream.stop(wait=False)
    assert sum(r["compared"] for r in reports) >= 100, reports  # 50 uploads and 50 processed downloads
    assert sum(r["agreements"] for r in reports) > 1000, reports
    assert [g for r in reports for g in r["groups"]] == [], json.dumps([r["groups"] for r in reports], indent=1)[:3000]


PLANTED = """
import sys
sys.path.insert(0, {root!r})  # site runs before `-m` puts the working folder on sys.path
import sevis_mock.server.clock as clock
import sevis_mock.server.batch.processing  # every rule module registered
import sevis_mock.server.rules as rules


def _old_format(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")  # a valid xs:dateTime, not the one SEVIS writes


clock.sevis_timestamp.__code__ = _old_format.__code__
for r in rules.RULES:
    if r.code == "S1009":
        r.check.__code__ = (lambda ctx: None).__code__
open({marker!r}, "w").close()
"""


def test_shadow_finds_each_planted_difference_and_nothing_else(tmp_path, monkeypatch):
    site = tmp_path / "planted"
    site.mkdir()
    marker = site / "injected"
    (site / "sitecustomize.py").write_text(textwrap.dedent(PLANTED).format(root=str(ROOT), marker=str(marker)))
    monkeypatch.setenv("PYTHONPATH", str(site))
    upstream = start_server(tmp_path / "sevis", "--processing-delay", "0", "--workers", "1")
    monkeypatch.delenv("PYTHONPATH")
    try:
        assert marker.exists(), "the planted differences did not reach the upstream"
        cases = _single_step_cases("F/M")
        chosen = [c for c in cases if c.code == "S1009"][:1] + [c for c in cases if c.code != "S1009"][:3]
        report = _shadow_run(tmp_path, upstream, chosen, "F/M")
    finally:
        upstream.stop(wait=False)
    found = {(g["kind"], g["where"]) for g in report["groups"]}
    formats = {w for k, w in found if k == "format"}
    assert formats and all(w.endswith(("@dateTimeStamp", "/ProcessDate")) for w in formats), found
    results = [g for g in report["groups"] if g["kind"] == "record-result"]
    assert [(g["upstream"], g["mock"]) for g in results] == [("status=true", "status=false S1009")], found
    assert {k for k, _ in found} == {"format", "record-result"}, found
    reproduction = etree.fromstring(results[0]["reproduction"].encode())  # the one record, ready as a fixture
    assert [s.get("requestID") for s in reproduction.iter("Student")] == results[0]["request_ids"] == ["S1009-1"]
    assert Path(results[0]["reproduction_file"]).is_file()
