"""The test school a rehearsal registers: sample details, or a college's own from a small YAML file.

    school_name: Example Community College      # as it will appear on the I-17
    category: F                                 # F, FM (F and M) or M
    organization_name: Example College District # for the SEVP Response Center (default: school_name)
    contact:                                    # the person who registers the account (temporary user)
      {first_name: Alex, last_name: Rivera, email: alex.rivera@example.edu, phone: "555-010-0100"}
    campuses:                                   # 1-3; exactly one main campus
      - {name: Main Campus, main: true, address: {address1: 100 College Ave, city: Springfield, state: IL, zip: "62701"}}
    officials:                                  # 1-4; a PDSO per campus (campus = index into campuses)
      - {role: PDSO, first_name: Sam, last_name: Lee, email: sam.lee@example.edu, campus: 0}

Keys left out take the sample's values; `campuses` and `officials`, when given, replace the sample's.
"""

from __future__ import annotations

import copy
import secrets
from pathlib import Path
from typing import Any

import yaml

KEYS = {"school_name", "category", "organization_name", "contact", "campuses", "officials"}
CATEGORIES = {"F", "FM", "M"}
CONTACT_KEYS = ("first_name", "last_name", "email", "phone")
OFFICIAL_KEYS = ("role", "first_name", "last_name", "email", "campus")
ADDRESS_KEYS = ("address1", "city", "state", "zip")


class SchoolFileError(ValueError):
    """The school file is unusable; the message names the key and what to write."""


def sample_school(tag: str | None = None) -> dict[str, Any]:
    """The sample test school; `tag` makes its e-mail addresses unique to one rehearsal."""
    tag = tag or secrets.token_hex(3)
    return {
        "school_name": "Rehearsal Test College",
        "category": "F",
        "organization_name": "Rehearsal Test College",
        "contact": {
            "first_name": "Alex",
            "last_name": "Rivera",
            "email": f"alex.rivera+{tag}@example.edu",
            "phone": "555-010-0100",
        },
        "campuses": [
            {
                "name": "Main Campus",
                "main": True,
                "address": {
                    "address1": "100 College Avenue",
                    "address2": "",
                    "city": "Springfield",
                    "state": "IL",
                    "zip": "62701",
                },
            }
        ],
        "officials": [
            {
                "role": "PDSO",
                "first_name": "Sam",
                "last_name": "Lee",
                "email": f"sam.lee+{tag}@example.edu",
                "campus": 0,
            },
            {
                "role": "DSO",
                "first_name": "Jordan",
                "last_name": "Park",
                "email": f"jordan.park+{tag}@example.edu",
                "campus": 0,
            },
        ],
    }


def require(mapping: Any, keys: tuple[str, ...], where: str, error: type[SchoolFileError] = SchoolFileError) -> None:
    """``error`` unless ``mapping`` is a mapping giving every one of ``keys``."""
    if not isinstance(mapping, dict):
        raise error(f"{where}: expected a mapping with {', '.join(keys)}")
    missing = [k for k in keys if mapping.get(k) in (None, "")]
    if missing:
        raise error(f"{where}: missing {', '.join(missing)}")


def read_details(
    path: Path, sample: dict[str, Any], keys: set[str], name_key: str, error: type[SchoolFileError]
) -> dict[str, Any]:
    """The organization details of the YAML file ``path`` over ``sample``: the keys it gives replace the
    sample's (``contact`` key by key); ``organization_name`` defaults to the ``name_key`` it gives."""
    try:
        given = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise error(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(given, dict):
        raise error(f"{path}: expected a mapping of {', '.join(sorted(keys))}")
    unknown = sorted(set(given) - keys)
    if unknown:
        raise error(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(keys))}")
    merged = copy.deepcopy(sample)
    for key, value in given.items():
        if key == "contact" and isinstance(value, dict):
            merged["contact"] = {**sample["contact"], **value}
        else:
            merged[key] = value
    if name_key in given and "organization_name" not in given:
        merged["organization_name"] = given[name_key]
    return merged


def validate_school(school: dict[str, Any]) -> dict[str, Any]:
    """Check the shape the I-17 needs; return the school unchanged or raise `SchoolFileError`."""
    if school["category"] not in CATEGORIES:
        raise SchoolFileError(f"category: {school['category']!r} is not one of F, FM, M")
    require(school["contact"], CONTACT_KEYS, "contact")
    campuses = school["campuses"]
    if not isinstance(campuses, list) or not 1 <= len(campuses) <= 3:
        raise SchoolFileError("campuses: give 1 to 3 campuses")
    for i, campus in enumerate(campuses):
        require(campus, ("name",), f"campuses[{i}]")
        require(campus.get("address"), ADDRESS_KEYS, f"campuses[{i}].address")
        campus["main"] = bool(campus.get("main", False))
    if sum(c["main"] for c in campuses) != 1:
        raise SchoolFileError("campuses: exactly one campus must have `main: true`")
    officials = school["officials"]
    if not isinstance(officials, list) or not 1 <= len(officials) <= 4:
        raise SchoolFileError("officials: give 1 to 4 officials")
    for i, official in enumerate(officials):
        require(official, OFFICIAL_KEYS[:-1], f"officials[{i}]")
        official.setdefault("campus", 0)
        if official["role"] not in ("PDSO", "DSO"):
            raise SchoolFileError(f"officials[{i}].role: {official['role']!r} is not PDSO or DSO")
        if not isinstance(official["campus"], int) or not 0 <= official["campus"] < len(campuses):
            raise SchoolFileError(f"officials[{i}].campus: give the index of a campus (0 to {len(campuses) - 1})")
    for i in range(len(campuses)):
        pdsos = [o for o in officials if o["campus"] == i and o["role"] == "PDSO"]
        if len(pdsos) != 1:
            raise SchoolFileError(f"campuses[{i}] ({campuses[i]['name']}) needs exactly one PDSO among officials")
    return school


def load_school(path: Path | None, tag: str | None = None) -> tuple[dict[str, Any], bool]:
    """(school details, True when they came from `path`). Without a path, the sample school."""
    school = sample_school(tag)
    if path is None:
        return school, False
    merged = read_details(path, school, KEYS, "school_name", SchoolFileError)
    merged["category"] = str(merged["category"]).upper()
    return validate_school(merged), True


def password_for(user: str) -> str:
    """A fresh password meeting RTI's rules (upper, lower, digit, special; 8+ characters)."""
    return f"Rh{secrets.token_urlsafe(9)}a7!"
