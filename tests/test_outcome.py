"""The typed processing outcome reads and writes the JSON stored with each batch exactly as before."""

from __future__ import annotations

import json

from sevis_mock.server.batch.outcome import (
    DependentOutcome,
    ProcessOutcome,
    RecordOutcome,
    records_from_json,
    records_to_json,
)

# As an earlier mock stored them: a J create with a site and a dependent, a failed update, a failed create.
STORED = {
    "code": "S0020",
    "at": "2027-01-15T09:00:01.000-05:00",
    "records": [
        {
            "request_id": "1",
            "user_id": "MCKRO00001",
            "user_defined_a": "A",
            "user_defined_b": None,
            "ok": True,
            "sevis_id": "N0000000001",
            "dependents": [{"sevis_id": "N0000000002", "user_defined_a": None, "user_defined_b": "B"}],
            "sites": [{"provided": {"Address1": "1 Main St"}, "site_name": "HQ", "site_id": "7", "message": None}],
            "physical_address": {"provided": {"Address1": "2 Elm St", "City": "Boston"}, "message": ""},
            "at": "2027-01-15T09:00:00.500-05:00",
        },
        {
            "request_id": "2",
            "user_id": "MCKRO00001",
            "user_defined_a": None,
            "user_defined_b": None,
            "ok": False,
            "sevis_id": "N0000000009",
            "error_code": "S2001",
            "error_message": "not found",
            "at": "2027-01-15T09:00:00.700-05:00",
        },
        {
            "request_id": "3",
            "user_id": None,
            "user_defined_a": None,
            "user_defined_b": None,
            "ok": False,
            "error_code": "S2282",
            "error_message": "end before start",
            "at": "2027-01-15T09:00:00.800-05:00",
        },
    ],
}


def test_stored_json_round_trips_unchanged() -> None:
    outcome = ProcessOutcome.from_json(json.dumps(STORED))
    assert json.loads(outcome.to_json()) == STORED
    assert outcome.failures == 2
    first = outcome.records[0]
    assert first.dependents == [DependentOutcome("N0000000002", None, "B")]
    assert first.sites and first.sites[0]["site_id"] == "7"
    assert outcome.records[2].sevis_id is None and "sevis_id" not in outcome.records[2].as_dict()


def test_a_fault_is_kept_and_an_outcome_without_one_writes_none() -> None:
    faulted = ProcessOutcome("S0001", "2027-01-15T09:00:00.000-05:00", [], fault="f1")
    assert json.loads(faulted.to_json()) == {"code": "S0001", "at": faulted.at, "records": [], "fault": "f1"}
    assert ProcessOutcome.from_json(faulted.to_json()) == faulted
    assert "fault" not in json.loads(ProcessOutcome.from_json(json.dumps(STORED)).to_json())


def test_failing_a_record_drops_what_it_would_have_created() -> None:
    made = RecordOutcome("4", "U", sevis_id="N1", dependents=[DependentOutcome("N2")], sites=[{}], at="t")
    failed = made.failed("S2000", "internal")
    assert (failed.ok, failed.error_code, failed.error_message) == (False, "S2000", "internal")
    assert failed.dependents is None and failed.sites is None and failed.sevis_id == "N1" and failed.at == "t"


def test_records_between_steps_round_trip() -> None:
    records = ProcessOutcome.from_json(json.dumps(STORED)).records
    assert records_from_json(records_to_json(records)) == records
