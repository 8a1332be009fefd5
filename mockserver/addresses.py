"""A deterministic USPS-style address standardization ("address doctor"), reported as provided vs corrected.

[c] SEVIS runs U.S. addresses through an address doctor and logs the provided address, the corrected one
(e.g. ZIP 20522 -> 20522-0001) and a result code; the message is one of "Valid", "Override with valid
CSZ", "Override Suggested", "Not Validated" (AddrDoctorMessage in Common.xsd). A bad city-state-ZIP
combination, or a street the doctor cannot find without an explanation code, fails the record with the
catalogue code of the address (S2247/S2267/S1145 …); ExplanationCode OO needs an Explanation.

How SEVIS writes a result (PROTOCOL §3a, one real alpha log) [c]:
- the corrected site address keeps the provided lines, upper-cased, and only adds the ZIP+4
  (``2200 C STREET NW`` stays so); ``AddressResult`` S0000 and no ``AddressMessage`` for a valid site;
- an ``Address2`` sent empty or ``xsi:nil`` comes back as an empty ``<Address2/>`` in the provided and the
  corrected address;
- a valid U.S. address of the exchange visitor gives ``PhysicalProvidedAddress`` and an empty
  ``PhysicalAddressMessage`` only (no corrected address, no result).

The mock decides the same way for the same input, from data it carries (all [i]):
- the ZIP's first three digits name its state (USPS 3-digit prefixes; unassigned prefixes are invalid);
- a small gazetteer of well-known ZIP codes knows their city, and a unique ZIP's own ZIP+4;
- a city must look like a city name (letters, spaces, ``.'-``); a street line must start with a house
  number or be a PO Box / PSC / Unit / RR / HC box;
- the ZIP+4 is derived from the house number and the street name; the city is upper-cased like the lines;
- ZIP codes of the Freely Associated States (Palau, Micronesia, the Marshall Islands) and the state
  code UM come back corrected WITHOUT a state, as some real corrections do (clients have crashed on it);
- a mailing address and an F/M student's addresses are reported like the exchange visitor's U.S. address;
  an address the doctor changed beyond case and ZIP+4 (the state dropped), overrode or refused keeps its
  corrected address, result and message, as do sites that are not plainly valid.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from lxml import etree

SUFFIXES = {
    "STREET": "ST",
    "AVENUE": "AVE",
    "ROAD": "RD",
    "BOULEVARD": "BLVD",
    "DRIVE": "DR",
    "LANE": "LN",
    "COURT": "CT",
    "PLACE": "PL",
    "SQUARE": "SQ",
    "TERRACE": "TER",
    "PARKWAY": "PKWY",
    "HIGHWAY": "HWY",
    "CIRCLE": "CIR",
    "SUITE": "STE",
    "APARTMENT": "APT",
    "BUILDING": "BLDG",
    "FLOOR": "FL",
    "EXPRESSWAY": "EXPY",
    "FREEWAY": "FWY",
    "TURNPIKE": "TPKE",
    "TRAIL": "TRL",
    "PLAZA": "PLZ",
    "CENTER": "CTR",
    "MOUNT": "MT",
    "POINT": "PT",
    "ROOM": "RM",
    "DEPARTMENT": "DEPT",
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHWEST": "NW",
    "NORTHEAST": "NE",
    "SOUTHWEST": "SW",
    "SOUTHEAST": "SE",
}
FIELDS = ("Address1", "Address2", "City", "State", "PostalCode")

VALID, OVERRIDDEN, BAD_CSZ, BAD_STREET, NO_EXPLANATION = (
    "valid",
    "overridden",
    "invalid_csz",
    "invalid_street",
    "explanation_missing",
)
MESSAGES = {
    VALID: "Valid",
    OVERRIDDEN: "Override with valid CSZ",
    BAD_CSZ: "Not Validated",
    BAD_STREET: "Override Suggested",
    NO_EXPLANATION: "Override Suggested",
}
ADDRESS_OK = "S0000"
OVERRIDE_CODES = {"OB", "OH", "OM", "ON", "OO", "OP"}


@dataclass(frozen=True)
class Codes:
    """The catalogue codes of one kind of address: bad city-state-ZIP, bad street, missing explanation."""

    invalid_csz: str
    invalid_street: str
    explanation_missing: str
    placeholders: dict = field(default_factory=dict)  # e.g. {"element": "U.S."} for "[element]"


J_SITE = Codes("S2247", "S2248", "S2249")
J_US = Codes("S2267", "S2268", "S2269", {"element": "U.S."})
J_MAIL = Codes("S2267", "S2268", "S2269", {"element": "mailing"})
FM_PERSON = Codes("S1145", "S1146", "S1147")
FM_EMPLOYER = Codes("S1154", "S1155", "S1156")

# --- reference data -------------------------------------------------------------------------------

# USPS 3-digit ZIP prefixes -> state. [i] from the public prefix list; military prefixes (090-099 AE,
# 340 AA, 962-966 AP) have no StateCodeType value and so never match a state sent in a batch.
_PREFIX_RANGES = (
    (5, 5, "NY"),
    (6, 7, "PR"),
    (8, 8, "VI"),
    (9, 9, "PR"),
    (10, 27, "MA"),
    (28, 29, "RI"),
    (30, 38, "NH"),
    (39, 49, "ME"),
    (50, 54, "VT"),
    (55, 55, "MA"),
    (56, 59, "VT"),
    (60, 69, "CT"),
    (70, 89, "NJ"),
    (100, 149, "NY"),
    (150, 196, "PA"),
    (197, 199, "DE"),
    (200, 200, "DC"),
    (201, 201, "VA"),
    (202, 205, "DC"),
    (206, 212, "MD"),
    (214, 219, "MD"),
    (220, 246, "VA"),
    (247, 268, "WV"),
    (270, 289, "NC"),
    (290, 299, "SC"),
    (300, 319, "GA"),
    (320, 339, "FL"),
    (341, 342, "FL"),
    (344, 344, "FL"),
    (346, 347, "FL"),
    (349, 349, "FL"),
    (350, 352, "AL"),
    (354, 369, "AL"),
    (370, 385, "TN"),
    (386, 397, "MS"),
    (398, 399, "GA"),
    (400, 418, "KY"),
    (420, 427, "KY"),
    (430, 458, "OH"),
    (460, 479, "IN"),
    (480, 499, "MI"),
    (500, 516, "IA"),
    (520, 528, "IA"),
    (530, 532, "WI"),
    (534, 535, "WI"),
    (537, 549, "WI"),
    (550, 551, "MN"),
    (553, 567, "MN"),
    (569, 569, "DC"),
    (570, 577, "SD"),
    (580, 588, "ND"),
    (590, 599, "MT"),
    (600, 620, "IL"),
    (622, 629, "IL"),
    (630, 631, "MO"),
    (633, 641, "MO"),
    (644, 658, "MO"),
    (660, 662, "KS"),
    (664, 679, "KS"),
    (680, 681, "NE"),
    (683, 693, "NE"),
    (700, 701, "LA"),
    (703, 708, "LA"),
    (710, 714, "LA"),
    (716, 729, "AR"),
    (730, 731, "OK"),
    (733, 733, "TX"),
    (734, 741, "OK"),
    (743, 749, "OK"),
    (750, 770, "TX"),
    (772, 799, "TX"),
    (800, 816, "CO"),
    (820, 831, "WY"),
    (832, 838, "ID"),
    (840, 847, "UT"),
    (850, 853, "AZ"),
    (855, 857, "AZ"),
    (859, 860, "AZ"),
    (863, 865, "AZ"),
    (870, 875, "NM"),
    (877, 884, "NM"),
    (885, 885, "TX"),
    (889, 891, "NV"),
    (893, 895, "NV"),
    (897, 898, "NV"),
    (900, 908, "CA"),
    (910, 928, "CA"),
    (930, 961, "CA"),
    (967, 968, "HI"),
    (970, 979, "OR"),
    (980, 986, "WA"),
    (988, 994, "WA"),
    (995, 999, "AK"),
)
PREFIX_STATES = {f"{n:03d}": state for low, high, state in _PREFIX_RANGES for n in range(low, high + 1)}

# ZIP codes whose state is not their prefix's (969xx is shared by Guam, the Northern Mariana Islands and
# the Freely Associated States; 96799 is American Samoa).
ZIP_STATES = {
    **{f"{n}": "GU" for n in range(96910, 96933)},
    **{f"{n}": "MP" for n in range(96950, 96953)},
    "96939": "PW",
    "96940": "PW",
    "96941": "FM",
    "96942": "FM",
    "96943": "FM",
    "96944": "FM",
    "96960": "MH",
    "96970": "MH",
    "96799": "AS",
}
# [i] The address doctor treats these as foreign: the correction keeps city and ZIP but drops the state.
STATELESS = {"PW", "FM", "MH", "UM"}

# A small gazetteer of well-known ZIP codes: city, and the ZIP+4 of a unique (single-addressee) ZIP.
GAZETTEER = {
    "20500": ("WASHINGTON", "0001"),
    "20520": ("WASHINGTON", "0001"),
    "20522": ("WASHINGTON", "0001"),
    "20001": ("WASHINGTON", None),
    "20002": ("WASHINGTON", None),
    "20036": ("WASHINGTON", None),
    "10001": ("NEW YORK", None),
    "10027": ("NEW YORK", None),
    "02110": ("BOSTON", None),
    "02115": ("BOSTON", None),
    "02138": ("CAMBRIDGE", None),
    "02139": ("CAMBRIDGE", None),
    "14850": ("ITHACA", None),
    "60601": ("CHICAGO", None),
    "60637": ("CHICAGO", None),
    "62701": ("SPRINGFIELD", None),
    "94103": ("SAN FRANCISCO", None),
    "94305": ("STANFORD", None),
    "90095": ("LOS ANGELES", None),
    "98195": ("SEATTLE", None),
    "48109": ("ANN ARBOR", None),
    "78712": ("AUSTIN", None),
    "30332": ("ATLANTA", None),
    "19104": ("PHILADELPHIA", None),
    "06520": ("NEW HAVEN", None),
    "08544": ("PRINCETON", None),
    "53706": ("MADISON", None),
    "55455": ("MINNEAPOLIS", None),
    "80302": ("BOULDER", None),
    "96822": ("HONOLULU", None),
    "99508": ("ANCHORAGE", None),
    "00901": ("SAN JUAN", None),
    "96910": ("HAGATNA", None),
    "96940": ("KOROR", None),
    "96941": ("POHNPEI", None),
    "96960": ("MAJURO", None),
}
CITY_ALIASES = {
    "WASHINGTON DC": "WASHINGTON",
    "NYC": "NEW YORK",
    "NEW YORK CITY": "NEW YORK",
    "AGANA": "HAGATNA",
    "PALIKIR": "POHNPEI",
}

_CITY = re.compile(r"[A-Z][A-Z .'-]*[A-Z.]")
_HOUSE = re.compile(r"(\d+)[A-Z]?(?:\s+\d/\d)?\s+\S")
_BOX = re.compile(r"(P\s*O\s*BOX|POST OFFICE BOX|PSC|UNIT|CMR|RR|HC)\s*\d+")


# --- standardization --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    status: str  # VALID | OVERRIDDEN | BAD_CSZ | BAD_STREET | NO_EXPLANATION
    corrected: dict  # empty when the doctor could not correct the address

    @property
    def ok(self) -> bool:
        return self.status in (VALID, OVERRIDDEN)


def provided(element: etree._Element) -> dict[str, str]:
    """The fields sent, whitespace collapsed; an ``Address2`` sent empty or nil is kept as "" (SEVIS echoes it)."""
    out = {}
    for name in (*FIELDS, "ExplanationCode", "Explanation"):
        child = element.find(name)
        if child is not None and (child.text or "").strip():
            out[name] = " ".join((child.text or "").split())
        elif child is not None and name == "Address2":
            out[name] = ""
    return out


def _line(value: str, limit: int) -> str:
    """A provided line as the corrected address keeps it: upper case, whitespace collapsed, within the log's
    limit (upper case can lengthen: ß -> SS)."""
    return " ".join(value.upper().split())[:limit]


def _street(line: str) -> str:
    words = re.sub(r"[.,#]", " ", line.upper()).split()
    street = " ".join(SUFFIXES.get(w, w) for w in words)
    return re.sub(r"^(P O|POST OFFICE) BOX\b", "PO BOX", street)


def _city(city: str) -> str:
    words = re.sub(r"[,]", " ", city.upper()).replace(".", "").split()
    words = ["SAINT" if w == "ST" and i == 0 else w for i, w in enumerate(words)]
    name = " ".join(words)
    return CITY_ALIASES.get(name, name)


def state_of_zip(zip5: str) -> str | None:
    return ZIP_STATES.get(zip5) or PREFIX_STATES.get(zip5[:3])


def plus4(zip5: str, street: str) -> str:
    """The ZIP+4 add-on: a unique ZIP's own, a PO box's number, or house block + street digest."""
    known = GAZETTEER.get(zip5)
    if known and known[1]:
        return known[1]
    box = re.match(r"PO BOX\s*([0-9]+)", street)
    if box:
        return f"{int(box.group(1)) % 10000:04d}".replace("0000", "0001")
    house = re.match(r"(\d+)", street)
    block = (int(house.group(1)) // 100) % 100 if house else 0
    digest = int.from_bytes(hashlib.sha256(street.encode()).digest()[:2], "big") % 100
    return f"{block:02d}{digest:02d}".replace("0000", "0001")


def _csz_valid(address: dict, zip5: str) -> bool:
    zip_state = state_of_zip(zip5)
    if zip_state is None:
        return False
    state = address.get("State", "").upper()
    if state and state != zip_state:
        return False
    city = address.get("City")
    if city is None:
        return True
    name = _city(city)
    if not _CITY.fullmatch(name):
        return False
    known = GAZETTEER.get(zip5)
    return known is None or known[0] == name


def _street_found(line: str) -> bool:
    return bool(_HOUSE.match(line) or _BOX.match(line))


def standardize(address: dict[str, str]) -> Finding:
    """The doctor's verdict on ``address`` (the provided fields) and its correction."""
    code = address.get("ExplanationCode", "")
    if code == "OO" and not address.get("Explanation"):  # [c] the schema: OO requires an explanation
        return Finding(NO_EXPLANATION, {})
    zip5 = address.get("PostalCode", "")[:5]
    if not re.fullmatch(r"[0-9]{5}", zip5) or not _csz_valid(address, zip5):
        return Finding(BAD_CSZ, {})
    street = _street(address.get("Address1", ""))  # abbreviated: only to find the delivery point
    corrected = {"Address1": _line(address.get("Address1", ""), 64)}
    if "Address2" in address:
        corrected["Address2"] = _line(address["Address2"], 64)
    known = GAZETTEER.get(zip5)
    if address.get("City"):
        corrected["City"] = _line(address["City"], 60)
    elif known:
        corrected["City"] = known[0]
    state = (address.get("State") or state_of_zip(zip5) or "").upper()
    if state and state not in STATELESS:
        corrected["State"] = state
    if _street_found(street):
        corrected["PostalCode"] = f"{zip5}-{plus4(zip5, street)}"
        return Finding(VALID, corrected)
    corrected["PostalCode"] = zip5  # [i] no delivery point, so no ZIP+4
    if code not in OVERRIDE_CODES:
        return Finding(BAD_STREET, corrected)
    return Finding(OVERRIDDEN, corrected)


