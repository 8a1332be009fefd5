"""Organization profiles: what SEVIS holds about a school (its Form I-17) or a sponsor (its Department of
State designation), which batch rules read.

A school's profile::

    {"visa_types": ["F", "M"],            # SEVP approved the school for F, M or both (S1049)
     "english_language_school": false,    # an English language school may not authorize CPT (S1027)
     "public_institution": false,         # a public school may not admit F-1 primary students (S1035)
     "programs_of_study": null,           # approved major codes (CIP); null = every program (S1025)
     "stem_programs": null,               # majors on the DHS STEM list (CIP); null = none marked (S1139)
     "withdrawal": null}                  # SEVP withdrew the school (S1109): {"appeal": "none" | "rights" |
                                          # "pending" | "dismissed" | "not received",
                                          #  "access_termination_date": "2027-03-01" | null}

A sponsor's designation::

    {"categories": null,                  # designated EV category codes (table 15); null = all (S2163)
     "occupational_categories": null,     # designated occupational category codes (table 27); null = all (S2235)
     "form_allotment": null,              # DS-2019s the sponsor may issue from now on; null = no limit (S2021)
     "active": true,                      # the designation is active (S2157)
     "korea_west": false}                 # the sponsor runs the Korea WEST program (S2250, S2257)

A sponsor's reply also carries ``form_allotment_base``, read-only: the exchange visitor records it held (in
every environment) when ``form_allotment`` was last set; creates beyond ``form_allotment_base +
form_allotment`` answer S2021. An organization without a stored profile has the defaults above. ``POST /control/orgs/<id>/profile``
changes any of these keys, ``POST /control/seed`` takes them under ``"profile"``, RTI's I-17 form
collects the school's, and RTI's pages show them.
"""

from __future__ import annotations

import json
import re
from datetime import date

from .codetables import meaning, table
from .store import OrganizationProfile, Record

SCHOOL_DEFAULTS = {
    "visa_types": ["F", "M"],
    "english_language_school": False,
    "public_institution": False,
    "programs_of_study": None,
    "stem_programs": None,
    "withdrawal": None,
}
SPONSOR_DEFAULTS = {
    "categories": None,
    "occupational_categories": None,
    "form_allotment": None,
    "active": True,
    "korea_west": False,
    "form_allotment_base": 0,
}
READ_ONLY = {"form_allotment_base"}
MAX_PROGRAMS = 2000
_CIP = re.compile(r"\d{2}\.\d{4}")


class ProfileError(ValueError):
    """A profile value that is not what SEVIS would hold; the message says what to send instead."""


def defaults(kind: str) -> dict:
    return dict(SCHOOL_DEFAULTS if kind == "F/M" else SPONSOR_DEFAULTS)


def merged(kind: str, stored: str | None, changes: dict | None = None) -> dict:
    """The profile: defaults, overlaid by the stored JSON, overlaid by validated ``changes``."""
    profile = defaults(kind)
    if stored:
        try:
            saved = json.loads(stored)
        except ValueError:
            saved = {}
        if isinstance(saved, dict):
            profile.update({k: v for k, v in saved.items() if k in profile})
    if changes:
        profile.update(validate(kind, changes))
    return profile


def validate(kind: str, changes: dict) -> dict:
    """``changes`` checked key by key; raises :class:`ProfileError` naming the first wrong key."""
    if not isinstance(changes, dict):
        raise ProfileError("the profile must be a JSON object")
    known = defaults(kind)
    unknown = sorted(k for k in changes if k not in known or k in READ_ONLY)
    if unknown:
        what = "a school's I-17" if kind == "F/M" else "a sponsor's designation"
        keys = ", ".join(k for k in known if k not in READ_ONLY)
        raise ProfileError(f"{', '.join(map(repr, unknown))[:200]}: not a settable part of {what}; use {keys}")
    out = {}
    for key, value in changes.items():
        out[key] = CHECKS[key](kind, key, value)
    return out


def _bool(kind: str, key: str, value) -> bool:
    if not isinstance(value, bool):
        raise ProfileError(f"{key} must be true or false")
    return value


def _visa_types(kind: str, key: str, value) -> list[str]:
    if not isinstance(value, list) or not value or any(v not in ("F", "M") for v in value):
        raise ProfileError(f'{key} must be a non-empty list of "F" and/or "M" (the visa types SEVP approved)')
    return sorted(set(value))


def _codes(type_name: str, what: str):
    def check(kind: str, key: str, value):
        if value is None:
            return None
        valid = table(type_name, "J")
        if not isinstance(value, list) or any(not isinstance(v, str) or v not in valid for v in value):
            raise ProfileError(f"{key} must be null (all) or a list of {what} codes: {', '.join(valid)}")
        return sorted(set(value), key=list(valid).index)

    return check


