"""Hostile values in uploads, downloads and RTI requests, through a real `serve` over mutual TLS.

Finding 2 of the hostile-input review: a refusal reason holding a newline (a NUL byte's libxml2 message, a
second schema error quoting a value with a newline, CRLF in the download batchid) broke the detail header
(HTTP 500); no other response header (RTI, SEVP, control) may carry input unsanitized either.
Finding 5: a comment or processing instruction inside a value is read as if absent (XPath ``string()``),
everywhere a value is read: intake, processing, rules, records and forms.
"""

from __future__ import annotations

import io
import itertools

import pytest
from lxml import etree
from pypdf import PdfReader

from sevis_mock.fixtures import catalog_entry, read_fixture
from tests.support.server import new_batch_id, start_server, with_batch_id

FM = "fm/create-with-dependent.xml"
INJECTED = "X-Injected"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("hostile-values"), "--processing-delay", "0", "--workers", "1")
    yield srv
    srv.stop(wait=False)


def raw_upload(server, xml: bytes, batch_id: str, *, org=None, fields=None):
    org = org or server.org("F/M")
    data = {"orgid": org["org_id"], "userid": org["user_id"], "batchid": batch_id, **(fields or {})}
    with server.session((org["client_cert"], org["client_key"])) as s:
        return s.post(
            f"{server.base_url}/sbtsevisbatch/action/batchUpload",
            data=data,
            files={"xml": ("batch.xml", xml, "text/xml")},
            timeout=60,
        )


def assert_clean_headers(response) -> None:
    assert response.status_code < 500, response.text[:500]
    for name, value in response.headers.items():
        assert name.lower() != INJECTED.lower(), response.headers
        assert all(" " <= c <= "~" for c in value), (name, value)


# --- finding 2: every trigger of the broken detail header ------------------------------------------------


def test_a_nul_byte_in_a_value_is_s0012_with_a_clean_detail_header(server):
    batch_id = new_batch_id("NUL")
    xml = with_batch_id(read_fixture(FM), batch_id).replace(b"<LastName>", b"<LastName>A\x00", 1)
    r = raw_upload(server, xml, batch_id)
    assert_clean_headers(r)
    assert b'resultCode="S0012"' in r.content
    assert "not well-formed" in r.headers["X-Sevis-Mock-Detail"]


def test_a_second_schema_error_quoting_a_newline_is_s0013_with_a_clean_detail_header(server):
    batch_id = new_batch_id("NL")
    doc = etree.fromstring(with_batch_id(read_fixture(FM), batch_id))
    doc.find(".//Gender").text = "Q"  # the first schema error
    for el in itertools.islice(doc.iter("BirthCountryCode", "CitizenshipCountryCode"), 2):
        el.text = "X\r\nX-Injected: 1\n"  # later ones quote a value with CR/LF
    r = raw_upload(server, etree.tostring(doc, xml_declaration=True, encoding="UTF-8"), batch_id)
    assert_clean_headers(r)
    assert b'resultCode="S0013"' in r.content
    assert "X-Injected: 1" in r.headers["X-Sevis-Mock-Detail"] or "X?" in r.headers["X-Sevis-Mock-Detail"]


