"""The background processor: picks due batches and applies each exactly once, then draws their forms.

Every worker process runs one of these threads. A batch is claimed and applied inside one
``BEGIN IMMEDIATE`` transaction, so two processes never apply the same batch, and a crash
mid-batch rolls back to "queued" and the batch is applied after restart.

Forms are drawn after that commit, with no lock held: the batch waits in state "printing" (a download answers
S0030) with its print job, and a second short transaction stores the PDFs and marks it "processed". A print
job whose processor died mid-drawing is taken over once its lease has run out (real time).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures.process import BrokenProcessPool

from sqlalchemy import select

from ..clock import real_now
from ..db import Batch, BatchForm, Organization
from ..faults.processing import before_processing
from ..forms.store import PlanForm, PrintJob
from .processing import PRINT_LEASE, BatchProcessor

log = logging.getLogger(__name__)


def process_due(mock, limit: int | None = None) -> int:
    """Apply every batch due on the mock clock (at most ``limit``) and draw its forms; returns how many were
    applied. Print jobs left by a processor that died are finished first."""
    done = 0
    cache = getattr(mock, "cache", None)
    if cache is not None:
        cache.refresh()
    resume_abandoned_prints(mock)
    while limit is None or done < limit:
        with mock.store.session() as session:  # a cheap look before taking the write lock
            waiting = session.scalars(
                select(Batch.id).where(Batch.state == "queued", Batch.due_at <= mock.clock.now()).limit(1)
            ).first()
        if waiting is None:
            return done
        with mock.store.write() as session:
            now = mock.clock.now()
            batch = session.scalars(
                select(Batch)
                .where(Batch.state == "queued", Batch.due_at <= now)
                .order_by(Batch.due_at, Batch.id)
                .limit(1)
            ).first()
            if batch is None:
                return done
            if before_processing(session, batch, now):  # a processing fault deferred or failed it
                continue
            org = session.get(Organization, batch.org_id)
            pool = getattr(mock, "render_pool", None)
            drawing: dict = {}  # forms sent to the helpers as their records were applied, drawn meanwhile

            def send(group: str, sevis_id: str, job: dict) -> None:
                future = pool.submit(job)
                if future is not None:
                    drawing[(group, sevis_id)] = (job, future)

            processor = BatchProcessor(
                session,
                mock.store,
                batch,
                now,
                org.name if org else batch.org_id,
                mock.render_form,
                on_print=send if pool is not None else None,
            )
            processor.run()
            batch_pk, printing = batch.id, batch.state == "printing"
            jobs = {"forms": processor.forms, "plans": processor.plans}
        done += 1
        log.info("processed batch %s of %s", batch.batch_id, batch.org_id)
        if printing:
            print_forms(mock, batch_pk, jobs, drawing)
    return done


def print_forms(mock, batch_pk: int, jobs: dict, drawing: dict | None = None) -> bool:
    """Draw a printing batch's forms (no transaction open) and store them, marking the batch processed.
    ``drawing`` holds the forms already sent to the helper processes. False when another processor finished
    that job first."""
    pdfs = collect(mock, jobs, drawing or {})
    with mock.store.write() as session:
        job = session.get(PrintJob, batch_pk)
        batch = session.get(Batch, batch_pk)
        if job is None or batch is None or batch.state != "printing":
            return False
        for sevis_id, pdf in pdfs["forms"].items():
            session.add(BatchForm(batch_pk=batch_pk, sevis_id=sevis_id, pdf=pdf))
        for sevis_id, pdf in pdfs["plans"].items():
            session.add(PlanForm(batch_pk=batch_pk, sevis_id=sevis_id, pdf=pdf))
        session.delete(job)
        batch.state = "processed"
    return True


def collect(mock, jobs: dict, drawing: dict) -> dict:
    """Every job's PDF: from the helpers when one was sent (the very job still in the batch: a record rolled back
    and redone made a new one), else sent now, else drawn here."""
    from ..forms import render_jobs

    pool = getattr(mock, "render_pool", None)
    for group, batch in jobs.items():
        for sevis_id, job in batch.items():
            sent = drawing.get((group, sevis_id))
            if (sent is None or sent[0] is not job) and pool is not None:
                future = pool.submit(job)
                if future is not None:
                    drawing[(group, sevis_id)] = (job, future)
    pdfs: dict = {"forms": {}, "plans": {}}
    left: dict = {"forms": {}, "plans": {}}
    for group, batch in jobs.items():
        for sevis_id, job in batch.items():
            sent = drawing.get((group, sevis_id))
            future = sent[1] if sent is not None and sent[0] is job else None
            if future is None:
                left[group][sevis_id] = job
                continue
            try:
                pdfs[group][sevis_id] = future.result()
            except BrokenProcessPool:
                left[group][sevis_id] = job
            except Exception:
                log.exception("could not draw the %s of %s", job.get("form"), sevis_id)
    drawn_here = render_jobs(left)
    for group in pdfs:
        pdfs[group].update(drawn_here.get(group, {}))
    return pdfs


def resume_abandoned_prints(mock) -> int:
    """Finish every print job whose lease has run out (its processor stopped mid-drawing)."""
    finished = 0
    while True:
        with mock.store.session() as session:
            stale = session.scalars(select(PrintJob.batch_pk).where(PrintJob.lease_until < real_now()).limit(1)).first()
        if stale is None:
            return finished
        with mock.store.write() as session:  # take the lease, so that one processor draws it
            job = session.get(PrintJob, stale)
            if job is None or job.lease_until >= real_now():
                continue
            job.lease_until = real_now() + PRINT_LEASE
            jobs = job.decoded()
        log.info("drawing the forms of batch #%s, abandoned by its processor", stale)
        finished += print_forms(mock, stale, jobs)


def wait_printed(mock, timeout: float = 120.0) -> bool:
    """Wait until no batch is printing (forms being drawn, here or by another process); False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        resume_abandoned_prints(mock)
        with mock.store.session() as session:
            printing = session.scalars(select(Batch.id).where(Batch.state == "printing").limit(1)).first()
        if printing is None:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


class Worker(threading.Thread):
    def __init__(self, mock, interval: float) -> None:
        super().__init__(name="sevis-mock-processor", daemon=True)
        self.mock = mock
        self.interval = interval
        self.wake = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                process_due(self.mock)
            except Exception:  # keep the processor alive; the batch stays queued and is retried
                log.exception("batch processing failed; will retry")
            self.wake.wait(self.interval)
            self.wake.clear()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
