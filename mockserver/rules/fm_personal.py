"""F/M personal-information rules: birth date, commuter status, e-mail and telephone."""

from __future__ import annotations

import re

from lxml import etree

from ..xmlsafe import XML_SPACE
from . import RuleContext, Violation, as_date, rule, student, text
from .fm_facts import K12_LEVELS, M1, age_on, edu_level, visa_type

PERSON_EVENTS = ("fm.create", "fm.PersonalInfo", "fm.Dependent", "fm.Registration")
COMMUTER_COUNTRIES = {"CA", "MX"}  # border commuters are Canadian or Mexican nationals (8 CFR 214.2(f)(18)) [i]
LOCAL = re.compile(r"[^.](?:.*[^.])?")


def _scope(ctx: RuleContext) -> etree._Element | None:
    """What this record sends: the whole create, or the update's event element."""
    return ctx.element if ctx.record is None else ctx.event_element


def _yes(value: str | None) -> bool:
    return (value or "").strip().upper() in ("Y", "TRUE", "1")


@rule("S1067", *PERSON_EVENTS)
def birth_date_not_future(ctx: RuleContext) -> Violation | None:
    """A birth date (student or dependent) is after today."""
    scope = _scope(ctx)
    for born in [] if scope is None else scope.iter("BirthDate"):
        day = as_date((born.text or "").strip(XML_SPACE))
        if day and day > ctx.today:
            return Violation.of("S1067")
    return None


@rule("S1053", "fm.create", "fm.PersonalInfo", "fm.Registration")
def commuter_citizenship(ctx: RuleContext) -> Violation | None:
    """Commuter is set for a student whose country of citizenship is neither Canada nor Mexico [i]."""
    scope = _scope(ctx)
    commuter = scope.find(".//Commuter") if scope is not None else None
    if commuter is None or not _yes(commuter.text):
        return None
    country = text(scope, ".//CitizenshipCountryCode") or text(student(ctx), "PersonalInfo/CitizenshipCountryCode")
    if country not in COMMUTER_COUNTRIES:
        return Violation.of("S1053")
    return None


def _email_malformed(value: str) -> bool:
    local, _, domain = value.partition("@")
    labels = domain.split(".")
    return (
        ".." in value
        or not LOCAL.fullmatch(local)
        or any(not label or label.startswith("-") or label.endswith("-") for label in labels)
    )


@rule("S1160", "fm.create", "fm.PersonalInfo", "fm.Dependent", "fm.Registration", "fm.OPTEmployment", "fm.OPTEmployer")
def email_well_formed(ctx: RuleContext) -> Violation | None:
    """An e-mail address has a dot at the start or end of its local part, two dots in a row, or an empty or hyphen-edged domain label [i]."""
    scope = _scope(ctx)
    for tag in ("Email", "SupervisorEmail"):
        for email in [] if scope is None else scope.iter(tag):
            value = (email.text or "").strip(XML_SPACE)
            if value and _email_malformed(value):
                return Violation.of("S1160")
    return None


# --- contact details on create ----------------------------------------------------------------------


def _contact(ctx: RuleContext) -> dict:
    info = ctx.element.find("PersonalInfo")
    born = as_date(text(info, "BirthDate"))
    return {
        "email": bool(text(info, "Email")),
        "numbers": any(
            text(info, p)
            for p in (
                "Telephone/Phone/USNumber",
                "Telephone/Phone/Foreign/CountryNumber",
                "Telephone/Phone/Foreign/PhoneNumber",
            )
        ),
        "phone": any(text(info, p) for p in ("Telephone/Phone/USNumber", "Telephone/Phone/Foreign/PhoneNumber")),
        "telephone_sent": info is not None and info.find("Telephone") is not None,
        "exempt": text(info, "Telephone/TelephoneExemptInd") == "Y",
        "k12": edu_level(ctx) in K12_LEVELS,
        "m1_under_14": visa_type(ctx) == M1 and born is not None and age_on(born, ctx.today) < 14,
    }


@rule("S1163", "fm.create")
def k12_without_contact(ctx: RuleContext) -> Violation | None:
    """A K-12 student (primary, secondary or high school level [i]) is sent with an e-mail or telephone number."""
    c = _contact(ctx)
    if c["k12"] and (c["email"] or c["numbers"]):
        return Violation.of("S1163")
    return None


@rule("S1166", "fm.create")
def young_m1_without_contact(ctx: RuleContext) -> Violation | None:
    """An M-1 student under 14 is sent with an e-mail or telephone number."""
    c = _contact(ctx)
    if c["m1_under_14"] and not c["k12"] and (c["email"] or c["numbers"]):
        return Violation.of("S1166")
    return None


@rule("S1167", "fm.create", "fm.PersonalInfo", "fm.Registration")
def exempt_without_numbers(ctx: RuleContext) -> Violation | None:
    """TelephoneExemptInd is Y and a U.S. or foreign telephone number is given."""
    scope = _scope(ctx)
    for tel in [] if scope is None else scope.iter("Telephone"):
        if text(tel, "TelephoneExemptInd") == "Y" and any(
            text(tel, p) for p in ("Phone/USNumber", "Phone/Foreign/CountryNumber", "Phone/Foreign/PhoneNumber")
        ):
            return Violation.of("S1167")
    return None


@rule("S1164", "fm.create")
def phone_given(ctx: RuleContext) -> Violation | None:
    """Telephone is sent, not exempt, without a U.S. or foreign phone number, for a student who is not K-12 or an M-1 under 14 [i: a create without Telephone is not refused]."""
    c = _contact(ctx)
    if c["telephone_sent"] and not (c["exempt"] or c["phone"] or c["k12"] or c["m1_under_14"]):
        return Violation.of("S1164")
    return None


@rule("S1165", "fm.create")
def email_given(ctx: RuleContext) -> Violation | None:
    """A student who is not K-12 or an M-1 under 14 is created without an e-mail address."""
    c = _contact(ctx)
    if not (c["email"] or c["k12"] or c["m1_under_14"]):
        return Violation.of("S1165")
    return None
