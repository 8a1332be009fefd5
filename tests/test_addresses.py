"""The address doctor: deterministic USPS-style corrections, their result codes, and logs that stay valid."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from sevis_mock.server.addresses import (
    BAD_CSZ,
    J_MAIL,
    J_SITE,
    J_US,
    NO_EXPLANATION,
    OVERRIDDEN,
    VALID,
    doctor,
    person_address,
    standardize,
)
from sevis_mock.server.batch import translog
from sevis_mock.server.batch.outcome import ProcessOutcome, RecordOutcome
from sevis_mock.server.rules import RuleContext
from sevis_mock.server.rules.address import (
    employer_city_state_zip,
    employer_street,
    student_city_state_zip,
    student_street,
)
from tests.support.server import assert_valid_log, new_batch_id

NOW = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)


def element(tag="SiteOfActivity", **fields) -> etree._Element:
    el = etree.Element(tag)
    for name in ("Address1", "Address2", "City", "State", "PostalCode", "ExplanationCode", "Explanation"):
        if fields.get(name) is not None:
            etree.SubElement(el, name).text = fields[name]
    return el


XSI = "http://www.w3.org/2001/XMLSchema-instance"
WHITE_HOUSE = dict(Address1="1600 Pennsylvania Avenue Northwest", City="Washington", State="DC", PostalCode="20500")


def test_a_valid_site_keeps_its_lines_upper_cased_gets_zip_plus_4_and_no_message():
    found = doctor(element(**WHITE_HOUSE, Address2="Suite  100"))
    assert found["result"] == "S0000" and found["message"] is None
    assert found["provided"] == {**WHITE_HOUSE, "Address2": "Suite 100"}
    assert found["corrected"] == {
        "Address1": "1600 PENNSYLVANIA AVENUE NORTHWEST",
        "Address2": "SUITE 100",
        "City": "WASHINGTON",
        "State": "DC",
        "PostalCode": "20500-0001",
    }


def test_the_real_alpha_site_comes_back_as_sevis_wrote_it():
    """PROTOCOL §3a: 2200 C STREET NW kept as sent, only the ZIP+4 added; Address2 sent as xsi:nil echoed empty."""
    site = etree.fromstring(
        f'<SiteOfActivity xmlns:xsi="{XSI}"><Address1>2200 C STREET NW</Address1><Address2 xsi:nil="true"/>'
        "<City>WASHINGTON</City><State>DC</State><PostalCode>20522</PostalCode></SiteOfActivity>"
    )
    found = doctor(site)
    assert found["provided"] == {
        "Address1": "2200 C STREET NW",
        "Address2": "",
        "City": "WASHINGTON",
        "State": "DC",
        "PostalCode": "20522",
    }
    assert found["corrected"] == {**found["provided"], "PostalCode": "20522-0001"}
    assert found["result"] == "S0000" and found["message"] is None
    log = assert_valid_log(_log(sites=[found]))
    soa = log.find(".//SiteOfActivity")
    assert [c.tag for c in soa] == ["ProvidedAddress", "CorrectedAddress", "AddressResult", "SiteId", "SiteName"]
    assert soa.find("ProvidedAddress/Address2").text is None and soa.find("CorrectedAddress/Address2").text is None


def test_a_valid_us_address_of_a_person_is_the_provided_address_and_an_empty_message():
    visitor = element("USAddress", **WHITE_HOUSE, Address2="")
    found = person_address(visitor, J_US)
    assert found == {"provided": {**WHITE_HOUSE, "Address2": ""}, "message": ""}
    record = assert_valid_log(_log(physical=found)).find(".//Record")
    assert [c.tag for c in record if c.tag.startswith("Physical")] == [
        "PhysicalProvidedAddress",
        "PhysicalAddressMessage",
    ]
    assert record.find("PhysicalAddressMessage").text is None
    assert record.find("PhysicalProvidedAddress/Address2") is not None


def test_a_person_address_the_doctor_changed_or_overrode_keeps_its_correction():
    stateless = person_address(element("USAddress", Address1="1 Main Street", City="Koror", PostalCode="96940"))
    assert stateless["result"] == "S0000" and "State" not in stateless["corrected"]
    overridden = person_address(
        element("MailAddress", **{**WHITE_HOUSE, "Address1": "Pennsylvania Avenue"}, ExplanationCode="OB"), J_MAIL
    )
    assert overridden["message"] == "Override with valid CSZ" and overridden["corrected"]["PostalCode"] == "20500"
    refused = person_address(element("USAddress", **{**WHITE_HOUSE, "State": "CA"}), J_US)
    assert refused["result"] == "S2267" and refused["message"] == "Not Validated"


def test_the_state_department_zip_gets_its_own_plus_4_as_in_the_real_log():
    found = doctor(element(Address1="2201 C Street NW", City="Washington", State="DC", PostalCode="20522"))
    assert found["corrected"]["PostalCode"] == "20522-0001"


def test_plus_4_follows_the_house_number_and_street_and_never_changes():
    one = standardize({"Address1": "305 Memorial Drive", "City": "Cambridge", "State": "MA", "PostalCode": "02139"})
    again = standardize({"Address1": "305  memorial drive.", "City": "CAMBRIDGE", "State": "ma", "PostalCode": "02139"})
    other = standardize(
        {"Address1": "77 Massachusetts Avenue", "City": "Cambridge", "State": "MA", "PostalCode": "02139"}
    )
    assert one.status == again.status == VALID
    assert one.corrected["PostalCode"] == again.corrected["PostalCode"]  # the lines are kept as sent
    assert one.corrected["PostalCode"].startswith("02139-03")  # block 3 of the street
    assert other.corrected["PostalCode"] != one.corrected["PostalCode"]


def test_missing_state_and_city_are_filled_from_the_zip():
    found = standardize({"Address1": "1600 Pennsylvania Ave NW", "PostalCode": "20500"})
    assert found.status == VALID
    assert found.corrected["City"] == "WASHINGTON" and found.corrected["State"] == "DC"
    unknown_city = standardize({"Address1": "12 Elm St", "PostalCode": "43210"})
    assert unknown_city.corrected["State"] == "OH" and "City" not in unknown_city.corrected


def test_a_zip_of_another_state_is_an_invalid_city_state_zip():
    found = doctor(element(**{**WHITE_HOUSE, "State": "CA"}))
    assert found["result"] == "S2247" and found["message"] == "Not Validated" and found["corrected"] == {}
    assert doctor(element("USAddress", **{**WHITE_HOUSE, "PostalCode": "90210"}), J_US)["result"] == "S2267"


def test_unassigned_zip_prefixes_and_military_zips_are_invalid():
    assert standardize({"Address1": "1 Main St", "PostalCode": "00012"}).status == BAD_CSZ
    assert standardize({"Address1": "1 Main St", "City": "Springfield", "PostalCode": "21300"}).status == BAD_CSZ
    assert (
        standardize({"Address1": "Unit 2050 Box 4190", "City": "APO", "State": "NY", "PostalCode": "09021"}).status
        == BAD_CSZ
    )


def test_unknown_cities_are_invalid():
    assert standardize({**WHITE_HOUSE, "City": "Springfield"}).status == BAD_CSZ  # 20500 is Washington
    assert standardize({**WHITE_HOUSE, "City": "Springfield 2"}).status == BAD_CSZ  # not a city name
    assert standardize({"Address1": "1 Main St", "City": "N/A", "State": "OH", "PostalCode": "43210"}).status == BAD_CSZ
    assert (
        standardize({"Address1": "1 Main St", "City": "Columbus", "State": "OH", "PostalCode": "43210"}).status == VALID
    )
    assert (
        standardize({"Address1": "1 Main St", "City": "St. Louis", "State": "MO", "PostalCode": "63101"}).corrected[
            "City"
        ]
        == "ST. LOUIS"  # kept as sent, upper-cased; the city check knows ST as SAINT
    )


def test_a_street_without_house_number_needs_an_explanation_code():
    street = {**WHITE_HOUSE, "Address1": "Pennsylvania Avenue"}
    found = doctor(element(**street))
    assert found["result"] == "S2248" and found["message"] == "Override Suggested"
    assert found["corrected"]["PostalCode"] == "20500"  # no delivery point, no ZIP+4
    overridden = doctor(element(**street, ExplanationCode="OB"))
    assert overridden["result"] == "S0000" and overridden["message"] == "Override with valid CSZ"
    assert standardize({**street, "ExplanationCode": "OO", "Explanation": "Rural route"}).status == OVERRIDDEN


def test_explanation_code_oo_always_needs_an_explanation():
    assert standardize({**WHITE_HOUSE, "ExplanationCode": "OO"}).status == NO_EXPLANATION
    assert doctor(element("MailAddress", **WHITE_HOUSE, ExplanationCode="OO"), J_MAIL)["result"] == "S2269"
    assert standardize({**WHITE_HOUSE, "ExplanationCode": "OO", "Explanation": "Seasonal residence"}).status == VALID


def test_po_boxes_are_deliverable():
    found = standardize({"Address1": "P.O. Box 1234", "City": "Ithaca", "State": "NY", "PostalCode": "14850"})
    assert found.status == VALID and found.corrected["PostalCode"] == "14850-1234"


def test_freely_associated_states_come_back_without_a_state():
    """[i] The documented trigger for the correction that crashed real clients: no State in it."""
    for zip5, city, state in (("96940", "Koror", "PW"), ("96941", "Pohnpei", "FM"), ("96960", "Majuro", "MH")):
        found = doctor(element(Address1="1 Main Street", City=city, State=state, PostalCode=zip5))
        assert found["result"] == "S0000" and "State" not in found["corrected"], found
        assert found["provided"]["State"] == state
    assert (
        "State"
        in doctor(element(Address1="1 Marine Drive", City="Hagatna", State="GU", PostalCode="96910"))["corrected"]
    )


def test_guam_and_american_samoa_zips_know_their_territory():
    assert standardize({"Address1": "1 Marine Drive", "State": "GU", "PostalCode": "96910"}).status == VALID
    assert standardize({"Address1": "1 Main St", "State": "HI", "PostalCode": "96910"}).status == BAD_CSZ
    assert standardize({"Address1": "1 Main St", "State": "AS", "PostalCode": "96799"}).status == VALID


def _log(*, sites=(), physical=None, mailing=None) -> bytes:
    record = {
        "request_id": "R1",
        "user_id": "MCKRO00001",
        "sevis_id": "N0001000001",
        "ok": True,
        "sites": [dict(s, site_id=str(100_000 + n), site_name="Main Lab") for n, s in enumerate(sites, 1)],
    }
    if physical:
        record["physical_address"] = physical
    if mailing:
        record["mailing_address"] = mailing
    return translog.build(
        batch_id="JADDRESS000001",
        org_id="P-1-12345",
        system="alpha",
        process=ProcessOutcome("S0000", "2027-01-15T04:00:00.000-05:00", [RecordOutcome.from_dict(record)]),
    )


def test_every_kind_of_result_makes_a_valid_log():
    stateless = doctor(element(Address1="1 Main Street", City="Koror", State="PW", PostalCode="96940"))
    bad = doctor(element(**{**WHITE_HOUSE, "State": "CA"}))
    overridden = doctor(element(**{**WHITE_HOUSE, "Address1": "Pennsylvania Avenue"}, ExplanationCode="ON"))
    mailing = person_address(element("MailAddress", Address1="1 Main Street", City="Koror", PostalCode="96940"))
    log = assert_valid_log(
        _log(sites=[stateless, bad, overridden], physical=person_address(element(**WHITE_HOUSE), J_US), mailing=mailing)
    )
    sites = log.findall(".//SiteOfActivity")
    assert sites[0].find("CorrectedAddress/State") is None and sites[0].findtext("AddressResult") == "S0000"
    assert sites[1].find("CorrectedAddress") is None and sites[1].findtext("AddressMessage") == "Not Validated"
    assert log.find(".//MailingCorrectedAddress/State") is None


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=70)


@given(
    address1=TEXT.filter(str.strip),
    city=st.one_of(st.none(), TEXT.filter(str.strip)),
    state=st.sampled_from([None, "DC", "CA", "PW", "NY", "TX"]),
    zip5=st.from_regex(r"[0-9]{5}", fullmatch=True),
    code=st.sampled_from([None, "OB", "OO"]),
)
def test_any_input_gives_a_log_valid_correction(address1, city, state, zip5, code):
    el = element(
        Address1=" ".join(address1.split())[:64] or "1",
        City=" ".join(city.split())[:60] if city else None,
        State=state,
        PostalCode=zip5,
        ExplanationCode=code,
    )
    found = doctor(el)
    assert found == doctor(el)  # deterministic
    assert found["result"] in ("S0000", J_SITE.invalid_csz, J_SITE.invalid_street, J_SITE.explanation_missing)
    assert_valid_log(_log(sites=[found]))


@given(
    number=st.integers(1, 99999),
    name=st.sampled_from(["Main", "Oak", "Elm", "Martin Luther King Jr"]),
    suffix=st.sampled_from(["Street", "Avenue", "Boulevard", "Road", "Lane"]),
    place=st.sampled_from([("Columbus", "OH", "43210"), ("Washington", "DC", "20001"), ("Austin", "TX", "78712")]),
)
def test_a_correction_standardizes_to_itself(number, name, suffix, place):
    city, state, zip5 = place
    first = standardize({"Address1": f"{number} {name} {suffix}", "City": city, "State": state, "PostalCode": zip5})
    assert first.status == VALID
    assert standardize(first.corrected) == first


# --- the F/M address rules (the J ones are in tests/test_rules_j.py) ---------------------------------


def fm_ctx(xml: str) -> RuleContext:
    el = etree.fromstring(xml)
    return RuleContext(kind="F/M", event="create", element=el, event_element=None, now=NOW)


def test_fm_us_and_mailing_addresses():
    bad = fm_ctx(
        "<Student><USAddress><Address1>1 Main St</Address1><City>Boston</City><State>NY</State>"
        "<PostalCode>02110</PostalCode></USAddress></Student>"
    )
    assert student_city_state_zip(bad).code == "S1145"
    unfound = fm_ctx(
        "<Student><MailingAddress><Address1>Main Street</Address1><City>Boston</City><State>MA</State>"
        "<PostalCode>02110</PostalCode></MailingAddress></Student>"
    )
    assert student_city_state_zip(unfound) is None and student_street(unfound).code == "S1146"
    foreign = fm_ctx(
        "<Student><ForeignAddress><Address1>Rue 1</Address1><City>Paris</City>"
        "<PostalCode>75001</PostalCode></ForeignAddress></Student>"
    )
    assert student_city_state_zip(foreign) is None and student_street(foreign) is None


def test_fm_employer_addresses():
    ctx = fm_ctx(
        "<Student><EmployerAddress><Address1>1 Main St</Address1><City>Austin</City><State>OK</State>"
        "<PostalCode>78712</PostalCode></EmployerAddress></Student>"
    )
    assert employer_city_state_zip(ctx).code == "S1154" and student_city_state_zip(ctx) is None
    ctx = fm_ctx(
        "<Student><EmployerAddress><Address1>Campus</Address1><City>Austin</City><State>TX</State>"
        "<PostalCode>78712</PostalCode></EmployerAddress></Student>"
    )
    assert employer_street(ctx).code == "S1155"


# --- through the real server ------------------------------------------------------------------------

J_CREATE = """<?xml version="1.0" encoding="UTF-8"?>
<SEVISBatchCreateUpdateEV xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" userID="MCKRO00001">
  <BatchHeader><BatchID>{batch_id}</BatchID><OrgID>P-1-12345</OrgID></BatchHeader>
  <CreateEV>
    <ExchangeVisitor requestID="ADDR-1" userID="MCKRO00001" printForm="false">
      <Biographical><FullName><LastName>TELLEI</LastName><FirstName>ADDRESS {stamp}</FirstName></FullName>
        <BirthDate>1990-03-04</BirthDate><Gender>M</Gender><BirthCity>Koror</BirthCity><BirthCountryCode>PS</BirthCountryCode>
        <CitizenshipCountryCode>PS</CitizenshipCountryCode><PermanentResidenceCountryCode>PS</PermanentResidenceCountryCode>
      </Biographical>
      <PositionCode>214</PositionCode><PrgStartDate>2027-02-01</PrgStartDate><PrgEndDate>2028-01-31</PrgEndDate>
      <CategoryCode>08</CategoryCode>
      <SubjectField><SubjectFieldCode>26.0101</SubjectFieldCode><Remarks>Marine biology</Remarks></SubjectField>
      <USAddress><Address1>1600 Pennsylvania Avenue NW</Address1><City>Washington</City><State>DC</State>
        <PostalCode>20500</PostalCode></USAddress>
      <MailAddress><Address1>1 Main Street</Address1><City>Koror</City><State>PW</State><PostalCode>96940</PostalCode></MailAddress>
      <FinancialInfo><ReceivedUSGovtFunds>false</ReceivedUSGovtFunds><ProgramSponsorFunds>30000</ProgramSponsorFunds></FinancialInfo>
      <AddSiteOfActivity>
        <SiteOfActivity xsi:type="SOA"><Address1>1 Main Street</Address1><City>Koror</City><State>PW</State>
          <PostalCode>96940</PostalCode><SiteName>Palau Field Station</SiteName><PrimarySite>true</PrimarySite></SiteOfActivity>
      </AddSiteOfActivity>
    </ExchangeVisitor>
  </CreateEV>
