"""Form I-17 petitions: drafts, submission checks, the SEVP Response Center (step 8), and SEVP's decision
(approval assigns school and campus codes, creates the officials and e-mails them)."""

from __future__ import annotations

import json
import re
from datetime import datetime

from sqlalchemy.orm import Session

from ..profiles import ProfileError, validate
from . import accounts
from .applications import ADDRESS_FIELDS, FormKind, add_official, add_organization, decided_official
from .applications import address_problems, next_number, official_problems, tell_owner
from .errors import RtiError
from ..store import Petition, ResponseTicket

CATEGORIES = {"F": "F only", "FM": "F and M", "M": "M only"}
CATEGORY_WORDS = {"f only": "F", "f and m": "FM", "m only": "M", "f": "F", "fm": "FM", "m": "M", "f/m": "FM"}
MAX_CAMPUSES = 3  # [i] RTI-API.md: 1-3 campuses, 1-4 officials for a test school
MAX_OFFICIALS = 4
ROLES = ("PDSO", "DSO")
FIRST_SCHOOL_NUMBER = 20001  # [i] school numbers the mock assigns; the seeded college uses 00001


def _text(value, limit: int = 200) -> str:
    return str(value).strip()[:limit] if value is not None else ""


def category_code(value) -> str:
    return CATEGORY_WORDS.get(_text(value).lower(), "")


def normalize(raw) -> dict:
    """The I-17 as stored: known fields only, text trimmed; shape errors are 400s naming the field."""
    if not isinstance(raw, dict):
        raise RtiError(400, "send the I-17 as a JSON object")
    category = _text(raw.get("category"))
    if category and not category_code(category):
        raise RtiError(400, f"category: {category!r} is not F (F only), FM (F and M) or M (M only)", field="category")
    campuses, officials = raw.get("campuses") or [], raw.get("officials") or []
    if not isinstance(campuses, list) or not all(isinstance(c, dict) for c in campuses):
        raise RtiError(400, "campuses: send a list of objects {name, main, address}", field="campuses")
    if not isinstance(officials, list) or not all(isinstance(o, dict) for o in officials):
        raise RtiError(
            400, "officials: send a list of objects {role, first_name, last_name, email, campus}", field="officials"
        )
    if len(campuses) > MAX_CAMPUSES:
        raise RtiError(400, f"campuses: at most {MAX_CAMPUSES} for a test school", field="campuses")
    if len(officials) > MAX_OFFICIALS:
        raise RtiError(400, f"officials: at most {MAX_OFFICIALS} for a test school", field="officials")
    out_campuses = []
    for n, c in enumerate(campuses):
        address = c.get("address") or {}
        if not isinstance(address, dict):
            raise RtiError(400, f"campuses[{n}].address: send an object", field=f"campuses[{n}].address")
        out_campuses.append(
            {
                "name": _text(c.get("name")),
                "main": c.get("main") in (True, "true", "on", "1", 1),
                "address": {k: _text(address.get(k), 60) for k in ADDRESS_FIELDS},
            }
        )
    out_officials = []
    for n, o in enumerate(officials):
        campus = o.get("campus", 0)
        try:
            campus = int(campus) if campus not in (None, "") else 0
        except (TypeError, ValueError):
            raise RtiError(
                400,
                f"officials[{n}].campus: give the campus number (0 = the first campus)",
                field=f"officials[{n}].campus",
            ) from None
        out_officials.append(
            {
                "role": _text(o.get("role")).upper(),
                "first_name": _text(o.get("first_name"), 60),
                "last_name": _text(o.get("last_name"), 60),
                "email": _text(o.get("email")),
                "campus": campus,
            }
        )
    return {
        "school_name": _text(raw.get("school_name")),
        "category": category_code(category) if category else "",
        "campuses": out_campuses,
        "officials": out_officials,
        **_school_facts(raw),
    }


def _flag(value) -> bool:
    return value in (True, "true", "on", "1", 1, "yes")


def _school_facts(raw: dict) -> dict:
    """The I-17 facts batch rules read (english language school, public institution, programs of study)."""
    programs = raw.get("programs_of_study")
    if isinstance(programs, str):
        programs = [p for p in re.split(r"[\s,;]+", programs) if p]
    if programs in (None, []):
        programs = None
    try:
        programs = validate("F/M", {"programs_of_study": programs})["programs_of_study"]
    except ProfileError as err:
        raise RtiError(400, str(err), field="programs_of_study") from None
    return {
        "english_language_school": _flag(raw.get("english_language_school")),
        "public_institution": _flag(raw.get("public_institution")),
        "programs_of_study": programs,
    }


def school_profile(body: dict) -> dict:
    """The organization profile an approved I-17 gives each of its campuses."""
    category = body.get("category") or "FM"
    return {
        "visa_types": list(category),
        "english_language_school": bool(body.get("english_language_school")),
        "public_institution": bool(body.get("public_institution")),
        "programs_of_study": body.get("programs_of_study"),
    }


