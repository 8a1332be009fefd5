"""The sample batch a rehearsal uploads when the college brings none, with dates relative to today."""

from __future__ import annotations

from datetime import date, timedelta
from importlib import resources
from string import Template


def _monday_on_or_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


def sample_batch(today: date | None = None) -> bytes:
    """Two F-1 creates starting about nine months from `today` (start dates must not be in the past, S1010)."""
    today = today or date.today()
    start = _monday_on_or_after(today + timedelta(days=270))
    values = {
        "ISS_DATE": today.isoformat(),
        "START": start.isoformat(),
        "END_4Y": (start + timedelta(days=4 * 365 - 100)).isoformat(),
        "END_2Y": (start + timedelta(days=2 * 365 - 100)).isoformat(),
        "BIRTH_1": date(today.year - 19, 4, 12).isoformat(),
        "BIRTH_2": date(today.year - 25, 9, 30).isoformat(),
    }
    text = resources.files(__package__).joinpath("sample/create-students.xml").read_text(encoding="utf-8")
    return Template(text).substitute(values).encode("utf-8")


def sample_ev_batches(today: date | None = None) -> list[tuple[str, bytes]]:
    """The J rehearsal's sample batches, programs starting about four months from `today`: a create (a
    research scholar with a spouse and a site of activity; a trainee with a T/IPP), then an update of both
    (`{{sevis:REQUESTID}}` placeholders, filled from the create's log when it is uploaded)."""
    today = today or date.today()
    start = _monday_on_or_after(today + timedelta(days=120))
    values = {
        "START": start.isoformat(),
        "END": (start + timedelta(days=364)).isoformat(),
        "BIRTH_1": date(today.year - 32, 5, 27).isoformat(),
        "BIRTH_2": date(today.year - 33, 10, 9).isoformat(),
        "BIRTH_3": date(today.year - 29, 4, 12).isoformat(),
        "DEGREE": date(today.year - 6, 7, 15).isoformat(),
    }
    out = []
    for name in ("create-ev.xml", "update-ev.xml"):
        text = resources.files(__package__).joinpath(f"sample/{name}").read_text(encoding="utf-8")
        out.append((f"sample-{name}", Template(text).substitute(values).encode("utf-8")))
    return out
