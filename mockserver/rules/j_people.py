"""J rules on people: names, birth country, e-mail, duplicates and dependents."""

from __future__ import annotations

import re
from typing import Iterator

from lxml import etree

from ..xmlsafe import XML_SPACE
from . import RuleContext, StoredRecord, Violation, as_date, rule, sent, text
from .j_common import (
    ACTIVE_STATES,
    CHILD,
    SPOUSE,
    US_AND_TERRITORIES,
    add_years,
    dependent_ref,
    persons,
    sub_event,
    us_date,
)
from .keys import duplicate_key_for

NAME_FIELDS = ("LastName", "FirstName", "PassportName")
ALLOWED_NAME = re.compile(r"[A-Za-z ]*")
# Since release 6.21 SEVIS refuses placeholders instead of real names. [c] FNU/LNU/Unknown; None, Not
# Applicable and the NFN/NLN variants [i]. (Short real names such as NA stay allowed.)
PLACEHOLDER_NAMES = {"FNU", "LNU", "UNKNOWN", "NONE", "NOT APPLICABLE", "NFN", "NLN"}
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


def _names(person: etree._Element) -> Iterator[tuple[str, str]]:
    for field in NAME_FIELDS:
        value = person.findtext(f"FullName/{field}")
        if value is not None and value.strip(XML_SPACE):
            yield field, value


@rule("S2244", "j.create", "j.Biographical", "j.Dependent")
def name_letters_only(ctx: RuleContext) -> Violation | None:
    """A last, first or passport name holds characters other than the letters A to Z and spaces."""
    for person in persons(ctx):
        for field, value in _names(person):
            if not ALLOWED_NAME.fullmatch(value):
                return Violation.of("S2244", lastname_firstname_passportname=field)
    return None


@rule("S2245", "j.create", "j.Biographical", "j.Dependent")
def name_not_a_placeholder(ctx: RuleContext) -> Violation | None:
    """A name is a placeholder such as FNU, LNU, Unknown, None or Not Applicable."""
    for person in persons(ctx):
        fields = [*_names(person), ("PreferredName", person.findtext("FullName/PreferredName") or "")]
        for field, value in fields:
            if " ".join(value.upper().replace(".", " ").split()) in PLACEHOLDER_NAMES:
                return Violation.of("S2245", lastname_firstname_passportname_preferredname=field)
    return None


@rule("S2246", "j.create", "j.Biographical", "j.Dependent")
def preferred_name_pattern(ctx: RuleContext) -> Violation | None:
    """A preferred name holds characters other than A-Z and spaces, or one letter repeated three times. [i]"""
    for person in persons(ctx):
        value = person.findtext("FullName/PreferredName") or ""
        if value.strip(XML_SPACE) and (not ALLOWED_NAME.fullmatch(value) or re.search(r"([A-Za-z])\1\1", value)):
            return Violation.of("S2246")
    return None


def _birth_reason(person: etree._Element) -> tuple[etree._Element | None, str]:
    element = person.find("BirthCountryReason")
    return element, (element.text or "").strip(XML_SPACE) if element is not None else ""


@rule("S2102", "j.create", "j.Dependent")
def us_born_needs_reason(ctx: RuleContext) -> Violation | None:
    """The country of birth is the U.S. or a U.S. territory and no birth country reason is given."""
    for person in persons(ctx):
        country = text(person, "BirthCountryCode")
        if country in US_AND_TERRITORIES and not _birth_reason(person)[1]:
            return Violation.of("S2102")
    return None


@rule("S2103", "j.create", "j.Biographical", "j.Dependent")
def foreign_born_has_no_reason(ctx: RuleContext) -> Violation | None:
    """The country of birth is not the U.S. or a U.S. territory but a birth country reason has a value."""
    for person in persons(ctx):
        country = text(person, "BirthCountryCode")
        if country and country not in US_AND_TERRITORIES and _birth_reason(person)[1]:
            return Violation.of("S2103")
    return None


