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
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def recycle_when_over(worker, limit_mb: float) -> bool:
    """After a request: ask ``worker`` (a gunicorn worker) to finish and exit when over ``limit_mb``."""
    if not limit_mb or not worker.alive:
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
