"""Other agencies' events through the control API and the pytest plugin: validation, history, RTI, and
what SEVIS itself changes on the record; against a real server over mutual TLS."""

from __future__ import annotations

import pytest

from sevis_mock.fixtures import read_fixture
from sevis_mock.harness.pytest_plugin import MockControlError, assert_record_ok
from tests.support.server import new_batch_id, with_batch_id


def _student(sevis_mock) -> tuple[str, list[str]]:
    org = sevis_mock.org("F/M")
    with sevis_mock.client(org) as client:
        xml = with_batch_id(read_fixture("fm/create-with-dependent.xml"), new_batch_id("A"))  # fresh people too
        up = client.upload(xml, org_id=org.org_id, user_id=org.user_id)
        assert up.code == "S0000", up.log
        sevis_mock.process_now()
        log = client.wait_for_processing(
            org_id=org.org_id, user_id=org.user_id, batch_id=up.batch_id, timeout=30, interval=0.1
        )
    record = log.log.records[0]
    assert_record_ok(log.log, record.request_id)
    return record.sevis_id, record.dependents


def test_an_event_joins_the_history_and_rti_shows_it(sevis_mock):
    sevis_id, dependents = _student(sevis_mock)
    reply = sevis_mock.agency_event(
        sevis_id, "CBPAdmission", date="2027-01-10", port_of_entry="NYC", class_of_admission="1"
    )
    assert reply["changed_status"] is None and reply["events"][0]["event"] == "CBPAdmission"
    assert "<ClassOfAdmission>F-1</ClassOfAdmission>" in reply["events"][0]["detail"]  # table 41: 1 is F-1
    view = sevis_mock.control("GET", f"records/{sevis_id}")
    entry = view["history"][-1]
    assert entry["event"] == "Agency/CBPAdmission" and entry["batch_id"] is None
    assert "PortOfEntry NYC (" in entry["agency"]
    # a dependent's own admission goes on the dependent's record
    dep = dependents[0].sevis_id
    sevis_mock.agency_event(dep, "CBPAdmission", date="2027-01-10", port_of_entry="NYC", class_of_admission="F-2")
    assert sevis_mock.control("GET", f"records/{dep}/agency-events")["events"][0]["event"] == "CBPAdmission"


@pytest.mark.parametrize(
    "body,says",
    [
        ({"event": "Landing"}, "event must be one of"),
        (
            {"event": "CBPAdmission", "date": "2027-01-10", "port_of_entry": "ZZZ", "class_of_admission": "F-1"},
            "table 38",
        ),
        (
            {"event": "CBPAdmission", "date": "10/01/2027", "port_of_entry": "NYC", "class_of_admission": "F-1"},
            "a date",
        ),
        (
            {"event": "CBPAdmission", "date": "2027-01-10", "port_of_entry": "NYC", "class_of_admission": "B-2"},
            "table 41",
        ),
        ({"event": "OPTApproved"}, "needs date"),
        ({"event": "OPTApproved", "date": "2027-01-10", "note": "x"}, "not note"),
        ({"event": "ChangeOfStatus", "status": "maybe", "to": "H-1B", "date": "2027-01-10"}, "filed, approved, denied"),
    ],
)
def test_a_wrong_event_is_refused_with_what_to_send(sevis_mock, body, says):
    sevis_id, _ = _student(sevis_mock)
    with pytest.raises(MockControlError) as err:
        sevis_mock.control("POST", f"records/{sevis_id}/agency-events", json=body)
    assert "HTTP 400" in str(err.value) and says in str(err.value)
    assert sevis_mock.control("GET", f"records/{sevis_id}/agency-events")["events"] == []


def test_events_for_the_principal_are_refused_on_a_dependent_and_unknown_records_are_404(sevis_mock):
    _, dependents = _student(sevis_mock)
    with pytest.raises(MockControlError, match="concerns the principal"):
        sevis_mock.agency_event(dependents[0].sevis_id, "OPTApproved", date="2027-01-10")
    with pytest.raises(MockControlError, match="HTTP 404"):
        sevis_mock.agency_event("N0999999999", "OPTApproved", date="2027-01-10")


def test_sevis_completes_a_released_record_and_terminates_on_an_approved_change_of_status(sevis_mock):
    released, _ = _student(sevis_mock)
    reply = sevis_mock.agency_event(
        released, "TransferRelease", direction="out", school="BOS214F00123000", release_date="2020-01-01"
    )
    assert reply["status"] == reply["changed_status"] == "Completed"
    assert {d["status"] for d in sevis_mock.control("GET", f"records/{released}")["dependents"]} == {"Completed"}
    assert [h["event"] for h in sevis_mock.control("GET", f"records/{released}")["history"]][-2:] == [
        "Agency/TransferRelease",
        "Status/Complete",
    ]
    changed, _ = _student(sevis_mock)
    sevis_mock.agency_event(changed, "ChangeOfStatus", status="filed", to="H-1B", date="2027-01-10")
    reply = sevis_mock.agency_event(changed, "ChangeOfStatus", status="approved", to="H-1B", date="2027-04-01")
    assert reply["status"] == "Terminated"
    data = sevis_mock.control("GET", f"records/{changed}")["data"]
    assert "'Reason': '20'" in str(data) or '"Reason": "20"' in str(data)
