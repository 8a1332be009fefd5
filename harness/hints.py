"""What to fix, per SEVIS result code: one table (``harness/data/hints.csv``) for ``sevis-mock validate``, the
``upload``/``download`` commands and the rehearsal's reports, shown beside SEVIS's own catalogue message."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

__all__ = ["FALLBACK", "catalogue_message", "hint", "hints", "known_hint"]

FALLBACK = (
    "Read SEVIS's message: it names what the record breaks. Correct the record in the student "
    "system and send it again in a new batch (new BatchID)."
)


@cache
def hints() -> dict[str, str]:
    """Code -> hint, as the table holds them."""
    text = resources.files("sevis_mock.harness").joinpath("data/hints.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {row["code"]: row["hint"] for row in rows}


def known_hint(code: str | None) -> str | None:
    """The table's hint for ``code``; None for a code without one."""
    return hints().get(code or "")


def hint(code: str | None) -> str:
    """The fix hint for ``code`` (a generic one for codes without their own)."""
    return known_hint(code) or FALLBACK


def catalogue_message(code: str | None) -> str | None:
    """SEVIS's message for ``code`` from the mock's catalogue, placeholders unfilled; None if unknown or reserved."""
    if not code:
        return None
    try:
        from sevis_mock.server.catalog import catalogue
    except ImportError:  # the harness used without the server package
        return None
    entry = catalogue().get(code)
    return entry.message if entry is not None and not entry.reserved else None
