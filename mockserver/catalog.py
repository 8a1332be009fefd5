"""The SEVIS result-code catalogue as the mock knows it (data/result_codes.csv).

Messages are SEVIS's own; some carry placeholders such as ``[last name]`` that a rule fills.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

INTERNAL_ERROR = "S2000"  # [i] the catalogue's only "exception while processing" code; used for both kinds


@dataclass(frozen=True)
class ResultCode:
    code: str
    family: str  # batch | fm | j
    reserved: bool
    message: str


@cache
def catalogue() -> dict[str, ResultCode]:
    text = resources.files("sevis_mock.server").joinpath("data/result_codes.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return {
        row["code"]: ResultCode(row["code"], row["family"], row["reserved"] == "yes", row["message"])
        for row in csv.DictReader(lines)
    }


_PLACEHOLDER = re.compile(r"\[([^\]]+)\]")


def message(code: str, **fill: str) -> str:
    """SEVIS's message for ``code`` with ``[placeholders]`` filled from ``fill``.

    Placeholder names are matched loosely: ``[last name]`` is filled by ``last_name``.
    Unknown placeholders stay as they are so a missing fill is visible, never silent.
    """
    entry = catalogue()[code]
    if entry.reserved:
        raise KeyError(f"{code} is reserved in the SEVIS catalogue and has no message")

    def fill_one(match: re.Match[str]) -> str:
        key = re.sub(r"[^a-z0-9]+", "_", match.group(1).lower()).strip("_")
        return fill.get(key, match.group(0))

    return _PLACEHOLDER.sub(fill_one, entry.message)