def _programs(kind: str, key: str, value):
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_PROGRAMS
        or any(not isinstance(v, str) or not _CIP.fullmatch(v) for v in value)
    ):
        raise ProfileError(f"{key} must be null or a list of at most {MAX_PROGRAMS} CIP major codes such as 11.0701")
    return sorted(set(value))


APPEALS = ("none", "rights", "pending", "dismissed", "not received")


def _withdrawal(kind: str, key: str, value):
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"appeal", "access_termination_date"}:
        raise ProfileError(f'{key} must be null or {{"appeal": ..., "access_termination_date": ...}}')
    appeal = value.get("appeal", "none")
    if appeal not in APPEALS:
        raise ProfileError(f"{key}.appeal must be one of {', '.join(APPEALS)}")
    ends = value.get("access_termination_date")
    if ends is not None:
        try:
            ends = date.fromisoformat(str(ends)).isoformat()
        except ValueError:
            raise ProfileError(f"{key}.access_termination_date must be null or a date such as 2027-03-01") from None
    return {"appeal": appeal, "access_termination_date": ends}


def _allotment(kind: str, key: str, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise ProfileError(f"{key} must be null (no limit) or a whole number from 0 to 1000000")
    return value


CHECKS = {
    "visa_types": _visa_types,
    "english_language_school": _bool,
    "public_institution": _bool,
    "programs_of_study": _programs,
    "stem_programs": _programs,
    "withdrawal": _withdrawal,
    "categories": _codes("EVCategoryCodeType", "EV category (SEVIS table 15)"),
    "occupational_categories": _codes("EVOccupationCategoryCodeType", "occupational category (SEVIS table 27)"),
    "form_allotment": _allotment,
    "active": _bool,
    "korea_west": _bool,
}


def _withdrawn_words(withdrawal: dict | None) -> str:
    if withdrawal is None:
        return "no"
    ends = withdrawal["access_termination_date"]
    return f"yes; appeal: {withdrawal['appeal']}" + (f"; access ends {ends}" if ends else "")


def describe(kind: str, profile: dict) -> list[tuple[str, str]]:
    """(label, value) pairs for RTI's pages."""

    def codes(values, type_name):
        if values is None:
            return "all"
        return ", ".join(f"{v} ({meaning(type_name, v, 'J') or '?'})" for v in values) or "none"

    if kind == "F/M":
        return [
            ("Visa types approved", " and ".join(f"{v}-1" for v in profile["visa_types"])),
            ("English language school", "yes" if profile["english_language_school"] else "no"),
            ("Public institution", "yes" if profile["public_institution"] else "no"),
            (
                "Programs of study",
                "all" if profile["programs_of_study"] is None else ", ".join(profile["programs_of_study"]) or "none",
            ),
            ("STEM programs", ", ".join(profile["stem_programs"] or []) or "none marked"),
            ("Withdrawn", _withdrawn_words(profile["withdrawal"])),
        ]
    allotment = profile["form_allotment"]
    return [
        ("Designation", "active" if profile["active"] else "inactive"),
        ("Categories", codes(profile["categories"], "EVCategoryCodeType")),
        ("Occupational categories", codes(profile["occupational_categories"], "EVOccupationCategoryCodeType")),
        ("Form allotment", "no limit" if allotment is None else f"{allotment} more DS-2019s"),
        ("Korea WEST sponsor", "yes" if profile["korea_west"] else "no"),
    ]


# --- held per organization (table ``organization_profiles``) -------------------------------------------


def load(session, org_id: str, kind: str) -> dict:
    """The organization's profile, defaults filled in."""
    row = session.get(OrganizationProfile, org_id)
    return merged(kind, row.profile if row else None)


def save(session, org, changes: dict, now) -> dict:
    """Apply ``changes`` (ProfileError when one is wrong) inside the caller's write transaction; the whole profile."""
    row = session.get(OrganizationProfile, org.org_id)
    profile = merged(org.kind, row.profile if row else None, changes)
    if "form_allotment" in changes:
        profile["form_allotment_base"] = count_records(session, org.org_id)
    if row is None:
        session.add(OrganizationProfile(org_id=org.org_id, profile=json.dumps(profile), updated_at=now))
    else:
        row.profile, row.updated_at = json.dumps(profile), now
    return profile


def count_records(session, org_id: str) -> int:
    """Principal records (students, exchange visitors) the organization holds, in every environment."""
    from sqlalchemy import func, select

    return session.scalar(
        select(func.count()).select_from(Record).where(Record.org_id == org_id, Record.principal_sevis_id.is_(None))
    )
