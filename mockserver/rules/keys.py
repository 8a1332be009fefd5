"""What makes two records the same person: the keys of the duplicate checks (F/M S1004, J S2141) and of a
principal's dependents. The rules and the batch processor both use them, so they always agree on "same"."""

from __future__ import annotations

from lxml import etree

from . import text


def _field(element: etree._Element, path: str) -> str:
    return text(element, path) or ""


def duplicate_key(student: etree._Element) -> tuple:
    """An F/M student's key: name, birth date, birth country and gender (S1004)."""
    return (
        _field(student, "PersonalInfo/FullName/LastName").upper(),
        _field(student, "PersonalInfo/FullName/FirstName").upper(),
        _field(student, "PersonalInfo/BirthDate"),
        _field(student, "PersonalInfo/BirthCountryCode"),
        _field(student, "PersonalInfo/Gender"),
    )


def duplicate_key_for(kind: str, element: etree._Element) -> tuple:
    """The key of a principal of ``kind`` ("F/M" student, "J" exchange visitor: S2141)."""
    if kind == "F/M":
        return duplicate_key(element)
    return (
        _field(element, "Biographical/FullName/LastName").upper(),
        _field(element, "Biographical/FullName/FirstName").upper(),
        _field(element, "Biographical/BirthDate"),
        _field(element, "Biographical/BirthCountryCode"),
        _field(element, "Biographical/Gender"),
    )


def dependent_key(dep: etree._Element) -> tuple:
    """A dependent's key within its principal's record."""
    return (
        _field(dep, ".//FullName/LastName").upper(),
        _field(dep, ".//FullName/FirstName").upper(),
        _field(dep, ".//BirthDate"),
        _field(dep, ".//BirthCountryCode"),
        _field(dep, ".//Gender"),
    )
