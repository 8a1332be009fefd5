"""Forms drawn in helper processes, so that drawing a 250-form batch neither holds the server process's GIL (its
request threads keep answering) nor waits for the batch's processing to end: each form is sent off as soon as its
record is applied, and drawn while the next records are processed.

The helpers run at a lower CPU priority (nice 5): under load, answering requests comes before drawing forms.
They are started with "spawn" (a clean interpreter: the server process has threads) on first use, and when they
cannot be started or die, forms are drawn in the calling thread instead: slower, never lost.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

log = logging.getLogger(__name__)

HELPER_NICENESS = 5  # a request thread gets about three times a helper's CPU share


def _start_helper(parent: int) -> None:
    try:
        os.nice(HELPER_NICENESS)
    except OSError:
        pass
    # Ctrl-C reaches every process of the terminal's group: the helpers are stopped by the process that started
    # them (RenderPool.shutdown), not interrupted mid-wait with a traceback each
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    from . import ds7002, ds2019, i20  # noqa: F401  (reportlab and the drawing code, loaded once)


def _exit_with(parent: int) -> None:
    """A helper whose server process is gone (killed, crashed) exits instead of waiting for work forever."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _draw(job: dict) -> bytes:
    from . import render_job

    return render_job(job)


class RenderPool:
    """Up to ``processes`` helper processes drawing print jobs (`sevis_mock.server.forms.render_job`)."""

    def __init__(self, processes: int) -> None:
        self.processes = max(1, processes)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._failed = False
        self._warming: list[Future] = []

    def start(self) -> None:
        """Start the helpers now (they take a moment to load reportlab), rather than at the first batch."""
        with self._lock:
            if self._executor is None and not self._failed:
                try:
                    self._executor = ProcessPoolExecutor(
                        max_workers=self.processes,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=_start_helper,
                        initargs=(os.getpid(),),
                    )
                    self._warming = [self._executor.submit(os.getpid) for _ in range(self.processes)]
                except (OSError, RuntimeError):
                    log.warning("form helper processes could not start; forms are drawn in the server process")
                    self._failed = True

    def ready(self) -> bool:
        """Whether the helpers have started and loaded the drawing code."""
        return self._executor is not None and all(f.done() for f in self._warming)

    def submit(self, job: dict) -> Future | None:
        """A future of the job's PDF, or None when no helper can take it yet (still starting: draw it yourself)."""
        self.start()
        executor = self._executor
        if executor is None or not self.ready():
            return None
        try:
            return executor.submit(_draw, job)
        except (BrokenProcessPool, RuntimeError):
            with self._lock:  # a helper died (killed, out of memory): start afresh for the next batch
                if self._executor is executor:
                    self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)
            return None

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
