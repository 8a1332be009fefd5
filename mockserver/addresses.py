"""A deterministic USPS-style address standardization, reported as provided vs corrected.

[i] SEVIS runs addresses through an address "doctor" and logs the provided and the corrected address
with a result code (PROTOCOL §3, e.g. ZIP 20522 -> 20522-0001). The mock upper-cases, collapses
spaces, abbreviates common street suffixes and adds a ZIP+4 derived from the street, so the same
input always gives the same correction.
"""
from __future__ import annotations

import hashlib
import re

from lxml import etree

SUFFIXES = {
    "STREET": "ST", "AVENUE": "AVE", "ROAD": "RD", "BOULEVARD": "BLVD", "DRIVE": "DR", "LANE": "LN",
    "COURT": "CT", "PLACE": "PL", "SQUARE": "SQ", "TERRACE": "TER", "PARKWAY": "PKWY", "HIGHWAY": "HWY",
    "CIRCLE": "CIR", "SUITE": "STE", "APARTMENT": "APT", "BUILDING": "BLDG", "FLOOR": "FL",
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W", "NORTHWEST": "NW", "NORTHEAST": "NE",
    "SOUTHWEST": "SW", "SOUTHEAST": "SE",
}
FIELDS = ("Address1", "Address2", "City", "State", "PostalCode")
ADDRESS_OK = "S0000"  # [i] the code SEVIS logs for an address it could standardize


def provided(element: etree._Element) -> dict[str, str]:
    out = {}
    for name in FIELDS:
        child = element.find(name)
        if child is not None and (child.text or "").strip():
            out[name] = " ".join(child.text.split())
    return out


def _street(line: str) -> str:
    words = re.sub(r"[.,]", " ", line.upper()).split()
    return " ".join(SUFFIXES.get(w, w) for w in words)


def standardize(address: dict[str, str]) -> dict[str, str]:
    corrected = {}
    for name in ("Address1", "Address2"):
        if address.get(name):
            corrected[name] = _street(address[name])
    if address.get("City"):
        corrected["City"] = " ".join(address["City"].upper().split())
    if address.get("State"):
        corrected["State"] = address["State"].upper()
    zip5 = address.get("PostalCode", "")[:5]
    if "-" in address.get("PostalCode", ""):
        corrected["PostalCode"] = address["PostalCode"]
    elif zip5:
        digest = hashlib.sha256(corrected.get("Address1", "").encode()).digest()
        corrected["PostalCode"] = f"{zip5}-{int.from_bytes(digest[:2], 'big') % 9999 + 1:04d}"
    return corrected


def doctor(element: etree._Element) -> dict:
    """Provided vs corrected address of ``element`` with its AddressResult."""
    given = provided(element)
    return {"provided": given, "corrected": standardize(given), "result": ADDRESS_OK}
