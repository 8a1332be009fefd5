"""Worker recycling: a worker process whose resident memory has grown past a limit (large bodies leave
CPython's heap big: 8 concurrent 15 MiB uploads left one at 1.3 GB) finishes the requests it holds and
exits; gunicorn starts a fresh one. Accepted batches are in the database, and a batch the worker was
applying is rolled back and applied again by the next processor, so nothing is lost."""

from __future__ import annotations

import logging
import os
import resource
import sys

log = logging.getLogger("sevis_mock.server.recycle")


def resident_mb() -> float:
    """This process's resident memory in MiB (Linux: now; elsewhere: its peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_mb()


def peak_mb() -> float:
    """The most resident memory this process has held so far, in MiB, by one system call (a forked process starts
    from what it held at the fork, not from its parent's peak). Never less than what it holds now by more than
    `PEAK_LAG_MB`."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _peak_lag_mb() -> float:
    # Linux keeps a process's resident pages in three counters (file, anonymous, shared memory) split per CPU: the
    # peak is taken from their running sum, which may trail the exact count that /proc/self/statm gives by the
    # per-CPU batch (the larger of 32 and twice the CPUs) on each CPU, for each counter
    cpus = os.cpu_count() or 1
    try:
        page = os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        page = 4096
    return 3 * cpus * max(32, 2 * cpus) * page / 2**20


PEAK_LAG_MB = _peak_lag_mb()


def recycle_when_over(worker, limit_mb: float) -> bool:
    """After a request: ask ``worker`` (a gunicorn worker) to finish and exit when over ``limit_mb``."""
    if not limit_mb or not worker.alive:
        return False
    # a worker whose peak is under the limit is under it now: one system call on every request, where reading
    # /proc/self/statm (opening, reading and closing a file) costs twenty times its CPU; read it only once the peak
    # comes near the limit
    if peak_mb() + PEAK_LAG_MB <= limit_mb:
        return False
    used = resident_mb()
    if used <= limit_mb:
        return False
    worker.alive = False  # gunicorn's worker loop ends; its in-flight requests finish first
    print(
        f"sevis-mock: worker {os.getpid()} holds {used:.0f} MiB, over the --max-worker-memory limit of "
        f"{limit_mb:g} MiB; it finishes its requests and a fresh worker takes over",
        file=sys.stderr,
        flush=True,
    )
    return True
