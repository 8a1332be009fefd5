"""`sevis-mock rehearse` end to end: a real CLI run against a real mock (embedded, or a running one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

from sevis_mock.harness.rehearsal.cli import rehearse_command
from sevis_mock.harness.rehearsal.sample import sample_batch

ROOT = Path(__file__).resolve().parents[1]


def rehearse(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sevis_mock", "rehearse", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def reports(tmp_path: Path) -> tuple[list[str], dict]:
    names = {"json": tmp_path / "r.json", "junit": tmp_path / "r.xml", "html": tmp_path / "r.html"}
    return [arg for kind, path in names.items() for arg in (f"--{kind}", str(path))], names


def step_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("[")]


@pytest.mark.slow
@pytest.mark.server
def test_clean_rehearsal_passes_the_15_steps_and_every_report_says_so(tmp_path):
    args, files = reports(tmp_path)
    run = rehearse(*args)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = step_lines(run.stdout)
    assert len(lines) == 15 and all(" PASS " in line for line in lines), run.stdout
    assert "REHEARSAL PASSED: 15/15 steps passed" in run.stdout

    data = json.loads(files["json"].read_text())
    assert data["passed"] is True and data["counts"] == {"pass": 15, "fail": 0, "skip": 0, "wait": 0}
    steps = {s["id"]: s for s in data["steps"]}
    assert [e["kind"] for e in steps["RTI-03"]["evidence"]["emails"]] == ["temporary-user-id", "set-password"]
    school_code = steps["SEVP-09"]["evidence"]["ids"]["school_code"]
    assert len(school_code) == 15 and school_code[3:7] == "214F" and school_code.endswith("000")
    assert any("development CA certificate" in n for n in steps["RTI-11"]["evidence"]["notes"])
    assert steps["BATCH-12"]["evidence"]["uploads"][0]["code"] == "S0000"
    assert all(s["evidence"]["exchanges"] or s["evidence"]["uploads"] or s["id"] == "BATCH-14" for s in data["steps"])
    assert not any(
        "set-password/" in e["url"] and "<token>" not in e["url"]
        for s in data["steps"]
        for e in s["evidence"]["exchanges"]
    )  # secrets stay out of reports
    records = data["records"]
    assert [(r["request_id"], r["ok"]) for r in records] == [("SAMPLE-0001", True), ("SAMPLE-0002", True)]
    assert all(r["sevis_id"] and r["forms"] == [f"{r['sevis_id']}.pdf"] for r in records)
    batch = data["batches"][0]
    assert batch["sample"] is True and batch["org_id"] == school_code
    assert f"BatchHeader/OrgID AAA214F00000000 -> {school_code}" in batch["changes"]

    root = etree.parse(str(files["junit"])).getroot()
    step_suite, record_suite = root.findall("testsuite")
    assert (step_suite.get("tests"), step_suite.get("failures"), step_suite.get("skipped")) == ("15", "0", "0")
    assert (record_suite.get("tests"), record_suite.get("failures")) == ("2", "0")

    page = files["html"].read_text()
    assert "Rehearsal <b>PASSED</b>" in page and school_code in page
    for r in records:
        assert f'download="{r["sevis_id"]}.pdf" href="data:application/pdf;base64,' in page


def bad_college_batch() -> bytes:
    """The sample batch as a college's student system would export it (its own school code and user), with
    SAMPLE-0002's funding cut below its expenses (S1024)."""
    doc = etree.fromstring(sample_batch())
    doc.find("BatchHeader/OrgID").text = "XYZ214F99999000"
    for el in doc.iter():
        if el.get("userID"):
            el.set("userID", "PSOFTUSER1")
    second = doc.findall("CreateStudent/Student")[1]
    second.find("FinancialInfo/Funding/School/Amount").text = "1000"
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def college_p12(tmp_path: Path) -> tuple[Path, Path, x509.Certificate]:
    """A certificate the college bought (from a CA the mock does not know), as PKCS#12, and that CA."""
    ca = trustme.CA(organization_name="Commercial CA (test)")
    leaf = ca.issue_cert("batch.lakeside.example.edu")
    cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    p12 = tmp_path / "college.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"college", key, cert, None, serialization.BestAvailableEncryption(b"s3cret")
        )
    )
    ca_file = tmp_path / "commercial-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return p12, ca_file, cert


