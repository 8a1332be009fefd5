"""The background processor: picks due batches and applies each exactly once.

Every worker process runs one of these threads. A batch is claimed and applied inside one
``BEGIN IMMEDIATE`` transaction, so two processes never apply the same batch, and a crash
mid-batch rolls back to "queued" and the batch is applied after restart.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from ..db import Batch, Organization
from .processing import BatchProcessor

log = logging.getLogger(__name__)


def process_due(mock, limit: int | None = None) -> int:
    """Apply every batch due on the mock clock (at most ``limit``); returns how many were applied."""
    done = 0
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
            org = session.get(Organization, batch.org_id)
            BatchProcessor(session, mock.store, batch, now, org.name if org else batch.org_id, mock.render_form).run()
        done += 1
        log.info("processed batch %s of %s", batch.batch_id, batch.org_id)
    return done


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
