"""`sevis-mock codes`: every catalogue code is listed, every implemented rule is provoked by a fixture,
every fixture provokes an implemented rule, and the project's catalogue matches SEVIS's."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from sevis_mock.fixtures.rules import load_cases
from sevis_mock.server.catalog import catalogue
from sevis_mock.cli import main
from sevis_mock.server.codes import build_rows
from sevis_mock.server.rules import RULES
from tests.support.reference import RESULT_CODES, official


@pytest.fixture(scope="module")
def table() -> dict:
    result = CliRunner().invoke(main, ["codes", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_every_catalogue_code_appears_once(table):
    listed = [row["code"] for row in table["codes"]]
    assert sorted(listed) == sorted(catalogue())
    assert len(listed) == len(set(listed))


def test_reserved_codes_are_listed_as_reserved(table):
    for row in table["codes"]:
        assert (row["status"] == "reserved") == catalogue()[row["code"]].reserved, row


def test_every_fm_code_is_classified_with_a_reason(table):
    for row in table["codes"]:
        if row["family"] == "F/M rule":
            assert row["status"] in ("implemented", "not implemented", "reserved"), row
            assert row["condition"], row


def test_every_implemented_rule_has_a_fixture_case():
    cased = {case.code for case in load_cases()}
    missing = sorted({r.code for r in RULES} - cased)
    assert not missing, f"implemented rules without a fixture under fixtures/rules: {missing}"


def test_every_fixture_case_provokes_an_implemented_rule():
    implemented = {r.code for r in RULES}
    orphans = [case.case_id for case in load_cases() if case.code not in implemented]
    assert not orphans, f"fixture cases whose code no rule implements: {orphans}"


def test_implemented_rows_name_their_fixture_and_the_runner(table):
    for row in table["codes"]:
        if row["status"] == "implemented" and row["family"] == "F/M rule":
            assert any(p.startswith("fixtures/") for p in row["provoked_by"]), row
            assert "tests/test_rule_fixtures.py" in row["provoked_by"], row


def test_summary_counts_agree_with_rows(table):
    fm = [row for row in table["codes"] if row["family"] == "F/M rule"]
    summary = table["summary"]["F/M rule"]
    assert summary["catalogue"] == len(fm)
    assert summary["implemented"] == sum(row["status"] == "implemented" for row in fm)
    assert summary["decidable"] == sum(row["decidable"] for row in fm)
    assert summary["implemented"] <= summary["decidable"] <= summary["catalogue"] - summary["reserved"]
    for row in fm:
        if row["status"] == "not implemented" and row["decidable"]:
            assert "not published" in row["condition"], row


def test_text_table_ends_with_the_summary_line():
    result = CliRunner().invoke(main, ["codes"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("code")
    assert lines[-1].startswith("F/M rule: ") and "decidable" in lines[-1]
    assert len(lines) == len(catalogue()) + 2


@official
def test_project_catalogue_agrees_with_the_reference():
    """Our copy of the codes (family and reserved flag added) carries SEVIS's messages verbatim."""
    with RESULT_CODES.open(encoding="utf-8") as handle:
        reference = {row["code"]: row["message"] for row in csv.DictReader(handle)}
    ours = catalogue()
    assert sorted(reference) == sorted(ours)
    for code, message in reference.items():
        expected = "" if message.strip() == "***" else message
        assert ours[code].message == expected, code
        assert ours[code].reserved == (message.strip() == "***"), code


def test_rows_are_built_without_the_cli():
    rows = build_rows()
    assert {r.code for r in rows} == set(catalogue())


def test_each_code_says_how_a_tester_reaches_it(table):
    rows = {r["code"]: r for r in table["codes"]}
    assert rows["S1009"]["reached_by"] == "a batch alone"
    assert rows["S1029"]["reached_by"] == "batches alone (2 in order)"
    assert rows["S1049"]["reached_by"] == 'control API first: POST /control/orgs/<org>/profile {"visa_types":["F"]}'
    assert rows["S1092"]["reached_by"].startswith("control API first: POST /control/records/<sevis_id>/agency-events")
    assert all(r["reached_by"] == "" for r in table["codes"] if r["status"] != "implemented")
    counted = table["summary"]["F/M rule"]
    assert counted["reachable"] == sum(r["family"] == "F/M rule" and bool(r["reached_by"]) for r in table["codes"])
