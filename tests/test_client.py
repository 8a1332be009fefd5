"""The SEVIS Batch client against a small in-process HTTPS server that REQUIRES client certificates.

The server (werkzeug + ssl, certificates from trustme) records what it receives and answers with
canned TransactionLog documents written by hand below; every canned log is checked against the
official SevisTransLog.xsd, so the client is tested on replies the real service could send.
"""

from __future__ import annotations

import io
import json
import ssl
import stat
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pytest
import trustme
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sevis_mock.harness.cli import download_command, upload_command
from tests.support.reference import OFFICIAL_XSD, official_or_project
from sevis_mock.harness.client import (
    DependentResult,
    SevisClient,
    SevisConnectionError,
    SevisError,
    SevisHTTPError,
    SevisProtocolError,
    SevisTimeout,
    parse_transaction_log,
    read_document_info,
    replace_batch_id,
)

TRANSLOG_XSD = official_or_project(OFFICIAL_XSD / "6.27-j" / "SevisTransLog.xsd", "TransactionLog")

FM_ORG = "MCK214F00001000"
FM_ORG_2 = "MCK214F00002000"
J_ORG = "P-1-00001"
FM_USER = "MCKPDSO001"
FM_USER_2 = "MCKPDSO002"
J_USER = "MCKRO00001"
BATCH_ID = "BATCH000000001"
UPLOAD_PATH = "/sbtsevisbatch/action/batchUpload"
DOWNLOAD_PATH = "/sbtsevisbatch/action/batchDownload"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    for name in (
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "SEVIS_MOCK_CONNECTION",
        "SEVIS_P12_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------------------------
# Canned transaction logs (hand-written, validated against the official schema)
# --------------------------------------------------------------------------------------------
def upload_log(
    batch_id: str = BATCH_ID, org_id: str = FM_ORG, code: str = "S0000", file_name: str = "batch.xml"
) -> bytes:
    status = "true" if code == "S0000" else "false"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<TransactionLog>
  <BatchHeader><BatchID>{batch_id}</BatchID><OrgID>{org_id}</OrgID></BatchHeader>
  <BatchDetail status="{status}" system="PROD-SBT">
    <Upload resultCode="{code}" dateTimeStamp="2024-05-01T10:11:12"><FileName>{file_name}</FileName></Upload>
  </BatchDetail>
</TransactionLog>
""".encode()


def pending_log(batch_id: str = BATCH_ID, org_id: str = FM_ORG) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<TransactionLog>
  <BatchHeader><BatchID>{batch_id}</BatchID><OrgID>{org_id}</OrgID></BatchHeader>
  <BatchDetail status="true" system="PROD-SBT">
    <Upload resultCode="S0000" dateTimeStamp="2024-05-01T10:11:12"><FileName>batch.xml</FileName></Upload>
    <Download resultCode="S0030"/>
  </BatchDetail>
</TransactionLog>
""".encode()


def never_submitted_log(batch_id: str = BATCH_ID, org_id: str = FM_ORG) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<TransactionLog>
  <BatchHeader><BatchID>{batch_id}</BatchID><OrgID>{org_id}</OrgID></BatchHeader>
  <BatchDetail status="false" system="PROD-SBT">
    <Download resultCode="S0031"/>
  </BatchDetail>
</TransactionLog>
""".encode()


def processed_log(batch_id: str = BATCH_ID, org_id: str = FM_ORG) -> bytes:
    """An F/M create of one student with one dependent; everything succeeded."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<TransactionLog>
  <BatchHeader><BatchID>{batch_id}</BatchID><OrgID>{org_id}</OrgID></BatchHeader>
  <BatchDetail status="true" system="PROD-SBT">
    <Upload resultCode="S0000" dateTimeStamp="2024-05-01T10:11:12"><FileName>batch.xml</FileName></Upload>
    <Process resultCode="S0000" dateTimeStamp="2024-05-01T10:11:18.250-04:00">
      <RecordCount><Success>1</Success><Failure>0</Failure><Total>1</Total></RecordCount>
      <Record sevisID="N0001234567" userID="{FM_USER}" requestID="REQ-1">
        <UserDefinedA>STU1</UserDefinedA>
        <ProcessDate>2024-05-01T10:11:18</ProcessDate>
        <Result status="true"/>
        <Dependent dependentSevisID="N0001234568"><UserDefinedA>DEP1</UserDefinedA></Dependent>
      </Record>
    </Process>
    <Download resultCode="S0000"/>
  </BatchDetail>
</TransactionLog>
""".encode()


def partial_failure_log(batch_id: str = "EVBATCH0000042", org_id: str = J_ORG) -> bytes:
    """A J batch: one record applied (sites, dependents, addresses), one failed a business rule."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<TransactionLog>
  <BatchHeader><BatchID>{batch_id}</BatchID><OrgID>{org_id}</OrgID></BatchHeader>
  <BatchDetail status="0" system="PROD-ALPHA">
    <Upload resultCode="S0000" dateTimeStamp="2024-05-01T10:11:12Z"><FileName>ev-create.xml</FileName></Upload>
    <Process resultCode="S0020" dateTimeStamp="2024-05-01T10:11:18.1234567Z">
      <RecordCount><Success>1</Success><Failure>1</Failure><Total>2</Total></RecordCount>
      <Record sevisID="N0009876543" userID="{J_USER}" requestID="EV-1">
        <UserDefinedA>A-1</UserDefinedA>
        <UserDefinedB>B-1</UserDefinedB>
        <ProcessDate>2024-05-01T10:11:17</ProcessDate>
        <Result status="1"/>
        <SiteOfActivity>
          <ProvidedAddress><Address1>2201 C St NW</Address1><City>Washington</City><State>DC</State><PostalCode>20522</PostalCode></ProvidedAddress>
          <CorrectedAddress><Address1>2201 C ST NW</Address1><City>WASHINGTON</City><State>DC</State><PostalCode>20522-0001</PostalCode></CorrectedAddress>
          <AddressResult>S0000</AddressResult>
          <AddressMessage>Valid</AddressMessage>
          <SiteId>4711</SiteId>
          <SiteName>Main Lab</SiteName>
          <Phase><PhaseId>1</PhaseId><PhaseName>Orientation</PhaseName></Phase>
        </SiteOfActivity>
        <Dependent dependentSevisID="N0009876544"><UserDefinedA>SPOUSE</UserDefinedA><UserDefinedB>D-1</UserDefinedB></Dependent>
        <Dependent dependentSevisID="N0009876545"/>
        <Employer><EmployerName>ACME LABS</EmployerName><StartDate>2024-06-01</StartDate></Employer>
        <PhysicalProvidedAddress><Address1>1 Main St</Address1><City>Springfield</City><PostalCode>62701</PostalCode></PhysicalProvidedAddress>
        <PhysicalCorrectedAddress><Address1>1 MAIN ST</Address1><PostalCode>62701-1234</PostalCode></PhysicalCorrectedAddress>
        <PhysicalAddressResult>S0000</PhysicalAddressResult>
        <MailingAddressMessage>Not Validated</MailingAddressMessage>
      </Record>
      <Record userID="{J_USER}" requestID="EV-2">
        <ProcessDate>2024-05-01T10:11:18</ProcessDate>
        <Result status="false"><ErrorCode>S2282</ErrorCode><ErrorMessage>Program End Date must be after Program Start Date.</ErrorMessage></Result>
      </Record>
    </Process>
    <Download resultCode="S0000"/>
  </BatchDetail>
</TransactionLog>
""".encode()


CANNED_LOGS = {
    "upload-ok": upload_log(),
    "upload-duplicate": upload_log(code="S0010"),
    "pending": pending_log(),
    "never-submitted": never_submitted_log(),
    "processed": processed_log(),
    "partial-failure": partial_failure_log(),
}


@lru_cache(maxsize=1)
def translog_schema() -> etree.XMLSchema | None:
    return etree.XMLSchema(etree.parse(str(TRANSLOG_XSD)))


def assert_valid(xml: bytes) -> None:
    schema = translog_schema()
    if schema is not None:
        document = etree.fromstring(xml)
        assert schema.validate(document), schema.error_log.filter_from_errors()


@pytest.mark.parametrize("name", sorted(CANNED_LOGS))
def test_canned_logs_comply_with_the_official_schema(name):
    assert_valid(CANNED_LOGS[name])


def test_values_lose_only_xml_whitespace():
    """A requestID may hold a no-break space (the schema allows it, SEVIS echoes it): parsing trims XML's
    whitespace (space, tab, CR, LF) and nothing else."""
    log = processed_log().replace(b'requestID="REQ-1"', 'requestID=" \u00a0REQ-1\u00a0\t"'.encode())
    log = log.replace(b"<UserDefinedA>STU1</UserDefinedA>", "<UserDefinedA>\u00a0STU1 </UserDefinedA>".encode())
    record = parse_transaction_log(log).records[0]
    assert record.request_id == "\u00a0REQ-1\u00a0"
    assert record.user_defined_a == "\u00a0STU1 "  # the college's own data comes back exactly as sent


# --------------------------------------------------------------------------------------------
# PKI and the fake SEVIS server
# --------------------------------------------------------------------------------------------
@dataclass
class Pki:
    ca: trustme.CA
    server_cert: trustme.LeafCert
    ca_pem: Path
    cert_pem: Path
    key_pem: Path
    p12: Path
    p12_password: str
    stranger_cert: Path
    stranger_key: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("mckpdso001@example.edu", common_name=FM_USER)
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    client.cert_chain_pems[0].write_to_path(str(directory / "client.pem"))
    client.private_key_pem.write_to_path(str(directory / "client.key.pem"))

    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), None)
    cert = x509.load_pem_x509_certificate(client.cert_chain_pems[0].bytes())
    password = "s3cret"
    (directory / "client.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"mck", key, cert, None, serialization.BestAvailableEncryption(password.encode())
        )
    )

    stranger = trustme.CA().issue_cert("stranger@example.org", common_name="STRANGER01")
    stranger.cert_chain_pems[0].write_to_path(str(directory / "stranger.pem"))
    stranger.private_key_pem.write_to_path(str(directory / "stranger.key.pem"))
    return Pki(
        ca,
        server_cert,
        directory / "ca.pem",
        directory / "client.pem",
        directory / "client.key.pem",
        directory / "client.p12",
        password,
        directory / "stranger.pem",
        directory / "stranger.key.pem",
    )


@dataclass
class Received:
    method: str
    path: str
    mimetype: str
    args: dict[str, str]
    form: dict[str, str]
    files: dict[str, tuple[str | None, str, bytes]]
    client_cert: str | None

    @property
    def client_common_name(self) -> str | None:
        if not self.client_cert:
            return None
        cert = x509.load_pem_x509_certificate(self.client_cert.encode())
        return cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value


@dataclass
class FakeSevis:
    """Records each request; answers from `routes` (path -> handler(Received) -> Response)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    routes: dict[str, Callable[[Received], Response]] = field(default_factory=dict)

    def __call__(self, environ, start_response):
        request = Request(environ)
        received = Received(
            method=request.method,
            path=request.path,
            mimetype=request.mimetype,
            args=dict(request.args),
            form=dict(request.form),
            files={name: (f.filename, f.mimetype, f.read()) for name, f in request.files.items()},
            client_cert=environ.get("SSL_CLIENT_CERT"),
        )
        request.close()  # closes the spooled files of the multipart parser
        self.received.append(received)
        handler = self.routes.get(request.path)
        response = handler(received) if handler else Response("no such page", 404)
        return response(environ, start_response)


@pytest.fixture
def sevis(pki) -> FakeSevis:
    fake = FakeSevis()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=str(pki.ca_pem))
    pki.server_cert.configure_cert(context)
    server = make_server("127.0.0.1", 0, fake, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"https://127.0.0.1:{server.port}"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(5)


def xml_reply(document: bytes, status: int = 200) -> Response:
    assert_valid(document)
    return Response(document, status, content_type="text/xml; charset=UTF-8")


def make_zip(log: bytes, pdfs: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sevis_transaction_log.xml", log)
        for name, content in (pdfs or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def zip_reply(log: bytes, pdfs: dict[str, bytes] | None = None) -> Response:
    assert_valid(log)
    return Response(make_zip(log, pdfs), 200, content_type="application/zip")


def fm_client(sevis: FakeSevis, pki: Pki, **kwargs: Any) -> SevisClient:
    return SevisClient(
        sevis.url, cert=(str(pki.cert_pem), str(pki.key_pem)), ca_bundle=str(pki.ca_pem), timeout=10, **kwargs
    )


FM_DOCUMENT = f"""<?xml version="1.0" encoding="UTF-8"?>
<SEVISBatchCreateUpdateStudent userID="{FM_USER}">
  <BatchHeader><BatchID>{BATCH_ID}</BatchID><OrgID>{FM_ORG}</OrgID></BatchHeader>
  <CreateStudent><Student requestID="REQ-1" userID="{FM_USER}" printForm="true"/></CreateStudent>
</SEVISBatchCreateUpdateStudent>
""".encode()


def ev_document(org_id: str = J_ORG, batch_id: str = "EVBATCH0000042") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<SEVISBatchCreateUpdateEV userID="{J_USER}">
  <BatchHeader><BatchID>{batch_id}</BatchID><OrgID>{org_id}</OrgID></BatchHeader>
  <CreateEV><ExchangeVisitor requestID="EV-1" userID="{J_USER}" printForm="true"/></CreateEV>
</SEVISBatchCreateUpdateEV>
""".encode()


# --------------------------------------------------------------------------------------------
# Upload
# --------------------------------------------------------------------------------------------
def test_upload_posts_multipart_fields_and_xml_file_part(sevis, pki):
    sevis.routes[UPLOAD_PATH] = lambda r: xml_reply(upload_log(r.form["batchid"], r.form["orgid"]))
    with fm_client(sevis, pki) as client:
        result = client.upload(FM_DOCUMENT, org_id=FM_ORG, user_id=FM_USER, batch_id=BATCH_ID)

    [request] = sevis.received
    assert (request.method, request.path, request.mimetype) == ("POST", UPLOAD_PATH, "multipart/form-data")
    assert request.form == {"orgid": FM_ORG, "userid": FM_USER, "batchid": BATCH_ID}
    assert request.files == {"xml": ("batch.xml", "text/xml", FM_DOCUMENT)}
    assert request.client_common_name == FM_USER

    assert result.ok and result.code == "S0000" and result.meaning == "Success"
    assert (result.log.batch_id, result.log.org_id, result.log.system) == (BATCH_ID, FM_ORG, "PROD-SBT")
    assert result.log.status is True
    assert result.log.upload.timestamp == datetime(2024, 5, 1, 10, 11, 12)
    assert result.log.upload.file_name == "batch.xml"
    assert result.log.process is None and result.log.download_code is None


def test_upload_of_a_path_sends_its_name_and_reads_batch_id_from_the_header(sevis, pki, tmp_path):
    sevis.routes[UPLOAD_PATH] = lambda r: xml_reply(
        upload_log(r.form["batchid"], r.form["orgid"], file_name=r.files["xml"][0])
    )
    path = tmp_path / "fm-create.xml"
    path.write_bytes(FM_DOCUMENT)
    with fm_client(sevis, pki) as client:
        result = client.upload(path, org_id=FM_ORG, user_id=FM_USER)
        client.upload(FM_DOCUMENT.decode(), org_id=FM_ORG, user_id=FM_USER, filename="text.xml")

    first, second = sevis.received
    assert first.form["batchid"] == BATCH_ID
    assert first.files["xml"] == ("fm-create.xml", "text/xml", FM_DOCUMENT)
    assert second.files["xml"] == ("text.xml", "text/xml", FM_DOCUMENT)
    assert result.log.upload.file_name == "fm-create.xml"


def test_upload_without_a_batch_id_anywhere_is_refused_before_sending(sevis, pki):
    document = b"<SEVISBatchCreateUpdateStudent userID='MCKPDSO001'/>"
    with fm_client(sevis, pki) as client, pytest.raises(SevisError, match="batch_id"):
        client.upload(document, org_id=FM_ORG, user_id=FM_USER)
    assert sevis.received == []


def test_upload_with_pkcs12_authenticates_and_cleans_up_its_pem_files(sevis, pki):
    sevis.routes[UPLOAD_PATH] = lambda r: xml_reply(upload_log())
    client = SevisClient(
        sevis.url, p12=str(pki.p12), p12_password=pki.p12_password, ca_bundle=str(pki.ca_pem), environment="beta"
    )
    private_dir = Path(client._p12_dir)
    assert stat.S_IMODE(private_dir.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in private_dir.iterdir())
    with client:
        assert client.upload(FM_DOCUMENT, org_id=FM_ORG, user_id=FM_USER).ok
    assert not private_dir.exists()
    assert sevis.received[0].client_common_name == FM_USER


def test_pkcs12_with_a_wrong_password_is_reported(pki):
    with pytest.raises(SevisError, match="wrong password"):
        SevisClient("https://127.0.0.1:1", p12=str(pki.p12), p12_password=b"nope")


def test_client_without_a_certificate_is_refused_by_the_server(sevis, pki):
    sevis.routes[UPLOAD_PATH] = lambda r: xml_reply(upload_log())
    with SevisClient(sevis.url, ca_bundle=str(pki.ca_pem), timeout=10) as client:
        with pytest.raises(SevisConnectionError):
            client.upload(FM_DOCUMENT, org_id=FM_ORG, user_id=FM_USER)
    assert sevis.received == []


def test_client_certificate_from_an_unknown_ca_is_refused(sevis, pki):
    sevis.routes[UPLOAD_PATH] = lambda r: xml_reply(upload_log())
    with SevisClient(
        sevis.url, cert=(str(pki.stranger_cert), str(pki.stranger_key)), ca_bundle=str(pki.ca_pem), timeout=10
    ) as client:
        with pytest.raises(SevisConnectionError):
            client.upload(FM_DOCUMENT, org_id=FM_ORG, user_id=FM_USER)
    assert sevis.received == []


def test_untrusted_server_certificate_is_refused(sevis, pki):
    with SevisClient(sevis.url, cert=(str(pki.cert_pem), str(pki.key_pem)), timeout=10) as client:
        with pytest.raises(SevisConnectionError, match="TLS"):
            client.upload(FM_DOCUMENT, org_id=FM_ORG, user_id=FM_USER)


def test_upload_rejection_is_a_result_not_an_exception(sevis, pki):
    sevis.routes[UPLOAD_PATH] = lambda r: xml_reply(upload_log(code="S0010"))
    with fm_client(sevis, pki) as client:
        result = client.upload(FM_DOCUMENT, org_id=FM_ORG, user_id=FM_USER)
    assert not result.ok and result.code == "S0010" and result.meaning == "Duplicate Batch ID"
    assert result.log.status is False


def test_non_200_reply_raises_http_error_with_status_and_body(sevis, pki):
    sevis.routes[UPLOAD_PATH] = lambda r: Response(
        "<html>403 Forbidden: certificate not registered</html>", 403, content_type="text/html"
    )
    with fm_client(sevis, pki) as client, pytest.raises(SevisHTTPError) as caught:
        client.upload(FM_DOCUMENT, org_id=FM_ORG, user_id=FM_USER)
    assert caught.value.status == 403
    assert "certificate not registered" in caught.value.body_start


def test_200_reply_that_is_not_a_transaction_log_raises_http_error(sevis, pki):
    sevis.routes[UPLOAD_PATH] = lambda r: Response(
        "<html><body>Maintenance</body></html>", 200, content_type="text/html"
    )
    with fm_client(sevis, pki) as client, pytest.raises(SevisHTTPError) as caught:
        client.upload(FM_DOCUMENT, org_id=FM_ORG, user_id=FM_USER)
    assert caught.value.status == 200 and "Maintenance" in caught.value.body_start


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, verb, mimetype",
    [
        ("GET", "GET", ""),
        ("POST", "POST", "multipart/form-data"),
        ("FORM", "POST", "application/x-www-form-urlencoded"),
    ],
)
def test_download_sends_fields_by_each_method(sevis, pki, method, verb, mimetype):
    sevis.routes[DOWNLOAD_PATH] = lambda r: zip_reply(processed_log())
    with fm_client(sevis, pki) as client:
        result = client.download(org_id=FM_ORG, user_id=FM_USER, batch_id=BATCH_ID, method=method)

    [request] = sevis.received
    assert (request.method, request.path, request.mimetype) == (verb, DOWNLOAD_PATH, mimetype)
    fields = request.args if verb == "GET" else request.form
    assert fields == {"orgid": FM_ORG, "userid": FM_USER, "batchid": BATCH_ID}
    assert result.ok and result.code == "S0000"
    assert result.log.process.records[0].sevis_id == "N0001234567"


@pytest.mark.parametrize(
    ("names", "keys"),
    [
        (["N0001234567.pdf", "N0001234567-7002.pdf"], ["N0001234567", "N0001234567-7002"]),
        (["N0001234567-7002.pdf"], ["N0001234567-7002"]),  # a DS-7002 alone is not taken for the DS-2019
        (["I20_N0001234567.pdf"], ["N0001234567"]),
    ],
)
def test_download_files_a_second_form_of_a_record_under_its_own_name(sevis, pki, names, keys):
    sevis.routes[DOWNLOAD_PATH] = lambda r: zip_reply(processed_log(), {n: PDF + n.encode() for n in names})
    with fm_client(sevis, pki) as client:
        result = client.download(org_id=FM_ORG, user_id=FM_USER, batch_id=BATCH_ID)
    assert sorted(result.pdfs) == sorted(keys)
    assert [result.pdfs[k] for k in keys] == [PDF + n.encode() for n in names]


def test_download_zip_with_pdfs_keyed_by_sevis_id(sevis, pki):
    pdfs = {"N0001234567.pdf": PDF + b"student", "N0001234568.pdf": PDF + b"dependent"}
    sevis.routes[DOWNLOAD_PATH] = lambda r: zip_reply(processed_log(), pdfs)
    with fm_client(sevis, pki) as client:
        result = client.download(org_id=FM_ORG, user_id=FM_USER, batch_id=BATCH_ID)

    assert result.pdfs == {"N0001234567": PDF + b"student", "N0001234568": PDF + b"dependent"}
    with zipfile.ZipFile(io.BytesIO(result.zip_bytes)) as archive:
        assert sorted(archive.namelist()) == ["N0001234567.pdf", "N0001234568.pdf", "sevis_transaction_log.xml"]
    process = result.log.process
    assert (process.code, process.success, process.failure, process.total) == ("S0000", 1, 0, 1)
    assert process.timestamp == datetime(2024, 5, 1, 10, 11, 18, 250000, tzinfo=timezone(timedelta(hours=-4)))
    assert process.records[0].dependents == [DependentResult("N0001234568", "DEP1", None)]


def test_download_accepts_a_bare_transaction_log(sevis, pki):
    sevis.routes[DOWNLOAD_PATH] = lambda r: xml_reply(never_submitted_log())
    with fm_client(sevis, pki) as client:
        result = client.download(org_id=FM_ORG, user_id=FM_USER, batch_id=BATCH_ID)
    assert result.code == "S0031" and not result.ok and not result.pending
    assert result.pdfs == {} and result.zip_bytes is None
    assert result.log.upload is None and result.log.process is None


def test_download_zip_without_a_log_is_a_protocol_error(sevis, pki):
    def reply(_request):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("N0001234567.pdf", PDF)
        return Response(buffer.getvalue(), 200, content_type="application/zip")

    sevis.routes[DOWNLOAD_PATH] = reply
    with fm_client(sevis, pki) as client, pytest.raises(SevisProtocolError, match="sevis_transaction_log"):
        client.download(org_id=FM_ORG, user_id=FM_USER, batch_id=BATCH_ID)


def test_wait_for_processing_polls_through_s0030(sevis, pki):
    replies = iter([pending_log(), pending_log(), processed_log()])
    sevis.routes[DOWNLOAD_PATH] = lambda r: zip_reply(next(replies))
    polls: list[str | None] = []
    with fm_client(sevis, pki) as client:
        result = client.wait_for_processing(
            org_id=FM_ORG,
            user_id=FM_USER,
            batch_id=BATCH_ID,
            timeout=10,
            interval=0.01,
            on_poll=lambda r, left: polls.append(r.code),
        )
    assert result.code == "S0000" and result.log.process.code == "S0000"
    assert polls == ["S0030", "S0030"]
    assert len(sevis.received) == 3


def test_wait_for_processing_times_out(sevis, pki):
    sevis.routes[DOWNLOAD_PATH] = lambda r: zip_reply(pending_log())
    started = time.monotonic()
    with fm_client(sevis, pki) as client, pytest.raises(SevisTimeout) as caught:
        client.wait_for_processing(org_id=FM_ORG, user_id=FM_USER, batch_id=BATCH_ID, timeout=0.3, interval=0.05)
    assert time.monotonic() - started < 5
    assert caught.value.last.code == "S0030"
    assert len(sevis.received) >= 2


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------
def test_parse_log_with_failures_dependents_sites_and_addresses():
    log = parse_transaction_log(partial_failure_log())
    assert (log.batch_id, log.org_id, log.system, log.status) == ("EVBATCH0000042", J_ORG, "PROD-ALPHA", False)
    assert log.upload.timestamp == datetime(2024, 5, 1, 10, 11, 12, tzinfo=timezone.utc)
    assert log.process.timestamp == datetime(2024, 5, 1, 10, 11, 18, 123456, tzinfo=timezone.utc)
    assert (log.process.code, log.process.success, log.process.failure, log.process.total) == ("S0020", 1, 1, 2)
    assert not log.process.ok and log.download_code == "S0000"

    applied, failed = log.records
    assert applied.ok and (applied.request_id, applied.sevis_id, applied.user_id) == ("EV-1", "N0009876543", J_USER)
    assert (applied.user_defined_a, applied.user_defined_b) == ("A-1", "B-1")
    assert applied.process_date == datetime(2024, 5, 1, 10, 11, 17)
    assert applied.dependents == [("N0009876544", "SPOUSE", "D-1"), ("N0009876545", None, None)]
    [site] = applied.sites
    assert site["site_id"] == "4711" and site["site_name"] == "Main Lab"
    assert site["provided_address"]["postal_code"] == "20522"
    assert site["corrected_address"] == {
        "address1": "2201 C ST NW",
        "address2": None,
        "city": "WASHINGTON",
        "state": "DC",
        "postal_code": "20522-0001",
    }
    assert site["address_result"] == "S0000" and site["address_message"] == "Valid"
    assert site["phases"] == [{"phase_id": "1", "phase_name": "Orientation"}]
    assert applied.employers == [
        {
            "employer_name": "ACME LABS",
            "start_date": date(2024, 6, 1),
            "provided_address": None,
            "corrected_address": None,
            "address_result": None,
            "address_message": None,
        }
    ]
    # a corrected address without city or state must not break the parser
    assert applied.physical_address["corrected"]["state"] is None
    assert applied.physical_address["corrected"]["postal_code"] == "62701-1234"
    assert applied.physical_address["result"] == "S0000"
    assert applied.mailing_address == {"provided": None, "corrected": None, "result": None, "message": "Not Validated"}

    assert not failed.ok and failed.sevis_id is None
    assert (failed.error_code, failed.error_message) == ("S2282", "Program End Date must be after Program Start Date.")
    assert log.failures == [failed]
    assert json.loads(json.dumps(log.to_dict()))["process"]["records"][1]["error_code"] == "S2282"


@pytest.mark.parametrize(
    "value, expected", [("true", True), ("1", True), ("false", False), ("0", False), (" true ", True)]
)
def test_xsd_booleans(value, expected):
    document = upload_log().replace(b'status="true"', f'status="{value}"'.encode())
    assert parse_transaction_log(document).status is expected


@pytest.mark.parametrize(
    "document, message",
    [
        (b"<html><body>Service unavailable</body></html>", "expected a TransactionLog"),
        (b"not xml at all", "not well-formed"),
        (
            b"""<?xml version="1.0"?><!DOCTYPE TransactionLog [<!ENTITY x "boom">]>
<TransactionLog><BatchHeader><BatchID>&x;</BatchID><OrgID/></BatchHeader>
<BatchDetail status="true"/></TransactionLog>""",
            "DOCTYPE",
        ),
        (
            b"""<?xml version="1.0"?><!DOCTYPE TransactionLog SYSTEM "http://127.0.0.1:9/evil.dtd">
<TransactionLog/>""",
            "DOCTYPE",
        ),
        (upload_log().replace(b'status="true"', b'status="yes"'), "xsd:boolean"),
        (b"<TransactionLog><BatchHeader/></TransactionLog>", "BatchDetail"),
    ],
)
def test_parse_refuses_bad_or_hostile_documents(document, message):
    with pytest.raises(SevisProtocolError, match=message):
        parse_transaction_log(document)


def test_garbled_upload_log_with_empty_batch_id_still_parses():
    document = upload_log(batch_id="", org_id="--boundary\r\nContent-Disposition", code="S0001")
    log = parse_transaction_log(document)
    assert log.batch_id == "" and log.upload.code == "S0001" and log.status is False


def test_document_helpers_read_and_rewrite_the_batch_header():
    info = read_document_info(FM_DOCUMENT)
    assert (info.root, info.kind, info.batch_id, info.org_id, info.user_id) == (
        "SEVISBatchCreateUpdateStudent",
        "F/M",
        BATCH_ID,
        FM_ORG,
        FM_USER,
    )
    rewritten = replace_batch_id(FM_DOCUMENT, "NEWBATCH000002")
    assert read_document_info(rewritten).batch_id == "NEWBATCH000002"
    assert rewritten.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert read_document_info(ev_document()).kind == "J"


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
@dataclass
class BatchService:
    """A stateful fake: remembers uploads; downloads are S0030 for `pending_polls` times."""

    fake: FakeSevis
    pending_polls: int = 0
    make_log: Callable[[str, str], bytes] = processed_log
    pdfs: dict[str, bytes] = field(default_factory=lambda: {"N0001234567.pdf": PDF})
    uploads: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    polls: int = 0

    def __post_init__(self):
        self.fake.routes[UPLOAD_PATH] = self.upload
        self.fake.routes[DOWNLOAD_PATH] = self.download

    def upload(self, request: Received) -> Response:
        batch_id, org_id = request.form["batchid"], request.form["orgid"]
        name = request.files["xml"][0]
        if batch_id in self.uploads:
            return xml_reply(upload_log(batch_id, org_id, code="S0010", file_name=name))
        self.uploads[batch_id] = (org_id, request.files["xml"][2])
        return xml_reply(upload_log(batch_id, org_id, file_name=name))

    def download(self, request: Received) -> Response:
        fields = request.args if request.method == "GET" else request.form
        batch_id, org_id = fields["batchid"], fields["orgid"]
        if batch_id not in self.uploads:
            return zip_reply(never_submitted_log(batch_id, org_id))
        self.polls += 1
        if self.polls <= self.pending_polls:
            return zip_reply(pending_log(batch_id, org_id))
        return zip_reply(self.make_log(batch_id, org_id), self.pdfs)


@pytest.fixture
def connection(tmp_path, sevis, pki) -> Path:
    cert = {"client_cert": str(pki.cert_pem), "client_key": str(pki.key_pem)}
    data = {
        "base_url": sevis.url,
        "ca_cert": str(pki.ca_pem),
        "environments": {"production": "sevisbatch", "beta": "sbtsevisbatch", "alpha": "alphasevisbatch"},
        "organizations": [
            {"org_id": FM_ORG, "kind": "F/M", "name": "Mock University", "user_id": FM_USER, **cert},
            {"org_id": FM_ORG_2, "kind": "F/M", "name": "Mock College", "user_id": FM_USER_2, **cert},
            {"org_id": J_ORG, "kind": "J", "name": "Mock Exchange", "user_id": J_USER, **cert},
        ],
        "control": {"url": f"{sevis.url}/control", "token": "not-used"},
    }
    path = tmp_path / "connection.json"
    path.write_text(json.dumps(data))
    return path


def run(command, args: list[str]):
    return CliRunner().invoke(command, args, catch_exceptions=False)


def test_cli_upload_uses_connection_defaults_and_rewrites_the_batch_id(sevis, connection, tmp_path):
    service = BatchService(sevis)
    batch = tmp_path / "fm.xml"
    batch.write_bytes(FM_DOCUMENT)
    result = run(upload_command, [str(batch), "--connection", str(connection), "--batch-id", "FRESHBATCH0001"])
    assert result.exit_code == 0, result.output

    [request] = sevis.received
    assert request.form == {"orgid": FM_ORG, "userid": FM_USER, "batchid": "FRESHBATCH0001"}
    assert request.files["xml"][0] == "fm.xml"
    assert read_document_info(service.uploads["FRESHBATCH0001"][1]).batch_id == "FRESHBATCH0001"
    assert "S0000" in result.output and "FRESHBATCH0001" in result.output and FM_ORG in result.output
    assert "sevis-mock download --batch-id FRESHBATCH0001" in result.output


def test_cli_upload_picks_the_organization_from_the_document(sevis, connection, tmp_path, monkeypatch):
    BatchService(sevis)
    monkeypatch.setenv("SEVIS_MOCK_CONNECTION", str(connection))
    second = tmp_path / "second.xml"
    second.write_bytes(FM_DOCUMENT.replace(FM_ORG.encode(), FM_ORG_2.encode()))
    ev = tmp_path / "ev.xml"
    ev.write_bytes(ev_document(org_id="P-4-99999"))

    assert run(upload_command, [str(second)]).exit_code == 0  # header OrgID matches an org
    result = run(upload_command, [str(ev)])  # unknown OrgID: first J org
    assert result.exit_code == 0, result.output
    assert [r.form["orgid"] for r in sevis.received] == [FM_ORG_2, J_ORG]
    assert [r.form["userid"] for r in sevis.received] == [FM_USER_2, J_USER]


def test_cli_upload_wait_prints_record_results_and_fails_on_record_errors(sevis, connection, tmp_path):
    BatchService(sevis, pending_polls=1, make_log=partial_failure_log, pdfs={})
    ev = tmp_path / "ev.xml"
    ev.write_bytes(ev_document())
    result = run(upload_command, [str(ev), "--connection", str(connection), "--wait", "10", "--interval", "0.01"])
    assert result.exit_code == 1, result.output
    assert "S0020" in result.output
    assert "EV-2" in result.output and "S2282" in result.output
    assert "Program End Date must be after Program Start Date." in result.output
    assert "dependent N0009876544" in result.output
    assert [r.path for r in sevis.received] == [UPLOAD_PATH, DOWNLOAD_PATH, DOWNLOAD_PATH]


def test_cli_upload_wait_json_success(sevis, connection, tmp_path):
    BatchService(sevis, pending_polls=1)
    batch = tmp_path / "fm.xml"
    batch.write_bytes(FM_DOCUMENT)
    result = CliRunner().invoke(
        upload_command, [str(batch), "--connection", str(connection), "--wait", "10", "--interval", "0.01", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["upload"]["code"] == "S0000" and data["upload"]["log"]["batch_id"] == BATCH_ID
    assert data["download"]["code"] == "S0000"
    assert data["download"]["log"]["process"]["records"][0]["sevis_id"] == "N0001234567"
    assert data["download"]["pdfs"] == {"N0001234567": len(PDF)}


def test_cli_upload_rejected_batch_exits_1_with_advice(sevis, connection, tmp_path):
    BatchService(sevis)
    batch = tmp_path / "fm.xml"
    batch.write_bytes(FM_DOCUMENT)
    assert run(upload_command, [str(batch), "--connection", str(connection)]).exit_code == 0
    result = run(upload_command, [str(batch), "--connection", str(connection)])
    assert result.exit_code == 1
    assert "S0010" in result.output and "--batch-id" in result.output


def test_cli_upload_with_explicit_p12_and_server(sevis, pki, tmp_path, monkeypatch):
    BatchService(sevis)
    monkeypatch.chdir(tmp_path)  # no ./.sevis-mock/connection.json here: options only
    batch = tmp_path / "fm.xml"
    batch.write_bytes(FM_DOCUMENT)
    result = run(
        upload_command,
        [
            str(batch),
            "--server",
            sevis.url,
            "--ca",
            str(pki.ca_pem),
            "--p12",
            str(pki.p12),
            "--p12-password",
            pki.p12_password,
            "--env",
            "beta",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sevis.received[0].form == {"orgid": FM_ORG, "userid": FM_USER, "batchid": BATCH_ID}
    assert sevis.received[0].client_common_name == FM_USER


def test_cli_download_saves_zip_log_and_pdfs(sevis, connection, tmp_path):
    service = BatchService(sevis, pdfs={"N0001234567.pdf": PDF, "N0001234568.pdf": PDF})
    service.uploads[BATCH_ID] = (FM_ORG, FM_DOCUMENT)
    out = tmp_path / "out"
    result = run(
        download_command,
        [
            "--batch-id",
            BATCH_ID,
            "--org",
            FM_ORG,
            "--out",
            str(out),
            "--connection",
            str(connection),
            "--method",
            "post",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        f"{BATCH_ID}.zip",
        "N0001234567.pdf",
        "N0001234568.pdf",
        "sevis_transaction_log.xml",
    ]
    assert parse_transaction_log((out / "sevis_transaction_log.xml").read_bytes()).download_code == "S0000"
    assert "REQ-1" in result.output and "N0001234567" in result.output
    assert "dependent N0001234568" in result.output and "N0001234568.pdf" in result.output
    assert sevis.received[0].method == "POST" and sevis.received[0].form["userid"] == FM_USER


def test_cli_download_of_an_unknown_batch_exits_1(sevis, connection, tmp_path):
    BatchService(sevis)
    result = run(
        download_command,
        [
            "--batch-id",
            "NOSUCHBATCH001",
            "--org",
            J_ORG,
            "--out",
            str(tmp_path / "out"),
            "--connection",
            str(connection),
        ],
    )
    assert result.exit_code == 1
    assert "S0031" in result.output


def test_cli_download_wait_times_out_with_exit_1(sevis, connection, tmp_path):
    service = BatchService(sevis, pending_polls=1000)
    service.uploads[BATCH_ID] = (FM_ORG, FM_DOCUMENT)
    result = run(
        download_command,
        [
            "--batch-id",
            BATCH_ID,
            "--org",
            FM_ORG,
            "--out",
            str(tmp_path / "out"),
            "--connection",
            str(connection),
            "--wait",
            "0.2",
            "--interval",
            "0.05",
        ],
    )
    assert result.exit_code == 1
    assert "still not processed" in result.output


def test_cli_download_needs_org_when_the_connection_has_several(sevis, connection, tmp_path):
    result = CliRunner().invoke(
        download_command, ["--batch-id", BATCH_ID, "--out", str(tmp_path / "o"), "--connection", str(connection)]
    )
    assert result.exit_code == 2
    assert "--org" in result.output and sevis.received == []


def test_cli_upload_wait_that_times_out_exits_1_and_says_what_next(sevis, connection, tmp_path):
    BatchService(sevis, pending_polls=1000)
    batch = tmp_path / "fm.xml"
    batch.write_bytes(FM_DOCUMENT)
    result = run(upload_command, [str(batch), "--connection", str(connection), "--wait", "0.2", "--interval", "0.05"])
    assert result.exit_code == 1
    assert "Upload S0000" in result.output and "still not processed" in result.output
    assert "Next: sevis-mock download --batch-id " + BATCH_ID in result.output
