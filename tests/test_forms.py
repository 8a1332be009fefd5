"""The I-20 and DS-2019 look-alikes: what a batch user reading the PDF would check.

The records are written by hand and validated, inside a full batch document, against the official
ICE schemas, so the element paths the forms read are the real ones.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from lxml import etree
from pypdf import PdfReader

from sevis_mock.server.forms import TEST_MARK, render_form
from tests.support.reference import OFFICIAL_XSD, official_or_project

FM_ROOT, J_ROOT = "SEVISBatchCreateUpdateStudent", "SEVISBatchCreateUpdateEV"

ISSUE_DATE = dt.date(2025, 6, 2)

SCHOOL_CODE = "NYC214F00123000"
SCHOOL_NAME = "Hudson Valley Test University"
PROGRAM_NUMBER = "P-1-12345"
SPONSOR_NAME = "Example Exchange Foundation"
STUDENT_ID = "N0001234567"
VISITOR_ID = "N0007654321"

FM_FULL = f"""
<SEVISBatchCreateUpdateStudent userID="JSMITH0001">
  <BatchHeader><BatchID>FORMTEST000001</BatchID><OrgID>{SCHOOL_CODE}</OrgID></BatchHeader>
  <CreateStudent>
    <Student requestID="REQ-FM-1" userID="JSMITH0001" printForm="true">
      <UserDefinedA>A1</UserDefinedA>
      <PersonalInfo>
        <FullName>
          <LastName>Fernandez Garcia</LastName><FirstName>Maria Elena</FirstName>
          <PassportName>MARIA ELENA FERNANDEZ</PassportName><PreferredName>Malena</PreferredName>
          <Suffix>Jr.</Suffix>
        </FullName>
        <BirthDate>2001-04-15</BirthDate>
        <Gender>F</Gender>
        <BirthCity>Toronto</BirthCity>
        <BirthCountryCode>CA</BirthCountryCode>
        <CitizenshipCountryCode>MX</CitizenshipCountryCode>
        <Email>maria@example.org</Email>
        <VisaType>01</VisaType>
      </PersonalInfo>
      <IssueReason>I</IssueReason>
      <ForeignAddress>
        <Address1>1 King Street West</Address1><City>Toronto</City><CountryCode>CA</CountryCode>
        <PostalCode>M5H 1A1</PostalCode>
      </ForeignAddress>
      <EducationalInfo>
        <EduLevel><Level>05</Level></EduLevel>
        <MajorCode1>11.0701</MajorCode1>
        <MajorCode2>26.0102</MajorCode2>
        <IssDate>2025-06-02</IssDate>
        <PrgStartDate>2025-08-25</PrgStartDate>
        <PrgEndDate>2027-05-15</PrgEndDate>
        <EngProficiency><EngRequired>true</EngRequired><RequirementsMet>true</RequirementsMet></EngProficiency>
      </EducationalInfo>
      <FinancialInfo>
        <AcademicTerm>09</AcademicTerm>
        <Expense>
          <Tuition>30000</Tuition><LivingExpense>15000</LivingExpense><DependentExp>5000</DependentExp>
          <Other><Amount>1200</Amount><Remarks>Books and health insurance</Remarks></Other>
        </Expense>
        <Funding>
          <Personal>40000</Personal>
          <School><Amount>10000</Amount><Remarks>Merit scholarship</Remarks></School>
          <Other><Amount>500</Amount><Remarks>Family</Remarks></Other>
          <Employment>700</Employment>
        </Funding>
      </FinancialInfo>
      <CreateDependent>
        <Dependent>
          <FullName><LastName>Fernandez</LastName><FirstName>Jorge</FirstName></FullName>
          <BirthDate>1999-11-30</BirthDate><Gender>M</Gender><BirthCity>Monterrey</BirthCity>
          <BirthCountryCode>MX</BirthCountryCode><CitizenshipCountryCode>MX</CitizenshipCountryCode>
          <VisaType>04</VisaType><Relationship>01</Relationship>
        </Dependent>
        <Dependent>
          <FullName><LastName>Fernandez</LastName><FirstName>Lucia</FirstName></FullName>
          <BirthDate>2023-02-14</BirthDate><Gender>F</Gender>
          <BirthCountryCode>CA</BirthCountryCode><CitizenshipCountryCode>MX</CitizenshipCountryCode>
          <VisaType>04</VisaType><Relationship>02</Relationship>
        </Dependent>
      </CreateDependent>
      <Remarks>Admitted to the MS in Computer Science; orientation starts one week early.</Remarks>
    </Student>
  </CreateStudent>
