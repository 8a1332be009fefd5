"""`sevis-mock rehearse` with a rejected record: the exit code and reports, then the HTML report as a
college would open it (in Chromium, from disk, with no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from sevis_mock.harness.rehearsal.sample import sample_batch

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.server, pytest.mark.slow]  # `rehearse` runs its embedded mock


@pytest.fixture(scope="module")
def rejected_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rehearse")
    doc = etree.fromstring(sample_batch())
    doc.findall("CreateStudent/Student")[0].find("FinancialInfo/Funding/Personal").text = "100"  # S1024
    batch = folder / "registrar-export.xml"
    batch.write_bytes(etree.tostring(doc, xml_declaration=True, encoding="UTF-8"))
    files = {kind: folder / f"report.{ext}" for kind, ext in (("json", "json"), ("junit", "xml"), ("html", "html"))}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sevis_mock",
            "rehearse",
            "--batch",
            str(batch),
            *[a for kind, path in files.items() for a in (f"--{kind}", str(path))],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return run, files


def test_rehearse_with_a_rejected_record_exits_1_and_every_report_names_it(rejected_run):
    run, files = rejected_run
    assert run.returncode == 1, run.stdout + run.stderr
    assert "REJECTED  SAMPLE-0001" in run.stdout and "S1024" in run.stdout and "fix: " in run.stdout
    data = json.loads(files["json"].read_text())
    assert [(r["request_id"], r["code"]) for r in data["records"] if not r["ok"]] == [("SAMPLE-0001", "S1024")]
    junit = etree.parse(str(files["junit"])).getroot()
    assert junit.find("testsuite[@name='records']/testcase/failure").get("message").startswith("S1024: ")


def test_the_html_report_shows_the_verdict_the_rejected_record_and_its_fix(rejected_run, browser_page):
    _, files = rejected_run
    page = browser_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(files["html"].resolve().as_uri())
    assert "FAILED" in page.title()
    verdict = page.locator("#verdict").inner_text()
    assert "Rehearsal FAILED" in verdict and "14 of 15 steps passed" in verdict and "1 rejected" in verdict
    row = page.locator("#records tr", has_text="SAMPLE-0001")
    text = row.inner_text()
    assert "rejected" in text and "S1024" in text and "Financial expense must be less than financial funding" in text
    assert "Make the funding" in text
    applied = page.locator("#records tr", has_text="SAMPLE-0002")
    assert "applied" in applied.inner_text()
    with page.expect_download() as download:
        applied.locator("a[download]").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    step = page.locator("tr#BATCH-15")
    assert "FAIL" in step.inner_text()
    step.get_by_text("evidence").click()
    assert step.get_by_text("Mock verifies:").is_visible()
    assert all(url.startswith(("file:", "data:")) for url in requested), requested
