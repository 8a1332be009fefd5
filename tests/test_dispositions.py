"""Every upload/download disposition, and the fail-closed certificate matrix, over real mutual TLS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
import trustme
from sqlalchemy import update

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.datadir import registration
from sevis_mock.server.store import Official, Organization
from sevis_mock.server.tls import CertificateAuthority
from tests.support.reference import AVAILABLE, OFFICIAL_XSD, REQUIRED, require
from tests.support.server import assert_valid_log, new_batch_id, open_store, start_server, with_batch_id

FM_DOC = "fm/create-three-students.xml"


def official_schemas() -> bool:
    if REQUIRED:
        require()
    return AVAILABLE


@pytest.fixture(scope="module")
def other_ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def server(tmp_path_factory, other_ca, module_backend):
    """One server per backend (SQLite, PostgreSQL: tests/support/postgres.py) for the module's tests."""
    trusted = tmp_path_factory.mktemp("trust") / "college-ca.pem"
    other_ca.cert_pem.write_to_path(str(trusted))
    data_dir = tmp_path_factory.mktemp("disp")
    # --trust: a CA of the college's own (a "purchased" certificate); its certs still need registration
    srv = start_server(
        data_dir,
        *module_backend.serve_args(data_dir),
        "--processing-delay",
        "3600",
        "--workers",
        "1",
        "--trust",
        str(trusted),
        # --schemas works with the official release folders (all of xsd/, sub-folders found), when they are here
        *(["--schemas", str(OFFICIAL_XSD)] if official_schemas() else []),
    )
    yield srv
    srv.stop(wait=False)


@pytest.fixture
def fm(server):
    return server.org("F/M")


@pytest.fixture
def j(server):
    return server.org("J")


def fm_doc(batch_id):
    return with_batch_id(read_fixture(FM_DOC), batch_id)


def dev_ca(server) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(server.data_dir / "certs")


def register(server, issued_cert, org_id, user_id):
    store = open_store(server)
    with store.write() as s:
        s.add(registration(issued_cert, org_id, user_id, datetime.now(UTC)))


def set_row(server, model, key_col, key, **values):
    store = open_store(server)
    with store.write() as s:
        s.execute(update(model).where(key_col == key).values(**values))


# --- S0000 and the upload reply -------------------------------------------------------------------


def test_accepted_upload_is_stored_before_the_reply(server, fm):
    batch_id = new_batch_id("A")
    reply = server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id, filename="a-very-long-file-name-for-the-log.xml")
    assert reply.upload_code == "S0000"
    assert len(reply.log.findtext("BatchDetail/Upload/FileName")) == 30
    queued = server.download(org=fm, batch_id=batch_id)
    assert queued.download_code == "S0030"
    assert "queued" in queued.detail


def test_fields_in_any_order(server, fm):
    batch_id = new_batch_id("O")
    body_parts = [
        ("xml", ("b.xml", fm_doc(batch_id), "text/xml")),
        ("batchid", (None, batch_id)),
        ("userid", (None, fm["user_id"])),
        ("orgid", (None, fm["org_id"])),
    ]
    with server.session((fm["client_cert"], fm["client_key"])) as s:
        r = s.post(f"{server.base_url}/sbtsevisbatch/action/batchUpload", files=body_parts)
    assert b'resultCode="S0000"' in r.content


# --- S0001 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("drop", ["orgid", "userid", "batchid", "xml"])
def test_missing_part_is_S0001(server, fm, drop):
    batch_id = new_batch_id("M")
    fields = {"orgid": fm["org_id"], "userid": fm["user_id"], "batchid": batch_id}
    files = {"xml": ("b.xml", fm_doc(batch_id), "text/xml")}
    (files if drop == "xml" else fields).pop(drop)
    with server.session((fm["client_cert"], fm["client_key"])) as s:
        r = s.post(f"{server.base_url}/sbtsevisbatch/action/batchUpload", data=fields, files=files or None)
    from tests.support.server import assert_valid_log

    log = assert_valid_log(r.content)
    assert log.find("BatchDetail/Upload").get("resultCode") == "S0001"
    assert drop in r.headers["X-Sevis-Mock-Detail"]


