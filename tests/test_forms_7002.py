"""The DS-7002 (training/internship placement plan) look-alike: the renderer, and the PDFs a batch gets.

The unit tests draw the plan of a trainee record validated against the official J schema (inside a full
batch document), numbered as the mock numbers T/IPP sites and phases. The server tests upload creates and
updates over mutual TLS and read the download zip: a DS-2019 is "<SEVIS ID>.pdf", a DS-7002
"<SEVIS ID>-7002.pdf".
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import create_engine, insert, inspect, select

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.batch.processing import plan_request
from sevis_mock.server.store import Base, Organization, Store
from sevis_mock.server.forms import TEST_MARK, render_plan
from sevis_mock.server.records.events import number_tipp
from tests.support.reference import OFFICIAL_XSD, official_or_project
from tests.support.rows import add_batch, batch_values
from tests.support.server import assert_valid_log, new_batch_id, open_store, with_batch_id

J_XSD = official_or_project(OFFICIAL_XSD / "6.27-j" / "Create-UpdateExchangeVisitor.xsd", "SEVISBatchCreateUpdateEV")
TRAINEE = "events/j-create-trainee.tmpl"
VISITOR_ID = "N0007000001"
PROGRAM_NUMBER = "P-1-12345"
SPONSOR_NAME = "Example Exchange Foundation"
PRINTED = dt.date(2027, 1, 20)

SECOND_PHASE = """
<TippPhase>
  <PhaseName>Power profiling</PhaseName><StartDate>2027-09-01</StartDate><EndDate>2028-02-28</EndDate>
  <TrainingField>Low-power design</TrainingField>
  <SuperLastName>NAKASHIMA</SuperLastName><SuperFirstName>REN</SuperFirstName><SuperTitle>Power Architect</SuperTitle>
  <SuperEmail>ren.nakashima@kendall-labs.example.com</SuperEmail><SuperPhone>6175550177</SuperPhone>
  <EvRole>Power analyst</EvRole><GoalsAndObjectives>Profile and cut sensor power draw</GoalsAndObjectives>
  <SupervisorAndQualifications>Ren Nakashima, power architect</SupervisorAndQualifications>
  <CulturalActivities>Museum visits</CulturalActivities><SkillsLearned>Current measurement</SkillsLearned>
  <TeachingMethod>Lab sessions</TeachingMethod><HowCompetencyMeasured>Monthly reviews</HowCompetencyMeasured>
</TippPhase>
"""

SECOND_SITE = """
<TippSite>
  <Address1>77 Broadway</Address1><Address2>Suite 400</Address2><City>Cambridge</City><State>MA</State>
  <PostalCode>02142</PostalCode><SiteName>Broadway Sensors</SiteName><PrimarySite>false</PrimarySite>
  <EmployerID>987654321</EmployerID><FullTimeEmployees>85</FullTimeEmployees><AnnualRevenue>01</AnnualRevenue>
  <WebsiteURL>https://broadway-sensors.example.com</WebsiteURL><WorkersCompInd>Y</WorkersCompInd>
  <WorkersCompCarrier>Bay State Mutual</WorkersCompCarrier><WorkersCompForEvInd>Y</WorkersCompForEvInd>
  <EvHoursPerWeek>32</EvHoursPerWeek><StipendInd>N</StipendInd><NonMonetaryComp>Housing provided</NonMonetaryComp>
  <SupervisorLastName>ADEYEMI</SupervisorLastName><SupervisorFirstName>TOLU</SupervisorFirstName>
  <SupervisorTitle>Principal Engineer</SupervisorTitle><SupervisorPhone>6175550199</SupervisorPhone>
  <SupervisorPhoneExt>42</SupervisorPhoneExt>
  <SupervisorEmail>tolu.adeyemi@broadway-sensors.example.com</SupervisorEmail>
  <OfficialUserName>MCKRO00001</OfficialUserName><OfficialSignatureDate>2027-01-18</OfficialSignatureDate>
  <EvSignatureDate>2027-01-19</EvSignatureDate>
  <TippPhase>
    <PhaseName>Sensor integration</PhaseName><StartDate>2027-06-01</StartDate><EndDate>2027-12-15</EndDate>
    <TrainingField>Sensor systems</TrainingField>
    <SuperLastName>MORROW</SuperLastName><SuperFirstName>DANA</SuperFirstName><SuperMiddleInitial>K</SuperMiddleInitial>
    <SuperTitle>Integration Lead</SuperTitle><SuperEmail>dana.morrow@broadway-sensors.example.com</SuperEmail>
    <SuperPhone>6175550123</SuperPhone><SuperSignatureDate>2027-01-17</SuperSignatureDate>
    <EvRole>Integration engineer</EvRole><GoalsAndObjectives>Bring up sensor boards end to end</GoalsAndObjectives>
    <SupervisorAndQualifications>Dana Morrow, ten years of integration</SupervisorAndQualifications>
    <CulturalActivities>Harbor tours</CulturalActivities><SkillsLearned>Board bring-up</SkillsLearned>
    <TeachingMethod>Mentoring</TeachingMethod><HowCompetencyMeasured>Milestone demos</HowCompetencyMeasured>
    <AdditionalRemarks>Second site starts in June</AdditionalRemarks>
  </TippPhase>
