"""Replies as SEVIS writes them (PROTOCOL §3a): timestamps, record times, SiteIds, dependents' forms.

The address results are in tests/test_addresses.py, echoed values in tests/test_echo_safety.py, garbled
multipart and real clients in tests/clients/.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import lxml.html as lhtml
import pytest
from lxml import etree
from pypdf import PdfReader

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.clock import sevis_timestamp
from tests.support.server import new_batch_id, sevis_time, with_batch_id
from tests.test_events import XSI, update_batch, upload_and_process
from tests.test_rti import PASSWORD, api, login_token, set_password, sevp


@pytest.mark.parametrize(
    "utc, written",
    [
        (datetime(2019, 5, 21, 15, 55, 36, 234567, tzinfo=UTC), "2019-05-21T11:55:36.234-04:00"),  # the raw reply
        (datetime(2027, 1, 15, 9, 0, tzinfo=UTC), "2027-01-15T04:00:00.000-05:00"),  # standard time
        (datetime(2027, 3, 14, 6, 59, 59, 999000, tzinfo=UTC), "2027-03-14T01:59:59.999-05:00"),  # before DST
        (datetime(2027, 3, 14, 7, 0, tzinfo=UTC), "2027-03-14T03:00:00.000-04:00"),  # DST begins
        (datetime(2027, 11, 7, 5, 30, tzinfo=UTC), "2027-11-07T01:30:00.000-04:00"),  # the hour that repeats
        (datetime(2027, 11, 7, 6, 30, tzinfo=UTC), "2027-11-07T01:30:00.000-05:00"),
        (datetime(2027, 1, 15, 9, 0), "2027-01-15T04:00:00.000-05:00"),  # naive means UTC
    ],
)
def test_timestamps_are_eastern_time_with_milliseconds_and_offset(utc, written):
    assert sevis_timestamp(utc) == written
    assert sevis_time(written) == utc.replace(tzinfo=utc.tzinfo or UTC, microsecond=utc.microsecond // 1000 * 1000)


def test_each_record_is_stamped_when_applied_and_the_batch_when_it_ends(mock_server):
    org = mock_server.org("F/M")
    batch_id = new_batch_id("P")
    mock_server.upload(
        with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id), org=org, batch_id=batch_id
    )
    done = mock_server.wait_processed(org=org, batch_id=batch_id)
    uploaded = sevis_time(done.log.find("BatchDetail/Upload").get("dateTimeStamp"))
    ended = sevis_time(done.log.find("BatchDetail/Process").get("dateTimeStamp"))
    applied = [sevis_time(r.findtext("ProcessDate")) for r in done.log.iterfind("BatchDetail/Process/Record")]
    assert len(applied) == 3 and applied == sorted(applied)
    assert uploaded <= applied[0] and applied[-1] < ended  # records first, the batch when it ends


def test_site_ids_are_numbers_and_a_site_keeps_its_id(mock_server):
    org = mock_server.org("J")
    batch_id = new_batch_id("S")
    created = upload_and_process(
        mock_server, "J", with_batch_id(read_fixture("j/create-with-dependent-and-site.xml"), batch_id), batch_id
    )
    record = created.log.find("BatchDetail/Process/Record")
    site_id = record.findtext("SiteOfActivity/SiteId")
    assert site_id.isdigit() and not site_id.startswith("0"), site_id
    again = new_batch_id("S")
    edit = update_batch(
        "J",
        org,
        again,
        [
            (
                record.get("sevisID"),
                "SITE-EDIT",
                '<SiteOfActivity><Edit printForm="false"><Address1>2201 C Street NW</Address1>'
                "<City>Washington</City><State>DC</State><PostalCode>20522</PostalCode>"
                f"<SiteId>{site_id}</SiteId><NewSiteName>Renamed Center</NewSiteName></Edit></SiteOfActivity>",
            )
        ],
    )
    edited = upload_and_process(mock_server, "J", edit, again).record("SITE-EDIT")
    assert edited.find("Result").get("status") == "true", edited
    assert [s.findtext("SiteId") for s in edited.iterfind("SiteOfActivity")] == [site_id]


@pytest.fixture(scope="module")
def sponsor_token(mock_server):
    """The seeded J sponsor's RO signed in to RTI (SEVP sends the seeded official a Set Password link)."""
    user_id = mock_server.org("J")["user_id"]
    sent = sevp(mock_server, "POST", f"accounts/{user_id}/password-link")
    assert sent.status_code == 200, sent.text
    assert set_password(mock_server, sent.json()["email"], user_id).status_code == 200
    return login_token(mock_server, user_id)


