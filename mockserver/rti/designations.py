"""Form DS-3036 (the application for designation as an Exchange Visitor Program): drafts, submission
checks, the exchange-visitor help desk, and the Department of State's decision (designation assigns a
program number and the designated categories, creates the Responsible Officer and Alternate Responsible
Officers and e-mails them).

[i] The beta site's J path follows the F/M procedure's shape with the Department of State in SEVP's
place; the program types, the category limits per program type and the limits on officers and sites
are the mock's reading of 22 CFR 62, not published SEVIS behaviour.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from sqlalchemy.orm import Session

from ..profiles import merged
from ..rules.j_common import CATEGORIES as CATEGORY_NAMES
from . import accounts
from .applications import ADDRESS_FIELDS, FormKind, add_official, add_organization, decided_official
from .applications import address_problems, next_number, official_problems, tell_owner
from .errors import RtiError
from ..store import Designation, HelpDeskTicket

# program type -> (program number prefix, label). [i] P-1 academic, P-3 private sector, P-4 government.
PROGRAM_TYPES = {
    "P-1": ("P-1", "Academic (colleges, universities, teaching hospitals)"),
    "P-3": ("P-3", "Private sector"),
    "P-4": ("P-4", "Government (state and local)"),
}
PROGRAM_TYPE_WORDS = {
    "p-1": "P-1",
    "p1": "P-1",
    "academic": "P-1",
    "p-3": "P-3",
    "p3": "P-3",
    "private": "P-3",
    "private sector": "P-3",
    "p-4": "P-4",
    "p4": "P-4",
    "government": "P-4",
}
# Categories a program type may not be designated for, and why. [i] 22 CFR 62: Alien Physicians are sponsored
# by ECFMG alone; International and Government Visitors by government programs; Secondary School Students,
# Camp Counselors, Summer Work Travel and Au Pairs by private-sector programs.
NOT_FOR = {
    "06": ("P-1", "P-3", "P-4"),
    "05": ("P-1", "P-3"),
    "07": ("P-1", "P-3"),
    "1A": ("P-1", "P-4"),
    "11": ("P-1", "P-4"),
    "12": ("P-1", "P-4"),
    "13": ("P-1", "P-4"),
}
WHO_MAY = {
    "06": "only ECFMG sponsors Alien Physicians",
    "05": "International Visitors are sponsored by government programs (P-4)",
    "07": "Government Visitors are sponsored by government programs (P-4)",
    "1A": "Secondary School Students are sponsored by private-sector programs (P-3)",
    "11": "Camp Counselors are sponsored by private-sector programs (P-3)",
    "12": "Summer Work Travel is sponsored by private-sector programs (P-3)",
    "13": "Au Pairs are sponsored by private-sector programs (P-3)",
}
ROLES = ("RO", "ARO")
MAX_OFFICIALS = 10  # [i] one RO and up to nine AROs for a test program
MAX_SITES = 3  # [i]
FIRST_PROGRAM_NUMBER = 30001  # [i] program numbers the mock assigns; the seeded sponsor is P-1-12345
PROGRAM_NUMBER = re.compile(r"^P-[134]-\d{5}$")
HELP_DESK_FIELDS = ["organization_name", "contact_name", "email", "phone", "sponsor_name"]


def _text(value, limit: int = 200) -> str:
    return str(value).strip()[:limit] if value is not None and not isinstance(value, (dict, list)) else ""


def program_type_code(value) -> str:
    return PROGRAM_TYPE_WORDS.get(_text(value).lower(), "")


def category_label(code: str) -> str:
    return f"{code} ({CATEGORY_NAMES.get(code, 'unknown')})"


def category_problem(code: str, program_type: str) -> str | None:
    """Why a program of `program_type` may not use category `code` (None when it may)."""
    if code not in CATEGORY_NAMES:
        return f"{code!r} is not an exchange-visitor category code (1A-1G, 2A, 2B, 03-15; lookup table 15)"
    if program_type and program_type in NOT_FOR.get(code, ()):
        return f"{category_label(code)} is not for a {program_type} program: {WHO_MAY[code]}"
    return None


def _categories(raw) -> list[str]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = [c for c in re.split(r"[\s,;]+", raw) if c]
    if not isinstance(raw, list) or not all(isinstance(c, (str, int)) for c in raw):
        raise RtiError(400, 'categories: send a list of category codes, e.g. ["08", "2A"]', field="categories")
    out = []
    for c in raw:
        code = _text(c, 4).upper()
        if code.isdigit() and len(code) == 1:
            code = "0" + code
        if code not in out:
            out.append(code)
    return out


def normalize(raw) -> dict:
    """The DS-3036 as stored: known fields only, text trimmed; shape errors are 400s naming the field."""
    if not isinstance(raw, dict):
        raise RtiError(400, "send the DS-3036 as a JSON object")
    program_type = _text(raw.get("program_type"))
    if program_type and not program_type_code(program_type):
        raise RtiError(
            400,
            f"program_type: {program_type!r} is not P-1 (academic), P-3 (private sector) or P-4 (government)",
            field="program_type",
        )
    officials, sites = raw.get("officials") or [], raw.get("sites") or []
    if not isinstance(officials, list) or not all(isinstance(o, dict) for o in officials):
        raise RtiError(400, "officials: send a list of objects {role, first_name, last_name, email}", field="officials")
    if not isinstance(sites, list) or not all(isinstance(c, dict) for c in sites):
        raise RtiError(400, "sites: send a list of objects {name, address}", field="sites")
    if len(officials) > MAX_OFFICIALS:
        raise RtiError(
            400, f"officials: at most {MAX_OFFICIALS} (one RO and AROs) for a test program", field="officials"
        )
    if len(sites) > MAX_SITES:
        raise RtiError(400, f"sites: at most {MAX_SITES} for a test program", field="sites")
    out_sites = []
    for n, c in enumerate(sites):
        address = c.get("address") or {}
        if not isinstance(address, dict):
            raise RtiError(400, f"sites[{n}].address: send an object", field=f"sites[{n}].address")
        out_sites.append(
            {"name": _text(c.get("name")), "address": {k: _text(address.get(k), 60) for k in ADDRESS_FIELDS}}
        )
    out_officials = [
        {
            "role": _text(o.get("role")).upper(),
            "first_name": _text(o.get("first_name"), 60),
            "last_name": _text(o.get("last_name"), 60),
            "email": _text(o.get("email")),
        }
        for o in officials
    ]
    return {
        "sponsor_name": _text(raw.get("sponsor_name")),
        "program_type": program_type_code(program_type) if program_type else "",
        "categories": _categories(raw.get("categories")),
        "officials": out_officials,
        "sites": out_sites,
    }


def submission_problems(body: dict) -> tuple[list[str], list[str]]:
    """(missing, invalid): what stops this DS-3036 from being submitted, each naming its field."""
    missing, invalid = [], []
    if not body["sponsor_name"]:
        missing.append("sponsor_name")
    if not body["program_type"]:
        missing.append("program_type")
    if not body["categories"]:
        missing.append("categories: at least one exchange-visitor category (lookup table 15)")
    for code in body["categories"]:
        problem = category_problem(code, body["program_type"])
        if problem:
            invalid.append(f"categories: {problem}")
    officials, sites = body["officials"], body["sites"]
    ros = [n for n, o in enumerate(officials) if o["role"] == "RO"]
    if not ros:
        missing.append("officials: a Responsible Officer (RO)")
    if len(ros) > 1:
        invalid.append(f"officials: one RO only (officials {', '.join(map(str, ros))} are RO); the others are AROs")
    for n, o in enumerate(officials):
        official_problems(n, o, ROLES, missing, invalid)
    if not sites:
        missing.append("sites: at least the program's main site")
    for n, c in enumerate(sites):
        if not c["name"]:
            missing.append(f"sites[{n}].name")
        address_problems(f"sites[{n}]", c["address"], "DC", missing, invalid)
    return missing, invalid


DS3036 = FormKind(
    form_name="DS-3036",
    table=Designation,
    ticket_table=HelpDeskTicket,
    id_key="designation_id",
    number_key="program_number",
    decided="designated",
    decision_key="designation",
    tickets_key="help_desk",
    desk="the help desk",
    name_field="sponsor_name",
    organization="sponsor",
    preparer_role="TEMP-EV",
    not_preparer="Form DS-3036 is prepared by the temporary user from 'Register for New Account' with the purpose "
    "'Apply for designation by the Department of State as an Exchange Visitor Program'",
    reader="applicant",
    refused="The Department of State did not designate {name} (DS-3036 {id})",
    normalize=normalize,
    problems=submission_problems,
    extra=(("form", "DS-3036"),),
)


# --- the exchange-visitor help desk ------------------------------------------------------------------------


def contact_help_desk(session: Session, body: dict, environment: str, now: datetime) -> HelpDeskTicket:
    accounts.require(body, HELP_DESK_FIELDS)
    email = accounts.check_email(body["email"])
    name = " ".join(_text(body["sponsor_name"]).split())
    designation = DS3036.submitted_named(session, environment, name, "sponsor_name")
    fields = {k: _text(body[k]) for k in HELP_DESK_FIELDS}
    fields.update(email=email)
    return DS3036.open_ticket(session, environment, designation, fields, now)


# --- the Department of State decides ----------------------------------------------------------------------


def _next_program_number(session: Session) -> int:
    return next_number(session, "next_program_number", FIRST_PROGRAM_NUMBER, lambda n: f"P-_-{n:05d}")


def designated_categories(body: dict, chosen) -> list[str]:
    """The categories the Department of State designates: those asked for, or the subset it chooses."""
    asked = body["categories"]
    if chosen in (None, "", []):
        return list(asked)
    chosen = _categories(chosen)
    beyond = [c for c in chosen if c not in asked]
    if beyond:
        raise RtiError(
            400,
            f"categories: {', '.join(beyond)} not asked for on the DS-3036 (it asks for {', '.join(asked)}); "
            "designate only categories the sponsor applied for",
            field="categories",
            invalid=beyond,
        )
    return chosen


def designate(session: Session, d: Designation, now: datetime, host_url: str, smtp: bool, categories=None) -> dict:
    DS3036.check_submitted(d, "designated")
    body = json.loads(d.body)
    chosen = designated_categories(body, categories)
    number = f"{PROGRAM_TYPES[body['program_type']][0]}-{_next_program_number(session):05d}"
    # the designation is the sponsor's organization profile: batch rules enforce its categories (S2163)
    add_organization(session, number, "J", body["sponsor_name"], merged("J", None, {"categories": chosen}), now)
    officials = []
    for o in body["officials"]:
        title = "Responsible Officer" if o["role"] == "RO" else "Alternate Responsible Officer"
        account = add_official(
            session,
            d.environment,
            o,
            number,
            now,
            host_url,
            smtp,
            f"The Department of State designated {body['sponsor_name']} as an Exchange Visitor Program. You are "
            f"{title} ({o['role']}) of program {number}. Set your password and log in to activate your account.",
        )
        officials.append(decided_official(account, o, program_number=number))
    decision = {"program_number": number, "categories": chosen, "officials": officials}
    DS3036.decide(d, number, decision, now)
    listed = "\n".join(f"  {o['role']} {o['name']} <{o['email']}>: user ID {o['user_id']}" for o in officials)
    tell_owner(
        session,
        d,
        subject=f"SEVIS: {body['sponsor_name']} is designated, program {number}",
        kind="designated",
        now=now,
        smtp=smtp,
        text=(
            f"The Department of State designated {body['sponsor_name']} (DS-3036 {d.id}) as "
            f"an Exchange Visitor Program.\n\nProgram number: {number}\nCategories: "
            f"{', '.join(category_label(c) for c in chosen)}\n\nOfficials (each was e-mailed a Set Password "
            f"link):\n{listed}\n\nNext: the Responsible Officer registers for batch processing in RTI."
        ),
    )
    return decision


def auto_designate_due(session: Session, after_seconds: float, now: datetime, host_url: str, smtp: bool) -> list[int]:
    """`serve --auto-approve SECONDS`: the Department of State designates every DS-3036 submitted at least
    SECONDS ago (mock clock), for every category it asks for [i]."""
    return DS3036.decide_due(session, after_seconds, now, lambda d: designate(session, d, now, host_url, smtp))