def test_garbled_multipart_is_S0001(server, fm):
    body = b'--wrongboundary\r\nContent-Disposition: form-data; name="orgid"\r\n\r\n' + fm["org_id"].encode() + b"\r\n"
    with server.session((fm["client_cert"], fm["client_key"])) as s:
        r = s.post(
            f"{server.base_url}/sbtsevisbatch/action/batchUpload",
            data=body,
            headers={"Content-Type": "multipart/form-data; boundary=expected"},
        )
    from tests.support.server import assert_valid_log

    log = assert_valid_log(r.content)
    assert log.find("BatchDetail/Upload").get("resultCode") == "S0001"
    assert log.findtext("BatchHeader/BatchID") == ""


# --- S0002 ---------------------------------------------------------------------------------------


def test_unknown_org_is_S0002(server, fm):
    batch_id = new_batch_id("K")
    reply = server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id, org_id="ZZZ214F99999999")
    assert reply.upload_code == "S0002" and "not a school code or program number" in reply.detail


@pytest.mark.parametrize(
    "column,phrase", [("batch_registered", "not registered for batch"), ("agreement_on_file", "customer agreement")]
)
def test_org_not_registered_or_without_agreement_is_S0002(server, fm, column, phrase):
    set_row(server, Organization, Organization.org_id, fm["org_id"], **{column: False})
    try:
        batch_id = new_batch_id("G")
        reply = server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id)
        assert reply.upload_code == "S0002" and phrase in reply.detail
        down = server.download(org=fm, batch_id=batch_id)
        assert down.download_code == "S0002"
    finally:
        set_row(server, Organization, Organization.org_id, fm["org_id"], **{column: True})


def test_certificate_of_another_org_is_S0002(server, fm, j):
    batch_id = new_batch_id("W")
    reply = server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id, cert=(j["client_cert"], j["client_key"]))
    assert reply.upload_code == "S0002" and j["org_id"] in reply.detail


def test_valid_but_unregistered_certificate_is_S0002(server, fm, tmp_path):
    issued = dev_ca(server).issue_client(tmp_path, org_id=fm["org_id"], user_id=fm["user_id"])
    batch_id = new_batch_id("N")
    reply = server.upload(
        fm_doc(batch_id), org=fm, batch_id=batch_id, cert=(str(issued.cert_path), str(issued.key_path))
    )
    assert reply.upload_code == "S0002" and "not registered" in reply.detail


def test_trusted_college_ca_certificate_needs_registration_then_works(server, fm, other_ca, tmp_path):
    leaf = other_ca.issue_cert("college-batch@example.edu")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    batch_id = new_batch_id("T")
    assert server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id, cert=(str(cert), str(key))).upload_code == "S0002"
    from cryptography import x509

    register(server, x509.load_pem_x509_certificate(cert.read_bytes()), fm["org_id"], fm["user_id"])
    assert server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id, cert=(str(cert), str(key))).upload_code == "S0000"


# --- S0003 ---------------------------------------------------------------------------------------


def test_unknown_user_is_S0003(server, fm):
    batch_id = new_batch_id("Y")
    reply = server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id, user_id="NOBODY0001")
    assert reply.upload_code == "S0003"


def test_official_of_another_org_is_S0003(server, fm, j):
    batch_id = new_batch_id("Y")
    reply = server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id, user_id=j["user_id"])
    assert reply.upload_code == "S0003" and "not an official of" in reply.detail


def test_another_officials_user_id_is_S0003(server, fm):
    store = open_store(server)
    with store.write() as s:
        if s.get(Official, "MCKDSO0002") is None:
            s.add(
                Official(
                    user_id="MCKDSO0002",
                    org_id=fm["org_id"],
                    name="Dana Mock",
                    role="DSO",
                    batch_registered=True,
                    last_login_at=datetime.now(UTC),
                )
            )
    batch_id = new_batch_id("Y")
    reply = server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id, user_id="MCKDSO0002")
    assert reply.upload_code == "S0003" and "registered to user" in reply.detail


