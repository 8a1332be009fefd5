"""The background processor: picks due batches and applies each exactly once, then draws their forms.

Every worker process runs one of these threads. A batch is claimed in one short ``BEGIN IMMEDIATE``
transaction (state "processing", with its progress row), so two processes never apply the same batch; its
records are then applied a few per write transaction (about 20 ms each, with a pause of 2 ms between two for the writers that queued), each step committing its records with
how far it got, so that uploads and other writers wait for one step, never for a whole batch. A crash between
steps loses nothing: once the lease runs out, a processor goes on from the last committed step (each record is
applied exactly once). A step that finished its batch goes on with the next due ones, each claimed and applied
whole in the same transaction while their records fit in the step: small batches that queue up share one commit.

Forms are drawn after that commit, with no lock held: the batch waits in state "printing" (a download answers
S0030) with its print job, and a second short transaction stores the PDFs and marks it "processed". A print
job whose processor died mid-drawing is taken over once its lease has run out (real time). A batch applied in
its first step commits once: no progress row, and its PDFs too when the helpers drew them within that step (a
batch of one or two records draws its forms in this thread instead: less than the hop to a helper costs).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta
from concurrent.futures import wait
from concurrent.futures.process import BrokenProcessPool

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import aliased, defer

from .clock import real_now
from .store import Batch, BatchProgress, Fault, Official, Organization, OrganizationProfile, PrintJob
from .faults.processing import before_processing
from .batch.outcome import RecordOutcome, records_from_json, records_to_json
from .batch.processing import PRINT_LEASE, BatchProcessor, add_forms, merge_carried, processor_for

log = logging.getLogger(__name__)


INLINE_RECORDS = 2  # a batch of at most this many records draws its forms in the processor thread, in its one step:
# one or two forms cost a few milliseconds to draw, less than handing them to a helper process (which, at its lower
# priority, waits behind everything else on a busy machine) and waiting for it
STEP_RECORDS = 25  # records applied per write transaction at most
STEP_SECONDS = 0.02  # and for about this long: between two steps, uploads and other writers get the lock. A step
# ends after its first record as soon as another process's writer waits for the lock (SQLite, `Store.writers_waiting`):
# at a lower priority on a loaded machine a step of 20 ms took 30-55, and uploads waited for all of it
YIELD_SECONDS = 0.002  # between two steps, and two batches, the processor waits this long before it asks for the lock
# again: the writers that queued on it meanwhile (uploads' group commits) take it first. Asking again at once, it
# won the lock back more often than not, and on a loaded machine, where a step of a lower-priority processor
# stretches well past STEP_SECONDS, an upload waited for several steps in a row (up to 200 ms, most of the p99 of
# 16 uploading clients).
FOLLOWING_BYTES = 256 * 1024  # a step that finished its batch goes on with the next due one only up to this size
# (a few records; its records must fit in the step): a larger one is not parsed just to be left for a step of its own
PROCESS_LEASE = timedelta(seconds=15)  # the default of `serve --processing-lease`: real time a processor holds a
# batch between steps (about 20 ms apart) before another may go on with it: a processor killed mid-batch (kill -9, a
# lost host) delays its batch by this much at most; one that was merely slow finds at its next step that the batch
# was taken over, and stops (each record once)


def process_due(
    mock, limit: int | None = None, applied: list[int] | None = None, resume: bool = True, woken: bool = False
) -> int:
    """Apply every batch due on the mock clock (at most ``limit``) and draw its forms; returns how many were
    applied (and appends each one's primary key to ``applied`` when given). Batches and print jobs left by a
    processor that died are finished first (unless ``resume`` is False: the processor thread, woken by an
    upload, looks for them once per poll interval only). ``woken``: a batch was just queued, so the claim is
    tried at once, without the read that otherwise spares an idle processor the write lock."""
    done = 0
    cache = getattr(mock, "cache", None)
    if cache is not None:
        cache.refresh()
    if resume:
        resume_abandoned_batches(mock)
        resume_abandoned_prints(mock)
    while limit is None or done < limit:
        if not woken and not _due_waiting(mock):  # a cheap look before taking the write lock
            return done
        woken = False
        claimed: list[int] = []
        more = None if limit is None else limit - done - 1
        if done:
            time.sleep(YIELD_SECONDS)
        outcome = apply_batch(mock, claimed=claimed, more=more)  # claims the next due batch in its first step
        if outcome is None:
            return done
        if outcome:
            done += len(claimed)
            if applied is not None:
                applied.extend(claimed)
    return done


# The processor's look for a due batch: a Core statement on a plain connection (no ORM session), as it runs before
# every claim
_DUE = select(Batch.id).where(Batch.state == "queued", Batch.due_at <= bindparam("now")).limit(1)


def _due_waiting(mock) -> bool:
    """Whether a queued batch is due on the mock clock (a read, no lock taken)."""
    with mock.store.engine.connect() as conn:
        return conn.execute(_DUE, {"now": mock.clock.now()}).first() is not None


def process_lease(mock) -> timedelta:
    """How long a processor holds a batch between steps: the server's setting, else the default."""
    seconds = getattr(getattr(mock, "settings", None), "processing_lease", None)
    return PROCESS_LEASE if seconds is None else timedelta(seconds=seconds)


# The next due batch with what its first step reads anyway, in one statement: whether any processing fault exists
# (else no fault can apply to it), its organization's name (for its forms), the official that uploaded it (whom its
# records name as a rule) and its organization's profile. PostgreSQL locks the batch row only (FOR UPDATE OF).
_BUSY = aliased(Batch)
_NEXT_DUE = (
    select(
        Batch,
        exists().where(Fault.kind == "process").label("faulted"),
        Organization.name,
        Official,
        OrganizationProfile.profile,
    )
    .outerjoin(Organization, Organization.org_id == Batch.org_id)
    .outerjoin(Official, Official.user_id == Batch.user_id)
    .outerjoin(OrganizationProfile, OrganizationProfile.org_id == Batch.org_id)
    .where(Batch.state == "queued", Batch.due_at <= bindparam("now"))
    # [i] an organization's batches are applied one at a time, in order: none while another of its batches is
    # between two steps (its later records could otherwise be applied after the next batch's, by another processor)
    .where(
        ~exists().where(
            _BUSY.org_id == Batch.org_id, _BUSY.environment == Batch.environment, _BUSY.state == "processing"
        )
    )
    .order_by(Batch.due_at, Batch.id)
    .limit(1)
    .with_for_update(of=Batch, skip_locked=True)  # PostgreSQL: a batch another instance is claiming is passed over
)


def _claim(mock, session, render_form, on_print, small: bool = False) -> BatchProcessor | bool | None:
    """The processor of the next due batch, claimed in the caller's write transaction: from its commit on no other
    processor takes it. The batch's row is changed once, by the first step's end (state "processing" with its
    progress row, or the batch's outcome when that step finishes it). None when none is due; False when a
    processing fault deferred or finished the one that was. ``small``: only a batch of at most `FOLLOWING_BYTES`
    while no processing fault exists (see `apply_batch`); else None, and the batch is left as it was."""
    cache = getattr(mock, "cache", None)
    if cache is not None and not small:
        # the clock (and what else the cache keeps) as it stands now that this transaction holds the write lock: the
        # round began with the clock read then, and a clock set back meanwhile (a test rehearsal starting over, on
        # another worker) must not leave batches due here that are not due on the clock (the following claims of a
        # step share this transaction: nothing can change in between)
        cache.refresh()
    now = mock.clock.now()
    found = session.execute(_NEXT_DUE, {"now": now}).first()
    if found is None:
        return None
    batch, faulted, org_name, official, profile = found
    if small and (faulted or len(batch.document) > FOLLOWING_BYTES):
        return None
    if faulted and before_processing(session, batch, now):  # a processing fault deferred or failed it
        return False
    processor = BatchProcessor(session, mock.store, batch, now, org_name or batch.org_id, render_form, on_print)
    processor.officials[batch.user_id] = official
    processor.stored_profile = (profile,)
    return processor


def apply_batch(
    mock, batch_pk: int | None = None, claimed: list[int] | None = None, more: int | None = None
) -> bool | None:
    """Apply a claimed batch's records a few per write transaction (each step commits its records and how far
    it got), then draw its forms. False when another processor finished it first. Without ``batch_pk``, the
    first step claims the next due batch (None when none is due, False when a processing fault took it) and
    appends its primary key to ``claimed``.

    A batch whose first step applies all of it (a small one) commits once: no progress row is written, and when
    the helpers have drawn its forms within that step's time they are stored in it too (state "processed" at
    once, no print job). That step then goes on with the next due batches (``more`` of them at most, None: no
    limit), each claimed and applied whole in the same transaction while the step has time and records left and no
    other process's writer waits for the lock: one commit for several small batches when they are uploaded faster
    than they are applied one by one, and none that an upload waits behind. Each is appended to ``claimed`` too."""
    pool = getattr(mock, "render_pool", None)
    drawing: dict = {}  # forms sent to the helpers as their records were applied, drawn meanwhile
    inline = False  # a small batch: its forms are drawn here, in its one step

    def send(group: str, sevis_id: str, job: dict) -> None:
        if pool is None or inline:
            return
        future = pool.submit(job)
        if future is not None:
            drawing[(group, sevis_id)] = (job, future)

    processor: BatchProcessor | None = None
    records: list = []
    results: list[RecordOutcome] = []
    expected = 0
    while True:
        # a step that cannot finish the batch (more records left than a step applies) is not flushed to disk: a
        # power loss takes the batch back to an earlier step, redone when its lease runs out; the step that
        # finishes it, what downloads see, is
        durable = processor is None or len(records) - expected <= STEP_RECORDS
        if processor is not None:
            time.sleep(YIELD_SECONDS)
        with mock.store.write(durable=durable) as session:
            first_step = batch_pk is None
            if first_step:  # the claim and the first step in one transaction: one commit fewer
                claimed_now = _claim(mock, session, mock.render_form, send if pool is not None else None)
                if not isinstance(claimed_now, BatchProcessor):
                    return claimed_now
                processor, batch = claimed_now, claimed_now.batch
                batch_pk = batch.id
                if claimed is not None:
                    claimed.append(batch_pk)
                progress = BatchProgress(batch_pk=batch_pk, applied=0, results="[]", carried="{}")
                results, records = [], processor.records()
                inline = len(records) <= INLINE_RECORDS
            else:
                progress = session.get(BatchProgress, batch_pk)
                # the document (up to 16 MB) is read once, by the step that parses its records
                batch = session.get(Batch, batch_pk, options=[defer(Batch.document)] if processor else [])
                if progress is None or batch is None or batch.state != "processing":
                    return False
                if processor is not None and progress.applied != expected:  # taken over after a stall: theirs now
                    return False
                if processor is None:
                    processor = processor_for(
                        session, mock.store, batch, mock.render_form, on_print=send if pool is not None else None
                    )
                    if progress.applied:
                        processor.resume(merge_carried(progress.carried))
                    results, records = records_from_json(progress.results), processor.records()
                else:  # the same processor goes on in this step's session
                    processor.next_step(session, batch)
            began, step, before, mark = time.monotonic(), 0, len(results), processor.mark()
            while progress.applied + step < len(records) and (
                step == 0
                or (
                    step < STEP_RECORDS and time.monotonic() - began < STEP_SECONDS and not mock.store.writers_waiting()
                )
            ):
                results += processor.apply([records[progress.applied + step]])
                step += 1
            progress.applied += step
            expected = progress.applied
            if progress.applied < len(records):
                progress.lease_until = real_now() + process_lease(mock)
                if first_step:  # the claim: the batch's row is changed once, here or by `finish`
                    batch.state, batch.processed_at = "processing", processor.now
                    progress.results, progress.carried = records_to_json(results), json.dumps(processor.carry())
                    session.add(progress)
                else:  # a line more for this step's records: the row is appended to, not rewritten whole
                    progress.results = BatchProgress.results + ("\n" + records_to_json(results[before:]))
                    progress.carried = BatchProgress.carried + ("\n" + json.dumps(processor.carry(since=mark)))
                continue
            # a later step's forms were not sent to the helpers in time to be waited for: drawn after the commit
            drawn = _drawn(processor, inline, drawing, began + STEP_SECONDS) if first_step or inline else None
            processor.finish(results, drawn)
            if not first_step:
                session.delete(progress)
            finished = [_finished(processor)]
            while first_step and (more is None or more > 0) and step < STEP_RECORDS:
                # another process's writer (an upload's) waits for the lock: it has it now, the next batches later
                if time.monotonic() - began >= STEP_SECONDS or mock.store.writers_waiting():
                    break
                session.flush()  # the batches applied so far are no longer queued: the claim passes them over
                following = _claim(mock, session, mock.render_form, send if pool is not None else None, small=True)
                if not isinstance(following, BatchProcessor):
                    break
                its_records = following.records()
                if len(its_records) > STEP_RECORDS - step:
                    break  # left as it was (the claim changed nothing): a step of its own takes it
                inline = len(its_records) <= INLINE_RECORDS
                try:
                    with following.batch_guard(its_records):  # a batch that fails (a mock bug) costs only itself
                        its_results = following.apply(its_records)
                        following.finish(its_results, _drawn(following, inline, drawing, began + STEP_SECONDS))
                except Exception:  # rolled back and left queued: claimed next on its own, where a failure is reported
                    session.expire(following.batch)  # as usual; `finish` may have given it its outcome's values
                    break
                step, more = step + len(its_records), None if more is None else more - 1
                if claimed is not None:
                    claimed.append(following.batch.id)
                finished.append(_finished(following))
        for pk, batch_id, org_id, printing, jobs in finished:
            log.info("processed batch %s of %s", batch_id, org_id)
            if printing:
                print_forms(mock, pk, jobs, drawing)
        return True


def _finished(processor: BatchProcessor) -> tuple[int, str, str, bool, dict]:
    """What is left to do of a batch applied in full once its transaction commits: its primary key, batch ID and
    organization (for the log), whether it is printing and its print jobs."""
    batch = processor.batch
    jobs = {"forms": processor.forms, "plans": processor.plans}
    return batch.id, batch.batch_id, batch.org_id, batch.state == "printing", jobs


def _drawn(processor: BatchProcessor, inline: bool, drawing: dict, deadline: float) -> dict | None:
    """The batch's PDFs for its finishing step: drawn here for a small batch, else as the helpers drew them by
    ``deadline`` (None: drawn after the commit)."""
    return drawn_here(processor) if inline else drawn_in_time(processor, drawing, deadline)


def drawn_in_time(processor: BatchProcessor, drawing: dict, deadline: float) -> dict | None:
    """Every form of the batch as drawn by the helpers, waiting for them until ``deadline`` (monotonic) at most;
    None when one was not sent to them, is not drawn by then, or failed (the forms are then drawn after the
    commit, as usual)."""
    futures = {}
    for group in ("forms", "plans"):
        for sevis_id, job in getattr(processor, group).items():
            future = _sent(drawing, group, sevis_id, job)
            if future is None:
                return None
            futures[(group, sevis_id)] = future
    if not futures:
        return None
    _, pending = wait(list(futures.values()), timeout=max(0.0, deadline - time.monotonic()))
    if pending:
        return None
    pdfs: dict = {"forms": {}, "plans": {}}
    for (group, sevis_id), future in futures.items():
        if future.exception() is not None:
            return None
        pdfs[group][sevis_id] = future.result()
    return pdfs


def drawn_here(processor: BatchProcessor) -> dict | None:
    """Every form of a small batch, drawn in this thread; None when it has none or one could not be drawn (the
    batch is then printing, and its forms are drawn again after the commit, as usual)."""
    from .forms import render_jobs

    jobs = {"forms": processor.forms, "plans": processor.plans}
    if not any(jobs.values()):
        return None
    pdfs = render_jobs(jobs)
    if any(len(pdfs.get(group, {})) != len(batch) for group, batch in jobs.items()):
        return None
    return pdfs


def _sent(drawing: dict, group: str, sevis_id: str, job: dict):
    """The helpers' future for this very job, or None when it was not sent (or a redone record made a new job)."""
    sent = drawing.get((group, sevis_id))
    return sent[1] if sent is not None and sent[0] is job else None


def resume_abandoned_batches(mock) -> int:
    """Go on with every batch whose processor stopped between two steps (its lease ran out)."""
    finished = 0
    while True:
        with mock.store.session() as session:
            stale = session.scalars(
                select(BatchProgress.batch_pk).where(BatchProgress.lease_until < real_now()).limit(1)
            ).first()
        if stale is None:
            return finished
        with mock.store.write() as session:  # take the lease, so that one processor goes on with it
            progress = session.get(BatchProgress, stale)
            if progress is None or progress.lease_until >= real_now():
                continue
            progress.lease_until = real_now() + process_lease(mock)
        log.info("going on with batch #%s, abandoned by its processor after %s records", stale, progress.applied)
        finished += bool(apply_batch(mock, stale))


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
        add_forms(session, batch_pk, pdfs)
        session.delete(job)
        batch.state = "processed"
    return True


def collect(mock, jobs: dict, drawing: dict) -> dict:
    """Every job's PDF: from the helpers when one was sent (the very job still in the batch: a record rolled back
    and redone made a new one), else sent now, else drawn here."""
    from .forms import render_jobs

    pool = getattr(mock, "render_pool", None)
    for group, batch in jobs.items():
        for sevis_id, job in batch.items():
            if _sent(drawing, group, sevis_id, job) is None and pool is not None:
                future = pool.submit(job)
                if future is not None:
                    drawing[(group, sevis_id)] = (job, future)
    pdfs: dict = {"forms": {}, "plans": {}}
    left: dict = {"forms": {}, "plans": {}}
    for group, batch in jobs.items():
        for sevis_id, job in batch.items():
            future = _sent(drawing, group, sevis_id, job)
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
    """Wait until no batch is being processed or printed (here or by another process); False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        resume_abandoned_batches(mock)
        resume_abandoned_prints(mock)
        with mock.store.session() as session:
            printing = session.scalars(
                select(Batch.id).where(Batch.state.in_(("processing", "printing"))).limit(1)
            ).first()
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
        looked = float("-inf")  # when abandoned batches and print jobs were last looked for
        woken = False  # by an upload (or a clock change): a batch is likely due
        while not self.stopping.is_set():
            looked = self.round(looked, woken)
            woken = self.wake.wait(self.interval) and not self.stopping.is_set()
            self.wake.clear()

    def round(self, looked: float, woken: bool, limit: int | None = None, applied: list[int] | None = None) -> float:
        """One round: the due batches (a claim tried at once when ``woken``; at most ``limit``, each one's key appended
        to ``applied``), and once per interval since ``looked`` the abandoned ones; returns when abandoned ones were
        last looked for."""
        try:
            resume = time.monotonic() - looked >= self.interval
            if resume:
                looked = time.monotonic()
            process_due(self.mock, limit=limit, applied=applied, resume=resume, woken=woken)
        except Exception as exc:  # keep the processor alive; the batch stays queued and is retried
            from .storage import report, storage_trouble

            reason = storage_trouble(exc)
            if reason is None:
                log.exception("batch processing failed; will retry")
            else:  # a full disk is the operator's to fix, not a bug: one line, no traceback
                report(reason, "batch processing (the batch stays queued and is retried)")
        return looked

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
