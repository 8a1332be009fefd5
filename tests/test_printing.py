"""Forms drawn after the batch's transaction (sevis_mock.server.worker): a printing batch waits for its PDFs, and a
print job abandoned by a processor that died is finished by another once its lease has run out."""

from __future__ import annotations

import datetime as dt
import io
import json
from datetime import UTC, datetime, timedelta

from lxml import etree
from pypdf import PdfReader

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.worker import process_due, resume_abandoned_prints
from sevis_mock.server.clock import MockClock, real_now
from sevis_mock.server.store import Batch, BatchForm, Store
from sevis_mock.server.forms import form_job, render_form
from sevis_mock.server.store import PrintJob
from tests.support.rows import add_batch

NOW = datetime(2027, 1, 15, tzinfo=UTC)


class Headless:
    """What the processor needs of a server process, without helper processes (forms drawn in this thread)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.clock = MockClock(store)
        self.render_form = render_form


def _printing_batch(store: Store, lease_until: datetime) -> tuple[int, bytes]:
    student = etree.fromstring(read_fixture("fm/create-three-students.xml")).find("CreateStudent/Student")
    args = dict(kind="F/M", sevis_id="N0001000001", org_id="MCK214F00001000", org_name="Test school")
    job = form_job(student, issue_date=dt.date(2027, 1, 15), **args)
    with store.write() as s:
        done = dict(processed_at=NOW, process_code="S0000", results=json.dumps({"code": "S0000", "records": []}))
        batch = add_batch(s, "PRINTING000001", NOW, state="printing", **done)
        s.add(
            PrintJob(
                batch_pk=batch.id,
                jobs=json.dumps({"forms": {"N0001000001": job}, "plans": {}}),
                lease_until=lease_until,
            )
        )
        pk = batch.id
    return pk, render_form(student, issue_date=dt.date(2027, 1, 15), **args)


def test_a_print_job_under_lease_is_left_to_its_processor(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.create_all()
    pk, _ = _printing_batch(store, real_now() + timedelta(minutes=2))
    assert resume_abandoned_prints(Headless(store)) == 0
    with store.session() as s:
        assert s.get(Batch, pk).state == "printing"


def test_an_abandoned_print_job_is_finished_with_the_same_pdf(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.create_all()
    pk, expected = _printing_batch(store, real_now() - timedelta(seconds=1))
    assert process_due(Headless(store)) == 0  # nothing queued; the abandoned job is finished on the way
    with store.session() as s:
        assert s.get(Batch, pk).state == "processed"
        assert s.get(PrintJob, pk) is None
        pdf = s.get(BatchForm, (pk, "N0001000001")).pdf
    assert pdf == expected  # drawn from the job: the very bytes a direct call draws
    assert "N0001000001" in "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
