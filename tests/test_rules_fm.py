"""F/M business rules, fast: RuleContext built directly, no server (the server runs the fixtures in
tests/test_rule_fixtures.py). Boundaries, the valid baseline, placeholders and history handling."""

from __future__ import annotations

import copy
import re
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from sevis_mock.fixtures.rules import load_cases
from sevis_mock.harness.strategies import trees
from sevis_mock.server.catalog import catalogue
from sevis_mock.server.rules import RULES, RuleContext, add_months, event_key, first_violation
from sevis_mock.server.rules.fm import duplicate_key
from sevis_mock.server.rules.fm_facts import live_segments
from sevis_mock.server.rules.fm_undecidable import UNDECIDABLE, UNPUBLISHED

NOW = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
OFFICIALS = {
    "MCKPDSO001": SimpleNamespace(org_id="MCK214F00001000", role="PDSO"),
    "MCKRO00001": SimpleNamespace(org_id="P-1-12345", role="RO"),
}
CASES = {case.code: case for case in load_cases("fm")}


def _students(case_code: str, step: str = "batch.xml") -> list[etree._Element]:
    case = CASES[case_code]
    raw = case.folder.joinpath(step).read_text(encoding="utf-8").replace("{{BATCH_ID}}", "RULEBATCH00001")
    return etree.fromstring(raw.encode()).findall(".//Student")


def baseline() -> etree._Element:
    """A valid F-1 create (the setup student of a fixture case)."""
    return copy.deepcopy(_students("S1054", "setup.xml")[0])


def create_ctx(student: etree._Element, **kw) -> RuleContext:
    return RuleContext(
        kind="F/M",
        event="create",
        element=student,
        event_element=None,
        now=kw.pop("now", NOW),
        lookup_official=OFFICIALS.get,
        org_id="MCK214F00001000",
        **kw,
    )


def update_ctx(
    event_xml: str, *, stored: etree._Element | None = None, status: str = "Initial", history=(), dependents=(), now=NOW
) -> RuleContext:
    element = etree.fromstring(
        f'<Student sevisID="N0000000001" requestID="R1" userID="MCKPDSO001">{event_xml}</Student>'
    )
    event_element = element[0]
    record = SimpleNamespace(
        sevis_id="N0000000001", status=status, document=etree.tostring(stored if stored is not None else baseline())
    )
    parsed = [(name, etree.fromstring(xml)) for name, xml in history]
    return RuleContext(
        kind="F/M",
        event=event_element.tag,
        element=element,
        event_element=event_element,
        now=now,
        record=record,
        lookup_official=OFFICIALS.get,
        org_id="MCK214F00001000",
        load_dependents=lambda: list(dependents),
        load_history=lambda: parsed,
    )


def code_of(ctx: RuleContext) -> str | None:
    found = first_violation(ctx)
    return None if found is None else found.code


def set_text(element: etree._Element, path: str, value: str) -> etree._Element:
    element.find(path).text = value
    return element


# --- the baseline passes, every fixture's record fails with its own code ---------------------------


def test_baseline_create_passes_every_rule():
    assert first_violation(create_ctx(baseline())) is None


# Creates alone: cases that set up SEVIS data through the control API first (an organization profile) need the
# server, and run in tests/test_rule_fixtures.py only.
CREATE_ONLY = sorted(
    c
    for c, case in CASES.items()
    if len(case.steps) == 1 and not case.control and all(s.get("sevisID") is None for s in _students(c))
)


@pytest.mark.parametrize("code", CREATE_ONLY)
def test_create_fixture_gives_its_expected_codes_without_a_server(code):
    """The same verdicts the server gives (tests/test_rule_fixtures.py), straight from the rules."""
    seen: set = set()
    got = {}
    for student in _students(code):
        found = first_violation(create_ctx(student, duplicate_keys_seen=seen))
        seen.add(duplicate_key(student))
        got[student.get("requestID")] = None if found is None else found.code
    assert got == CASES[code].expect


