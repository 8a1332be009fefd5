"""Worker recycling (mockserver/recycle.py): the memory a worker holds is read only once its peak has passed the
limit, and a worker over the limit is asked to finish (the whole story, over TLS: tests/hostile/test_small_items.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sevis_mock.server import recycle


def test_a_worker_whose_peak_is_under_the_limit_is_kept_without_reading_its_memory(monkeypatch):
    def unread() -> float:
        raise AssertionError("/proc/self/statm read although the peak is under the limit")

    monkeypatch.setattr(recycle, "resident_mb", unread)
    worker = SimpleNamespace(alive=True)
    assert recycle.recycle_when_over(worker, recycle.peak_mb() + recycle.PEAK_LAG_MB + 1) is False
    assert worker.alive


@pytest.mark.parametrize("over", [False, True])
def test_past_its_peak_a_worker_is_recycled_only_when_it_holds_more_than_the_limit(monkeypatch, capsys, over):
    limit = round(recycle.peak_mb() - recycle.PEAK_LAG_MB)  # the test process came near it at some point
    monkeypatch.setattr(recycle, "resident_mb", lambda: limit * 2 if over else limit / 2)
    worker = SimpleNamespace(alive=True)
    assert recycle.recycle_when_over(worker, limit) is over
    assert worker.alive is not over
    assert (f"over the --max-worker-memory limit of {limit:g} MiB" in capsys.readouterr().err) is over


def test_the_peak_is_never_under_the_resident_memory_by_more_than_its_lag():
    grown = bytearray(64 * 2**20)
    grown[:: 2**12] = b"\1" * len(grown[:: 2**12])  # every page touched: resident
    assert recycle.peak_mb() + recycle.PEAK_LAG_MB >= recycle.resident_mb() > 64