</SEVISBatchCreateUpdateStudent>
"""

FM_MINIMAL = f"""
<SEVISBatchCreateUpdateStudent userID="JSMITH0001">
  <BatchHeader><BatchID>FORMTEST000002</BatchID><OrgID>{SCHOOL_CODE}</OrgID></BatchHeader>
  <CreateStudent>
    <Student requestID="REQ-FM-2" userID="JSMITH0001" printForm="true">
      <PersonalInfo>
        <FullName><LastName>Okafor</LastName></FullName>
        <BirthDate>2000-01-01</BirthDate>
        <Gender>U</Gender>
        <BirthCountryCode>NI</BirthCountryCode>
        <CitizenshipCountryCode>NI</CitizenshipCountryCode>
        <VisaType>02</VisaType>
      </PersonalInfo>
      <IssueReason>I</IssueReason>
      <ForeignAddress><Address1>12 Marina Road</Address1><CountryCode>NI</CountryCode></ForeignAddress>
      <EducationalInfo>
        <EduLevel><Level>10</Level></EduLevel>
        <MajorCode1>11.0701</MajorCode1>
        <IssDate>2025-06-02</IssDate>
        <PrgStartDate>2025-09-02</PrgStartDate>
        <PrgEndDate>2026-06-30</PrgEndDate>
        <EngProficiency><EngRequired>false</EngRequired></EngProficiency>
      </EducationalInfo>
      <FinancialInfo>
        <AcademicTerm>10</AcademicTerm>
        <Expense><Tuition>9000</Tuition><LivingExpense>11000</LivingExpense></Expense>
        <Funding><Personal>20000</Personal></Funding>
      </FinancialInfo>
    </Student>
  </CreateStudent>
</SEVISBatchCreateUpdateStudent>
"""

J_FULL = f"""
<SEVISBatchCreateUpdateEV userID="JSMITH0001" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BatchHeader><BatchID>FORMTEST000003</BatchID><OrgID>{PROGRAM_NUMBER}</OrgID></BatchHeader>
  <CreateEV>
    <ExchangeVisitor requestID="REQ-J-1" userID="JSMITH0001" printForm="true">
      <Biographical>
        <FullName><LastName>Schmidt</LastName><FirstName>Lukas Johannes</FirstName></FullName>
        <BirthDate>1990-02-03</BirthDate>
        <Gender>M</Gender>
        <BirthCity>Hamburg</BirthCity>
        <BirthCountryCode>GM</BirthCountryCode>
        <CitizenshipCountryCode>GM</CitizenshipCountryCode>
        <PermanentResidenceCountryCode>AU</PermanentResidenceCountryCode>
        <EmailAddress>lukas@example.org</EmailAddress>
      </Biographical>
      <PositionCode>213</PositionCode>
      <PrgStartDate>2025-09-01</PrgStartDate>
      <PrgEndDate>2026-08-31</PrgEndDate>
      <CategoryCode>1A</CategoryCode>
      <SubjectField>
        <SubjectFieldCode>26.0102</SubjectFieldCode>
        <Remarks>Research scholar in molecular biology at the host laboratory</Remarks>
      </SubjectField>
      <FinancialInfo>
        <ReceivedUSGovtFunds>true</ReceivedUSGovtFunds>
        <ProgramSponsorFunds>20000</ProgramSponsorFunds>
        <OtherFunds>
          <USGovt><Org1>DOC</Org1><Amount1>5000</Amount1></USGovt>
          <International><Org1>ECA</Org1><Amount1>1000</Amount1></International>
          <EVGovt>2000</EVGovt>
          <BinationalCommission>300</BinationalCommission>
          <Other><Name>Helmholtz Travel Fund</Name><Amount>400</Amount></Other>
          <Personal>1500</Personal>
        </OtherFunds>
      </FinancialInfo>
      <CreateDependent>
        <Dependent>
          <FullName><LastName>Schmidt</LastName><FirstName>Anna</FirstName></FullName>
          <BirthDate>1991-07-19</BirthDate><Gender>F</Gender><BirthCity>Bremen</BirthCity>
          <BirthCountryCode>GM</BirthCountryCode><CitizenshipCountryCode>GM</CitizenshipCountryCode>
          <PermanentResidenceCountryCode>GM</PermanentResidenceCountryCode>
          <Relationship>01</Relationship>
        </Dependent>
      </CreateDependent>
      <AddSiteOfActivity>
        <SiteOfActivity xsi:type="SOA">
          <Address1>2201 C Street NW</Address1><City>Washington</City><State>DC</State>
          <PostalCode>20520</PostalCode><SiteName>Main Research Campus</SiteName><PrimarySite>true</PrimarySite>
        </SiteOfActivity>
      </AddSiteOfActivity>
    </ExchangeVisitor>
  </CreateEV>
