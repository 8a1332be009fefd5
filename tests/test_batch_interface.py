"""The batch interface over real sockets and real mutual TLS, against `sevis-mock serve` (gunicorn)."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from sevis_mock.fixtures import load_catalog, read_fixture, render_template
from tests.support.server import new_batch_id, with_batch_id

CATALOG = [e for e in load_catalog() if not e["template"]]


def org_of(server, entry):
    return server.org(entry["kind"])


@pytest.mark.parametrize("entry", CATALOG, ids=[e["file"] for e in CATALOG])
def test_every_fixture_gets_its_catalogued_outcome(mock_server, entry):
    org = org_of(mock_server, entry)
    reply = mock_server.upload(
        read_fixture(entry["file"]), org=org, batch_id=entry["batch_id"], filename=entry["file"].split("/")[-1]
    )
    assert reply.upload_code == entry["upload"], reply.detail
    header = reply.log.find("BatchHeader")
    assert header.findtext("BatchID") == entry["batch_id"]
    assert header.findtext("OrgID") == org["org_id"]
    if entry["upload"] != "S0000":
        assert reply.log.find("BatchDetail").get("status") == "false"
        assert reply.detail, "a refusal must say what to fix"
        return
    done = mock_server.wait_processed(org=org, batch_id=entry["batch_id"])
    assert done.download_code == "S0000"
    assert done.process_code == entry["process"]
    for request_id, code in entry["records"].items():
        record = done.record(request_id)
        result = record.find("Result")
        if code is None:
            assert result.get("status") == "true", done.raw.decode()
            assert record.get("sevisID", "").startswith("N")
        else:
            assert result.get("status") == "false"
            assert result.findtext("ErrorCode") == code
            assert result.findtext("ErrorMessage")
    counts = done.log.find("BatchDetail/Process/RecordCount")
    assert int(counts.findtext("Total")) == len(entry["records"])
    assert int(counts.findtext("Failure")) == sum(1 for c in entry["records"].values() if c)
    assert done.log.find("BatchDetail").get("status") == ("true" if entry["process"] == "S0000" else "false")


def test_fm_round_trip_with_dependent_and_i20(mock_server):
    org = mock_server.org("F/M")
    batch_id = new_batch_id("F")
    up = mock_server.upload(
        with_batch_id(read_fixture("fm/create-with-dependent.xml"), batch_id),
        org=org,
        batch_id=batch_id,
        filename="create-with-dependent.xml",
    )
    assert up.upload_code == "S0000"
    assert up.log.findtext("BatchDetail/Upload/FileName") == "create-with-dependent.xml"
    assert up.log.find("BatchDetail").get("system") == "PROD-SBT"
    assert up.process_code is None and up.download_code is None
    done = mock_server.wait_processed(org=org, batch_id=batch_id)
    assert done.process_code == "S0000"
    record = done.log.find("BatchDetail/Process/Record")
    sevis_id = record.get("sevisID")
    assert record.get("requestID") == "FMDEP-0001" and record.get("userID") == org["user_id"]
    assert record.findtext("UserDefinedA") == "2027000101"
    dependent = record.find("Dependent")
    assert dependent.get("dependentSevisID").startswith("N") and dependent.get("dependentSevisID") != sevis_id
    dependent_id = dependent.get("dependentSevisID")
    assert set(done.pdfs) == {sevis_id, dependent_id}  # the F-2 gets an I-20 of its own [i]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(done.pdfs[sevis_id])).pages)
    assert sevis_id in text
    assert "NOT A GOVERNMENT FORM" in text
    f2 = "".join(page.extract_text() for page in PdfReader(io.BytesIO(done.pdfs[dependent_id])).pages)
    assert dependent_id in f2 and sevis_id in f2 and "F-2" in f2 and "NOT A GOVERNMENT FORM" in f2


def test_j_round_trip_with_dependent_site_and_ds2019(mock_server):
    org = mock_server.org("J")
    batch_id = new_batch_id("J")
    up = mock_server.upload(
        with_batch_id(read_fixture("j/create-with-dependent-and-site.xml"), batch_id),
        org=org,
        batch_id=batch_id,
        env="alphasevisbatch",
    )
    assert up.upload_code == "S0000"
    assert up.log.find("BatchDetail").get("system") == "PROD-ALPHA"
    done = mock_server.wait_processed(org=org, batch_id=batch_id, env="alphasevisbatch")
    assert done.process_code == "S0000", done.raw.decode()
    record = done.log.find("BatchDetail/Process/Record")
    sevis_id = record.get("sevisID")
    assert record.find("Dependent").get("dependentSevisID")
    site = record.find("SiteOfActivity")
    assert site is not None
    assert site.findtext("ProvidedAddress/PostalCode") == "20522"
    corrected = site.findtext("CorrectedAddress/PostalCode")
    assert corrected.startswith("20522-") and len(corrected) == 10
    assert site.findtext("AddressResult") == "S0000"
    assert site.findtext("SiteId")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(done.pdfs[sevis_id])).pages)
    assert sevis_id in text and "NOT A GOVERNMENT FORM" in text
    dependent_id = record.find("Dependent").get("dependentSevisID")
    j2 = "".join(page.extract_text() for page in PdfReader(io.BytesIO(done.pdfs[dependent_id])).pages)
    assert dependent_id in j2 and "(J-2)" in j2 and "WEBER" in j2 and sevis_id in j2 and "P-1-12345" in j2
    # the same batch is not visible on another environment
    other = mock_server.download(org=org, batch_id=batch_id, env="sbtsevisbatch")
    assert other.download_code == "S0031"


@pytest.mark.parametrize("method", ["GET", "POST", "FORM"])
def test_download_accepts_get_multipart_and_urlencoded(mock_server, method):
    org = mock_server.org("F/M")
    batch_id = new_batch_id("D")
    mock_server.upload(
        with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id), org=org, batch_id=batch_id
    )
    done = mock_server.wait_processed(org=org, batch_id=batch_id, method=method)
    assert done.download_code == "S0000" and done.process_code == "S0000"
    assert len(done.pdfs) == 2  # one of the three is printForm="false"


def test_update_events_change_status_and_refuse_when_not_allowed(mock_server):
    org = mock_server.org("F/M")
    batch_id = new_batch_id("C")
    # The templates are written for the student of fm/create-with-dependent.xml (their session dates lie
    # inside that program).
    mock_server.upload(
        with_batch_id(read_fixture("fm/create-with-dependent.xml"), batch_id), org=org, batch_id=batch_id
    )
    done = mock_server.wait_processed(org=org, batch_id=batch_id)
    sevis_id = done.record("FMDEP-0001").get("sevisID")

    # Completing an Initial record is refused (S1054: status must be active)
    complete_id = new_batch_id("C")
    reply = mock_server.upload(
        render_template("fm/template-status-complete.xml", sevis_id, complete_id), org=org, batch_id=complete_id
    )
    assert reply.upload_code == "S0000"
    refused = mock_server.wait_processed(org=org, batch_id=complete_id)
    result = refused.record("TPL-COMPLETE-0001").find("Result")
    assert result.findtext("ErrorCode") == "S1054"
    assert result.findtext("ErrorMessage") == "Student status must be active for this action"

    # Registration activates it; then completion is accepted
    reg_id = new_batch_id("R")
    registration = render_template("fm/template-registration.xml", sevis_id, reg_id)
    registration = registration.replace(b'printForm="false"', b'printForm="true"')  # ask for a new I-20
    mock_server.upload(registration, org=org, batch_id=reg_id)
    registered = mock_server.wait_processed(org=org, batch_id=reg_id)
    assert registered.process_code == "S0000"
    dependent_id = done.record("FMDEP-0001").find("Dependent").get("dependentSevisID")
    assert set(registered.pdfs) == {sevis_id, dependent_id}  # a reprint prints the dependent's form too
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(registered.pdfs[sevis_id])).pages)
    assert sevis_id in text
    again = new_batch_id("C")
    mock_server.upload(render_template("fm/template-status-complete.xml", sevis_id, again), org=org, batch_id=again)
    assert mock_server.wait_processed(org=org, batch_id=again).process_code == "S0000"


def test_duplicate_student_against_the_database(mock_server):
    org = mock_server.org("F/M")
    first, second = new_batch_id("U"), new_batch_id("U")
    doc = with_batch_id(read_fixture("fm/create-with-dependent.xml"), first)
    mock_server.upload(doc, org=org, batch_id=first)
    assert mock_server.wait_processed(org=org, batch_id=first).process_code == "S0000"
    mock_server.upload(with_batch_id(doc, second, fresh_people=False), org=org, batch_id=second)
    done = mock_server.wait_processed(org=org, batch_id=second)
    assert done.record("FMDEP-0001").find("Result/ErrorCode").text == "S1004"


def test_update_of_another_orgs_sevis_id_is_not_found(mock_server):
    fm, j = mock_server.org("F/M"), mock_server.org("J")
    batch_id = new_batch_id("X")
    mock_server.upload(
        with_batch_id(read_fixture("j/create-with-dependent-and-site.xml"), batch_id), org=j, batch_id=batch_id
    )
    j_id = mock_server.wait_processed(org=j, batch_id=batch_id).record("JDEP-0001").get("sevisID")
    reg_id = new_batch_id("X")
    mock_server.upload(render_template("fm/template-registration.xml", j_id, reg_id), org=fm, batch_id=reg_id)
    done = mock_server.wait_processed(org=fm, batch_id=reg_id)
    assert done.record("TPL-REGISTER-0001").findtext("Result/ErrorCode") == "S1003"
