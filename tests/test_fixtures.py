"""The sample batch documents in fixtures/ say what catalog.json claims they say.

Checked against the OFFICIAL schemas (the read-only reference folder next to the project),
with the hardened parser the upload path uses, so a fixture that drifts from its catalog
entry fails here rather than in a server test.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import pytest
from lxml import etree

from sevis_mock.server.catalog import catalogue
from tests.support.reference import OFFICIAL_XSD, require
from sevis_mock.fixtures import catalog_entry, fixtures_root, load_catalog, read_fixture, render_template

XSD_ROOT = OFFICIAL_XSD
SCHEMA_FILES = {
    "F/M": XSD_ROOT / "6.55-fm" / "Create-UpdateStudent.xsd",
    "J": XSD_ROOT / "6.27-j" / "Create-UpdateExchangeVisitor.xsd",
}
ROOTS = {"F/M": "SEVISBatchCreateUpdateStudent", "J": "SEVISBatchCreateUpdateEV"}
SCHEMA_LOCATIONS = {"F/M": "Create-UpdateStudent.xsd", "J": "Create-UpdateExchangeVisitor.xsd"}
PRINCIPALS = {"F/M": "Student", "J": "ExchangeVisitor"}
SEEDED = {
    "F/M": {"org_id": "MCK214F00001000", "user_id": "MCKPDSO001"},
    "J": {"org_id": "P-1-12345", "user_id": "MCKRO00001"},
}
XSI = "http://www.w3.org/2001/XMLSchema-instance"

CATALOG = load_catalog()
ACCEPTED = [e for e in CATALOG if e["upload"] == "S0000"]
PROCESSED = [e for e in ACCEPTED if not e["template"]]
REJECTED = [e for e in CATALOG if e["upload"] != "S0000"]
PARSEABLE = [e for e in CATALOG if e.get("defect") != "not-well-formed"]


def ids(entries):
    return [e["file"] for e in entries]


def hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@lru_cache(maxsize=None)
def schema(kind: str) -> etree.XMLSchema:
    path = SCHEMA_FILES[kind]
    require()
    return etree.XMLSchema(etree.parse(str(path)))


@lru_cache(maxsize=None)
def result_codes() -> frozenset[str]:
    """The project's catalogue (test_codes checks it against ICE's result-codes.csv)."""
    return frozenset(catalogue())


def parse(entry: dict) -> etree._ElementTree:
    return etree.fromstring(read_fixture(entry["file"]), hardened_parser()).getroottree()


def principals(root: etree._Element, kind: str) -> list[etree._Element]:
    tag = PRINCIPALS[kind]
    return root.xpath(f"/*/*[starts-with(local-name(), 'Create') or starts-with(local-name(), 'Update')]/{tag}")


def schema_errors(kind: str, tree) -> list[str]:
    xsd = schema(kind)
    xsd.validate(tree)
    return [f"line {e.line}: {e.message}" for e in xsd.error_log]


def date(element: etree._Element, path: str) -> dt.date:
    return dt.date.fromisoformat(element.findtext(path))


def amount(element: etree._Element, path: str) -> int:
    return int(element.findtext(path) or 0)


# --- the catalog itself -----------------------------------------------------------------


def test_catalog_lists_exactly_the_fixture_documents():
    # The rule cases under rules/ describe themselves (each folder's case.json; tests/test_rule_fixtures.py).
    on_disk = {
        p.relative_to(fixtures_root()).as_posix()
        for p in fixtures_root().rglob("*.xml")
        if p.relative_to(fixtures_root()).parts[0] != "rules"
    }
    listed = [e["file"] for e in CATALOG]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert set(listed) == on_disk


@pytest.mark.parametrize("entry", CATALOG, ids=ids(CATALOG))
def test_catalog_entry_is_complete_and_uses_the_seeded_organizations(entry):
    for key in ("file", "kind", "org_id", "user_id", "batch_id", "upload", "process", "records", "template", "note"):
        assert key in entry, key
    assert entry["kind"] in ROOTS
    assert entry["org_id"] == SEEDED[entry["kind"]]["org_id"]
    assert entry["user_id"] == SEEDED[entry["kind"]]["user_id"]
    assert entry["upload"] in {"S0000", "S0012", "S0013"}
    assert isinstance(entry["template"], bool)
    assert entry["note"].strip()
    if entry["upload"] == "S0000":
        assert entry["process"] in {"S0000", "S0020"}
        assert entry["records"], "an accepted batch has records"
        assert entry.get("defect") is None
    else:
        assert entry["process"] is None and entry["records"] == {}
        assert entry.get("defect")
    if entry["template"]:
        assert re.fullmatch(r"N\d{10}", entry["sevis_id_placeholder"])


def test_batch_ids_are_14_characters_and_unique():
    batch_ids = [e["batch_id"] for e in CATALOG]
    assert all(len(b) == 14 for b in batch_ids), [b for b in batch_ids if len(b) != 14]
    assert len(set(batch_ids)) == len(batch_ids)


def test_every_expected_code_exists_in_result_codes():
    codes = result_codes()
    expected = set()
    for entry in CATALOG:
        expected.update({entry["upload"], entry["process"]} - {None})
        expected.update(code for code in entry["records"].values() if code)
    assert expected <= codes, sorted(expected - codes)


@pytest.mark.parametrize("entry", PROCESSED, ids=ids(PROCESSED))
def test_process_result_agrees_with_the_records(entry):
    failures = [code for code in entry["records"].values() if code]
    assert entry["process"] == ("S0020" if failures else "S0000")
    if "/rule-" in entry["file"]:
        assert len(failures) == 1, "a rule fixture has exactly one failing record"
        assert f"rule-{failures[0]}-" in entry["file"]


# --- every document against its catalog entry --------------------------------------------


@pytest.mark.parametrize("entry", CATALOG, ids=ids(CATALOG))
def test_header_batch_id_matches_the_catalog(entry):
    raw = read_fixture(entry["file"]).decode("utf-8")
    assert re.findall(r"<BatchID>([^<]*)</BatchID>", raw) == [entry["batch_id"]]
    header_org = entry.get("header_org_id", entry["org_id"])
    assert re.findall(r"<OrgID>([^<]*)</OrgID>", raw) == [header_org]


@pytest.mark.parametrize("entry", PARSEABLE, ids=ids(PARSEABLE))
def test_document_shape_is_that_of_a_real_client(entry):
    kind = entry["kind"]
    root = parse(entry).getroot()
    assert root.tag == ROOTS[kind], "no namespace, the kind's root element"
    assert root.get(f"{{{XSI}}}noNamespaceSchemaLocation") == SCHEMA_LOCATIONS[kind]
    assert root.get("userID") == entry["user_id"]
    assert root.findtext("BatchHeader/BatchID") == entry["batch_id"]
    assert root.findtext("BatchHeader/OrgID") == entry.get("header_org_id", entry["org_id"])
    records = principals(root, kind)
    assert records
    assert {r.get("userID") for r in records} == {entry["user_id"]}
    raw = read_fixture(entry["file"])
    assert b"\n  <BatchHeader>\n    <BatchID>" in raw, "documents stay indented and readable"


@pytest.mark.parametrize("entry", CATALOG, ids=ids(CATALOG))
def test_every_catalog_request_id_is_in_the_document(entry):
    raw = read_fixture(entry["file"]).decode("utf-8")
    for request_id in entry["records"]:
        assert raw.count(f'requestID="{request_id}"') == 1, request_id


@pytest.mark.parametrize("entry", ACCEPTED, ids=ids(ACCEPTED))
def test_catalog_covers_every_record_of_an_accepted_document(entry):
    root = parse(entry).getroot()
    in_document = [r.get("requestID") for r in principals(root, entry["kind"])]
    assert len(in_document) == len(set(in_document))
    assert in_document == list(entry["records"]), "same records, in document order"


@pytest.mark.parametrize("entry", ACCEPTED, ids=ids(ACCEPTED))
def test_accepted_document_is_valid_against_the_official_schema(entry):
    assert schema_errors(entry["kind"], parse(entry)) == []


@pytest.mark.parametrize("entry", PARSEABLE, ids=ids(PARSEABLE))
def test_names_hold_only_letters_a_to_z_and_spaces(entry):
    root = parse(entry).getroot()
    for name in root.iter("LastName", "FirstName"):
        assert re.fullmatch(r"[A-Z]+( [A-Z]+)*", name.text or ""), name.text


@pytest.mark.parametrize("entry", PARSEABLE, ids=ids(PARSEABLE))
def test_people_are_adults_and_programs_start_in_2030(entry):
    # Far enough ahead that "start must be today or later" (S1010) and the session-date rules hold on the
    # real clock for years: the fixtures are uploaded as-is to servers running on today's date.
    root = parse(entry).getroot()
    for start in root.iter("PrgStartDate", "CurrentSessionStartDate"):
        assert dt.date.fromisoformat(start.text).year == 2030
    for birth in root.iter("BirthDate"):
        assert dt.date.fromisoformat(birth.text) <= dt.date(2009, 1, 1)


# --- the upload failures -------------------------------------------------------------


def rejected(defect: str) -> dict:
    (entry,) = [e for e in REJECTED if e["defect"] == defect]
    return entry


def test_s0013_fixture_is_well_formed_but_schema_invalid():
    entry = rejected("missing-required-element")
    assert entry["upload"] == "S0013"
    tree = parse(entry)  # well-formed: parses with the hardened parser
    assert tree.docinfo.internalDTD is None
    errors = schema_errors(entry["kind"], tree)
    assert errors and any("BirthDate" in e for e in errors), errors


def test_not_well_formed_fixture_fails_to_parse():
    entry = rejected("not-well-formed")
    assert entry["upload"] == "S0012"
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(read_fixture(entry["file"]), hardened_parser())


def test_doctype_fixture_carries_a_dtd_with_nested_entities():
    entry = rejected("doctype")
    assert entry["upload"] == "S0012"
    raw = read_fixture(entry["file"])
    assert raw.lstrip().startswith(b"<?xml") and b"<!DOCTYPE SEVISBatchCreateUpdateStudent [" in raw
    try:
        tree = etree.fromstring(raw, hardened_parser()).getroottree()
    except etree.XMLSyntaxError:
        return  # refusing the DOCTYPE outright is fine too
    dtd = tree.docinfo.internalDTD
    assert dtd is not None, "the DOCTYPE is present"
    assert {e.name for e in dtd.iterentities()} == {"lol", "lol1", "lol2"}
    remarks = tree.getroot().find(".//Remarks")
    assert [node.text for node in remarks if isinstance(node, etree._Entity)] == ["&lol2;"]
    assert "lollol" not in "".join(remarks.itertext()), "the hardened parser expanded nothing"


def test_doctype_fixture_is_otherwise_a_valid_document():
    entry = rejected("doctype")
    resolving = etree.XMLParser(resolve_entities=True, no_network=True, load_dtd=False)
    tree = etree.fromstring(read_fixture(entry["file"]), resolving).getroottree()
    assert tree.getroot().findtext(".//Remarks") == "lol" * 100
    assert schema_errors(entry["kind"], tree) == []


def test_header_mismatch_fixture_is_valid_but_names_another_school():
    entry = rejected("header-orgid-mismatch")
    assert entry["upload"] == "S0012"
    tree = parse(entry)
    assert schema_errors(entry["kind"], tree) == []
    assert tree.getroot().findtext("BatchHeader/OrgID") == entry["header_org_id"] != entry["org_id"]


# --- the data really shows the outcome the catalog claims ---------------------------------


def expected_fm_create(student: etree._Element, seen: set) -> str | None:
    info = student.find("EducationalInfo")
    if date(info, "PrgEndDate") < date(info, "PrgStartDate"):
        return "S1009"
    finance = student.find("FinancialInfo")
    expense_paths = ("Tuition", "LivingExpense", "DependentExp", "Other/Amount")
    funding_paths = ("Personal", "School/Amount", "Other/Amount", "Employment")
    expenses = sum(amount(finance, f"Expense/{p}") for p in expense_paths)
    funding = sum(amount(finance, f"Funding/{p}") for p in funding_paths)
    if expenses > funding:
        return "S1024"
    assert funding > expenses, "successful records are clearly funded"
    person = student.find("PersonalInfo")
    identity_paths = ("FullName/LastName", "FullName/FirstName", "BirthDate", "BirthCountryCode", "Gender")
    identity = tuple(person.findtext(p) for p in identity_paths)
    if identity in seen:
        return "S1004"
    seen.add(identity)
    return None


def expected_j_create(visitor: etree._Element) -> str | None:
    if date(visitor, "PrgEndDate") <= date(visitor, "PrgStartDate"):
        return "S2282"
    return None


@pytest.mark.parametrize("entry", PROCESSED, ids=ids(PROCESSED))
def test_record_data_matches_the_expected_results(entry):
    root = parse(entry).getroot()
    seen: set = set()
    actual = {}
    for record in principals(root, entry["kind"]):
        request_id = record.get("requestID")
        if record.getparent().tag.startswith("Update"):
            assert record.get("sevisID") == "N0000000001", "updates target the one unknown SEVIS ID"
            actual[request_id] = "S1003"
        elif entry["kind"] == "F/M":
            actual[request_id] = expected_fm_create(record, seen)
        else:
            actual[request_id] = expected_j_create(record)
    assert actual == entry["records"]


def test_create_with_dependent_has_everything_the_brief_asks_for():
    root = parse(catalog_entry("fm/create-with-dependent.xml")).getroot()
    (student,) = principals(root, "F/M")
    assert student.get("printForm") == "true"
    assert student.findtext("UserDefinedA") and student.findtext("UserDefinedB")
    (dependent,) = student.findall("CreateDependent/Dependent")
    assert dependent.findtext("Relationship") == "01", "spouse"
    assert dependent.findtext("VisaType") == "04", "F-2 for an F-1 student"


def test_create_three_students_has_one_without_a_form():
    root = parse(catalog_entry("fm/create-three-students.xml")).getroot()
    records = principals(root, "F/M")
    assert len(records) == 3
    assert [r.get("printForm") for r in records].count("false") == 1
    assert not root.findall(".//CreateDependent")


def test_j_create_has_a_dependent_and_a_washington_site():
    root = parse(catalog_entry("j/create-with-dependent-and-site.xml")).getroot()
    (visitor,) = principals(root, "J")
    assert visitor.get("printForm") == "true"
    assert len(visitor.findall("CreateDependent/Dependent")) == 1
    (site,) = visitor.findall("AddSiteOfActivity/SiteOfActivity")
    assert site.get(f"{{{XSI}}}type") == "SOA"
    assert (site.findtext("City"), site.findtext("State"), site.findtext("PostalCode")) == ("Washington", "DC", "20522")


# --- templates -----------------------------------------------------------------------

TEMPLATES = [e for e in CATALOG if e["template"]]


@pytest.mark.parametrize("entry", TEMPLATES, ids=ids(TEMPLATES))
def test_render_template_puts_in_a_real_sevis_id_and_stays_valid(entry):
    document = render_template(entry["file"], "N0012345678", batch_id="TPLRENDERTEST1")
    assert f'sevisID="{entry["sevis_id_placeholder"]}"'.encode() not in document
    tree = etree.fromstring(document, hardened_parser()).getroottree()
    (record,) = principals(tree.getroot(), entry["kind"])
    assert record.get("sevisID") == "N0012345678"
    assert tree.getroot().findtext("BatchHeader/BatchID") == "TPLRENDERTEST1"
    assert schema_errors(entry["kind"], tree) == []


def test_template_events_are_the_documented_ones():
    complete = parse(catalog_entry("fm/template-status-complete.xml")).getroot()
    assert complete.find("UpdateStudent/Student/Status/Complete") is not None
    registration = parse(catalog_entry("fm/template-registration.xml")).getroot()
    event = registration.find("UpdateStudent/Student/Registration")
    created = parse(catalog_entry("fm/create-with-dependent.xml")).getroot().find(".//EducationalInfo")
    assert date(created, "PrgStartDate") <= date(event, "CurrentSessionStartDate")
    assert date(event, "CurrentSessionEndDate") <= date(created, "PrgEndDate")
    assert date(event, "CurrentSessionEndDate") <= date(event, "NextSessionStartDate")


def test_render_template_refuses_bad_input():
    with pytest.raises(ValueError):
        render_template("fm/create-with-dependent.xml", "N0012345678")
    with pytest.raises(ValueError):
        render_template("fm/template-registration.xml", "N0012345678", batch_id="SHORT")
    with pytest.raises(KeyError):
        render_template("fm/no-such-file.xml", "N0012345678")
    with pytest.raises(ValueError):
        read_fixture("../pyproject.toml")