def test_each_dependent_gets_a_form_of_its_own_listed_on_rtis_batch_page(mock_server, sponsor_token):
    org = mock_server.org("J")
    batch_id = new_batch_id("D")
    done = upload_and_process(
        mock_server, "J", with_batch_id(read_fixture("j/create-with-dependent-and-site.xml"), batch_id), batch_id
    )
    record = done.log.find("BatchDetail/Process/Record")
    visitor, spouse = record.get("sevisID"), record.find("Dependent").get("dependentSevisID")
    assert set(done.pdfs) == {visitor, spouse}
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(done.pdfs[spouse])).pages)
    assert spouse in text
    assert "(J-2)" in text and "WEBER" in text and "TOBIAS" in text  # the dependent's data
    assert visitor in text and "26.0101" in text and "Foggy Bottom Research Center" in text  # the J-1's program

    detail = api(mock_server, "GET", f"batches/{org['org_id']}/{batch_id}", sponsor_token).json()
    assert detail["forms"] == sorted([visitor, spouse])
    assert {f["name"]: f["dependent_of"] for f in detail["form_list"]} == {visitor: None, spouse: visitor}
    assert all(f["form"] == "DS-2019" for f in detail["form_list"])
    pdf = api(mock_server, "GET", f"batches/{org['org_id']}/{batch_id}/forms/{spouse}.pdf", sponsor_token)
    assert pdf.status_code == 200 and pdf.content == done.pdfs[spouse]
    now = api(mock_server, "GET", f"records/{spouse}/form.pdf", sponsor_token)  # RTI prints a J-2's form too
    assert now.status_code == 200, now.text
    drawn = "".join(page.extract_text() for page in PdfReader(io.BytesIO(now.content)).pages)
    assert "(J-2)" in drawn and spouse in drawn and visitor in drawn

    page = _batch_page(mock_server, org, batch_id)
    assert f"{spouse}.pdf DS-2019 of a dependent of {visitor}" in page and f"{visitor}.pdf DS-2019" in page


def _batch_page(server, org: dict, batch_id: str) -> str:
    """RTI's batch page as the signed-in official reads it (text only)."""
    with server.session(None) as s:
        root = server.info["rti"]["beta"]
        csrf = lhtml.fromstring(s.get(f"{root}/login", timeout=30).content).xpath("//input[@name='csrf_token']/@value")
        s.post(
            f"{root}/login", data={"user_id": org["user_id"], "password": PASSWORD, "csrf_token": csrf[0]}, timeout=30
        )
        r = s.get(f"{root}/batches/{org['org_id']}/{batch_id}", timeout=30)
    assert r.status_code == 200, r.text[:500]
    return " ".join(lhtml.fromstring(r.content).text_content().split())


def test_the_real_alpha_batch_gets_the_real_alpha_address_results(mock_server):
    """PROTOCOL §3a: the site 2200 C STREET NW, WASHINGTON DC 20522 and the visitor's U.S. address, each with an
    Address2 sent as xsi:nil, come back as SEVIS alpha wrote them."""
    batch_id = new_batch_id("N")
    doc = etree.fromstring(with_batch_id(read_fixture("j/create-with-dependent-and-site.xml"), batch_id))
    visitor = doc.find("CreateEV/ExchangeVisitor")
    site = visitor.find("AddSiteOfActivity/SiteOfActivity")
    site.find("Address1").text = "2200 C STREET NW"
    site.find("Address1").addnext(etree.fromstring(f'<Address2 xmlns:xsi="{XSI}" xsi:nil="true"/>'))
    visitor.find("SubjectField").addnext(
        etree.fromstring(
            f'<USAddress xmlns:xsi="{XSI}"><Address1>2201 C Street NW</Address1><Address2 xsi:nil="true"/>'
            "<City>Washington</City><State>DC</State><PostalCode>20520</PostalCode></USAddress>"
        )
    )
    done = upload_and_process(mock_server, "J", etree.tostring(doc, xml_declaration=True, encoding="UTF-8"), batch_id)
    record = done.log.find("BatchDetail/Process/Record")
    assert record.find("Result").get("status") == "true", done.raw.decode()
    soa = record.find("SiteOfActivity")
    assert [c.tag for c in soa] == ["ProvidedAddress", "CorrectedAddress", "AddressResult", "SiteId", "SiteName"]
    assert soa.findtext("CorrectedAddress/Address1") == "2200 C STREET NW"
    assert soa.findtext("CorrectedAddress/PostalCode") == "20522-0001" and soa.findtext("AddressResult") == "S0000"
    for where in ("ProvidedAddress", "CorrectedAddress"):
        assert soa.find(f"{where}/Address2") is not None and not soa.findtext(f"{where}/Address2")
    physical = [c.tag for c in record if c.tag.startswith("Physical")]
    assert physical == ["PhysicalProvidedAddress", "PhysicalAddressMessage"]
    assert record.find("PhysicalProvidedAddress/Address2") is not None and not record.findtext("PhysicalAddressMessage")