# --- dates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2027, 12, 15), 14, date(2029, 2, 15)),
        (date(2027, 1, 15), -252, date(2006, 1, 15)),
    ],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected


@pytest.mark.parametrize(("start", "code"), [("2027-01-14", "S1010"), ("2027-01-15", None), ("2027-01-16", None)])
def test_program_start_today_is_allowed(start, code):
    assert code_of(create_ctx(set_text(baseline(), "EducationalInfo/PrgStartDate", start))) == code


@pytest.mark.parametrize(("end", "code"), [("2027-01-20", "S1009"), ("2027-01-21", None)])
def test_program_end_must_follow_start(end, code):
    student = set_text(baseline(), "EducationalInfo/PrgEndDate", end)
    assert code_of(create_ctx(student)) == code


def _m1(end: str) -> etree._Element:
    student = set_text(baseline(), "PersonalInfo/VisaType", "02")
    set_text(student, "EducationalInfo/EduLevel/Level", "10")
    set_text(student, "EducationalInfo/PrgStartDate", "2027-01-15")
    return set_text(student, "EducationalInfo/PrgEndDate", end)


@pytest.mark.parametrize(
    ("end", "code"),
    [
        ("2027-03-17", "S1042"),  # 61 days ahead: the window opens tomorrow
        ("2027-03-16", None),  # exactly 60 days ahead
        ("2027-01-30", None),  # exactly 15 days ahead
        ("2027-01-29", "S1042"),  # 14 days ahead: too late
    ],
)
def test_m1_extension_window_is_sixty_to_fifteen_days(end, code):
    ctx = update_ctx(
        '<Program><Extension printForm="false"><NewPrgEndDate>2027-06-01</NewPrgEndDate>'
        "<Explanation>x</Explanation></Extension></Program>",
        stored=_m1(end),
    )
    assert code_of(ctx) == code


# --- dependents ------------------------------------------------------------------------------------


def _with_child(birth: str) -> etree._Element:
    student = baseline()
    dep = etree.fromstring(f"""<CreateDependent><Dependent><FullName><LastName>DOE</LastName><FirstName>KIM</FirstName>
      </FullName><BirthDate>{birth}</BirthDate><Gender>F</Gender><BirthCountryCode>IN</BirthCountryCode>
      <CitizenshipCountryCode>IN</CitizenshipCountryCode><VisaType>04</VisaType><Relationship>02</Relationship>
      </Dependent></CreateDependent>""")
    student.find("FinancialInfo").addnext(dep)
    return student


@pytest.mark.parametrize(("birth", "code"), [("2006-01-14", "S1014"), ("2006-01-15", None), ("2010-05-01", None)])
def test_child_must_be_born_on_or_after_today_minus_21_years(birth, code):
    assert code_of(create_ctx(_with_child(birth))) == code


def test_child_message_fills_date_and_name():
    found = first_violation(create_ctx(_with_child("2000-01-01")))
    assert found.message == ("Dependent must be born on or after 01/15/2006 – invalid dependent record ‘DOE, KIM’")


def test_dependent_actions_check_the_named_dependent():
    spouse = SimpleNamespace(sevis_id="N0000000002", status="Active", relationship_code="01")
    cancel = '<Dependent><Cancel dependentSevisID="{}"><Reason>01</Reason></Cancel></Dependent>'
    assert code_of(update_ctx(cancel.format("N0000000009"), dependents=[spouse])) == "S1113"
    assert code_of(update_ctx(cancel.format("N0000000002"), dependents=[spouse])) == "S1093"
    spouse.status = "Initial"
    assert code_of(update_ctx(cancel.format("N0000000002"), dependents=[spouse])) is None


# --- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ("FNU", "S1142"),
        ("not  applicable", "S1142"),
        ("Unknown", "S1142"),
        ("ANNA-MARIA", "S1148"),
        ("ZOË", "S1148"),
        ("Mary Ann", None),
        ("NONEY", None),
        ("\u00a0ANNA", "S1148"),  # a no-break space is not a blank: SEVIS keeps it, and the name standard refuses it
        ("\tANNA\n", None),  # XML whitespace around a value is not part of it
        ("\u00a0FNU", "S1148"),
    ],
)
def test_name_standard(first, code):
    assert code_of(create_ctx(set_text(baseline(), "PersonalInfo/FullName/FirstName", first))) == code


