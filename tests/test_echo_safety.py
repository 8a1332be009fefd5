"""No echoed value can break a reply: the log, its explanation comment and the detail header are safe for
any input string, and a real client's dash-padded batch IDs (PROTOCOL §3a) get SEVIS codes, never a 500."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from werkzeug.datastructures import Headers

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.batch import translog
from sevis_mock.server.batch.outcome import ProcessOutcome, RecordOutcome
from sevis_mock.server.xmlsafe import comment_text, header_value
from sevis_mock.schemas import schema_for_root
from tests.support.hostile import HOSTILE
from tests.support.server import assert_valid_log, new_batch_id, with_batch_id

_own_translog = etree.XMLSchema(etree.parse(str(schema_for_root("TransactionLog"))))


@given(HOSTILE)
def test_a_comment_made_of_any_string_is_a_valid_comment(value):
    text = comment_text(value)
    assert "--" not in text and not text.endswith("-") and not text.startswith("-")
    doc = etree.Element("TransactionLog")
    doc.append(etree.Comment(text))
    assert etree.fromstring(etree.tostring(doc)).tag == "TransactionLog"


@given(HOSTILE)
def test_a_header_made_of_any_string_is_a_valid_header(value):
    text = header_value(value)
    assert all(" " <= c <= "~" for c in text) and len(text) <= 2000
    Headers().set("X-Sevis-Mock-Detail", text)  # Werkzeug refuses CR/LF; this must not raise


@given(batch_id=HOSTILE, org_id=HOSTILE, file_name=HOSTILE, reason=HOSTILE, user_defined=HOSTILE, request_id=HOSTILE)
def test_a_log_echoing_any_values_is_well_formed_and_keeps_its_structure(
    batch_id, org_id, file_name, reason, user_defined, request_id
):
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    record = {
        "request_id": request_id,
        "user_id": org_id,
        "sevis_id": None,
        "ok": False,
        "error_code": "S1004",
        "error_message": reason,
        "user_defined_a": user_defined,
        "user_defined_b": user_defined,
    }
    xml = translog.build(
        batch_id=batch_id,
        org_id=org_id,
        system="PROD-SBT",
        upload=translog.UploadPart("S0000", at, file_name),
        process=ProcessOutcome("S0020", "2026-12-07T07:00:01.000-05:00", [RecordOutcome.from_dict(record)]),
        download_code="S0000",
        explanation=["S0012:", reason, batch_id],
    )
    log = etree.fromstring(xml)
    assert log.findtext("BatchHeader/BatchID") is not None
    assert log.find("BatchDetail/Process/Record/Result/ErrorCode").text == "S1004"


def test_a_dash_padded_log_is_valid_against_the_project_translog_schema():
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    xml = translog.build(
        batch_id="----kynEn47azQ",
        org_id="P-1-12345",
        system="PROD-SBT",
        upload=translog.UploadPart("S0010", at, "batchfile3.xml"),
        explanation=["S0010:", "batch ID ----kynEn47azQ was already used by P-1-12345"],
    )
    assert _own_translog.validate(etree.fromstring(xml).getroottree()), _own_translog.error_log


# --- a real J client's dash-padded IDs, over TLS -------------------------------------------------------------

DASHED = "----kynEn47azQ"


@pytest.fixture(scope="module")
def queued_server(server_factory_module):
    return server_factory_module("--processing-delay", "3600", "--workers", "1")


@pytest.fixture(scope="module")
def server_factory_module(tmp_path_factory):
    from tests.support.server import start_server

    started = []

    def start(*extra):
        srv = start_server(tmp_path_factory.mktemp("dashes"), *extra)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop(wait=False)


def j_doc(batch_id: str, header_batch_id: str | None = None) -> bytes:
    return with_batch_id(read_fixture("j/create-with-dependent-and-site.xml"), header_batch_id or batch_id)


def test_dash_padded_batch_ids_get_sevis_codes_not_500s(queued_server):
    srv, j = queued_server, queued_server.org("J")
    assert srv.download(org=j, batch_id=DASHED).download_code == "S0031"
    assert srv.upload(j_doc(DASHED), org=j, batch_id=DASHED).upload_code == "S0000"
    queued = srv.download(org=j, batch_id=DASHED)
    assert queued.download_code == "S0030" and "----" not in queued.raw.decode().split("-->")[0].split("<!--")[1]
    assert srv.upload(j_doc(DASHED), org=j, batch_id=DASHED).upload_code == "S0010"
    other = "---" + DASHED[3:].upper()
    mismatch = srv.upload(j_doc(other, header_batch_id="--" + DASHED[2:].lower()), org=j, batch_id=other)
    assert mismatch.upload_code == "S0012" and "BatchID" in mismatch.detail


@pytest.mark.parametrize("field, code", [("org_id", "S0002"), ("user_id", "S0003")])
def test_dash_runs_in_org_and_user_ids_get_sevis_codes(queued_server, field, code):
    srv, j = queued_server, queued_server.org("J")
    kw = {field: "P---" + "-" * 6}
    assert srv.upload(j_doc("---DASHES-----"), org=j, batch_id="---DASHES-----", **kw).upload_code == code
    assert srv.download(org=j, batch_id="---DASHES-----", **kw).download_code == code


def test_a_newline_in_the_download_batchid_is_answered_not_crashed(queued_server):
    srv, j = queued_server, queued_server.org("J")
    reply = srv.download(org=j, batch_id="ABC\r\nSet-Cookie: x=1")
    assert reply.download_code == "S0031"
    assert "\n" not in reply.detail


# --- every echoed position, through the real server ----------------------------------------------------------

# Where a client's value comes back: the form fields of an upload and of a download (query or multipart), the
# file name, the BatchHeader values, the record's requestID/userID, UserDefinedA/B and a name that messages quote.
POSITIONS = [
    "upload:orgid",
    "upload:userid",
    "upload:batchid",
    "download-get:orgid",
    "download-get:userid",
    "download-get:batchid",
    "download-post:batchid",
    "file name",
    "header:BatchID",
    "header:OrgID",
    "record:requestID",
    "record:userID",
    "record:UserDefinedA",
    "record:UserDefinedB",
    "dependent:UserDefinedA",
    "name:LastName",
]
DOCUMENTED = {200, 403, 404, 413}  # a log, or the documented refusals before one


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return _text(value).replace('"', "&quot;")


def _hostile_document(position: str, value: str, batch_id: str) -> bytes:
    """The J fixture (a visitor with a dependent) with ``value`` written, escaped, at ``position``; characters
    XML cannot carry stay raw, so such a document is not well-formed (S0012, whose message quotes it)."""
    xml = j_doc(batch_id).decode()
    where, name = position.split(":")
    if where == "header":
        return re.sub(f"<{name}>[^<]*</{name}>", lambda m: f"<{name}>{_text(value)}</{name}>", xml, count=1).encode()
    if where == "record" and name in ("requestID", "userID"):
        return re.sub(
            f'(<ExchangeVisitor [^>]*?){name}="[^"]*"', lambda m: f'{m.group(1)}{name}="{_attr(value)}"', xml, count=1
        ).encode()
    if where == "name":
        return re.sub(
            "<LastName>[^<]*</LastName>", lambda m: f"<LastName>{_text(value)}</LastName>", xml, count=1
        ).encode()
    nth = 1 if where == "dependent" else 0  # the visitor's UserDefinedA/B come first, the dependent's after
    found = list(re.finditer(f"<{name}>[^<]*</{name}>", xml))[nth]
    return (xml[: found.start()] + f"<{name}>{_text(value)}</{name}>" + xml[found.end() :]).encode()


def _log_of(r) -> bytes:
    if r.headers.get("Content-Type", "").startswith("application/zip"):
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            return zf.read("sevis_transaction_log.xml")
    return r.content


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(position=st.sampled_from(POSITIONS), value=HOSTILE)
def test_any_value_in_any_echoed_position_gets_a_valid_log(queued_server, position, value):
    srv, j = queued_server, queued_server.org("J")
    fresh = new_batch_id("H")
    fields = {"orgid": j["org_id"], "userid": j["user_id"], "batchid": fresh}
    url = f"{srv.base_url}/sbtsevisbatch/action/batch"
    with srv.session((j["client_cert"], j["client_key"])) as s:
        where, _, name = position.partition(":")
        if where.startswith("download"):
            fields[name] = value
            if where == "download-get":
                r = s.get(url + "Download", params=fields, timeout=60)
            else:
                r = s.post(url + "Download", files={k: (None, v) for k, v in fields.items()}, timeout=60)
        else:
            file_name, document = "batch.xml", None
            if where == "upload":
                fields[name] = value
            elif where == "file name":
                file_name = value
            elif where == "header":
                fields[name.lower()] = value  # the form says the same, so the upload gets past the mismatch
                document = _hostile_document(position, value, fresh)
            else:
                document = _hostile_document(position, value, fresh)
            document = document or j_doc(fresh)
            r = s.post(url + "Upload", data=fields, files={"xml": (file_name, document, "text/xml")}, timeout=60)
        assert r.status_code in DOCUMENTED, f"{position} {value[:200]!r}: HTTP {r.status_code} {r.text[:500]}"
        if r.status_code != 200:
            return
        assert "\n" not in r.headers.get("X-Sevis-Mock-Detail", "")
        log = assert_valid_log(_log_of(r))
        if log.find("BatchDetail/Upload") is None or log.find("BatchDetail/Upload").get("resultCode") != "S0000":
            return
        _process_now(srv)  # accepted: its processed log must be as valid
        done = s.get(url + "Download", params=fields, timeout=60)
        assert done.status_code == 200, done.text[:500]
        assert_valid_log(_log_of(done)).find("BatchDetail/Process") is not None


def _process_now(srv) -> None:
    org = srv.org("F/M")
    with srv.session((org["client_cert"], org["client_key"])) as s:
        r = s.post(
            f"{srv.info['control']['url']}/process-now",
            headers={"Authorization": f"Bearer {srv.info['control']['token']}"},
            timeout=120,
        )
    assert r.status_code == 200, r.text