@pytest.mark.parametrize(
    "values,phrase",
    [
        ({"batch_registered": False}, "not registered for batch"),
        ({"last_login_at": datetime.now(UTC) - timedelta(days=46)}, "inactive"),
        ({"last_login_at": None}, "inactive"),
    ],
)
def test_user_not_batch_registered_or_inactive_is_S0003(server, fm, values, phrase):
    set_row(server, Official, Official.user_id, fm["user_id"], **values)
    try:
        batch_id = new_batch_id("I")
        reply = server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id)
        assert reply.upload_code == "S0003" and phrase in reply.detail
    finally:
        set_row(
            server, Official, Official.user_id, fm["user_id"], batch_registered=True, last_login_at=datetime.now(UTC)
        )


def test_login_44_days_ago_is_still_active(server, fm):
    set_row(server, Official, Official.user_id, fm["user_id"], last_login_at=datetime.now(UTC) - timedelta(days=44))
    try:
        batch_id = new_batch_id("I")
        assert server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id).upload_code == "S0000"
    finally:
        set_row(server, Official, Official.user_id, fm["user_id"], last_login_at=datetime.now(UTC))


# --- S0010, S0012, S0013 -------------------------------------------------------------------------


def test_reused_batch_id_is_S0010(server, fm):
    batch_id = new_batch_id("R")
    assert server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id).upload_code == "S0000"
    again = server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id)
    assert again.upload_code == "S0010"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(
            lambda doc: doc.replace(b"<Gender>", b"<Gendre>", 1).replace(b"</Gender>", b"</Gendre>", 1), id="S0013"
        ),
        pytest.param(lambda doc: doc[: len(doc) // 2], id="not-well-formed"),
    ],
)
def test_reused_batch_id_comes_before_what_the_document_lacks(server, fm, damage):
    """S0010 precedes the document's own checks (S0012, S0013): the batch ID is looked up for a refused document
    even though an accepted one meets the store's unique constraint instead."""
    batch_id = new_batch_id("P")
    assert server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id).upload_code == "S0000"
    again = server.upload(damage(fm_doc(batch_id)), org=fm, batch_id=batch_id)
    assert again.upload_code == "S0010" and "already used" in again.detail


def test_body_over_the_limit_is_S0012(server, fm):
    batch_id = new_batch_id("L")
    huge = fm_doc(batch_id).replace(
        b"</SEVISBatchCreateUpdateStudent>",
        b"<!--" + b"x" * (17 * 1024 * 1024) + b"--></SEVISBatchCreateUpdateStudent>",
    )
    reply = server.upload(huge, org=fm, batch_id=batch_id)
    assert reply.upload_code == "S0012" and "larger than" in reply.detail


def test_header_batch_id_differing_from_field_is_S0012(server, fm):
    reply = server.upload(fm_doc(new_batch_id("H")), org=fm, batch_id=new_batch_id("H"))
    assert reply.upload_code == "S0012" and "BatchHeader/BatchID" in reply.detail


def test_fm_document_to_j_sponsor_is_S0013(server, j):
    batch_id = new_batch_id("Q")
    reply = server.upload(fm_doc(batch_id), org=j, batch_id=batch_id, org_id=j["org_id"])
    # the header names the F/M school, so the posting check sees the mismatch first
    assert reply.upload_code in ("S0012", "S0013")
    doc = fm_doc(batch_id).replace(b"MCK214F00001000", j["org_id"].encode())
    reply = server.upload(doc, org=j, batch_id=batch_id)
    assert reply.upload_code == "S0013" and "SEVISBatchCreateUpdateEV" in reply.detail


def test_schema_error_names_line_and_element(server, fm):
    batch_id = new_batch_id("S")
    doc = fm_doc(batch_id).replace(b"<Gender>", b"<Gendre>", 1).replace(b"</Gender>", b"</Gendre>", 1)
    reply = server.upload(doc, org=fm, batch_id=batch_id)
    assert reply.upload_code == "S0013"
    assert "line " in reply.detail and "Gendre" in reply.detail
    assert b"sevis-mock: S0013" in reply.raw  # the explanation also travels inside the log, as a comment


# --- downloads ------------------------------------------------------------------------------------


def test_unknown_batch_is_S0031(server, fm):
    reply = server.download(org=fm, batch_id="NEVERSENT00001")
    assert reply.download_code == "S0031" and reply.process_code is None


def test_download_by_another_orgs_certificate_is_refused(server, fm, j):
    batch_id = new_batch_id("V")
    server.upload(fm_doc(batch_id), org=fm, batch_id=batch_id)
    reply = server.download(org=fm, batch_id=batch_id, cert=(j["client_cert"], j["client_key"]))
    assert reply.download_code == "S0002"


