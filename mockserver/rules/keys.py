"""What makes two records the same person: the keys of the duplicate checks (F/M S1004, J S2141) and of a
principal's dependents. The rules and the batch processor both use them, so they always agree on "same"."""

from __future__ import annotations

from lxml import etree

from . import text


def _field(element: etree._Element, path: str) -> str:
    return text(element, path) or ""


def _person_key(element: etree._Element, where: str) -> tuple:
    """Surname and given name (upper case), birth date, birth country and gender, found under ``where``."""
    return (
        _field(element, f"{where}FullName/LastName").upper(),
        _field(element, f"{where}FullName/FirstName").upper(),
        _field(element, f"{where}BirthDate"),
        _field(element, f"{where}BirthCountryCode"),
        _field(element, f"{where}Gender"),
    )


def duplicate_key(student: etree._Element) -> tuple:
    """An F/M student's key: name, birth date, birth country and gender (S1004)."""
    return _person_key(student, "PersonalInfo/")


def duplicate_key_for(kind: str, element: etree._Element) -> tuple:
    """The key of a principal of ``kind`` ("F/M" student, "J" exchange visitor: S2141)."""
    return duplicate_key(element) if kind == "F/M" else _person_key(element, "Biographical/")


def dependent_key(dep: etree._Element) -> tuple:
    """A dependent's key within its principal's record."""
    return _person_key(dep, ".//")
