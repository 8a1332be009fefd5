"""A Ruby-style F/M school client (Net::HTTP, PROTOCOL §2-§4 and §3a) against a real `serve`.

As the Ruby clients did: the certificate comes from a PKCS#12 file (``OpenSSL::PKCS12.new(File.read(p12),
password)``), TLS 1.2 with ``Expect: 100-continue``, a multipart body built by hand with the boundary
``AaB03x``, and the download as a GET with a query string. The same client with its parts separated by
closing delimiters (``--AaB03x--``) gets what SEVIS answered it: S0001, an empty BatchID, the mis-split rest of
the body in OrgID and no FileName.
"""

from __future__ import annotations

import io
import ssl
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from sevis_mock.fixtures import read_fixture
from tests.clients.conftest import control, read_log
from tests.clients.wire import Connection, multipart
from tests.support.server import new_batch_id, with_batch_id

BOUNDARY = "AaB03x"
P12_PASSWORD = b"batch-2019"


def make_p12(org: dict, path: Path) -> Path:
    """The school's certificate and key as the PKCS#12 file it bought them in."""
    key = serialization.load_pem_private_key(Path(org["client_key"]).read_bytes(), None)
    cert = x509.load_pem_x509_certificate(Path(org["client_cert"]).read_bytes())
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"batch", key, cert, None, serialization.BestAvailableEncryption(P12_PASSWORD)
        )
    )
    return path


class RubyClient:
    def __init__(self, server, org: dict, p12: Path, workdir: Path) -> None:
        key, cert, _ = pkcs12.load_key_and_certificates(p12.read_bytes(), P12_PASSWORD)
        cert_pem, key_pem = workdir / "cert.pem", workdir / "key.pem"
        cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_pem.chmod(0o600)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.context.minimum_version = self.context.maximum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_verify_locations(server.ca)
        self.context.load_cert_chain(cert_pem, key_pem)
        self.base = server.base_url
        self.org = org

    def upload(self, xml: bytes, batch_id: str, *, closing_between: bool = False):
        parts = [
            ("orgid", self.org["org_id"].encode(), None),
            ("userid", self.org["user_id"].encode(), None),
            ("batchid", batch_id.encode(), None),
            ("xml", xml, f"{batch_id}.xml"),
        ]
        body = multipart(BOUNDARY, parts, closing_between=closing_between)
        with Connection(self.base, self.context) as conn:
            reply = conn.request(
                "POST",
                "/sbtsevisbatch/action/batchUpload",
                [("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"), ("Accept", "*/*")],
                body,
                expect_continue=True,
            )
        return reply

    def download(self, batch_id: str):
        query = urlencode({"orgid": self.org["org_id"], "userid": self.org["user_id"], "batchid": batch_id})
        with Connection(self.base, self.context) as conn:
            reply = conn.request("GET", f"/sbtsevisbatch/action/batchDownload?{query}", [("Accept", "*/*")])
        assert reply.status == 200 and reply.headers["content-type"] == "application/zip", reply
        with zipfile.ZipFile(io.BytesIO(reply.body)) as zf:
            return read_log(zf.read("sevis_transaction_log.xml")), sorted(zf.namelist())


@pytest.fixture(scope="module")
def client(serve, tmp_path_factory):
    org = serve.org("F/M")
    workdir = tmp_path_factory.mktemp("ruby")
    return RubyClient(serve, org, make_p12(org, workdir / "school.p12"), workdir)


def test_pkcs12_hand_built_multipart_and_a_get_download(serve, client):
    batch_id = new_batch_id("B")
    reply = client.upload(with_batch_id(read_fixture("fm/create-with-dependent.xml"), batch_id), batch_id)
    assert reply.status == 200 and reply.interim == [100]
    log = read_log(reply.body)
    assert log.find("BatchDetail/Upload").get("resultCode") == "S0000"
    assert log.findtext("BatchDetail/Upload/FileName") == f"{batch_id}.xml"
    assert log.find("BatchDetail").get("system") == "PROD-SBT" and log.find("BatchDetail/Process") is None

    queued, names = client.download(batch_id)
    assert queued.find("BatchDetail/Download").get("resultCode") == "S0030" and names == ["sevis_transaction_log.xml"]
    control(serve, "POST", "process-now")
    done, names = client.download(batch_id)
    assert done.find("BatchDetail/Download").get("resultCode") == "S0000"
    record = done.find("BatchDetail/Process/Record")
    student, dependent = record.get("sevisID"), record.find("Dependent").get("dependentSevisID")
    assert names == sorted(["sevis_transaction_log.xml", f"{student}.pdf", f"{dependent}.pdf"])  # F-2's own I-20


@pytest.mark.parametrize("padding", [0, 1_500_000], ids=["small", "over the form memory limit"])
def test_closing_delimiters_between_parts_get_what_sevis_answered(serve, client, padding):
    batch_id = new_batch_id("G")
    xml = with_batch_id(read_fixture("fm/create-with-dependent.xml"), batch_id) + b"<!--" + b"x" * padding + b"-->"
    reply = client.upload(xml, batch_id, closing_between=True)
    assert reply.status == 200, reply.body[:300]
    log = read_log(reply.body)
    upload = log.find("BatchDetail/Upload")
    assert upload.get("resultCode") == "S0001" and log.find("BatchDetail").get("status") == "false"
    assert upload.find("FileName") is None  # SEVIS named no file
    assert log.findtext("BatchHeader/BatchID") == ""
    org_id = log.findtext("BatchHeader/OrgID")  # the mis-split rest of the body
    assert org_id.startswith(client.org["org_id"] + '\r\n--AaB03x--\r\nContent-Disposition: form-data; name="userid"')
    assert 'name="batchid"' in org_id and batch_id in org_id
    detail = reply.headers["x-sevis-mock-detail"]
    assert "closing delimiter --AaB03x--" in detail and "\n" not in detail
    assert client.download(batch_id)[0].find("BatchDetail/Download").get("resultCode") == "S0031"  # nothing stored
