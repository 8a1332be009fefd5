"""The test exchange-visitor program a J rehearsal designates: sample details, or a sponsor's own from YAML.

    sponsor_name: Example Exchange Foundation      # as it will appear on Form DS-3036
    program_type: P-3                              # P-1 academic, P-3 private sector, P-4 government [i]
    categories: ["08", "2A"]                       # exchange-visitor category codes (lookup table 15)
    organization_name: Example Exchange Foundation # for the help desk (default: sponsor_name)
    contact:                                       # the person who registers the account (temporary user)
      {first_name: Rosa, last_name: Martin, email: rosa.martin@example.org, phone: "202-555-0100"}
    sites:                                         # 1-3; the first is the program's main site
      - {name: Headquarters, address: {address1: 2201 C Street NW, city: Washington, state: DC, zip: "20520"}}
    officials:                                     # 1-10: exactly one RO, the others AROs
      - {role: RO, first_name: Rory, last_name: Quinn, email: rory.quinn@example.org}

Keys left out take the sample's values; `sites`, `officials` and `categories`, when given, replace the
sample's. The sample batches need categories 08 (research scholar) and 2A (trainee) designated; with the
sponsor's own batches (`--batch`) and no `categories`, the DS-3036 applies for the categories they use.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any


from .school import SchoolFileError, read_details, require

KEYS = {"sponsor_name", "program_type", "categories", "organization_name", "contact", "sites", "officials"}
PROGRAM_TYPES = ("P-1", "P-3", "P-4")
CONTACT_KEYS = ("first_name", "last_name", "email", "phone")
OFFICIAL_KEYS = ("role", "first_name", "last_name", "email")
ADDRESS_KEYS = ("address1", "city", "state", "zip")
SAMPLE_CATEGORIES = ["08", "2A"]  # what the sample batch uses: a research scholar and a trainee


class SponsorFileError(SchoolFileError):
    """The sponsor file is unusable; the message names the key and what to write."""


def sample_sponsor(tag: str | None = None) -> dict[str, Any]:
    """The sample test program; `tag` makes its e-mail addresses unique to one rehearsal."""
    tag = tag or secrets.token_hex(3)
    return {
        "sponsor_name": "Rehearsal Exchange Foundation",
        "program_type": "P-3",
        "categories": list(SAMPLE_CATEGORIES),
        "organization_name": "Rehearsal Exchange Foundation",
        "contact": {
            "first_name": "Rosa",
            "last_name": "Martin",
            "email": f"rosa.martin+{tag}@example.org",
            "phone": "202-555-0100",
        },
        "sites": [
            {
                "name": "Headquarters",
                "address": {
                    "address1": "2201 C Street NW",
                    "address2": "",
                    "city": "Washington",
                    "state": "DC",
                    "zip": "20520",
                },
            }
        ],
        "officials": [
            {"role": "RO", "first_name": "Rory", "last_name": "Quinn", "email": f"rory.quinn+{tag}@example.org"},
            {"role": "ARO", "first_name": "Ari", "last_name": "Novak", "email": f"ari.novak+{tag}@example.org"},
        ],
    }


def _require(mapping: Any, keys: tuple[str, ...], where: str) -> None:
    require(mapping, keys, where, SponsorFileError)


def validate_sponsor(sponsor: dict[str, Any]) -> dict[str, Any]:
    """Check the shape Form DS-3036 needs; return the sponsor unchanged or raise `SponsorFileError`."""
    if sponsor["program_type"] not in PROGRAM_TYPES:
        raise SponsorFileError(
            f"program_type: {sponsor['program_type']!r} is not one of P-1 (academic), P-3 (private sector), "
            "P-4 (government)"
        )
    categories = sponsor["categories"]
    if not isinstance(categories, list) or not categories:
        raise SponsorFileError('categories: give a list of exchange-visitor category codes, e.g. ["08", "2A"]')
    sponsor["categories"] = [str(c).strip().upper().zfill(2) for c in categories]
    _require(sponsor["contact"], CONTACT_KEYS, "contact")
    sites = sponsor["sites"]
    if not isinstance(sites, list) or not 1 <= len(sites) <= 3:
        raise SponsorFileError("sites: give 1 to 3 sites (the first is the program's main site)")
    for i, site in enumerate(sites):
        _require(site, ("name",), f"sites[{i}]")
        _require(site.get("address"), ADDRESS_KEYS, f"sites[{i}].address")
    officials = sponsor["officials"]
    if not isinstance(officials, list) or not 1 <= len(officials) <= 10:
        raise SponsorFileError("officials: give 1 to 10 officials (one RO, the others AROs)")
    for i, official in enumerate(officials):
        _require(official, OFFICIAL_KEYS, f"officials[{i}]")
        official["role"] = str(official["role"]).upper()
        if official["role"] not in ("RO", "ARO"):
            raise SponsorFileError(f"officials[{i}].role: {official['role']!r} is not RO or ARO")
        official["campus"] = 0  # the rehearsal's officials all belong to the one program number
    if sum(o["role"] == "RO" for o in officials) != 1:
        raise SponsorFileError("officials: exactly one official must have `role: RO` (the Responsible Officer)")
    return sponsor


def load_sponsor(path: Path | None, tag: str | None = None) -> tuple[dict[str, Any], bool]:
    """(sponsor details, True when they came from `path`). Without a path, the sample program."""
    sponsor = sample_sponsor(tag)
    if path is None:
        return validate_sponsor(sponsor), False
    merged = read_details(path, sponsor, KEYS, "sponsor_name", SponsorFileError)
    merged["program_type"] = str(merged["program_type"]).upper()
    return validate_sponsor(merged), True


def categories_in(documents: list[bytes]) -> list[str]:
    """The exchange-visitor category codes the creates of `documents` use, in the order of lookup table 15."""
    from lxml import etree

    from sevis_mock.server.rules.j_common import CATEGORIES

    found: set[str] = set()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    for xml in documents:
        try:
            root = etree.fromstring(xml, parser)
        except etree.XMLSyntaxError:
            continue
        found.update((el.text or "").strip() for el in root.iter("CategoryCode"))
    return [code for code in CATEGORIES if code in found]
