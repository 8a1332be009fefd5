"""`sevis-mock validate` offline: verdicts, problems with line/path/code/message/hint, exit codes, state."""

from __future__ import annotations

import copy
import json
import time

import pytest
from click.testing import CliRunner
from lxml import etree

from sevis_mock.fixtures import fixtures_root, load_catalog, read_fixture, render_template
from sevis_mock.harness.validate import State, Validator, hints, validate_command
from sevis_mock.harness.lifecycle import letters
from sevis_mock.server.catalog import catalogue
from sevis_mock.server.validation import SchemaSet
from tests.support.reference import OFFICIAL_XSD, official

SCHEMAS = SchemaSet.discover([])


def run(*args: str):
    return CliRunner().invoke(validate_command, list(args), catch_exceptions=False)


def fixture_path(name: str) -> str:
    return str(fixtures_root() / name)


def student_state(sevis_id: str, last_name: str, status: str = "Initial") -> dict:
    """A record as GET /control/records/<sevis_id> describes it, created from fm/create-with-dependent.xml."""
    doc = etree.fromstring(read_fixture("fm/create-with-dependent.xml"))
    student = copy.deepcopy(doc.find("CreateStudent/Student"))
    student.find("PersonalInfo/FullName/LastName").text = last_name
    for dep in student.findall("CreateDependent"):
        student.remove(dep)
    return {
        "sevis_id": sevis_id,
        "org_id": "MCK214F00001000",
        "environment": "beta",
        "kind": "F/M",
        "status": status,
        "principal_sevis_id": None,
        "surname": last_name,
        "given_name": "PRIYA LAKSHMI",
        "birth_date": "1999-03-14",
        "request_id": "FMDEP-0001",
        "dependents": [],
        "data": etree.tostring(student, encoding="unicode"),
        "history": [],
    }


# --- upload verdicts ------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [e for e in load_catalog() if not e["template"]], ids=lambda e: e["file"])
def test_fixture_verdicts_match_the_catalog(entry):
    validator = Validator(SCHEMAS, rules=True, orgid=entry["org_id"], batchid=entry["batch_id"])
    verdict = validator.check(read_fixture(entry["file"]), entry["file"])
    assert verdict.upload == entry["upload"]
    assert verdict.process == entry["process"]
    assert verdict.records == entry["records"]
    assert verdict.clean == (entry["upload"] == "S0000" and entry["process"] == "S0000")


def test_schema_problems_carry_line_path_code_message_and_hint():
    verdict = Validator(SCHEMAS).check(read_fixture("bad/schema-invalid-fm.xml"), "bad.xml")
    assert verdict.upload == "S0013" and verdict.problems
    problem = verdict.problems[0]
    assert problem.code == "S0013"
    assert problem.message == catalogue()["S0013"].message
    assert problem.line and problem.line > 1
    assert problem.path.startswith("/SEVISBatchCreateUpdateStudent/CreateStudent/Student")
    assert problem.reason and problem.hint == hints()["S0013"]


def test_not_well_formed_names_the_line():
    verdict = Validator(SCHEMAS).check(read_fixture("bad/not-well-formed.xml"))
    [problem] = verdict.problems
    assert (verdict.upload, problem.code) == ("S0012", "S0012")
    source = read_fixture("bad/not-well-formed.xml").decode().splitlines()
    assert "<PrgStart" in source[problem.line - 1]


def test_upload_fields_other_than_the_header_are_posting_errors():
    data = read_fixture("bad/header-orgid-mismatch-fm.xml")
    assert Validator(SCHEMAS).check(data).upload == "S0000"  # by default the header is the upload's fields
    verdict = Validator(SCHEMAS, orgid="MCK214F00001000").check(data)
    assert verdict.upload == "S0012" and "MCK214F00009999" in verdict.problems[0].reason
    assert (
        Validator(SCHEMAS, batchid="SOMEOTHERBATCH").check(read_fixture("fm/create-three-students.xml")).upload
        == "S0012"
    )
    kind = Validator(SCHEMAS, orgid="P-1-12345").check(read_fixture("fm/create-three-students.xml"))
    assert kind.upload == "S0013" and "SEVISBatchCreateUpdateEV" in kind.problems[0].reason


def test_a_document_over_the_size_limit_is_s0012():
    verdict = Validator(SCHEMAS, max_body_bytes=100).check(read_fixture("fm/create-three-students.xml"))
    assert verdict.upload == "S0012" and "larger than 100 bytes" in verdict.problems[0].reason


def test_without_rules_there_is_no_process_verdict():
    verdict = Validator(SCHEMAS).check(read_fixture("fm/rule-S1009-program-end-before-start.xml"))
    assert (verdict.upload, verdict.process, verdict.clean) == ("S0000", None, True)


# --- rules against a described state ----------------------------------------------------------------