def submission_problems(body: dict) -> tuple[list[str], list[str]]:
    """(missing, invalid): what stops this I-17 from being submitted, each naming its field."""
    missing, invalid = [], []
    if not body["school_name"]:
        missing.append("school_name")
    if not body["category"]:
        missing.append("category")
    campuses, officials = body["campuses"], body["officials"]
    if not campuses:
        missing.append("campuses: at least the main campus")
    mains = [n for n, c in enumerate(campuses) if c["main"]]
    if campuses and not mains:
        missing.append("campuses: one campus marked main")
    if len(mains) > 1:
        invalid.append(f"campuses: only one main campus (campuses {', '.join(map(str, mains))} are marked main)")
    for n, c in enumerate(campuses):
        if not c["name"]:
            missing.append(f"campuses[{n}].name")
        address_problems(f"campuses[{n}]", c["address"], "VA", missing, invalid)
    if not officials:
        missing.append("officials: a PDSO for the main campus")
    for n, o in enumerate(officials):
        official_problems(n, o, ROLES, missing, invalid)
        if not 0 <= o["campus"] < max(len(campuses), 1):
            invalid.append(f"officials[{n}].campus: {o['campus']} is not one of the {len(campuses)} campuses")
    for n, c in enumerate(campuses):
        pdsos = [o for o in officials if o["role"] == "PDSO" and o["campus"] == n]
        label = "the main campus" if c["main"] else f"campus {n} ({c['name'] or 'unnamed'})"
        if not pdsos and (officials or not c["main"]):
            missing.append(f"officials: a PDSO for {label}")
        if len(pdsos) > 1:
            invalid.append(f"officials: {label} has {len(pdsos)} PDSOs; each campus has exactly one")
    return missing, invalid


I17 = FormKind(
    form_name="I-17",
    table=Petition,
    ticket_table=ResponseTicket,
    id_key="petition_id",
    number_key="school_code",
    decided="approved",
    decision_key="approval",
    tickets_key="response_center",
    desk="the SEVP Response Center",
    name_field="school_name",
    organization="school",
    preparer_role="TEMP",
    not_preparer="Form I-17 is prepared by the temporary user from 'Register for New Account'",
    reader="petitioner",
    refused="SEVP did not approve the I-17 of {name} (petition {id})",
    normalize=normalize,
    problems=submission_problems,
)


# --- step 8: SEVP Response Center ----------------------------------------------------------------------

RESPONSE_FIELDS = ["organization_name", "contact_name", "email", "phone", "school_category", "school_name"]


def contact_response_center(session: Session, body: dict, environment: str, now: datetime) -> ResponseTicket:
    accounts.require(body, RESPONSE_FIELDS)
    email = accounts.check_email(body["email"])
    category = category_code(body["school_category"])
    if not category:
        raise RtiError(
            400,
            f"school_category: {body['school_category']!r} is not F only, F and M or M only",
            field="school_category",
        )
    name = " ".join(str(body["school_name"]).split())
    petition = I17.submitted_named(session, environment, name, "school_name")
    petition_category = json.loads(petition.body)["category"]
    if petition_category != category:
        raise RtiError(
            400,
            f"school_category: the I-17 of {name!r} says {CATEGORIES[petition_category]}, not {CATEGORIES[category]}",
            field="school_category",
        )
    fields = {k: _text(body[k]) for k in RESPONSE_FIELDS}
    fields.update(email=email, school_category=category)
    return I17.open_ticket(session, environment, petition, fields, now)


# --- steps 9-10: SEVP decides ----------------------------------------------------------------------------


def _school_prefix(name: str) -> str:
    letters = re.sub(r"[^A-Z]", "", name.upper())
    return (letters + "XXX")[:3]


def _next_school_number(session: Session) -> int:
    return next_number(session, "next_school_number", FIRST_SCHOOL_NUMBER, lambda n: f"___214F{n:05d}%")


def approve(session: Session, p: Petition, now: datetime, host_url: str, smtp: bool) -> dict:
    I17.check_submitted(p, "approved")
    body = json.loads(p.body)
    number = _next_school_number(session)
    prefix = _school_prefix(body["school_name"])
    main = next(n for n, c in enumerate(body["campuses"]) if c["main"])
    order = [main] + [n for n in range(len(body["campuses"])) if n != main]
    codes = {n: f"{prefix}214F{number:05d}{k:03d}" for k, n in enumerate(order)}
    campuses = []  # in the I-17's order, so campuses[i] is the I-17's campus i
    for n, c in enumerate(body["campuses"]):
        name = body["school_name"] if n == main else f"{body['school_name']} - {c['name']}"
        add_organization(session, codes[n], "F/M", name, school_profile(body), now)
        campuses.append({"name": c["name"], "main": n == main, "school_code": codes[n]})
    officials = []
    for o in body["officials"]:
        account = add_official(
            session,
            p.environment,
            o,
            codes[o["campus"]],
            now,
            host_url,
            smtp,
            f"SEVP approved the I-17 of {body['school_name']}. You are {o['role']} of school code "
            f"{codes[o['campus']]}. Set your password and log in to activate your account.",
        )
        officials.append(decided_official(account, o, campus_code=codes[o["campus"]]))
    decision = {"school_code": codes[main], "campuses": campuses, "officials": officials}
    I17.decide(p, codes[main], decision, now)
    listing = "\n".join(f"    {c['school_code']}  {c['name']}{' (main campus)' if c['main'] else ''}" for c in campuses)
    people = "\n".join(
        f"    {o['user_id']}  {o['role']:4}  {o['name']} <{o['email']}>  {o['campus_code']}" for o in officials
    )
    tell_owner(
        session,
        p,
        subject=f"SEVIS: {body['school_name']} is approved",
        kind="approved",
        now=now,
        smtp=smtp,
        text=(
            f"SEVP approved the I-17 of {body['school_name']} (petition {p.id}).\n\n"
            f"School code: {codes[main]}\nCampuses:\n{listing}\n\nOfficials (each was e-mailed a user ID and a "
            f"Set Password link):\n{people}\n\nNext: each PDSO registers for batch processing in RTI."
        ),
    )
    return decision


def auto_approve_due(session: Session, after_seconds: float, now: datetime, host_url: str, smtp: bool) -> list[int]:
    """`serve --auto-approve SECONDS`: approve every I-17 submitted at least SECONDS ago (mock clock)."""
    return I17.decide_due(session, after_seconds, now, lambda p: approve(session, p, now, host_url, smtp))