</TippSite>
"""


# --- the renderer ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def visitor() -> etree._Element:
    """The trainee fixture with a second phase at site 1 and a signed second site, numbered by the mock:
    site 1 (phases 2, 3) and site 4 (phase 5)."""
    root = etree.fromstring(read_fixture(TRAINEE))
    site = root.find("CreateEV/ExchangeVisitor/AddTIPP/TippSite")
    site.append(etree.fromstring(SECOND_PHASE))
    site.addnext(etree.fromstring(SECOND_SITE))
    schema = etree.XMLSchema(etree.parse(str(J_XSD)))
    assert schema.validate(root), schema.error_log
    record = root.find("CreateEV/ExchangeVisitor")
    number_tipp(record)
    return record


def render(record: etree._Element, **overrides) -> bytes:
    arguments = dict(sevis_id=VISITOR_ID, org_id=PROGRAM_NUMBER, org_name=SPONSOR_NAME, issue_date=PRINTED)
    arguments.update(overrides)
    return render_plan(record, **arguments)


def page_texts(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(pdf: bytes) -> str:
    return " ".join(page_texts(pdf))


@pytest.fixture(scope="module")
def plan(visitor) -> bytes:
    return render(visitor)


def test_plan_is_a_pdf_titled_as_a_test_document(plan):
    reader = PdfReader(io.BytesIO(plan))
    assert plan.startswith(b"%PDF-")
    assert reader.metadata.title == f"{TEST_MARK}: Form DS-7002 look-alike, SEVIS ID {VISITOR_ID}"
    assert TEST_MARK in reader.metadata.subject


def test_every_page_carries_the_test_mark(plan):
    pages = page_texts(plan)
    assert len(pages) >= 2  # two sites with three phases do not fit one page
    for number, text in enumerate(pages, start=1):
        assert text.count(TEST_MARK) >= 2, f"page {number}"  # the banner and the footer
        assert f"Page {number}" in text


def test_plan_shows_sevis_id_sponsor_trainee_and_program_dates(plan):
    text = flat(plan)
    assert "Form DS-7002 (look-alike)" in text and "Training/Internship Placement Plan" in text
    assert f"SEVIS ID {VISITOR_ID}" in text
    assert f"Program sponsor {SPONSOR_NAME}" in text and f"Program number {PROGRAM_NUMBER}" in text
    assert "Surname / primary name OKAFOR" in text and "Given name CHIDI" in text
    assert "Program begins 2027-03-01" in text and "Program ends 2028-02-28" in text
    assert "Field of study Electrical engineering" in text and "Degree Bachelor of Engineering" in text
    assert "Date printed 2027-01-20" in text


def test_plan_shows_every_site_with_name_address_and_site_id(plan):
    text = flat(plan)
    assert "SITE 1: KENDALL EMBEDDED LABS" in text
    assert "Address 500 Technology Square, Cambridge, MA, 02139" in text
    assert "SITE 4: BROADWAY SENSORS" in text
    assert "Address 77 Broadway, Suite 400, Cambridge, MA, 02142" in text
    assert "Site name Broadway Sensors SiteId 4 Primary site No" in text
    assert "Carrier Bay State Mutual" in text and "Non-monetary compensation Housing provided" in text
    assert "Phone 6175550199 ext. 42" in text
    assert "Responsible officer (user) MCKRO00001 Officer signed 2027-01-18 Trainee/intern signed 2027-01-19" in text


def test_plan_shows_every_phase_with_dates_supervisor_and_signature(plan):
    text = flat(plan)
    for heading in (
        "SITE 1, PHASE 2: FIRMWARE FOUNDATIONS",
        "SITE 1, PHASE 3: POWER PROFILING",
        "SITE 4, PHASE 5: SENSOR INTEGRATION",
    ):
        assert heading in text
    assert "Phase name Sensor integration PhaseId 5 Starts 2027-06-01 Ends 2027-12-15" in text
    assert "Phase supervisor DANA K MORROW" in text and "Supervisor signed 2027-01-17" in text
    assert "Phase name Power profiling PhaseId 3 Starts 2027-09-01 Ends 2028-02-28" in text
    assert "Phase supervisor REN NAKASHIMA" in text
    assert "Bring up sensor boards end to end" in text and "Second site starts in June" in text
    # the overview table: one row per phase
    assert "4 Broadway Sensors 5 Sensor integration 2027-06-01 2027-12-15 DANA K MORROW 2027-01-17" in text


def test_same_input_gives_the_same_bytes_and_other_input_other_bytes(visitor, plan):
    assert render(visitor) == plan
    assert render(visitor, issue_date=PRINTED + dt.timedelta(days=1)) != plan


def test_a_site_id_limits_the_form_to_that_site(visitor):
    text = flat(render(visitor, site_id="4"))
    assert "SITE 4: BROADWAY SENSORS" in text and "Sites on this form Site 4 only" in text
    assert "KENDALL EMBEDDED LABS" not in text and "Firmware foundations" not in text


def test_a_site_id_not_on_the_plan_says_so(visitor):
    text = flat(render(visitor, site_id="9"))
    assert "The plan has no site with SiteId 9." in text and "Broadway" not in text


def test_an_exempt_plan_and_a_bare_record_still_render():
    root = etree.fromstring(read_fixture("events/j-create-korea-west.tmpl"))
    exempt = flat(render(root.find("CreateEV/ExchangeVisitor")))
    assert "Exempt program KW (Korea WEST)" in exempt
    assert "No training/internship placement plan site is on this record." in exempt
    bare = page_texts(render(etree.Element("ExchangeVisitor")))
    assert all(TEST_MARK in page for page in bare) and VISITOR_ID in bare[0]


@pytest.mark.parametrize(
    "event, expected",
    [
        ('<Reprint7002 print7002="true"/>', (True, None)),
        ('<Reprint7002 print7002="true"><SiteId>3</SiteId></Reprint7002>', (True, "3")),
        ('<TIPP><AddSite print7002="true"><SiteName>X</SiteName></AddSite></TIPP>', (True, None)),
        ('<TIPP><EditSite print7002="1"><SiteId>3</SiteId></EditSite></TIPP>', (True, None)),
        ('<TIPP><AddTIPP print7002="true"/></TIPP>', (True, None)),
        ('<TIPP><AddSite print7002="false"><SiteName>X</SiteName></AddSite></TIPP>', (False, None)),
        ("<TIPP><DeleteSite><SiteId>3</SiteId></DeleteSite></TIPP>", (False, None)),
        ('<Program><EditSubject printForm="true"/></Program>', (False, None)),
    ],
)
def test_which_update_events_ask_for_the_ds7002(event, expected):
    assert plan_request(etree.fromstring(event)) == expected


LEGACY_FORM_TABLES_DDL = (  # as sevis-mock made them before a batch's PDFs were kept in one table
    "CREATE TABLE batch_forms (batch_pk INTEGER NOT NULL, sevis_id VARCHAR(11) NOT NULL, pdf BLOB NOT NULL, "
    "PRIMARY KEY (batch_pk, sevis_id), FOREIGN KEY(batch_pk) REFERENCES batches (id))",
    "CREATE TABLE batch_plan_forms (batch_pk INTEGER NOT NULL, sevis_id VARCHAR(11) NOT NULL, pdf BLOB NOT NULL, "
    "PRIMARY KEY (batch_pk, sevis_id), FOREIGN KEY(batch_pk) REFERENCES batches (id))",
)


def test_create_all_moves_an_older_data_dirs_forms_into_the_one_forms_table(tmp_path):
    from sevis_mock.server.store import Batch, BatchForm

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine, tables=[t for t in Base.metadata.sorted_tables if t.name != "batch_pdfs"])
    with engine.begin() as conn:
        for ddl in LEGACY_FORM_TABLES_DDL:
            conn.exec_driver_sql(ddl)
        j_batch = dict(id=1, org_id="P-1-12345", user_id="MCKRO00001", kind="J", state="processed")
        conn.execute(
            insert(Batch).values(**batch_values("JOLDBATCH00001", dt.datetime(2027, 1, 20, tzinfo=dt.UTC), **j_batch))
        )
        conn.exec_driver_sql("INSERT INTO batch_forms VALUES (1, 'N0001000001', X'2550444620692D3230')")
        conn.exec_driver_sql("INSERT INTO batch_plan_forms VALUES (1, 'N0001000001', X'2550444620372D303032')")
    engine.dispose()
    store = Store(url)
    store.create_all()
    store.create_all()  # a second start finds nothing left to move
    tables = inspect(store.engine).get_table_names()
    assert "batch_forms" not in tables and "batch_plan_forms" not in tables
    with store.session() as s:
        rows = {f.name: f.pdf for f in s.scalars(select(BatchForm).where(BatchForm.batch_pk == 1))}
    assert rows == {"N0001000001": b"%PDF i-20", "N0001000001-7002": b"%PDF 7-002"}
    store.engine.dispose()


def test_rti_batch_detail_lists_and_serves_both_forms_of_a_record(tmp_path):
    from datetime import UTC, datetime

    from sevis_mock.server.store import Batch, BatchForm
    from sevis_mock.server.rti import records as rti_records
    from sevis_mock.server.rti.errors import RtiError

    store = Store(f"sqlite:///{tmp_path / 'rti.db'}")
    store.create_all()
    now = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)
    with store.write() as s:
        done = dict(state="processed", processed_at=now, process_code="S0000", results='{"records": []}')
        b = add_batch(s, "JPLANBATCH0001", now, org_id="P-1-12345", user_id="MCKRO00001", kind="J", **done)
        s.add(BatchForm(batch_pk=b.id, name="N0001000001", pdf=b"%PDF ds2019"))
        s.add(BatchForm(batch_pk=b.id, name="N0001000001-7002", pdf=b"%PDF ds7002"))
    with store.session() as s:
        b = s.scalars(select(Batch)).one()
        assert rti_records.batch_detail(b)["forms"] == ["N0001000001", "N0001000001-7002"]
        assert rti_records.batch_pdf(s, b, "N0001000001") == b"%PDF ds2019"
        assert rti_records.batch_pdf(s, b, "N0001000001-7002") == b"%PDF ds7002"
        with pytest.raises(RtiError, match="no DS-7002"):
            rti_records.batch_pdf(s, b, "N0001000002-7002")
    store.engine.dispose()


# --- through a real server ---------------------------------------------------------------------------------


def upload_and_process(server, xml: bytes, batch_id: str):
    org = server.org("J")
    up = server.upload(xml, org=org, batch_id=batch_id)
    assert up.upload_code == "S0000", up.raw.decode()
    reply = server.wait_processed(org=org, batch_id=batch_id)
    assert_valid_log(reply.raw)
    return reply


def create_trainee(server, *, print_form: bool, print_7002: bool):
    text = read_fixture(TRAINEE).decode()
    text = text.replace('printForm="false"', f'printForm="{str(print_form).lower()}"', 1)
    text = text.replace('print7002="false"', f'print7002="{str(print_7002).lower()}"', 1)
    batch_id = new_batch_id("D")
    reply = upload_and_process(server, with_batch_id(text.encode(), batch_id), batch_id)
    assert reply.process_code == "S0000", reply.raw.decode()
    return reply.log.find("BatchDetail/Process/Record").get("sevisID"), reply


def update(server, sevis_id: str, event_xml: str):
    org = server.org("J")
    batch_id = new_batch_id("U")
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<SEVISBatchCreateUpdateEV '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:noNamespaceSchemaLocation="Create-UpdateExchangeVisitor.xsd" userID="{org["user_id"]}">'
        f"<BatchHeader><BatchID>{batch_id}</BatchID><OrgID>{org['org_id']}</OrgID></BatchHeader><UpdateEV>"
        f'<ExchangeVisitor sevisID="{sevis_id}" requestID="U-7002" userID="{org["user_id"]}">{event_xml}'
        f"</ExchangeVisitor></UpdateEV></SEVISBatchCreateUpdateEV>"
    )
    return upload_and_process(server, xml.encode(), batch_id)


def sponsor_name(server) -> str:
    store = open_store(server)
    with store.session() as s:
        name = s.scalar(select(Organization.name).where(Organization.org_id == server.org("J")["org_id"]))
    store.engine.dispose()
    return name


BROADWAY = """<Address1>77 Broadway</Address1><City>Cambridge</City><State>MA</State><PostalCode>02142</PostalCode>
<SiteName>Broadway Sensors</SiteName><PrimarySite>false</PrimarySite><EmployerID>987654321</EmployerID>
<FullTimeEmployees>85</FullTimeEmployees><AnnualRevenue>01</AnnualRevenue>
<WebsiteURL>https://broadway-sensors.example.com</WebsiteURL><WorkersCompInd>Y</WorkersCompInd>
<WorkersCompForEvInd>Y</WorkersCompForEvInd><EvHoursPerWeek>40</EvHoursPerWeek><StipendInd>N</StipendInd>
<SupervisorLastName>ADEYEMI</SupervisorLastName><SupervisorFirstName>TOLU</SupervisorFirstName>
<SupervisorTitle>{title}</SupervisorTitle><SupervisorPhone>6175550199</SupervisorPhone>
<SupervisorEmail>tolu.adeyemi@broadway-sensors.example.com</SupervisorEmail>"""
BROADWAY_PHASE = """<TippPhase><PhaseName>Sensor integration</PhaseName><StartDate>2027-03-01</StartDate>
<EndDate>2028-02-28</EndDate><TrainingField>Embedded firmware</TrainingField><SuperLastName>MORROW</SuperLastName>
<SuperFirstName>DANA</SuperFirstName><SuperTitle>Integration Lead</SuperTitle>
<SuperEmail>dana.morrow@broadway-sensors.example.com</SuperEmail><SuperPhone>6175550123</SuperPhone>
<EvRole>Integration engineer</EvRole><GoalsAndObjectives>Bring up sensor boards</GoalsAndObjectives>
<SupervisorAndQualifications>Dana Morrow</SupervisorAndQualifications>
<CulturalActivities>Harbor tours</CulturalActivities>
<SkillsLearned>Board bring-up</SkillsLearned><TeachingMethod>Mentoring</TeachingMethod>
<HowCompetencyMeasured>Milestone demos</HowCompetencyMeasured></TippPhase>"""


def test_a_create_with_a_plan_and_both_print_flags_yields_the_ds2019_and_the_ds7002(mock_server):
    sevis_id, reply = create_trainee(mock_server, print_form=True, print_7002=True)
    assert set(reply.pdfs) == {sevis_id, f"{sevis_id}-7002"}  # "<SEVIS ID>.pdf" and "<SEVIS ID>-7002.pdf"
    ds2019, ds7002 = flat(reply.pdfs[sevis_id]), flat(reply.pdfs[f"{sevis_id}-7002"])
    assert "Form DS-2019 (look-alike)" in ds2019 and "DS-7002" not in ds2019
    assert "Form DS-7002 (look-alike)" in ds7002 and f"SEVIS ID {sevis_id}" in ds7002
    assert f"Program sponsor {sponsor_name(mock_server)}" in ds7002 and "Program number P-1-12345" in ds7002
    assert "SITE 1: KENDALL EMBEDDED LABS" in ds7002 and "SITE 1, PHASE 2: FIRMWARE FOUNDATIONS" in ds7002
    assert all(TEST_MARK in page for page in page_texts(reply.pdfs[f"{sevis_id}-7002"]))


def test_a_create_with_print7002_false_yields_no_ds7002(mock_server):
    sevis_id, reply = create_trainee(mock_server, print_form=True, print_7002=False)
    assert set(reply.pdfs) == {sevis_id}


def test_tipp_updates_and_reprint7002_print_the_plan_as_it_stands(mock_server):
    sevis_id, created = create_trainee(mock_server, print_form=False, print_7002=False)
    assert created.pdfs == {}

    added = update(
        mock_server,
        sevis_id,
        f'<TIPP><AddSite print7002="false">{BROADWAY.format(title="Lead Engineer")}{BROADWAY_PHASE}</AddSite></TIPP>',
    )
    assert added.process_code == "S0000", added.raw.decode()
    assert added.pdfs == {}  # print7002="false": nothing printed

    edited = update(
        mock_server,
        sevis_id,
        f'<TIPP><EditSite print7002="true"><SiteId>3</SiteId>'
        f"{BROADWAY.format(title='Principal Engineer')}</EditSite></TIPP>",
    )
    assert edited.process_code == "S0000", edited.raw.decode()
    assert set(edited.pdfs) == {f"{sevis_id}-7002"}
    text = flat(edited.pdfs[f"{sevis_id}-7002"])
    assert "SITE 3: BROADWAY SENSORS" in text and "Title Principal Engineer" in text
    assert "Lead Engineer" not in text and "SITE 1: KENDALL EMBEDDED LABS" in text
    assert "SITE 3, PHASE 4: SENSOR INTEGRATION" in text

    reprint = update(mock_server, sevis_id, '<Reprint7002 print7002="true"/>')
    assert reprint.process_code == "S0000", reprint.raw.decode()
    assert set(reprint.pdfs) == {f"{sevis_id}-7002"}  # the DS-7002 only, no DS-2019
    text = flat(reprint.pdfs[f"{sevis_id}-7002"])
    assert "SITE 1: KENDALL EMBEDDED LABS" in text and "SITE 3: BROADWAY SENSORS" in text

    one_site = update(mock_server, sevis_id, '<Reprint7002 print7002="true"><SiteId>3</SiteId></Reprint7002>')
    text = flat(one_site.pdfs[f"{sevis_id}-7002"])
    assert "SITE 3: BROADWAY SENSORS" in text and "Kendall" not in text


def test_a_refused_reprint7002_prints_nothing(mock_server):
    sevis_id, _ = create_trainee(mock_server, print_form=False, print_7002=False)
    reply = update(mock_server, sevis_id, '<Reprint7002 print7002="true"><SiteId>99</SiteId></Reprint7002>')
    assert reply.record("U-7002").findtext("Result/ErrorCode") == "S2129"
    assert reply.pdfs == {}
