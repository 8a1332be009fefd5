"""The results module: one producer of a batch's log and PDFs and of a stored record's form, for every reader."""

from __future__ import annotations

import datetime as dt
import json
from datetime import UTC, datetime

import pytest
from lxml import etree

from sevis_mock.server.batch.results import NoForm, record_form, stored_form_jobs, transaction_log
from sevis_mock.server.store import Batch, Organization, Record, Store
from sevis_mock.server.forms import render_job
from tests.support.rows import ORG_ID, STUDENT, batch_values, organization_values, record

T0 = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)


def _dependent(name: str) -> str:
    return f"<Dependent><FullName><LastName>{name}</LastName></FullName><Relationship>02</Relationship></Dependent>"


def _record(sevis_id: str, document: str, *, status: str = "Active", principal: str | None = None) -> Record:
    return record(sevis_id, T0, document=document, status=status, principal_sevis_id=principal)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'results.db'}")
    s.create_all()
    with s.write() as session:
        session.add(Organization(**organization_values(ORG_ID, "Results College", T0)))
        session.add(_record("N0000000001", STUDENT))
        session.add(_record("N0000000002", _dependent("OPEN"), status="Initial", principal="N0000000001"))
        session.add(_record("N0000000003", _dependent("ENDED"), status="Terminated", principal="N0000000001"))
    yield s
    s.engine.dispose()


def test_ended_dependents_leave_the_form_and_get_none_of_their_own(store):
    with store.session() as s:
        jobs = stored_form_jobs(s, s.get(Record, "N0000000001"), "Results College", T0.date())
        assert sorted(jobs) == ["N0000000001", "N0000000002"]
        listed = [dep_id for dep_id, _ in jobs["N0000000001"]["dependents"]]
        assert listed == ["N0000000002"]
        assert jobs["N0000000002"]["for_dependent"][0] == "N0000000002" and jobs["N0000000002"]["dependents"] == []
        with pytest.raises(NoForm, match="N0000000003 has ended .status Terminated"):
            record_form(s, "N0000000003", T0.date())


def test_a_records_form_is_its_print_job_drawn_with_the_organizations_name(store):
    with store.session() as s:
        jobs = stored_form_jobs(s, s.get(Record, "N0000000001"), "Results College", dt.date(2027, 1, 21))
        assert record_form(s, "N0000000002", dt.date(2027, 1, 21)) == render_job(jobs["N0000000002"])
        assert record_form(s, "N0000000001", dt.date(2027, 1, 21)) == render_job(jobs["N0000000001"])
        with pytest.raises(NoForm, match="no record N0000000099"):
            record_form(s, "N0000000099", T0.date())


def _batch(state: str, results: dict | None = None) -> Batch:
    return Batch(
        **batch_values(
            "RESULTS0000001", T0, id=7, document=b"", state=state, results=json.dumps(results) if results else None
        )
    )


@pytest.mark.parametrize("state", ["queued", "processing", "printing"])
def test_the_log_of_a_batch_not_yet_processed_is_s0030_with_why(state):
    log = transaction_log(_batch(state))
    root = etree.fromstring(log.body)
    assert log.download_code == root.find("BatchDetail/Download").get("resultCode") == "S0030"
    assert log.process_code is None and "RESULTS0000001" in log.reasons[0]


def test_the_log_of_a_processed_batch_carries_its_process_code():
    outcome = {"code": "S0000", "at": "2027-01-20T04:00:01.000-05:00", "records": []}
    log = transaction_log(_batch("processed", outcome))
    root = etree.fromstring(log.body)
    assert (log.download_code, log.process_code, log.reasons) == ("S0000", "S0000", [])
    assert root.find("BatchDetail/Process").get("resultCode") == "S0000"