</SEVISBatchCreateUpdateEV>"""


def test_a_stateless_correction_reaches_the_log_and_the_log_is_valid(mock_server):
    org = mock_server.org("J")
    batch_id = new_batch_id("A")
    stamp = "".join(chr(65 + int(d)) for d in batch_id[-8:] if d.isdigit())
    mock_server.upload(J_CREATE.format(batch_id=batch_id, stamp=stamp).encode(), org=org, batch_id=batch_id)
    done = mock_server.wait_processed(org=org, batch_id=batch_id)  # wait_processed checks the log's validity
    record = done.record("ADDR-1")
    assert record.find("Result").get("status") == "true", etree.tostring(record).decode()
    site = record.find("SiteOfActivity")
    assert site.findtext("ProvidedAddress/State") == "PW"
    assert site.find("CorrectedAddress/State") is None
    assert site.findtext("CorrectedAddress/PostalCode").startswith("96940-")
    assert site.findtext("SiteId").isdigit() and site.find("AddressMessage") is None
    assert record.findtext("PhysicalProvidedAddress/PostalCode") == "20500"  # valid: provided, empty message only
    assert record.find("PhysicalCorrectedAddress") is None and record.find("PhysicalAddressResult") is None
    assert record.find("PhysicalAddressMessage") is not None and not record.findtext("PhysicalAddressMessage")
    assert record.find("MailingCorrectedAddress/State") is None
