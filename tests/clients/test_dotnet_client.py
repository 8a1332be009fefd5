"""A .NET-style J sponsor client (eca-kmt2's conventions, PROTOCOL §2-§4 and §3a) against a real `serve`.

What the client does, from the facts recorded of real .NET 4.6 clients: TLS 1.2; ``Expect: 100-continue``
(the body goes only after the server's ``100 Continue``); a custom boundary and no per-part Content-Type;
``User-Agent: curl/7.46.0``; the file part ``xml`` named ``batchfile3.xml``; BatchIDs made of base-62 clock
ticks left-padded with ``-`` to 14 characters (``----kynEn47azQ``); the download by multipart POST, the zip read
by entry name and each PDF found by the SEVIS ID in its name (the principal's and each dependent's); and the
refusal codes drive retry-or-cancel: S0001 and S0003 are retried, S0002 and S0010-S0013 cancel the batch.
"""

from __future__ import annotations

import io
import itertools
import string
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from lxml import etree

from sevis_mock.fixtures import read_fixture
from tests.clients.conftest import control, read_log
from tests.clients.wire import Connection, multipart, tls12_context
from tests.support.server import with_batch_id

BASE62 = string.digits + string.ascii_lowercase + string.ascii_uppercase
_ticks = itertools.count(int((datetime.now(UTC) - datetime(1, 1, 1, tzinfo=UTC)).total_seconds() * 10**7))


def dash_padded_batch_id() -> str:
    """base-62 of .NET DateTime ticks (100 ns since 0001-01-01), left-padded with '-' to 14 characters."""
    n, digits = next(_ticks), ""
    while n:
        n, d = divmod(n, 62)
        digits = BASE62[d] + digits
    return digits.rjust(14, "-")


@dataclass
class Outcome:
    http_status: int
    log: etree._Element
    interim: list[int]
    pdfs: dict[str, bytes]

    @property
    def upload_code(self) -> str | None:
        el = self.log.find("BatchDetail/Upload")
        return None if el is None else el.get("resultCode")

    @property
    def download_code(self) -> str | None:
        el = self.log.find("BatchDetail/Download")
        return None if el is None else el.get("resultCode")


class DotNetClient:
    USER_AGENT = "curl/7.46.0"
    FILE_NAME = "batchfile3.xml"
    RETRY = {"S0001", "S0003"}
    CANCEL = {"S0002", "S0010", "S0011", "S0012", "S0013"}
    ATTEMPTS = 3

    def __init__(self, server, org: dict) -> None:
        self.base = server.base_url
        self.org = org
        self.context = tls12_context(server.ca, org["client_cert"], org["client_key"])
        self.boundary = f"---------------------------8d{next(_ticks):x}"  # as .NET's MultipartFormDataContent
        self.attempts: list[str] = []

    def _post(self, path: str, fields: list[tuple[str, bytes, str | None]]) -> tuple[int, dict, bytes, list[int]]:
        with Connection(self.base, self.context) as conn:
            assert conn.tls_version == "TLSv1.2"
            reply = conn.request(
                "POST",
                path,
                [("User-Agent", self.USER_AGENT), ("Content-Type", f"multipart/form-data; boundary={self.boundary}")],
                multipart(self.boundary, fields),
                expect_continue=True,
            )
        return reply.status, reply.headers, reply.body, reply.interim

    def upload(self, xml: bytes, batch_id: str, *, org_id: str | None = None, user_id: str | None = None) -> Outcome:
        fields = [
            ("batchid", batch_id.encode(), None),
            ("orgid", (org_id or self.org["org_id"]).encode(), None),
            ("userid", (user_id if user_id is not None else self.org["user_id"]).encode(), None),
            ("xml", xml, self.FILE_NAME),
        ]
        status, headers, body, interim = self._post("/alphasevisbatch/action/batchUpload", fields)
        assert headers["content-type"].startswith("text/xml"), headers
        return Outcome(status, read_log(body), interim, {})

    def download(self, batch_id: str) -> Outcome:
        fields = [(k, v.encode(), None) for k, v in (("orgid", self.org["org_id"]), ("userid", self.org["user_id"]))]
        status, headers, body, interim = self._post(
            "/alphasevisbatch/action/batchDownload", [*fields, ("batchid", batch_id.encode(), None)]
        )
        assert headers["content-type"] == "application/zip", headers
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            log = read_log(zf.read("sevis_transaction_log.xml"))  # by entry name
            pdfs = {name: zf.read(name) for name in zf.namelist() if name.endswith(".pdf")}
        return Outcome(status, log, interim, pdfs)

    def submit(self, xml: bytes, batch_id: str, **kw) -> str:
        """Upload with the client's policy: "accepted", "cancelled" or "gave up" (retried ATTEMPTS times)."""
        for _ in range(self.ATTEMPTS):
            code = self.upload(xml, batch_id, **kw).upload_code
            self.attempts.append(code)
            if code == "S0000":
                return "accepted"
            if code in self.CANCEL:
                return "cancelled"
            assert code in self.RETRY, code
        return "gave up"

    @staticmethod
    def form_of(sevis_id: str, pdfs: dict[str, bytes]) -> bytes | None:
        """The PDF whose name holds this SEVIS ID, as the client looks it up."""
        return next((pdf for name, pdf in pdfs.items() if sevis_id in name), None)


