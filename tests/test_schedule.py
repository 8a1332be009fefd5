"""The longest-first order of the test files (tests/support/schedule.py) names files that exist."""

from __future__ import annotations

from pathlib import Path

from tests.support.schedule import LONGEST_FIRST

ROOT = Path(__file__).resolve().parent.parent


def test_every_file_of_the_longest_first_order_exists_once():
    missing = [path for path in LONGEST_FIRST if not (ROOT / path).is_file()]
    assert not missing, f"tests/support/schedule.py names files that are gone (remove or rename them): {missing}"
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