</SEVISBatchCreateUpdateEV>
"""

J_MINIMAL = f"""
<SEVISBatchCreateUpdateEV userID="JSMITH0001" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BatchHeader><BatchID>FORMTEST000004</BatchID><OrgID>{PROGRAM_NUMBER}</OrgID></BatchHeader>
  <CreateEV>
    <ExchangeVisitor requestID="REQ-J-2" userID="JSMITH0001" printForm="true">
      <Biographical>
        <FullName><LastName>Tanaka</LastName></FullName>
        <BirthDate>1995-12-01</BirthDate>
        <Gender>F</Gender>
        <BirthCity>Osaka</BirthCity>
        <BirthCountryCode>JA</BirthCountryCode>
        <CitizenshipCountryCode>JA</CitizenshipCountryCode>
        <PermanentResidenceCountryCode>JA</PermanentResidenceCountryCode>
      </Biographical>
      <PositionCode>100</PositionCode>
      <PrgStartDate>2025-10-01</PrgStartDate>
      <PrgEndDate>2026-03-31</PrgEndDate>
      <CategoryCode>1B</CategoryCode>
      <SubjectField><SubjectFieldCode>11.0701</SubjectFieldCode><Remarks>Visiting scholar</Remarks></SubjectField>
      <FinancialInfo><ReceivedUSGovtFunds>false</ReceivedUSGovtFunds></FinancialInfo>
      <AddSiteOfActivity><SiteOfActivity xsi:type="EXEMPT"/></AddSiteOfActivity>
    </ExchangeVisitor>
  </CreateEV>
