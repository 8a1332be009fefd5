"""Unit tests of the rehearsal's parts: procedure file, re-addressing, school file, hints, runner, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from sevis_mock.harness.rehearsal import checks as checks_module
from sevis_mock.harness.rehearsal.checks import StepFailed, StepSkipped, StepWaiting, mock_detail
from sevis_mock.harness.rehearsal.context import Context, Target
from sevis_mock.harness.hints import FALLBACK, catalogue_message, hint
from sevis_mock.harness.rehearsal.model import BatchFile, Exchange, RecordOutcome, Rehearsal
from sevis_mock.harness.rehearsal.procedure import ProcedureError, load_procedure, parse_procedure
from sevis_mock.harness.rehearsal.readdress import BatchFileError, fresh_batch_id, readdress
from sevis_mock.harness.rehearsal.reports import write_html, write_json, write_junit
from sevis_mock.harness.rehearsal.reports.html import render_html
from sevis_mock.harness.rehearsal.runner import run_steps, unknown_checks
from sevis_mock.harness.rehearsal.sample import sample_batch
from sevis_mock.harness.rehearsal.school import SchoolFileError, load_school
from tests.support.reference import OFFICIAL_XSD, official_or_project

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL_FM_XSD = official_or_project(
    OFFICIAL_XSD / "6.55-fm" / "Create-UpdateStudent.xsd", "SEVISBatchCreateUpdateStudent"
)


# ---- procedure ------------------------------------------------------------------------------
def test_packaged_procedure_has_the_15_steps_each_with_an_existing_check():
    steps = load_procedure()
    assert [s.number for s in steps] == list(range(1, 16))
    assert len({s.id for s in steps}) == 15
    assert unknown_checks(steps) == []
    assert all(s.title and s.college and s.mock and s.required for s in steps)
    assert steps[11].id == "BATCH-12" and steps[11].needs == ("RTI-11",)


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("steps: []", "non-empty"),
        ("steps:\n  - {id: A, number: 1}", "missing title"),
        (
            "steps:\n  - {id: A, number: 1, title: t, college: c, mock: m, check: x, needs: [B], required: true}",
            "needs B",
        ),
    ],
)
def test_a_malformed_procedure_names_what_is_wrong(text, complaint):
    with pytest.raises(ProcedureError, match=complaint):
        parse_procedure(text)


# ---- re-addressing --------------------------------------------------------------------------
COLLEGE_FILE = ROOT / "fixtures" / "fm" / "create-three-students.xml"


def test_readdress_rewrites_header_user_ids_and_batch_id_and_lists_each_change():
    xml = COLLEGE_FILE.read_bytes()
    out, changes = readdress(xml, org_id="ABC214F12345000", user_id="ABCD123456", batch_id="RNEWBATCH00001")
    doc = etree.fromstring(out)
    assert doc.findtext("BatchHeader/OrgID") == "ABC214F12345000"
    assert doc.findtext("BatchHeader/BatchID") == "RNEWBATCH00001"
    assert {el.get("userID") for el in doc.iter() if el.get("userID")} == {"ABCD123456"}
    assert changes == [
        "BatchHeader/BatchID FMCREATE3STU01 -> RNEWBATCH00001",
        "BatchHeader/OrgID MCK214F00001000 -> ABC214F12345000",
        "userID MCKPDSO001 -> ABCD123456 (4 attributes)",
    ]
    # nothing else changed: the records are the college's own
    before = etree.fromstring(xml)
    assert [s.findtext("PersonalInfo/FullName/LastName") for s in doc.iter("Student")] == [
        s.findtext("PersonalInfo/FullName/LastName") for s in before.iter("Student")
    ]


def test_readdressed_file_is_still_valid_against_the_official_schema():
    schema = etree.XMLSchema(etree.parse(str(OFFICIAL_FM_XSD)))
    out, _ = readdress(
        COLLEGE_FILE.read_bytes(), org_id="ABC214F12345000", user_id="ABCD123456", batch_id=fresh_batch_id()
    )
    assert schema.validate(etree.fromstring(out)), schema.error_log


def test_sample_batch_is_valid_against_the_official_schema():
    schema = etree.XMLSchema(etree.parse(str(OFFICIAL_FM_XSD)))
    out, _ = readdress(sample_batch(), org_id="ABC214F12345000", user_id="ABCD123456", batch_id=fresh_batch_id())
    assert schema.validate(etree.fromstring(out)), schema.error_log


def test_fresh_batch_ids_are_14_characters_and_distinct():
    ids = [fresh_batch_id() for _ in range(50)]
    assert all(len(i) == 14 for i in ids) and len(set(ids)) == 50


@pytest.mark.parametrize(
    "xml, complaint",
    [
        (b"<SEVISBatchCreateUpdateStudent><BatchHeader>", "not well-formed"),
        (b'<!DOCTYPE x [<!ENTITY e "x">]><SEVISBatchCreateUpdateStudent/>', "DOCTYPE"),
        ((ROOT / "fixtures" / "j" / "create-with-dependent-and-site.xml").read_bytes(), "J exchange-visitor"),
        (b"<SEVISBatchCreateUpdateStudent userID='X'/>", "no BatchHeader"),
        (b"<Other/>", "not a SEVIS F/M batch"),
    ],
)
def test_readdress_refuses_files_it_cannot_use_and_says_why(xml, complaint):
    with pytest.raises(BatchFileError, match=complaint):
        readdress(xml, org_id="ABC214F12345000", user_id="ABCD123456", batch_id="RNEWBATCH00001")


# ---- school file ----------------------------------------------------------------------------
def test_school_file_overrides_the_sample(tmp_path):
    path = tmp_path / "school.yaml"
    path.write_text("school_name: Lakeside College\ncategory: fm\ncontact: {email: intl@lakeside.edu}\n")
    school, own = load_school(path)
    assert own and school["school_name"] == "Lakeside College" == school["organization_name"]
    assert school["category"] == "FM" and school["contact"]["email"] == "intl@lakeside.edu"
    assert school["contact"]["first_name"] == "Alex"  # the rest from the sample


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("colour: blue\n", "unknown key"),
        ("category: J\n", "not one of F, FM, M"),
        ("officials: [{role: DSO, first_name: A, last_name: B, email: a@b.edu, campus: 0}]\n", "exactly one PDSO"),
        (
            "campuses: [{name: X, main: false, address: {address1: a, city: c, state: IL, zip: '1'}}]\n",
            "exactly one campus",
        ),
        ("campuses: [{name: X, main: true, address: {city: c}}]\n", "address: missing address1"),
    ],
)
def test_bad_school_file_names_the_key(tmp_path, text, complaint):
    path = tmp_path / "school.yaml"
    path.write_text(text)
    with pytest.raises(SchoolFileError, match=complaint):
        load_school(path)


# ---- hints ----------------------------------------------------------------------------------
def test_hints_and_catalogue_messages():
    assert "funding" in hint("S1024").lower()
    assert catalogue_message("S1024") == "Financial expense must be less than financial funding"
    assert hint("S9876") == FALLBACK and catalogue_message("S9876") is None
    assert catalogue_message("S0004") is None  # reserved codes have no message


def test_every_hint_code_is_in_the_catalogue():
    from sevis_mock.harness.hints import hints
    from sevis_mock.server.catalog import catalogue

    known = catalogue()
    unknown = [code for code in hints() if code not in known and code != "S1005"]  # S1005: PROTOCOL §6
    assert unknown == []


# ---- runner ---------------------------------------------------------------------------------
PROCEDURE = """
steps:
  - {id: A, number: 1, title: first, college: c, mock: m, check: t_pass, needs: [], required: true}
  - {id: B, number: 2, title: second, college: c, mock: m, check: t_fail, needs: [A], required: true}
  - {id: C, number: 3, title: third, college: c, mock: m, check: t_pass, needs: [B], required: true}
  - {id: D, number: 4, title: fourth, college: c, mock: m, check: t_wait, needs: [A], required: true}
  - {id: E, number: 5, title: fifth, college: c, mock: m, check: t_crash, needs: [], required: false}
  - {id: F, number: 6, title: sixth, college: c, mock: m, check: t_nothing, needs: [A], required: false}