@pytest.mark.parametrize(
    "batch_id",
    ["AB\r\nX-Injected: 1", "AB\nX-Injected: 1", "AB\x00CD", "--\r\n--", "x.zip\"; filename*=UTF-8''evil.exe; a=\""],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_crlf_and_quotes_in_the_download_batchid_break_no_header(server, batch_id, method):
    org = server.org("F/M")
    fields = {"orgid": org["org_id"], "userid": org["user_id"], "batchid": batch_id}
    url = f"{server.base_url}/sbtsevisbatch/action/batchDownload"
    with server.session((org["client_cert"], org["client_key"])) as s:
        r = s.get(url, params=fields, timeout=60) if method == "GET" else s.post(url, data=fields, timeout=60)
    assert_clean_headers(r)
    assert r.headers["Content-Type"].startswith("application/zip")
    disposition = r.headers["Content-Disposition"]
    # built by Werkzeug: one quoted filename parameter, nothing a client could take for a second one
    from werkzeug.http import parse_options_header

    kind, params = parse_options_header(disposition)
    assert kind == "attachment" and set(params) == {"filename"}, disposition
    assert params["filename"].endswith(".zip") and "\r" not in params["filename"] and "\n" not in params["filename"]


@pytest.mark.parametrize(
    "path",
    [
        "/sbtsevis/login?next=/sbtsevis/i17%0D%0AX-Injected:%201",
        "/sbtsevis/login?next=/sbtsevis/%00%22%3E",
        "/sbtsevis/set-password/abc%0D%0AX-Injected:%201",
        "/sevp/api/petitions/1%0D%0AX-Injected:%201",
        "/outbox/api/messages?to=a%0D%0AX-Injected:%201",
        "/control/clock%0D%0AX-Injected:%201",
        "/sbtsevisbatch/action/batchDownload?orgid=%0D%0AX-Injected:%201&userid=x&batchid=y",
    ],
)
def test_rti_sevp_control_and_outbox_headers_carry_no_input(server, path):
    org = server.org("F/M")
    with server.session((org["client_cert"], org["client_key"])) as s:
        r = s.get(f"{server.base_url}{path}", allow_redirects=False, timeout=60)
    assert_clean_headers(r)


def test_a_login_redirect_keeps_its_target_but_not_its_newline(server):
    """The page after login is the ``next`` page, re-quoted: CR/LF reach the Location header as %0D%0A."""
    from tests.hostile.test_accounts import set_with, links
    from tests.test_rti import PASSWORD, register_account, unique
    from tests.test_rti_pages import Browser

    email = f"{unique('next')}@example.edu"
    user_id = register_account(server, email)
    assert set_with(server, links(server, email)[-1], PASSWORD).status_code == 200
    b = Browser(server)
    page = b.get("/login")
    from tests.test_rti_pages import CSRF

    token = CSRF.search(page.text).group(1)
    r = b.s.post(
        f"{b.root}/login?next=/sbtsevis/i17%0D%0AX-Injected:%201",
        data={"user_id": user_id, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=60,
    )
    assert_clean_headers(r)
    assert r.status_code == 302 and r.headers["Location"].endswith("/sbtsevis/i17%0D%0AX-Injected:%201")


# --- finding 5: comments and processing instructions inside values ---------------------------------------


def sprinkle(xml: bytes) -> bytes:
    """``xml`` with a comment or a processing instruction inside every value: in the middle of each text of
    two characters or more (alternately), and before the text of BatchID and OrgID."""
    doc = etree.fromstring(xml)
    kinds = itertools.cycle([lambda: etree.Comment(" note - x "), lambda: etree.PI("mock", "x")])
    for el in list(doc.iter()):
        if not isinstance(el.tag, str) or len(el) or not el.text or len(el.text.strip()) < 2:
            continue
        text = el.text
        cut = 0 if el.tag in ("BatchID", "OrgID") else len(text) // 2
        node = next(kinds)()
        el.text, node.tail = text[:cut] or None, text[cut:]
        el.insert(0, node)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def test_a_comment_inside_lastname_is_read_as_if_absent_in_records_and_forms(server):
    org = server.org("F/M")
    batch_id = new_batch_id("CMT")
    doc = etree.fromstring(with_batch_id(read_fixture(FM), batch_id))
    last = doc.find("CreateStudent/Student/PersonalInfo/FullName/LastName")
    assert last is not None
    plain = last.text
    comment = etree.Comment(" x ")
    last.text, comment.tail = plain[:2], plain[2:]
    last.insert(0, comment)
    batch = doc.find("BatchHeader/BatchID")
    pi = etree.PI("x", "y")
    batch.text, pi.tail = None, batch_id
    batch.insert(0, pi)
    reply = server.upload(etree.tostring(doc, xml_declaration=True, encoding="UTF-8"), org=org, batch_id=batch_id)
    assert reply.upload_code == "S0000", reply.raw.decode()
    result = server.wait_processed(org=org, batch_id=batch_id)
    assert result.process_code == "S0000", result.raw.decode()
    sevis_id = result.log.find("BatchDetail/Process/Record").get("sevisID")
    with server.session((org["client_cert"], org["client_key"])) as s:
        record = s.get(
            f"{server.base_url}/control/records/{sevis_id}",
            headers={"Authorization": f"Bearer {server.info['control']['token']}"},
            timeout=60,
        ).json()
    assert record["surname"] == plain, record["surname"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(result.pdfs[sevis_id])).pages)
    assert plain.upper() in text.upper().replace("\n", " "), text[:400]


@pytest.mark.parametrize(
    "fixture", [FM, "fm/rule-S1009-program-end-before-start.xml", "j/create-with-dependent-and-site.xml"]
)
def test_comments_and_pis_inside_every_value_change_no_outcome(server, fixture):
    """Intake, processing and the business rules give the catalogue's outcome for the document with a
    comment or PI inside every value, exactly as for the document without."""
    entry = catalog_entry(fixture)
    org = server.org(entry["kind"])
    batch_id = new_batch_id("SPR")
    xml = sprinkle(with_batch_id(read_fixture(fixture), batch_id))
    assert xml.count(b"<!--") + xml.count(b"<?mock") > 20
    reply = server.upload(xml, org=org, batch_id=batch_id)
    assert reply.upload_code == entry["upload"], reply.raw.decode()
    result = server.wait_processed(org=org, batch_id=batch_id)
    assert result.process_code == entry["process"], result.raw.decode()
    got = {}
    for rec in result.log.iterfind("BatchDetail/Process/Record"):
        error = rec.find("Result/ErrorCode")
        got[rec.get("requestID")] = None if rec.find("Result").get("status") == "true" else error.text
    assert got == entry["records"], result.raw.decode()


@pytest.mark.parametrize("fixture", [FM, "fm/rule-S1009-program-end-before-start.xml"])
def test_validate_reads_values_as_if_comments_were_absent(tmp_path, fixture):
    """`sevis-mock validate --rules` gives the same verdict, problem for problem, with and without comments."""
    import json

    from click.testing import CliRunner

    from sevis_mock.harness.validate import validate_command

    plain, sprinkled = tmp_path / "plain.xml", tmp_path / "sprinkled.xml"
    plain.write_bytes(read_fixture(fixture))
    sprinkled.write_bytes(sprinkle(read_fixture(fixture)))
    verdicts = []
    for path in (plain, sprinkled):
        result = CliRunner().invoke(validate_command, ["--rules", "--json", "--clock", "2026-12-01", str(path)])
        assert result.exit_code in (0, 1), result.output
        verdict = json.loads(result.output.replace(path.name, "FILE"))
        for file in verdict["files"]:
            file.pop("seconds")
            for problem in file["problems"]:
                problem.pop("line", None)  # the sprinkled copy is serialized anew
        verdicts.append(verdict)
    assert verdicts[0] == verdicts[1]
