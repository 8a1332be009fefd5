"""The records read API: queries over a store, and /control/records over a real server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from sevis_mock.server.store import Record, RecordEvent, Store
from sevis_mock.server.records.queries import list_records, record_view, xml_data
from tests.support.rows import ORG_ID, STUDENT, record_values
from tests.support.server import new_batch_id
from tests.test_events import control, create, record, update_batch, upload_and_process

T0 = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'records.db'}")
    s.create_all()
    yield s
    s.engine.dispose()


def _row(sevis_id, *, kind="F/M", org=ORG_ID, status="Initial", principal=None, surname="DOE", document=STUDENT, at=T0):
    relationship = "01" if principal else ""
    return Record(
        **record_values(
            sevis_id,
            at,
            org_id=org,
            environment="production",
            kind=kind,
            principal_sevis_id=principal,
            status=status,
            surname=surname,
            document=document,
            relationship_code=relationship,
        )
    )


def test_xml_data_nests_children_lists_repeats_and_keeps_attributes():
    el = etree.fromstring(
        '<Student xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><A>1</A><B x="y">t</B><C><D>2</D></C>'
        '<E>3</E><E>4</E><S xsi:type="SOA" siteId="9"><N>n</N></S><Empty/></Student>'
    )
    assert xml_data(el) == {
        "A": "1",
        "B": {"@x": "y", "#text": "t"},
        "C": {"D": "2"},
        "E": ["3", "4"],
        "S": {"@xsi:type": "SOA", "@siteId": "9", "N": "n"},
        "Empty": "",
    }


def test_record_view_has_the_contract_keys_dependents_and_history(store):
    with store.write() as s:
        s.add(_row("N0000000001"))
        s.add(_row("N0000000002", principal="N0000000001", status="Active", surname="DOE"))
        s.add(RecordEvent(sevis_id="N0000000001", batch_pk=None, event="Create", detail="", at=T0))
        s.add(
            RecordEvent(
                sevis_id="N0000000001",
                batch_pk=None,
                event="Status/Complete",
                detail="<Status><Complete/></Status>",
                at=T0,
            )
        )
    with store.session() as s:
        view = record_view(s, "N0000000001")
        assert record_view(s, "N0000000009") is None
        assert record_view(s, "N0000000001", environment="beta") is None
    assert set(view) == {
        "sevis_id",
        "org_id",
        "environment",
        "kind",
        "status",
        "principal_sevis_id",
        "surname",
        "given_name",
        "birth_date",
        "request_id",
        "created_at",
        "updated_at",
        "dependents",
        "data",
        "history",
    }
    assert view["principal_sevis_id"] is None and view["created_at"] == "2027-01-20T09:00:00+00:00"
    assert view["dependents"] == [
        {"sevis_id": "N0000000002", "status": "Active", "relationship": "01", "surname": "DOE", "given_name": "JANE"}
    ]
    assert view["data"] == {"Student": {"PersonalInfo": {"FullName": {"LastName": "DOE"}}}}
    assert [(h["event"], h["batch_id"], h["detail"]) for h in view["history"]] == [
        ("Create", None, ""),
        ("Status/Complete", None, "<Status><Complete/></Status>"),
    ]


def test_list_records_filters_and_leaves_out_data_and_history(store):
    with store.write() as s:
        s.add(_row("N0000000001"))
        s.add(_row("N0000000002", principal="N0000000001"))
        s.add(_row("N0000000003", status="Active", at=T0.replace(hour=10)))
        s.add(_row("N0000000004", kind="J", org="P-1-12345", document="<ExchangeVisitor/>"))
    with store.session() as s:
        assert [r["sevis_id"] for r in list_records(s)] == ["N0000000003", "N0000000004", "N0000000001"]
        assert [r["sevis_id"] for r in list_records(s, kind="J")] == ["N0000000004"]
        assert [r["sevis_id"] for r in list_records(s, status="Active")] == ["N0000000003"]
        assert [r["sevis_id"] for r in list_records(s, org_id="MCK214F00001000", limit=1)] == ["N0000000003"]
        assert len(list_records(s, principals_only=False)) == 4
        first = list_records(s, org_id="MCK214F00001000")[-1]
    assert "data" not in first and "history" not in first
    assert first["dependents"][0]["sevis_id"] == "N0000000002"


# --- over HTTP ---------------------------------------------------------------------------------------------


def test_records_api_requires_the_control_token(mock_server):
    org = mock_server.org("F/M")
    with mock_server.session((org["client_cert"], org["client_key"])) as s:
        r = s.get(f"{mock_server.base_url}/control/records", timeout=30)
        wrong = s.get(
            f"{mock_server.base_url}/control/records/N0000000001",
            timeout=30,
            headers={"Authorization": "Bearer not-the-token"},
        )
    assert r.status_code == 401 and "control.token" in r.json()["error"]
    assert wrong.status_code == 401


def test_records_api_lists_and_shows_records_as_the_batch_left_them(mock_server):
    sevis_id, deps, _ = create(mock_server, "J", "j/create-with-dependent-and-site.xml")
    listed = control(mock_server, "GET", "records", params={"org": "P-1-12345", "kind": "J", "status": "Initial"})
    assert listed.status_code == 200
    summary = next(r for r in listed.json()["records"] if r["sevis_id"] == sevis_id)
    assert summary["kind"] == "J" and summary["status"] == "Initial" and summary["org_id"] == "P-1-12345"
    assert [d["sevis_id"] for d in summary["dependents"]] == deps
    assert all(r["principal_sevis_id"] is None for r in listed.json()["records"])

    view = record(mock_server, sevis_id)
    assert view["data"]["ExchangeVisitor"]["Biographical"]["FullName"]["FirstName"] == "ANNA KATHARINA"
    assert view["history"][0]["event"] == "Create"
    dependent = record(mock_server, deps[0])
    assert dependent["principal_sevis_id"] == sevis_id and dependent["status"] == "Initial"

    batch_id = new_batch_id("R")
    upload_and_process(
        mock_server,
        "J",
        update_batch(
            "J",
            mock_server.org("J"),
            batch_id,
            [(sevis_id, "R-INV", "<Status><Invalid><Remarks>Created in error</Remarks></Invalid></Status>")],
        ),
        batch_id,
    )
    invalid = control(mock_server, "GET", "records", params={"status": "Invalid", "kind": "J"}).json()["records"]
    assert sevis_id in [r["sevis_id"] for r in invalid]
    view = record(mock_server, sevis_id)
    assert view["history"][-1]["event"] == "Status/Invalid" and view["history"][-1]["batch_id"] == batch_id
    assert "<Invalid>" in view["history"][-1]["detail"]
    assert {d["status"] for d in view["dependents"]} == {"Invalid"}


def test_records_api_answers_unknown_ids_and_bad_filters_in_json(mock_server):
    missing = control(mock_server, "GET", "records/N0999999999")
    assert missing.status_code == 404 and "N0999999999" in missing.json()["error"]
    bad_kind = control(mock_server, "GET", "records", params={"kind": "Q"})
    assert bad_kind.status_code == 400 and "F/M or J" in bad_kind.json()["error"]
    bad_limit = control(mock_server, "GET", "records", params={"limit": "lots"})
    assert bad_limit.status_code == 400 and "limit" in bad_limit.json()["error"]