@pytest.fixture
def client(serve):
    return DotNetClient(serve, serve.org("J"))


def j_batch(batch_id: str) -> bytes:
    return with_batch_id(read_fixture("j/create-with-dependent-and-site.xml"), batch_id)


def test_upload_poll_and_download_with_dash_padded_batch_ids(serve, client):
    batch_id = dash_padded_batch_id()
    assert len(batch_id) == 14 and batch_id.startswith("----")
    assert client.download(batch_id).download_code == "S0031"  # never submitted

    up = client.upload(j_batch(batch_id), batch_id)
    assert up.http_status == 200 and up.interim == [100]  # Expect: 100-continue honoured
    assert up.upload_code == "S0000" and up.log.find("BatchDetail").get("status") == "true"
    assert up.log.findtext("BatchHeader/BatchID") == batch_id
    assert up.log.findtext("BatchDetail/Upload/FileName") == "batchfile3.xml"
    assert up.log.find("BatchDetail").get("system") == "PROD-ALPHA"

    queued = client.download(batch_id)
    assert queued.download_code == "S0030" and queued.pdfs == {}
    assert queued.log.find("BatchDetail/Upload").get("resultCode") == "S0000"

    control(serve, "POST", "process-now")
    done = client.download(batch_id)
    assert done.download_code == "S0000" and done.http_status == 200
    process = done.log.find("BatchDetail/Process")
    assert process.get("resultCode") == "S0000"
    assert [process.findtext(f"RecordCount/{n}") for n in ("Success", "Failure", "Total")] == ["1", "0", "1"]
    record = process.find("Record")
    visitor = record.get("sevisID")
    spouse = record.find("Dependent").get("dependentSevisID")
    assert client.form_of(visitor, done.pdfs).startswith(b"%PDF")
    assert client.form_of(spouse, done.pdfs).startswith(b"%PDF")  # the J-2's own DS-2019
    site = record.find("SiteOfActivity")
    assert site.findtext("CorrectedAddress/Address1") == "2201 C STREET NW"  # kept, upper-cased
    assert site.findtext("CorrectedAddress/PostalCode") == "20522-0001" and site.find("AddressMessage") is None
    assert site.findtext("SiteId").isdigit()
    stamps = [datetime.strptime(record.findtext("ProcessDate"), "%Y-%m-%dT%H:%M:%S.%f%z")]
    stamps.append(datetime.strptime(process.get("dateTimeStamp"), "%Y-%m-%dT%H:%M:%S.%f%z"))
    assert stamps[0] < stamps[1]


def test_refusals_drive_retry_or_cancel(serve, client):
    batch_id = dash_padded_batch_id()
    assert client.submit(j_batch(batch_id), batch_id) == "accepted"
    assert client.submit(j_batch(batch_id), batch_id) == "cancelled"  # S0010
    assert client.attempts == ["S0000", "S0010"]

    mismatch = dash_padded_batch_id()
    client.attempts.clear()
    assert client.submit(j_batch("--" + mismatch[2:].upper()), mismatch) == "cancelled"  # S0012
    invalid = dash_padded_batch_id()
    assert client.submit(j_batch(invalid).replace(b"<Gender>F</Gender>", b"<Gender>Q</Gender>"), invalid) == (
        "cancelled"
    )  # S0013
    other_org = serve.org("F/M")["org_id"]
    assert client.submit(j_batch(batch_id), dash_padded_batch_id(), org_id=other_org) == "cancelled"  # S0002
    assert client.attempts == ["S0012", "S0013", "S0002"]

    client.attempts.clear()
    unknown = dash_padded_batch_id()
    assert client.submit(j_batch(unknown), unknown, user_id="NOSUCHUSR1") == "gave up"  # S0003, retried
    assert client.submit(j_batch(unknown), unknown, user_id="") == "gave up"  # S0001: userid missing
    assert client.attempts == ["S0003"] * 3 + ["S0001"] * 3


@pytest.mark.parametrize(
    "header_batch_id, kw, code",
    [
        (None, {"org_id": "P---" + "-" * 6}, "S0002"),
        (None, {"user_id": "---DASHES-"}, "S0003"),
        ("-" * 14, {}, "S0012"),  # the header's BatchID is not the form's
    ],
)
def test_each_refusal_is_a_log_with_the_code_and_what_to_fix(client, header_batch_id, kw, code):
    batch_id = dash_padded_batch_id()
    reply = client.upload(j_batch(header_batch_id or batch_id), batch_id, **kw)
    assert reply.http_status == 200 and reply.upload_code == code
    assert reply.log.find("BatchDetail").get("status") == "false" and reply.log.find("BatchDetail/Process") is None
    comment = reply.log.xpath("/TransactionLog/comment()")
    assert comment and code in comment[0].text