"""


@pytest.fixture
def fake_checks(monkeypatch):
    def t_pass(ctx):
        ctx.evidence.exchanges.append(Exchange("GET", "https://mock/x", 200, None, "{}", 3))
        return "did it"

    def t_fail(ctx):
        raise StepFailed("the mock said no; do this instead")

    def t_wait(ctx):
        raise StepWaiting("still S0030")

    def t_crash(ctx):
        raise ZeroDivisionError("boom")

    def t_nothing(ctx):
        raise StepSkipped("no batch was accepted")

    for fn in (t_pass, t_fail, t_wait, t_crash, t_nothing):
        monkeypatch.setitem(checks_module.CHECKS, fn.__name__, fn)


def _context(tmp_path) -> Context:
    target = Target(
        "https://mock", True, "https://mock/sbtsevis", "https://mock/sevp", "u", "p", "https://mock/outbox", "beta"
    )
    return Context(target=target, api=None, school={}, batch_sources=[], work_dir=tmp_path)


def _run(tmp_path) -> Rehearsal:
    rehearsal = Rehearsal(target="fake", environment="beta", started_at="2026-11-30T00:00:00+00:00")
    seen = []
    run_steps(_context(tmp_path), parse_procedure(PROCEDURE), rehearsal, on_done=seen.append)
    assert [s.id for s in seen] == list("ABCDEF")
    return rehearsal


def test_runner_statuses_skip_dependents_and_survive_a_crash(tmp_path, fake_checks):
    rehearsal = _run(tmp_path)
    got = {s.id: (s.status, s.summary) for s in rehearsal.steps}
    assert got["A"] == ("pass", "did it")
    assert got["B"] == ("fail", "the mock said no; do this instead")
    assert got["C"] == ("skip", "skipped: B did not pass")
    assert got["D"] == ("wait", "still S0030")
    assert got["E"] == ("fail", "unexpected ZeroDivisionError: boom")
    assert got["F"] == ("skip", "skipped: no batch was accepted")
    assert "ZeroDivisionError" in rehearsal.steps[4].evidence.log_excerpts[0]
    assert rehearsal.steps[0].evidence.exchanges[0].url == "https://mock/x"
    assert not rehearsal.passed


def test_rehearsal_passes_only_with_all_required_steps_and_no_rejected_record(tmp_path, fake_checks):
    rehearsal = Rehearsal(target="fake", environment="beta", started_at="x")
    procedure = parse_procedure(PROCEDURE.split("  - {id: B")[0])
    run_steps(_context(tmp_path), procedure, rehearsal)
    assert rehearsal.passed
    rehearsal.records.append(_record(ok=False))
    assert not rehearsal.passed


# ---- reports --------------------------------------------------------------------------------
def _record(ok: bool) -> RecordOutcome:
    if ok:
        return RecordOutcome(
            "mine.xml",
            "R2633400000001",
            "ABC214F12345000",
            "REQ-1",
            "N0001000001",
            True,
            None,
            None,
            None,
            ["N0001000001.pdf"],
        )
    return RecordOutcome(
        "mine.xml",
        "R2633400000001",
        "ABC214F12345000",
        "REQ-2",
        None,
        False,
        "S1024",
        "Financial expense must be less than financial funding",
        hint("S1024"),
    )


def _finished(tmp_path, fake_checks_used=True) -> Rehearsal:
    rehearsal = _run(tmp_path)
    rehearsal.records = [_record(True), _record(False)]
    rehearsal.batches = [
        BatchFile(
            "mine.xml",
            "R2633400000001",
            "ABC214F12345000",
            "ABCD123456",
            b"<x/>",
            ["BatchHeader/OrgID MCK214F00001000 -> ABC214F12345000"],
            False,
            "S0000",
            "S0020",
            "S0000",
            b"<TransactionLog><BatchHeader/></TransactionLog>",
            {"N0001000001": b"%PDF-1.4 test"},
        )
    ]
    rehearsal.seconds = 1.5
    return rehearsal


def test_json_report_says_what_happened(tmp_path, fake_checks):
    path = tmp_path / "r.json"
    write_json(_finished(tmp_path), path)
    data = json.loads(path.read_text())
    assert data["passed"] is False and data["rejected_records"] == 1
    assert data["counts"] == {"pass": 1, "fail": 2, "skip": 2, "wait": 1}
    assert [s["status"] for s in data["steps"]] == ["pass", "fail", "skip", "wait", "fail", "skip"]
    rejected = [r for r in data["records"] if not r["ok"]][0]
    assert (rejected["request_id"], rejected["code"]) == ("REQ-2", "S1024") and "funding" in rejected["hint"]
    assert data["batches"][0]["changes"] == ["BatchHeader/OrgID MCK214F00001000 -> ABC214F12345000"]
    assert data["batches"][0]["transaction_log"].startswith("<TransactionLog>")


def test_junit_report_has_a_testcase_per_step_and_per_record(tmp_path, fake_checks):
    path = tmp_path / "r.xml"
    write_junit(_finished(tmp_path), path)
    root = etree.parse(str(path)).getroot()
    steps, records = root.findall("testsuite")
    assert (steps.get("tests"), steps.get("failures"), steps.get("skipped")) == ("6", "3", "2")
    cases = steps.findall("testcase")
    assert cases[0].find("failure") is None and cases[1].find("failure").get("message").startswith("the mock said no")
    assert cases[2].find("skipped") is not None and cases[3].find("failure").get("type") == "wait"
    assert (records.get("tests"), records.get("failures")) == ("2", "1")
    failure = records.findall("testcase")[1].find("failure")
    assert failure.get("message") == "S1024: Financial expense must be less than financial funding"
    assert "REQ-2" in failure.text and "fix:" in failure.text


def test_html_report_is_self_contained_and_escapes(tmp_path, fake_checks):
    rehearsal = _finished(tmp_path)
    rehearsal.records[1].message = "<script>alert(1)</script>"
    page = render_html(rehearsal)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Rehearsal <b>FAILED</b>" in page
    assert 'download="N0001000001.pdf" href="data:application/pdf;base64,' in page
    assert "https://mock/x" in page  # the HTTP transaction log
    assert "S1024" in page and "funding" in page
    for external in ('src="http', 'href="http', "<link", "@import"):
        assert external not in page
    path = tmp_path / "r.html"
    write_html(rehearsal, path)
    assert path.read_text(encoding="utf-8") == page


def test_mock_detail_reads_the_mocks_explanation_from_a_refusal():
    log = (
        b"<?xml version='1.0'?><TransactionLog><!-- sevis-mock: S0013: line 18: Gender: not expected -->"
        b"<BatchHeader/></TransactionLog>"
    )
    assert mock_detail(log) == "line 18: Gender: not expected"
    assert mock_detail(b"<TransactionLog><!-- something else --></TransactionLog>") is None
    assert mock_detail(b"not xml") is None


def test_terminal_summary_names_refused_batches_and_rejected_records(tmp_path, fake_checks):
    from sevis_mock.harness.rehearsal.reports.terminal import summary_lines

    rehearsal = _finished(tmp_path)
    rehearsal.batches[0].upload_code = "S0013"
    text = "\n".join(summary_lines(rehearsal))
    assert "REFUSED   mine.xml (BatchID R2633400000001): upload S0013 XML does not comply with SEVIS schema" in text
    assert "REJECTED  REQ-2" in text and "S1024: Financial expense" in text
    assert "fix: Make the funding" in text
    assert text.splitlines()[-1].startswith("REHEARSAL FAILED: 1/6 steps passed")