def test_updates_are_judged_against_the_state():
    registration = render_template("fm/template-registration.xml", "N0000000007")
    complete = render_template("fm/template-status-complete.xml", "N0000000007")
    initial = Validator(SCHEMAS, state=State([student_state("N0000000007", "RAGHAVAN")]), rules=True)
    assert initial.check(registration).records == {"TPL-REGISTER-0001": None}
    assert initial.check(complete).records == {"TPL-COMPLETE-0001": "S1054"}  # Complete needs an Active student
    # Every document is judged against the same state: the registration above was rolled back.
    assert initial.check(complete).records == {"TPL-COMPLETE-0001": "S1054"}
    active = Validator(SCHEMAS, state=State([student_state("N0000000007", "RAGHAVAN", "Active")]), rules=True)
    assert active.check(complete).records == {"TPL-COMPLETE-0001": None}
    unknown = Validator(SCHEMAS, rules=True).check(registration)
    assert unknown.records == {"TPL-REGISTER-0001": "S1003"}
    [problem] = unknown.problems
    assert (
        problem.request_id == "TPL-REGISTER-0001"
        and problem.path == "/SEVISBatchCreateUpdateStudent/UpdateStudent/Student"
    )
    lines = registration.decode().splitlines()
    assert 'requestID="TPL-REGISTER-0001"' in lines[problem.line - 1] and problem.hint == hints()["S1003"]


def test_a_create_duplicating_a_state_record_is_s1004():
    state = State([student_state("N0000000007", "RAGHAVAN", "Active")])
    verdict = Validator(SCHEMAS, state=state, rules=True).check(read_fixture("fm/create-with-dependent.xml"))
    assert verdict.records == {"FMDEP-0001": "S1004"}
    fresh = Validator(SCHEMAS, state=State([student_state("N0000000007", "OTHERNAME", "Active")]), rules=True)
    assert fresh.check(read_fixture("fm/create-with-dependent.xml")).records == {"FMDEP-0001": None}


def test_state_files_in_every_documented_shape(tmp_path):
    one = student_state("N0000000007", "RAGHAVAN", "Active")
    for name, content in (("list.json", {"records": [one]}), ("bare.json", [one]), ("one.json", one)):
        path = tmp_path / name
        path.write_text(json.dumps(content))
        assert [r["sevis_id"] for r in State.load(path).records] == ["N0000000007"]


def test_state_given_as_nested_element_data(tmp_path):
    """`data` as a nested dict of element names (the records API's shape) works like the XML."""
    record = student_state("N0000000007", "RAGHAVAN", "Active")
    record["data"] = {
        "PersonalInfo": {
            "FullName": {"LastName": "RAGHAVAN", "FirstName": "PRIYA LAKSHMI"},
            "BirthDate": "1999-03-14",
            "Gender": "F",
            "BirthCountryCode": "IN",
        }
    }
    verdict = Validator(SCHEMAS, state=State([record]), rules=True).check(read_fixture("fm/create-with-dependent.xml"))
    assert verdict.records == {"FMDEP-0001": "S1004"}


# --- the command ------------------------------------------------------------------------------------


def test_exit_codes():
    assert run(fixture_path("fm/create-three-students.xml")).exit_code == 0
    assert run("--rules", fixture_path("fm/rule-S1009-program-end-before-start.xml")).exit_code == 1
    assert run(fixture_path("bad/schema-invalid-fm.xml")).exit_code == 1
    assert run("no/such/file.xml").exit_code == 2
    assert run("--clock", "tomorrow", fixture_path("fm/create-three-students.xml")).exit_code == 2


def test_usage_errors_say_what_to_fix(tmp_path):
    bad_state = tmp_path / "state.json"
    bad_state.write_text('{"records": [{"sevis_id": "N0000000001"}]}')
    result = run("--state", str(bad_state), fixture_path("fm/create-three-students.xml"))
    assert result.exit_code == 2 and "lacks org_id, kind, status" in result.output
    bad_state.write_text("not json")
    assert "not readable JSON" in run("--state", str(bad_state), fixture_path("fm/create-three-students.xml")).output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(str(empty))
    assert result.exit_code == 2 and "no .xml files" in result.output
    result = run("--schemas", str(empty), fixture_path("fm/create-three-students.xml"))
    assert result.exit_code == 2 and "--schemas" in result.output


def test_text_report_shows_each_problem():
    result = run("--rules", fixture_path("fm/rule-S1024-expenses-exceed-funding.xml"))
    assert "S1024 record S1024-0002 line" in result.output
    assert f"SEVIS: {catalogue()['S1024'].message}" in result.output
    assert f"fix:   {hints()['S1024']}" in result.output


def test_json_output_for_a_directory():
    result = run("--json", "--rules", str(fixtures_root() / "bad"), str(fixtures_root() / "j"))
    assert result.exit_code == 1
    report = json.loads(result.output)
    by_file = {v["file"].split("fixtures/")[-1]: v for v in report["files"]}
    assert by_file["bad/not-well-formed.xml"]["upload"] == "S0012"
    assert by_file["bad/schema-invalid-fm.xml"]["problems"][0]["line"] > 1
    assert by_file["j/create-with-dependent-and-site.xml"]["clean"] is True
    assert by_file["j/rule-S2282-program-end-before-start.xml"]["records"] == {"JVR-0001": None, "JVR-0002": "S2282"}
    assert report["summary"] == {
        "files": len(by_file),
        "clean": sum(v["clean"] for v in by_file.values()),
        "with_problems": sum(not v["clean"] for v in by_file.values()),
    }