def test_name_message_names_the_field():
    found = first_violation(create_ctx(set_text(baseline(), "PersonalInfo/FullName/LastName", "O'BRIEN")))
    assert found.message == "LastName contains characters other than the alphabetic characters A to Z or a blank space."


# --- e-mail and telephone ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "code"),
    [
        ("a.b@example.edu", None),
        (".ab@example.edu", "S1160"),
        ("ab.@example.edu", "S1160"),
        ("a..b@example.edu", "S1160"),
        ("ab@-example.edu", "S1160"),
        ("ab@example..edu", "S1160"),
    ],
)
def test_email_shape(email, code):
    assert code_of(create_ctx(set_text(baseline(), "PersonalInfo/Email", email))) == code


def test_k12_and_young_m1_need_no_email():
    student = baseline()
    info = student.find("PersonalInfo")
    info.remove(info.find("Email"))
    info.remove(info.find("Telephone"))
    assert code_of(create_ctx(student)) == "S1165"
    set_text(student, "EducationalInfo/EduLevel/Level", "02")
    assert code_of(create_ctx(student)) is None


# --- history: segments ------------------------------------------------------------------------------


def test_live_segments_follow_cancel_and_edit():
    add = "<AuthDropBelowFC><Add printForm='false'><Reason>01</Reason><StartDate>2027-02-01</StartDate><EndDate>2027-04-30</EndDate></Add></AuthDropBelowFC>"
    edit = (
        "<AuthDropBelowFC><Edit printForm='false'><Reason>01</Reason><StartDate>2027-02-01</StartDate><EndDate>2027-04-30</EndDate>"
        "<NewEndDate>2027-03-31</NewEndDate></Edit></AuthDropBelowFC>"
    )
    cancel = "<AuthDropBelowFC><Cancel printForm='false'><Reason>01</Reason><StartDate>2027-02-01</StartDate><EndDate>2027-03-31</EndDate></Cancel></AuthDropBelowFC>"
    ctx = update_ctx(
        "<Reprint><Reason>01</Reason></Reprint>", history=[("AuthDropBelowFC", add), ("AuthDropBelowFC", edit)]
    )
    live = live_segments(ctx, "AuthDropBelowFC")
    assert [s.findtext("EndDate") for s in live] == ["2027-03-31"]
    ctx = update_ctx(
        "<Reprint><Reason>01</Reason></Reprint>",
        history=[("AuthDropBelowFC", add), ("AuthDropBelowFC", edit), ("AuthDropBelowFC", cancel)],
    )
    assert live_segments(ctx, "AuthDropBelowFC") == []


def test_overlap_is_checked_against_live_segments_only():
    cpt = (
        "<CPTEmployment><{a} printForm='false'><StartDate>2027-02-01</StartDate><EndDate>2027-05-31</EndDate>"
        "<FullPartTimeIndicator>02</FullPartTimeIndicator><EmployerName>ACME</EmployerName>{tail}</{a}></CPTEmployment>"
    )
    addr = "<EmployerAddress><Address1>1 Main Street</Address1><City>Cambridge</City><State>MA</State><PostalCode>02139</PostalCode></EmployerAddress>"
    other = (
        cpt.format(a="Add", tail=addr)
        .replace("ACME", "HARBOR")
        .replace("2027-02-01", "2027-05-01")
        .replace("2027-05-31", "2027-08-31")
    )
    added = ("CPTEmployment", cpt.format(a="Add", tail=addr))
    cancelled = ("CPTEmployment", cpt.format(a="Cancel", tail=""))
    assert code_of(update_ctx(other, history=[added])) == "S1044"
    assert code_of(update_ctx(other, history=[added, cancelled])) is None