def result_code(finding: Finding, codes: Codes) -> str:
    return ADDRESS_OK if finding.ok else getattr(codes, finding.status)


def doctor(element: etree._Element, codes: Codes = J_SITE) -> dict:
    """A site of activity's address as the log reports it: provided vs corrected with its AddressResult, and
    an AddressMessage unless the site is plainly valid (SEVIS wrote none then).

    The dict feeds the transaction log: ``provided`` and ``corrected`` hold Address1, Address2, City,
    State, PostalCode (``corrected`` is empty when the doctor could not correct the address); ``message``
    is None when the log has no AddressMessage."""
    given = provided(element)
    finding = standardize(given)
    return {
        "provided": {k: v for k, v in given.items() if k in FIELDS},
        "corrected": finding.corrected,
        "result": result_code(finding, codes),
        "message": None if finding.status == VALID else MESSAGES[finding.status],
    }


def person_address(element: etree._Element, codes: Codes = J_US) -> dict:
    """A person's U.S. or mailing address as the log reports it: a valid one as the provided address and an
    empty message only, as SEVIS did for an exchange visitor's U.S. address; otherwise (a correction that
    drops the state [i], an override, a refusal) with its corrected address, result and message."""
    given = provided(element)
    finding = standardize(given)
    shown = {k: v for k, v in given.items() if k in FIELDS}
    sent_state = given.get("State", "").upper() or state_of_zip(given.get("PostalCode", "")[:5])
    kept_state = finding.corrected.get("State") == sent_state
    if finding.status == VALID and kept_state:
        return {"provided": shown, "message": ""}
    return {
        "provided": shown,
        "corrected": finding.corrected,
        "result": result_code(finding, codes),
        "message": MESSAGES[finding.status],
    }
