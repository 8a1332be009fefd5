"""SEVIS code tables with their meanings, as rules and pages read them.

The source is the project's own code tables, ``schemas/tables/<release>/<TypeName>.csv`` (the same
files that generate ``SEVISTable.xsd``): each code with SEVIS's meaning from its lookup tables and,
where SEVIS says so (education levels, drop-below and termination reasons), the visa classes the
code is valid for. Rules name codes by meaning (``code_for("EduLevelCodeType", "OTHER")``) instead of
carrying bare numbers, so a table correction reaches every rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sevis_mock.schemas import FM_RELEASE, J_RELEASE, schema_root
from sevis_mock.schemas.build import read_rows

RELEASES = {"F/M": FM_RELEASE, "J": J_RELEASE}


@dataclass(frozen=True)
class Code:
    code: str
    meaning: str  # SEVIS's description, "" when no lookup table names the code
    visas: frozenset[str] | None  # visa classes the code is valid for (None: the table does not say)

    def valid_for(self, visa_class: str) -> bool:
        return self.visas is None or visa_class in self.visas


@lru_cache(maxsize=None)
def table(type_name: str, kind: str = "F/M") -> dict[str, Code]:
    """Every code of ``type_name`` in the release of ``kind`` ("F/M" or "J"), in the published order."""
    path = schema_root() / "tables" / RELEASES[kind] / f"{type_name}.csv"
    out: dict[str, Code] = {}
    for row in read_rows(path):
        visas = None
        if "visa" in row:
            visas = frozenset(v for v in row["visa"].split() if v != "none")
        out[row["code"]] = Code(row["code"], row["description"], visas)
    return out


def meaning(type_name: str, code: str | None, kind: str = "F/M") -> str:
    """SEVIS's meaning of ``code`` (``""`` for an unknown code or one no lookup table names)."""
    found = table(type_name, kind).get(code or "")
    return found.meaning if found else ""


def code_for(type_name: str, wanted: str, kind: str = "F/M") -> str:
    """The one code of ``type_name`` whose meaning is ``wanted`` (case-insensitive); KeyError otherwise."""
    hits = [c.code for c in table(type_name, kind).values() if c.meaning.upper() == wanted.upper()]
    if len(hits) != 1:
        raise KeyError(f"{type_name}: {len(hits)} codes mean {wanted!r}")
    return hits[0]


def codes_valid_for(type_name: str, visa_class: str, kind: str = "F/M") -> frozenset[str]:
    """Codes of ``type_name`` SEVIS allows for ``visa_class`` (e.g. "M-1")."""
    return frozenset(c.code for c in table(type_name, kind).values() if c.valid_for(visa_class))


def labelled(type_name: str, code: str | None, kind: str = "F/M") -> str:
    """``"02 (DEATH)"``: a code with its meaning, for messages and docstrings."""
    name = meaning(type_name, code, kind)
    return f"{code} ({name})" if name else str(code)