# --- authority and status ---------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "code"), [("MCKPDSO001", None), ("MCKNOBODY1", "S1001"), ("MCKRO00001", "S1002")])
def test_acting_official(user, code):
    student = baseline()
    student.set("userID", user)
    assert code_of(create_ctx(student)) == code


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        ("<Status><Complete/></Status>", "Initial", "S1054"),
        ("<Status><Complete/></Status>", "Active", None),
        ("<Status><Cancel><Reason>01</Reason></Cancel></Status>", "Active", "S1057"),
        ("<Reprint><Reason>01</Reason></Reprint>", "Completed", "S1106"),
        ("<Reprint><Reason>01</Reason></Reprint>", "Active", None),
    ],
)
def test_status_table(event, status, code):
    assert code_of(update_ctx(event, status=status)) == code


def test_authority_is_checked_before_status():
    ctx = update_ctx("<Reprint><Reason>01</Reason></Reprint>", status="Completed")
    ctx.element.set("userID", "MCKNOBODY1")
    assert code_of(ctx) == "S1001"


# --- the registry itself ----------------------------------------------------------------------------


def test_every_fm_rule_has_a_catalogue_code_and_a_condition():
    for r in RULES:
        if r.code.startswith("S1"):
            assert catalogue()[r.code].family == "fm", r.code
            assert r.condition and r.condition.endswith((".", "]")), (r.code, r.condition)
            assert all(e.startswith("fm.") for e in r.events), r


def test_undecidable_codes_are_fm_codes_without_a_rule():
    implemented = {r.code for r in RULES}
    assert not set(UNDECIDABLE) & set(UNPUBLISHED)
    for code, reason in {**UNDECIDABLE, **UNPUBLISHED}.items():
        assert catalogue()[code].family == "fm" and code not in implemented and reason, code


# --- any schema-valid document: the rules answer, never crash ----------------------------------------

FM_XSD = str(Path(__file__).resolve().parents[1] / "schemas" / "fm-6.55" / "Create-UpdateStudent.xsd")
STATUSES = ("Initial", "Active", "Completed", "Terminated", "Canceled")


def unfilled(code: str, message: str) -> list[str]:
    """Placeholders of the catalogue message (``[last name]`` …) still present in ``message``."""
    return [p for p in re.findall(r"\[[^\]]+\]", catalogue()[code].message) if p in message]


def _check_every_rule(ctx: RuleContext) -> None:
    """Each rule of the event (not only the first to fail) answers None or its own filled message."""
    key = event_key(ctx.kind, ctx.event)
    for r in RULES:
        if key in r.events:
            found = r.check(ctx)
            if found is not None:
                entry = catalogue()[found.code]
                assert found.code == r.code and entry.family == "fm" and not entry.reserved, found
                assert not unfilled(found.code, found.message), found


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(
    # deferred: the schema is loaded when the test runs, not when the module is collected
    tree=st.deferred(lambda: trees(FM_XSD, "SEVISBatchCreateUpdateStudent", max_repeats=2, max_text=12)),
    status=st.sampled_from(STATUSES),
)
def test_rules_answer_any_schema_valid_document(tree, status):
    """Generated documents (any element combination the schema allows) get a catalogue answer or none."""
    root = tree.getroot()
    seen: set = set()
    creates = root.findall("CreateStudent/Student")
    for student in creates:
        student.set("userID", "MCKPDSO001")  # a known official, so later rules are reached too
        _check_every_rule(create_ctx(student, duplicate_keys_seen=seen))
        seen.add(duplicate_key(student))
    updates = root.findall("UpdateStudent/Student")
    stored = creates[0] if creates else baseline()
    # history: every update event of the document, as if applied earlier
    history = [(u[-1].tag, etree.tostring(u[-1])) for u in updates if len(u)]
    dependents = [SimpleNamespace(sevis_id="N0000000002", status=status, relationship_code="01")]
    for update in updates:
        event = next(c for c in update if c.tag not in ("UserDefinedA", "UserDefinedB"))
        ctx = update_ctx(
            etree.tostring(event).decode(), stored=stored, status=status, history=history, dependents=dependents
        )
        _check_every_rule(ctx)