@rule("S2104", "j.Biographical")
def reason_cleared_when_birth_country_changes(ctx: RuleContext) -> Violation | None:
    """A biographical update moves the birth country away from the U.S. without the empty BirthCountryReason tag that clears the stored reason."""
    country = text(ctx.event_element, "BirthCountryCode")
    stored_reason = text(ctx.stored, "Biographical/BirthCountryReason")
    element, _ = _birth_reason(sent(ctx))  # the Biographical event
    if country and country not in US_AND_TERRITORIES and stored_reason and element is None:
        return Violation.of("S2104")
    return None


@rule("S2010", "j.create", "j.Biographical", "j.Validate", "j.TIPP")
def email_well_formed(ctx: RuleContext) -> Violation | None:
    """An e-mail address is not of the form name@domain.tld (letters, digits and the usual symbols). [i]"""
    scope = sent(ctx)
    for element in scope.iter():
        if isinstance(element.tag, str) and element.tag.endswith(("Email", "EmailAddress")):
            value = (element.text or "").strip(XML_SPACE)
            if value and not EMAIL.fullmatch(value):
                return Violation.of("S2010")
    return None


@rule("S2141", "j.create")
def not_a_duplicate_exchange_visitor(ctx: RuleContext) -> Violation | None:
    """The same exchange visitor (name, birth date, birth country, gender) is earlier in this batch or in Initial/Active status at the sponsor."""
    key = duplicate_key_for("J", ctx.element)
    if key in ctx.duplicate_keys_seen or ctx.existing_duplicate(key):
        return Violation.of("S2141")
    return None


# --- dependents ----------------------------------------------------------------------------------


@rule("S2119", "j.create", "j.Dependent")
def one_spouse(ctx: RuleContext) -> Violation | None:
    """A second spouse is created or added while a spouse is already in Initial or Active status."""
    if ctx.event == "create":
        spouses = [d for d in ctx.element.findall("CreateDependent/Dependent") if text(d, "Relationship") == SPOUSE]
        return Violation.of("S2119") if len(spouses) > 1 else None
    change = sub_event(ctx, "Dependent")
    if change is None or text(change, "Relationship") != SPOUSE or change.tag not in ("Add", "Edit"):
        return None
    others = [d for d in ctx.dependents if d.sevis_id != change.get("dependentSevisID")]
    if any(d.relationship_code == SPOUSE and d.status in ACTIVE_STATES for d in others):
        return Violation.of("S2119")
    return None


@rule("S2121", "j.create", "j.Dependent")
def child_under_21(ctx: RuleContext) -> Violation | None:
    """A child dependent is 21 or older today (born before today less 21 years)."""
    people = persons(ctx)[1:] if ctx.event == "create" else persons(ctx)
    for person in people:
        relationship = text(person, "Relationship")
        if not relationship and ctx.event != "create":  # an Edit that keeps the stored relationship
            stored = _dependent(ctx, person.get("dependentSevisID"))
            relationship = stored.relationship_code if stored is not None else None
        born = as_date(text(person, "BirthDate"))
        earliest = add_years(ctx.today, -21)
        if relationship == CHILD and born is not None and born < earliest:
            return Violation.of(
                "S2121",
                date=us_date(earliest),
                last_name=text(person, "FullName/LastName") or "",
                first_name=text(person, "FullName/FirstName") or "",
            )
    return None


def _dependent(ctx: RuleContext, sevis_id: str | None) -> StoredRecord | None:
    return next((d for d in ctx.dependents if d.sevis_id == sevis_id), None)


@rule("S2230", "j.Dependent")
def dependent_status_allows_update(ctx: RuleContext) -> Violation | None:
    """The dependent named by the event (edit, reprint, end status, termination, delete) is not Initial or Active. [i]"""
    _, sevis_id = dependent_ref(ctx)
    dependent = _dependent(ctx, sevis_id)
    if dependent is not None and dependent.status not in ACTIVE_STATES:
        return Violation.of("S2230", status=dependent.status)
    return None