</SEVISBatchCreateUpdateEV>
"""


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    return {
        "F/M": etree.XMLSchema(
            etree.parse(
                str(official_or_project(OFFICIAL_XSD / "6.55-fm/Create-UpdateStudent.xsd", FM_ROOT)),
            )
        ),
        "J": etree.XMLSchema(
            etree.parse(str(official_or_project(OFFICIAL_XSD / "6.27-j/Create-UpdateExchangeVisitor.xsd", J_ROOT)))
        ),
    }


def batch(source: str, kind: str, schemas: dict[str, etree.XMLSchema]) -> etree._Element:
    """Parse a batch document and insist it is valid per the official schema."""
    root = etree.fromstring(source.strip().encode())
    schema = schemas[kind]
    assert schema.validate(root), schema.error_log
    return root


def principal(root: etree._Element, kind: str) -> etree._Element:
    return root.find("CreateStudent/Student" if kind == "F/M" else "CreateEV/ExchangeVisitor")


def with_ids(record: etree._Element, base: int) -> list[tuple[str, etree._Element]]:
    return [(f"N{base + i:010d}", dep) for i, dep in enumerate(record.iterfind("CreateDependent/Dependent"))]


def render(record: etree._Element, kind: str, **overrides) -> bytes:
    student = kind == "F/M"
    arguments = dict(
        kind=kind,
        sevis_id=STUDENT_ID if student else VISITOR_ID,
        org_id=SCHOOL_CODE if student else PROGRAM_NUMBER,
        org_name=SCHOOL_NAME if student else SPONSOR_NAME,
        issue_date=ISSUE_DATE,
        dependents=with_ids(record, 9000000001 if student else 9000000101),
    )
    arguments.update(overrides)
    return render_form(record, **arguments)


def page_texts(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def flat(pdf: bytes) -> str:
    return " ".join(page_texts(pdf))


@pytest.fixture(scope="module")
def fm_record(schemas) -> etree._Element:
    return principal(batch(FM_FULL, "F/M", schemas), "F/M")


@pytest.fixture(scope="module")
def j_record(schemas) -> etree._Element:
    return principal(batch(J_FULL, "J", schemas), "J")


@pytest.fixture(scope="module")
def i20(fm_record) -> bytes:
    return render(fm_record, "F/M")


@pytest.fixture(scope="module")
def ds2019(j_record) -> bytes:
    return render(j_record, "J")


# -- Form I-20 ------------------------------------------------------------------------------------


def test_i20_is_a_one_or_two_page_pdf_titled_as_a_test_document(i20):
    assert i20.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(i20))
    assert 1 <= len(reader.pages) <= 2
    assert TEST_MARK in reader.metadata.title
    assert TEST_MARK in reader.metadata.subject
    assert STUDENT_ID in reader.metadata.title


def test_i20_marks_every_page_as_a_test(i20):
    for number, text in enumerate(page_texts(i20), start=1):
        assert TEST_MARK in text, f"page {number} lacks the test mark"


def test_i20_shows_title_sevis_id_school_and_student(i20):
    first = page_texts(i20)[0]
    assert "Form I-20" in first
    assert "Certificate of Eligibility for Nonimmigrant Student Status" in first
    assert STUDENT_ID in first
    assert SCHOOL_NAME in first and SCHOOL_CODE in first
    for value in ("Fernandez Garcia", "Maria Elena", "Malena", "MARIA ELENA FERNANDEZ", "Jr."):
        assert value in first
    assert "2001-04-15" in first  # birth date
    assert "Toronto" in first and "CA" in first and "MX" in first  # birth city/country, citizenship
    assert "F-1" in first


def test_i20_shows_program_and_issue_date(i20):
    first = page_texts(i20)[0]
    assert "2025-08-25" in first and "2027-05-15" in first
    assert "11.0701" in first and "26.0102" in first
    assert "21 months" in first
    assert "requirements met" in first
    assert ISSUE_DATE.isoformat() in first


def test_i20_shows_expenses_and_funding_with_totals(i20):
    first = page_texts(i20)[0]
    assert "for 9 months" in first
    for figure in ("$30,000", "$15,000", "$5,000", "$1,200", "$40,000", "$10,000", "$500", "$700"):
        assert figure in first
    assert "Books and health insurance" in first and "Merit scholarship" in first
    assert first.count("$51,200") == 2  # total expenses and total funding


def test_i20_lists_dependents_with_their_sevis_ids(i20):
    text = flat(i20)
    assert "DEPENDENTS (2)" in text
    for sevis_id, name, relationship, birth in (
        ("N9000000001", "Jorge", "Spouse", "1999-11-30"),
        ("N9000000002", "Lucia", "Child", "2023-02-14"),
    ):
        assert sevis_id in text and name in text and relationship in text and birth in text
    assert "F-2" in text


def test_i20_shows_remarks(i20):
    assert "orientation starts one week early" in flat(i20)


def test_i20_from_only_the_required_elements(schemas):
    record = principal(batch(FM_MINIMAL, "F/M", schemas), "F/M")
    pdf = render(record, "F/M", dependents=())
    pages = page_texts(pdf)
    assert all(TEST_MARK in text for text in pages)
    text = " ".join(pages)
    assert STUDENT_ID in text and "Okafor" in text and "M-1" in text
    assert "2025-09-02" in text and "2026-06-30" in text
    assert "Not required" in text
    assert "$20,000" in text  # total expenses and personal funds
    assert "DEPENDENTS (0)" in text and "No dependents" in text


# -- DS-2019 --------------------------------------------------------------------------------------


def test_ds2019_is_a_one_or_two_page_pdf_titled_as_a_test_document(ds2019):
    reader = PdfReader(io.BytesIO(ds2019))
    assert 1 <= len(reader.pages) <= 2
    assert TEST_MARK in reader.metadata.title and TEST_MARK in reader.metadata.subject
    assert VISITOR_ID in reader.metadata.title


def test_ds2019_marks_every_page_as_a_test(ds2019):
    for number, text in enumerate(page_texts(ds2019), start=1):
        assert TEST_MARK in text, f"page {number} lacks the test mark"


def test_ds2019_shows_title_sevis_id_sponsor_and_visitor(ds2019):
    first = page_texts(ds2019)[0]
    assert "DS-2019" in first
    assert "Certificate of Eligibility for Exchange Visitor (J-1) Status" in first
    assert VISITOR_ID in first
    assert SPONSOR_NAME in first and PROGRAM_NUMBER in first
    assert "Schmidt" in first and "Lukas Johannes" in first
    assert "1990-02-03" in first and "Hamburg" in first and "GM" in first and "AU" in first
    assert "Main Research Campus" in first and "20520" in first


def test_ds2019_shows_program_and_category(ds2019):
    first = page_texts(ds2019)[0]
    assert "2025-09-01" in first and "2026-08-31" in first
    assert "1A" in first and "213" in first and "26.0102" in first
    assert "Research scholar in molecular biology" in first
    assert ISSUE_DATE.isoformat() in first


def test_ds2019_shows_financial_support_with_total(ds2019):
    first = page_texts(ds2019)[0]
    for figure in ("$20,000", "$5,000", "$1,000", "$2,000", "$300", "$400", "$1,500"):
        assert figure in first
    assert "DOC" in first and "ECA" in first and "Helmholtz Travel Fund" in first
    assert "$30,200" in first
    assert "received U.S. government funds: Yes" in first


def test_ds2019_lists_dependents_and_sites(ds2019):
    text = flat(ds2019)
    assert "DEPENDENTS (J-2) (1)" in text
    assert "N9000000101" in text and "Anna" in text and "Spouse" in text and "1991-07-19" in text
    assert "SITES OF ACTIVITY (1)" in text and "2201 C Street NW" in text


def test_ds2019_from_only_the_required_elements(schemas):
    record = principal(batch(J_MINIMAL, "J", schemas), "J")
    pdf = render(record, "J", dependents=())
    pages = page_texts(pdf)
    assert all(TEST_MARK in text for text in pages)
    text = " ".join(pages)
    assert VISITOR_ID in text and "Tanaka" in text and "Osaka" in text
    assert "2025-10-01" in text and "2026-03-31" in text
    assert "Exempt from pre-placement" in text
    assert "received U.S. government funds: No" in text


# -- both -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["F/M", "J"])
def test_same_input_gives_the_same_bytes(kind, fm_record, j_record):
    record = fm_record if kind == "F/M" else j_record
    assert render(record, kind) == render(record, kind)


@pytest.mark.parametrize("kind", ["F/M", "J"])
def test_a_bare_record_element_does_not_crash(kind):
    """Not even schema-valid: every box is blank, the marks and the ID still show."""
    record = etree.Element("Student" if kind == "F/M" else "ExchangeVisitor")
    dependent = etree.Element("Dependent")
    pdf = render(record, kind, dependents=[("N0000000009", dependent)])
    text = flat(pdf)
    assert TEST_MARK in text and "N0000000009" in text
    assert (STUDENT_ID if kind == "F/M" else VISITOR_ID) in text


def test_long_values_and_many_dependents_stay_readable(fm_record):
    record = etree.fromstring(etree.tostring(fm_record))
    record.find("Remarks").text = "Long remark. " * 38  # 494 characters
    dependents = [(f"N{8000000000 + i:010d}", record.find("CreateDependent/Dependent")) for i in range(25)]
    pdf = render(record, "F/M", dependents=dependents, org_name="A School Name " * 8)
    pages = page_texts(pdf)
    assert len(pages) == 2
    assert "N8000000000" in pages[1] and "N8000000024" in pages[1]


def test_an_unknown_kind_is_refused(fm_record):
    with pytest.raises(ValueError, match="unknown form kind"):
        render(fm_record, "M")


def test_sevis_id_is_drawn_as_a_barcode(i20):
    """Code 128 bars are filled rectangles: the first page's content stream holds many of them."""
    page = PdfReader(io.BytesIO(i20)).pages[0]
    content = page.get_contents().get_data().decode("latin-1")
    assert len(re.findall(r" re f\b", content)) > 30


# -- a dependent's own form ------------------------------------------------------------------------


@pytest.mark.parametrize("kind, visa", [("F/M", "F-2"), ("J", "J-2")])
def test_a_dependents_own_form_shows_the_dependent_and_the_principals_program(kind, visa, fm_record, j_record):
    record = fm_record if kind == "F/M" else j_record
    family = with_ids(record, 9000000001 if kind == "F/M" else 9000000101)
    holder_id, holder = family[0]
    own = flat(render(record, kind, dependents=[], for_dependent=(holder_id, holder)))
    principal_id = STUDENT_ID if kind == "F/M" else VISITOR_ID
    assert f"SEVIS ID {holder_id}" in own and principal_id in own and f"({visa})" in own and TEST_MARK in own
    assert holder.findtext("FullName/LastName").strip() in own  # the dependent's data ...
    main = flat(render(record, kind))
    assert (SCHOOL_CODE if kind == "F/M" else PROGRAM_NUMBER) in own  # ... with the principal's program
    assert "DEPENDENTS (" in main.upper() and "DEPENDENTS (" not in own.upper()  # the family: on the principal's form