@pytest.mark.slow
@pytest.mark.server
def test_a_college_batch_with_a_bad_record_fails_naming_the_record_code_and_fix(tmp_path):
    batch = tmp_path / "peoplesoft-export.xml"
    batch.write_bytes(bad_college_batch())
    school = tmp_path / "school.yaml"
    school.write_text("school_name: Lakeside Community College\ncategory: FM\n")
    p12, ca_file, cert = college_p12(tmp_path)
    args, files = reports(tmp_path)
    run = rehearse(
        "--batch",
        str(batch),
        "--school",
        str(school),
        "--p12",
        str(p12),
        "--p12-password",
        "s3cret",
        "--trust",
        str(ca_file),
        *args,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    lines = step_lines(run.stdout)
    assert [" PASS " in line for line in lines] == [True] * 14 + [False], run.stdout
    assert " FAIL " in lines[14] and "BATCH-15" in lines[14]
    rejected = [line for line in run.stdout.splitlines() if "REJECTED" in line]
    assert len(rejected) == 1 and "SAMPLE-0002" in rejected[0] and "S1024" in rejected[0]
    assert "Financial expense must be less than financial funding" in rejected[0]
    assert "fix: Make the funding" in run.stdout
    assert "REHEARSAL FAILED" in run.stdout

    data = json.loads(files["json"].read_text())
    assert data["passed"] is False and data["rejected_records"] == 1
    assert data["school"]["school_name"] == "Lakeside Community College"
    by_request = {r["request_id"]: r for r in data["records"]}
    assert by_request["SAMPLE-0001"]["ok"] is True
    bad = by_request["SAMPLE-0002"]
    assert (bad["ok"], bad["code"], bad["sevis_id"]) == (False, "S1024", None)
    assert bad["message"] == "Financial expense must be less than financial funding"
    assert bad["hint"].startswith("Make the funding") and bad["batch_file"] == str(batch)
    steps = {s["id"]: s for s in data["steps"]}
    school_code = steps["SEVP-09"]["evidence"]["ids"]["school_code"]
    changes = data["batches"][0]["changes"]
    assert f"BatchHeader/OrgID XYZ214F99999000 -> {school_code}" in changes
    assert any(c.startswith("userID PSOFTUSER1 -> ") and "(3 attributes)" in c for c in changes)
    assert any(
        f"college certificate {cert.subject.rfc4514_string()}" in n for n in steps["RTI-11"]["evidence"]["notes"]
    )
    assert steps["BATCH-15"]["status"] == "fail" and "SAMPLE-0002 S1024" in steps["BATCH-15"]["summary"]

    root = etree.parse(str(files["junit"])).getroot()
    step_suite, record_suite = root.findall("testsuite")
    assert step_suite.get("failures") == "1" and record_suite.get("failures") == "1"
    failure = record_suite.find("testcase[failure]/failure")
    assert failure.get("message") == "S1024: Financial expense must be less than financial funding"
    assert "SAMPLE-0002" in failure.text and "fix: Make the funding" in failure.text

    page = files["html"].read_text()
    assert "Rehearsal <b>FAILED</b>" in page and "SAMPLE-0002" in page and "XYZ214F99999000" in page


def test_against_a_running_server_processing_later_the_steps_wait(server_factory, tmp_path):
    server = server_factory("--processing-delay", "3600")
    args, files = reports(tmp_path)
    run = rehearse(
        "--server", server.base_url, "--connection", str(server.data_dir / "connection.json"), "--timeout", "1", *args
    )
    assert run.returncode == 1, run.stdout + run.stderr
    data = json.loads(files["json"].read_text())
    assert [s["status"] for s in data["steps"]] == ["pass"] * 12 + ["wait", "skip", "skip"]
    assert "not processed after 1 s (S0030)" in data["steps"][12]["summary"]
    assert data["target"] == server.base_url
    assert etree.parse(str(files["junit"])).getroot().find("testsuite").get("failures") == "1"


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--batch", str(ROOT / "fixtures" / "j" / "create-with-dependent-and-site.xml")], "J exchange-visitor"),
        (["--batch", str(ROOT / "fixtures" / "bad" / "not-well-formed.xml")], "not well-formed"),
        (["--cert", str(ROOT / "pyproject.toml")], "--cert and --key go together"),
        (["--server", "https://127.0.0.1:1", "--data-dir", "x"], "configure the embedded mock"),
        (["--environment", "gamma"], "gamma"),
        (["--html", "/nonexistent-folder/r.html"], "the folder /nonexistent-folder does not exist"),
    ],
)
def test_usage_errors_exit_2_and_say_what_to_fix(args, complaint):
    result = CliRunner().invoke(rehearse_command, args)
    assert result.exit_code == 2, result.output
    assert complaint in result.output


def test_a_bad_school_file_is_a_usage_error(tmp_path):
    school = tmp_path / "school.yaml"
    school.write_text("campuses: []\n")
    result = CliRunner().invoke(rehearse_command, ["--school", str(school)])
    assert result.exit_code == 2 and "give 1 to 3 campuses" in result.output


def test_against_a_server_without_a_certificate_to_register_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./.sevis-mock/connection.json here
    result = CliRunner().invoke(rehearse_command, ["--server", "https://127.0.0.1:9"])
    assert result.exit_code == 2 and "give --cert/--key or --p12" in result.output