def test_directory_summary_table():
    result = run("--rules", str(fixtures_root() / "fm"))
    lines = result.output.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("file ")))
    assert "upload  process  problems" in lines[header]
    rows = lines[header + 1 : -1]
    assert any("create-three-students.xml" in r and "S0000   S0000" in r for r in rows)
    assert lines[-1].endswith("with problems") and lines[-1].startswith(f"{len(rows)} files:")


def test_hint_table_covers_the_batch_dispositions_and_is_catalogued():
    table = hints()
    for code in ("S0012", "S0013", "S1003", "S1004", "S1009", "S1024", "S2001", "S2282"):
        assert table[code]
    assert set(table) - set(catalogue()) == {"S1005"}  # S1005: PROTOCOL §6, not in ICE's catalogue


# --- a 500-record document (time reported, not asserted) ------------------------------------------


@pytest.mark.slow
def test_five_hundred_records(tmp_path, capsys):
    """250 creates and 250 Registration updates against 250 records of state, with the rules."""
    doc = etree.fromstring(read_fixture("fm/create-three-students.xml"))
    create = doc.find("CreateStudent")
    template = create.find("Student")
    for s in create.findall("Student"):
        create.remove(s)
    registration = etree.fromstring(render_template("fm/template-registration.xml", "N0000000001"))
    event = registration.find("UpdateStudent/Student")
    update = etree.SubElement(doc, "UpdateStudent")
    states = []
    for n in range(250):
        student = copy.deepcopy(template)
        student.set("requestID", f"C{n:04d}")
        student.find("PersonalInfo/FullName/LastName").text = f"STUDENT {letters(n)}"
        create.append(student)
        sevis_id = f"N{2_000_000_000 + n:010d}"
        states.append(student_state(sevis_id, f"EXISTING {letters(n)}"))
        upd = copy.deepcopy(event)
        upd.set("sevisID", sevis_id)
        upd.set("requestID", f"U{n:04d}")
        update.append(upd)
    path = tmp_path / "five-hundred.xml"
    path.write_bytes(etree.tostring(doc, xml_declaration=True, encoding="UTF-8"))
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"records": states}))

    started = time.perf_counter()
    result = run("--json", "--state", str(state), str(path))
    elapsed = time.perf_counter() - started
    [verdict] = json.loads(result.output)["files"]
    assert (verdict["upload"], verdict["process"]) == ("S0000", "S0000"), verdict["problems"][:3]
    assert len(verdict["records"]) == 500 and result.exit_code == 0
    with capsys.disabled():
        print(f"\nvalidate --rules --state on 500 records: {elapsed:.2f} s wall")


def test_records_api_data_turns_back_into_the_same_xml():
    from sevis_mock.server.batch.judge import _document
    from sevis_mock.server.records.queries import xml_data

    student = etree.fromstring(read_fixture("fm/create-with-dependent.xml")).find("CreateStudent/Student")
    etree.strip_tags(student, etree.Comment)
    rebuilt = _document({"data": {"Student": xml_data(student)}}, "Student")
    for el in student.iter():
        el.tail = None
        if el.text is not None and not el.text.strip():
            el.text = None
    assert etree.tostring(rebuilt, method="c14n", exclusive=True) == etree.tostring(
        student, method="c14n", exclusive=True
    )


def test_a_processor_failure_is_reported_not_raised(monkeypatch):
    from sevis_mock.server.batch.processing import BatchProcessor

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(BatchProcessor, "run", broken)
    verdict = Validator(SCHEMAS, rules=True).check(read_fixture("fm/create-three-students.xml"))
    assert verdict.upload == "S0000" and verdict.process is None and not verdict.clean
    assert verdict.problems[0].code == "S0030" and "RuntimeError: boom" in verdict.problems[0].reason


@official
def test_official_schemas_as_for_serve():

    official = str(OFFICIAL_XSD / "6.55-fm")
    assert run("--schemas", official, fixture_path("fm/create-three-students.xml")).exit_code == 0
    result = run("--json", "--schemas", official, fixture_path("bad/schema-invalid-fm.xml"))
    assert result.exit_code == 1 and json.loads(result.output)["files"][0]["upload"] == "S0013"


def test_state_profiles_decide_the_rules_that_read_them(tmp_path):
    kw = (fixtures_root() / "rules/j/S2250-not-a-korea-west-sponsor/batch.xml").read_bytes()
    kw = kw.replace(b"{{BATCH_ID}}", b"KWOFFLINE00001")
    assert Validator(SCHEMAS, state=State(), rules=True).check(kw).records == {"J2250-0": "S2250"}
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps({"records": [], "profiles": {"P-1-12345": {"korea_west": True, "form_allotment_base": 3}}})
    )
    assert Validator(SCHEMAS, state=State.load(path), rules=True).check(kw).records == {"J2250-0": None}
    path.write_text(json.dumps({"records": [], "profiles": {"P-1-12345": {"korea_west": "yes"}}}))
    with pytest.raises(Exception, match="profile of P-1-12345: korea_west must be true or false"):
        State.load(path)
