"""Values read from a batch record element, in the shape the forms show them.

Every reader here tolerates a missing element and answers "" (or None for an amount), so a record
that holds only what the schema requires still renders, with blank boxes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

# Code tables small enough to keep here; the labels are the ones the official schemas' own
# annotations give. Any other code is shown as the code itself.
GENDER = {"M": "Male", "F": "Female", "U": "Unknown"}
RELATIONSHIP = {"01": "Spouse", "02": "Child"}
STUDENT_VISA = {"01": "F-1", "02": "M-1"}
DEPENDENT_VISA = {"04": "F-2", "05": "M-2"}
YES_NO = {"true": "Yes", "1": "Yes", "false": "No", "0": "No"}


def text(element: etree._Element | None, path: str | None = None) -> str:
    """The stripped text at `path` under `element` ("" when either is missing)."""
    if element is None:
        return ""
    node = element if path is None else element.find(path)
    if node is None or node.text is None:
        return ""
    return node.text.strip()


def amount(element: etree._Element | None, path: str) -> int | None:
    """A whole-dollar amount (table:MonetaryType) at `path`, or None when absent or blank."""
    raw = text(element, path)
    try:
        return int(raw)
    except ValueError:
        return None


def coded(code: str, table: dict[str, str]) -> str:
    """The label for `code` from `table`, or the code itself when the table does not know it."""
    return table.get(code, code)


def parse_date(raw: str) -> dt.date | None:
    """An xs:date (possibly with a time zone suffix) as a date, or None."""
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        return None


def program_length(start: str, end: str) -> str:
    """The normal program length in whole months ("24 months"), "" when a date is missing."""
    first, last = parse_date(start), parse_date(end)
    if first is None or last is None or last < first:
        return ""
    months = round((last - first).days / 30.4375)
    return f"{months} month" if months == 1 else f"{months} months"


@dataclass(frozen=True)
class Person:
    """Biographical data shared by students, exchange visitors and their dependents."""

    last_name: str = ""
    first_name: str = ""
    suffix: str = ""
    passport_name: str = ""
    preferred_name: str = ""
    birth_date: str = ""
    gender: str = ""
    birth_city: str = ""
    birth_country: str = ""
    citizenship_country: str = ""

    @classmethod
    def from_bio(cls, bio: etree._Element | None) -> Person:
        """Read FullName, BirthDate, Gender, BirthCity and the country codes under `bio`."""
        return cls(
            last_name=text(bio, "FullName/LastName"),
            first_name=text(bio, "FullName/FirstName"),
            suffix=text(bio, "FullName/Suffix"),
            passport_name=text(bio, "FullName/PassportName"),
            preferred_name=text(bio, "FullName/PreferredName"),
            birth_date=text(bio, "BirthDate"),
            gender=coded(text(bio, "Gender"), GENDER),
            birth_city=text(bio, "BirthCity"),
            birth_country=text(bio, "BirthCountryCode"),
            citizenship_country=text(bio, "CitizenshipCountryCode"),
        )

    @property
    def display_name(self) -> str:
        """ "LAST, First Suffix" as a running head shows it."""
        given = " ".join(part for part in (self.first_name, self.suffix) if part)
        return f"{self.last_name}, {given}" if given else self.last_name


@dataclass(frozen=True)
class DependentRow:
    """One line of a form's dependents table."""

    sevis_id: str
    person: Person
    relationship: str
    visa: str

    @classmethod
    def read(cls, sevis_id: str, dependent: etree._Element | None, visa_table: dict[str, str]) -> DependentRow:
        return cls(
            sevis_id=sevis_id or "",
            person=Person.from_bio(dependent),
            relationship=coded(text(dependent, "Relationship"), RELATIONSHIP),
            visa=coded(text(dependent, "VisaType"), visa_table),
        )


@dataclass(frozen=True)
class MoneyLine:
    """One line of a financial table: what, an optional note (remarks, an agency), how much."""

    label: str
    amount: int | None
    note: str = ""


def total(lines: list[MoneyLine]) -> int:
    """The sum of the amounts present."""
    return sum(line.amount for line in lines if line.amount is not None)


def dollars(value: int | None) -> str:
    """$12,345 (blank for None)."""
    return "" if value is None else f"${value:,}"