# --- OPT employer edits --------------------------------------------------------------------------


def _opt_history() -> list[tuple[str, str]]:
    setup = CASES["S1162"].folder.joinpath("setup2.xml").read_text(encoding="utf-8")
    opt = etree.fromstring(setup.encode()).find(".//OPTEmployment")
    return [("OPTEmployment/Add", etree.tostring(opt).decode())]


def _employer_edit(name: str, start: str, new_employer: str) -> str:
    return f"""<OPTEmployer><Edit printForm="false">
      <EmploymentIdentifier><StartDate>2027-04-01</StartDate><EndDate>2028-03-31</EndDate></EmploymentIdentifier>
      <EmployerIdentifier><EmployerName>{name}</EmployerName><StartDate>{start}</StartDate></EmployerIdentifier>
      <Employer>{new_employer}</Employer></Edit></OPTEmployer>"""


def test_editing_an_employer_is_not_a_repeat_of_itself():
    from sevis_mock.server.rules.fm_employment import employer_not_repeated

    same = update_ctx(
        _employer_edit(
            "ACME ANALYTICS",
            "2027-04-01",
            "<EmployerName>ACME ANALYTICS</EmployerName>"
            "<StudentsJobTitle>Analyst</StudentsJobTitle><StartDate>2027-04-01</StartDate>",
        ),
        status="Active",
        history=_opt_history(),
    )
    assert employer_not_repeated(same) is None
    renamed = update_ctx(
        _employer_edit("ACME ANALYTICS", "2027-04-01", "<EmployerName>Acme Data</EmployerName>"),
        status="Active",
        history=_opt_history(),
    )
    assert employer_not_repeated(renamed) is None


def test_editing_an_employer_into_another_recorded_one_is_a_repeat():
    from sevis_mock.server.rules.fm_employment import employer_not_repeated

    history = _opt_history()
    second = """<OPTEmployer><Add printForm="false">
      <EmploymentIdentifier><StartDate>2027-04-01</StartDate><EndDate>2028-03-31</EndDate></EmploymentIdentifier>
      <Employer><EmployerName>BETA LABS</EmployerName><StartDate>2027-05-01</StartDate></Employer></Add></OPTEmployer>"""
    history.append(("OPTEmployer/Add", second))
    clash = update_ctx(
        _employer_edit(
            "ACME ANALYTICS", "2027-04-01", "<EmployerName>Beta Labs</EmployerName><StartDate>2027-05-01</StartDate>"
        ),
        status="Active",
        history=history,
    )
    found = employer_not_repeated(clash)
    assert found is not None and found.code == "S1153"


# --- one spouse at a time --------------------------------------------------------------------------


def _dep(sevis_id: str, relationship: str, status: str) -> SimpleNamespace:
    return SimpleNamespace(sevis_id=sevis_id, relationship_code=relationship, status=status)


@pytest.mark.parametrize(
    ("dependents", "code"),
    [
        (
            [_dep("N0000000002", "01", "Canceled"), _dep("N0000000003", "01", "Active")],
            "S1006",
        ),  # another spouse active
        ([_dep("N0000000002", "01", "Canceled"), _dep("N0000000003", "01", "Terminated")], None),
        ([_dep("N0000000002", "01", "Canceled"), _dep("N0000000003", "02", "Active")], None),  # a child is no spouse
    ],
)
def test_reactivating_a_spouse_next_to_an_active_spouse_is_refused(dependents, code):
    from sevis_mock.server.rules.fm_dependents import spouse_not_already_active

    ctx = update_ctx(
        '<Dependent><Reactivate printForm="false" dependentSevisID="N0000000002"/></Dependent>',
        status="Active",
        dependents=dependents,
    )
    found = spouse_not_already_active(ctx)
    assert (found.code if found else None) == code
