"""`sevis-mock rehearse --sponsor`: the J path (Form DS-3036, the Department of State's designation, the RO's
batch registration, EV batches) end to end, through the real CLI against an embedded mock."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from lxml import etree

from sevis_mock.fixtures import read_fixture
from sevis_mock.harness.rehearsal.cli import rehearse_command
from sevis_mock.harness.rehearsal.procedure import load_procedure
from sevis_mock.harness.rehearsal.readdress import BatchFileError, readdress
from sevis_mock.harness.rehearsal.sponsor import SponsorFileError, load_sponsor
from tests.test_rehearse import rehearse, reports, step_lines


@pytest.mark.slow
@pytest.mark.server
def test_sponsor_rehearsal_passes_every_step_on_defaults_and_every_report_shows_the_j_steps(tmp_path):
    args, files = reports(tmp_path)
    run = rehearse("--sponsor", *args)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = step_lines(run.stdout)
    assert len(lines) == 15 and all(" PASS " in line for line in lines), run.stdout
    assert "REHEARSAL PASSED: 15/15 steps passed" in run.stdout
    assert "Fill in Form DS-3036 for the test program" in run.stdout and "ARO" in run.stdout

    data = json.loads(files["json"].read_text())
    assert data["passed"] is True and data["kind"] == "J" and data["sponsor"]["program_type"] == "P-3"
    steps = {s["id"]: s for s in data["steps"]}
    assert list(steps) == [s.id for s in load_procedure(kind="J")]
    program = steps["DOS-09"]["evidence"]["ids"]["program_number"]
    assert program.startswith("P-3-") and len(program) == 9
    assert steps["DOS-09"]["evidence"]["ids"]["designated categories"] == "08, 2A"
    assert steps["RTI-11"]["summary"].startswith("ARO ") and "refused (403)" in steps["RTI-11"]["summary"]
    create, update = data["batches"]
    assert (create["org_id"], update["org_id"]) == (program, program)
    assert any(c.startswith("sevisID of JSAMPLE-0001 -> N") for c in update["changes"])
    records = {r["request_id"]: r for r in data["records"]}
    assert set(records) == {"JSAMPLE-0001", "JSAMPLE-0002", "JSAMPLE-U001", "JSAMPLE-U002"}
    assert all(r["ok"] for r in records.values())
    scholar, trainee = records["JSAMPLE-0001"], records["JSAMPLE-0002"]
    assert scholar["forms"] == [f"{scholar['sevis_id']}.pdf"]  # DS-2019
    assert sorted(trainee["forms"]) == [f"{trainee['sevis_id']}-7002.pdf", f"{trainee['sevis_id']}.pdf"]
    log = etree.fromstring(create["transaction_log"].encode())
    first = log.find(".//Record[@requestID='JSAMPLE-0001']")
    assert first.find("Dependent") is not None and first.find("SiteOfActivity") is not None  # spouse and site

    root = etree.parse(str(files["junit"])).getroot()
    step_suite, record_suite = root.findall("testsuite")
    assert (step_suite.get("tests"), step_suite.get("failures"), record_suite.get("tests")) == ("15", "0", "4")
    assert any("DOS-09" in case.get("name") for case in step_suite)
    evidence = "\n".join(case.findtext("system-out") or "" for case in step_suite)
    assert "sponsor: " in evidence and "college:" not in evidence  # the actor named as in the HTML report

    page = files["html"].read_text()
    assert "Rehearsal <b>PASSED</b>" in page and "test program" in page and program in page
    assert "The Department of State designates the program" in page
    assert "<b>Sponsor:</b> Waits for the Department of State" in page and "College:" not in page


@pytest.mark.slow
@pytest.mark.server
def test_sponsor_batch_with_program_ending_before_it_starts_exits_1_naming_record_code_and_fix(tmp_path):
    batch = tmp_path / "our-sponsor-export.xml"
    batch.write_bytes(read_fixture("j/rule-S2282-program-end-before-start.xml"))
    args, files = reports(tmp_path)
    run = rehearse("--kind", "J", "--batch", str(batch), *args)
    assert run.returncode == 1, run.stdout + run.stderr
    rejected = [line for line in run.stdout.splitlines() if "REJECTED" in line]
    assert len(rejected) == 1 and "JVR-0002" in rejected[0] and "S2282" in rejected[0], run.stdout
    assert "fix: Set the program end date after the program start date." in run.stdout
    data = json.loads(files["json"].read_text())
    assert data["sponsor"]["categories"] == ["08", "09"]  # the DS-3036 applied for the categories the batch uses
    bad = next(r for r in data["records"] if not r["ok"])
    assert (bad["request_id"], bad["code"]) == ("JVR-0002", "S2282") and "after" in bad["hint"]
    assert data["steps"][-1]["status"] == "fail"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sponsor", "--batch", "fixtures/fm/create-three-students.xml"], "is an F/M student batch"),
        (["--batch", "fixtures/j/create-with-dependent-and-site.xml"], "rehearse as a sponsor with --sponsor"),
        (["--sponsor", "--school", "pyproject.toml"], "a sponsor's details go in --sponsor-file"),
        (["--kind", "F/M", "--sponsor"], "--sponsor and --sponsor-file are for a J sponsor"),
    ],
)
def test_usage_errors_name_the_kind_mismatch(args, message):
    result = CliRunner().invoke(rehearse_command, args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_sponsor_file_merges_with_the_sample_and_names_what_is_wrong(tmp_path):
    own = tmp_path / "sponsor.yaml"
    own.write_text("sponsor_name: Our Exchange\nprogram_type: p-1\ncategories: [08, 03]\n")
    sponsor, given = load_sponsor(own)
    assert given and sponsor["sponsor_name"] == sponsor["organization_name"] == "Our Exchange"
    assert (sponsor["program_type"], sponsor["categories"]) == ("P-1", ["08", "03"])
    for text, message in [
        ("program_type: P-2\n", "program_type: 'P-2'"),
        ("officials: [{role: ARO, first_name: A, last_name: B, email: a@example.org}]\n", "exactly one official"),
        ("sites: []\n", "sites: give 1 to 3"),
        ("campuses: []\n", "unknown key(s) campuses"),
    ]:
        own.write_text(text)
        with pytest.raises(SponsorFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_sponsor(own)


def test_readdress_takes_ev_batches_only_for_a_sponsor():
    xml = read_fixture("j/create-with-dependent-and-site.xml")
    out, changes = readdress(xml, org_id="P-3-30001", user_id="ROUSER0001", batch_id="B" * 14, kind="J")
    assert b"<OrgID>P-3-30001</OrgID>" in out and "userID MCKRO00001 -> ROUSER0001 (2 attributes)" in changes
    with pytest.raises(BatchFileError, match="is a J exchange-visitor batch"):
        readdress(xml, org_id="AAA214F00000000", user_id="A" * 10, batch_id="B" * 14)


def test_against_a_running_server_processing_later_the_update_waits_for_the_create(server_factory, tmp_path):
    """Through a running mock's connection.json (its Department of State console included): steps 1-11 pass;
    the sample update needs the SEVIS IDs of the create, which the server processes only in an hour."""
    server = server_factory("--processing-delay", "3600", "--fast-passwords")
    args, files = reports(tmp_path)
    connection = str(server.data_dir / "connection.json")
    run = rehearse("--sponsor", "--server", server.base_url, "--connection", connection, "--timeout", "1", *args)
    assert run.returncode == 1, run.stdout + run.stderr
    data = json.loads(files["json"].read_text())
    assert [s["status"] for s in data["steps"]] == ["pass"] * 11 + ["wait", "wait", "skip", "skip"], run.stdout
    assert "sample-update-ev.xml updates records of batch" in data["steps"][11]["summary"]
    assert "not processed after 1 s (S0030)" in data["steps"][11]["summary"]
    assert data["steps"][8]["evidence"]["ids"]["program_number"].startswith("P-3-")