def test_unknown_path_is_404(server, fm):
    with server.session((fm["client_cert"], fm["client_key"])) as s:
        assert s.post(f"{server.base_url}/nosuchbatch/action/batchUpload").status_code == 404


# --- transport: no certificate, another CA, expired, not yet valid --------------------------------


def _refused_at_tls(server, cert):
    with server.session(cert) as s:
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            s.get(
                f"{server.base_url}/sbtsevisbatch/action/batchDownload",
                params={"orgid": "x", "userid": "y", "batchid": "z"},
                timeout=20,
            )


@pytest.mark.parametrize("action", ["batchUpload", "batchDownload"])
def test_no_certificate_is_refused_with_403_and_s0001_saying_what_to_do(server, fm, action):
    # The listener admits certificate-less connections (RTI pages need none); the batch endpoints refuse them.
    fields = {"orgid": fm["org_id"], "userid": fm["user_id"], "batchid": "NOCERT00000001"}
    with server.session(None) as s:
        if action == "batchUpload":
            r = s.post(
                f"{server.base_url}/sbtsevisbatch/action/{action}",
                data=fields,
                files={"xml": ("b.xml", fm_doc("NOCERT00000001"), "text/xml")},
                timeout=20,
            )
        else:
            r = s.get(f"{server.base_url}/sbtsevisbatch/action/{action}", params=fields, timeout=20)
    assert r.status_code == 403
    log = assert_valid_log(r.content)
    part = log.find("BatchDetail/Upload" if action == "batchUpload" else "BatchDetail/Download")
    assert part.get("resultCode") == "S0001"
    assert "client certificate registered for batch in RTI" in r.text
    assert "client certificate registered for batch in RTI" in r.headers["X-Sevis-Mock-Detail"]
    assert server.download(org=fm, batch_id="NOCERT00000001").download_code == "S0031"  # nothing was stored


def test_control_api_without_a_certificate_is_403_json(server):
    token = server.info["control"]["token"]
    with server.session(None) as s:
        r = s.get(f"{server.base_url}/control/clock", headers={"Authorization": f"Bearer {token}"}, timeout=20)
    assert r.status_code == 403
    assert "client certificate" in r.json()["error"]


def test_certificate_of_an_untrusted_ca_is_refused(server, fm, tmp_path):
    stranger = CertificateAuthority.load_or_create(tmp_path / "stranger")
    issued = stranger.issue_client(tmp_path, org_id=fm["org_id"], user_id=fm["user_id"])
    _refused_at_tls(server, (str(issued.cert_path), str(issued.key_path)))


@pytest.mark.parametrize("when", ["expired", "not yet valid"])
def test_out_of_date_certificate_is_refused_even_if_registered(server, fm, tmp_path, when):
    now = datetime.now(UTC)
    span = (
        (now - timedelta(days=30), now - timedelta(days=1))
        if when == "expired"
        else (now + timedelta(days=1), now + timedelta(days=30))
    )
    issued = dev_ca(server).issue_client(
        tmp_path, org_id=fm["org_id"], user_id=fm["user_id"], not_before=span[0], not_after=span[1]
    )
    register(server, issued.certificate, fm["org_id"], fm["user_id"])
    _refused_at_tls(server, (str(issued.cert_path), str(issued.key_path)))


def test_control_characters_in_fields_are_answered_not_crashed(server, fm):
    with server.session((fm["client_cert"], fm["client_key"])) as s:
        r = s.post(
            f"{server.base_url}/sbtsevisbatch/action/batchUpload",
            data={"orgid": "MCK\x00214F\x1b", "userid": "U\x01", "batchid": "B\x02-"},
            files={"xml": ("bad\x07name.xml", b"<x/>", "text/xml")},
        )
    from tests.support.server import assert_valid_log

    log = assert_valid_log(r.content)
    assert log.find("BatchDetail/Upload").get("resultCode") == "S0002"


def test_non_utf8_garbage_document_is_S0012(server, fm):
    batch_id = new_batch_id("B")
    reply = server.upload(b"\xff\xfe\x00<\x00x\x00", org=fm, batch_id=batch_id)
    assert reply.upload_code == "S0012"
