"""F/M name standardization (SEVIS release 6.21): letters A-Z and blanks only, no placeholder names."""

from __future__ import annotations

import re
from typing import Iterator

from ..xmlsafe import XML_SPACE
from . import RuleContext, Violation, rule

EVENTS = ("fm.create", "fm.PersonalInfo", "fm.Dependent")
# [c] PROTOCOL.md §5: FNU/LNU/Unknown are refused; None and Not Applicable too [i].
UNACCEPTABLE = {"FNU", "LNU", "UNKNOWN", "NONE", "NOT APPLICABLE"}
LETTERS = re.compile(r"[A-Za-z ]+")
CHECKED = ("LastName", "FirstName", "PassportName")


def _names(ctx: RuleContext) -> Iterator[tuple[str, str]]:
    """(field, value) for every non-empty name the record sends: student and dependents."""
    scope = ctx.element if ctx.record is None else ctx.event_element
    if scope is None:
        return
    for full in scope.iter("FullName"):
        for child in full:
            value = (child.text or "").strip(XML_SPACE)
            if isinstance(child.tag, str) and value:
                yield child.tag, value


def _unacceptable(value: str) -> bool:
    return " ".join(re.split(f"[{XML_SPACE}]+", value.upper().strip(XML_SPACE))) in UNACCEPTABLE


@rule("S1142", *EVENTS)
def no_placeholder_names(ctx: RuleContext) -> Violation | None:
    """A last, first, passport or preferred name is a placeholder (FNU, LNU, Unknown, None, Not Applicable)."""
    for field, value in _names(ctx):
        if field in (*CHECKED, "PreferredName") and _unacceptable(value):
            return Violation.of("S1142", lastname_firstname_passportname_preferredname=field)
    return None


@rule("S1148", *EVENTS)
def names_letters_only(ctx: RuleContext) -> Violation | None:
    """A last, first or passport name holds characters other than the letters A-Z and blanks."""
    for field, value in _names(ctx):
        if field in CHECKED and not LETTERS.fullmatch(value):
            return Violation.of("S1148", lastname_firstname_passportname=field)
    return None


@rule("S1143", *EVENTS)
def preferred_name_letters_only(ctx: RuleContext) -> Violation | None:
    """A preferred name holds characters other than the letters A-Z and blanks [i: same standard as the other names]."""
    for field, value in _names(ctx):
        if field == "PreferredName" and not LETTERS.fullmatch(value):
            return Violation.of("S1143")
    return None
