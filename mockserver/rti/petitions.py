"""Form I-17 petitions: drafts, submission checks, the SEVP Response Center (step 8), and SEVP's decision
(approval assigns school and campus codes, creates the officials and e-mails them)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store import Organization, OrganizationProfile, Official, Setting
from ..profiles import ProfileError, validate
from . import accounts, mail
from .errors import RtiError
from ..store import Petition, ResponseTicket, RtiAccount
from .paths import link_base

CATEGORIES = {"F": "F only", "FM": "F and M", "M": "M only"}
CATEGORY_WORDS = {"f only": "F", "f and m": "FM", "m only": "M", "f": "F", "fm": "FM", "m": "M", "f/m": "FM"}
MAX_CAMPUSES = 3  # [i] RTI-API.md: 1-3 campuses, 1-4 officials for a test school
MAX_OFFICIALS = 4
ROLES = ("PDSO", "DSO")
US_STATES = set(
    """AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM
NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI""".split()
)
ZIP = re.compile(r"^\d{5}(-\d{4})?$")
FIRST_SCHOOL_NUMBER = 20001  # [i] school numbers the mock assigns; the seeded college uses 00001
ADDRESS_FIELDS = ("address1", "address2", "city", "state", "zip")


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
        a = c["address"]
        for k in ("address1", "city", "state", "zip"):
            if not a[k]:
                missing.append(f"campuses[{n}].address.{k}")
        if a["state"] and a["state"].upper() not in US_STATES:
            invalid.append(f"campuses[{n}].address.state: {a['state']!r} is not a US state code (e.g. VA)")
        if a["zip"] and not ZIP.match(a["zip"]):
            invalid.append(f"campuses[{n}].address.zip: {a['zip']!r} is not a ZIP code (12345 or 12345-6789)")
    if not officials:
        missing.append("officials: a PDSO for the main campus")
    for n, o in enumerate(officials):
        for k in ("first_name", "last_name", "email"):
            if not o[k]:
                missing.append(f"officials[{n}].{k}")
        if o["role"] not in ROLES:
            invalid.append(f"officials[{n}].role: {o['role'] or 'empty'!s} is not PDSO or DSO")
        if o["email"] and not accounts.EMAIL.match(o["email"]):
            invalid.append(f"officials[{n}].email: {o['email']!r} is not an e-mail address")
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


def as_json(p: Petition, tickets: list[ResponseTicket] | None = None) -> dict:
    out = {
        "petition_id": p.id,
        "state": p.state,
        "environment": p.environment,
        "owner": p.owner_user_id,
        **json.loads(p.body),
        "school_code": p.school_code,
        "created_at": p.created_at.isoformat(timespec="seconds"),
        "updated_at": p.updated_at.isoformat(timespec="seconds"),
        "submitted_at": p.submitted_at.isoformat(timespec="seconds") if p.submitted_at else None,
        "decided_at": p.decided_at.isoformat(timespec="seconds") if p.decided_at else None,
    }
    if p.state == "approved" and p.decision:
        out["approval"] = json.loads(p.decision)
    if p.state == "rejected":
        out["rejection_reason"] = p.decision
    if tickets is not None:
        out["response_center"] = [
            {"ticket": t.ticket, **json.loads(t.body), "created_at": t.created_at.isoformat(timespec="seconds")}
            for t in tickets
        ]
    return out


def owned(session: Session, petition_id: int, account: RtiAccount) -> Petition:
    p = session.get(Petition, petition_id)
    if p is None or p.owner_user_id != account.user_id:
        raise RtiError(404, f"no I-17 {petition_id} of user {account.user_id}")
    return p


def create(session: Session, account: RtiAccount, raw, now: datetime) -> Petition:
    if account.role != "TEMP":
        raise RtiError(403, "Form I-17 is prepared by the temporary user from 'Register for New Account'")
    body = normalize(raw if raw is not None else {})
    p = Petition(
        environment=account.environment,
        owner_user_id=account.user_id,
        state="draft",
        body=json.dumps(body),
        created_at=now,
        updated_at=now,
        decision="",
    )
    session.add(p)
    session.flush()
    return p


def save_draft(p: Petition, raw, now: datetime) -> Petition:
    return change_draft(p, normalize(raw), now, "I-17")


def submit(p: Petition, now: datetime) -> Petition:
    return submit_draft(p, submission_problems, now, "I-17")


# --- a form's draft and its submission: Form I-17 here, Form DS-3036 in designations.py ----------------------


def change_draft(draft, body: dict, now: datetime, form_name: str):
    """Replace a draft's (normalized) ``body``; a form past its draft answers 409."""
    if draft.state != "draft":
        raise RtiError(409, f"{form_name} {draft.id} is {draft.state}; only a draft can be changed")
    draft.body = json.dumps(body)
    draft.updated_at = now
    return draft


def submit_draft(draft, problems, now: datetime, form_name: str):
    """Submit a draft; a 400 names each missing field and each invalid entry ``problems(body)`` finds."""
    if draft.state != "draft":
        raise RtiError(409, f"{form_name} {draft.id} is already {draft.state}")
    missing, invalid = problems(json.loads(draft.body))
    if missing or invalid:
        parts = ([f"missing: {'; '.join(missing)}"] if missing else []) + (
            [f"invalid: {'; '.join(invalid)}"] if invalid else []
        )
        raise RtiError(
            400,
            f"the {form_name} cannot be submitted yet; " + " | ".join(parts) + ". Complete it and submit again",
            missing=missing,
            invalid=invalid,
        )
    draft.state, draft.submitted_at, draft.updated_at = "submitted", now, now
    return draft


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
    petition = next(
        (
            p
            for p in session.scalars(
                select(Petition)
                .where(Petition.environment == environment, Petition.state.in_(("submitted", "approved")))
                .order_by(Petition.id.desc())
            )
            if " ".join(json.loads(p.body)["school_name"].split()).lower() == name.lower()
        ),
        None,
    )
    if petition is None:
        raise RtiError(
            400,
            f"no submitted I-17 for a school named {name!r} on this system; give the school name "
            "exactly as on the I-17 (submit the I-17 first)",
            field="school_name",
        )
    petition_category = json.loads(petition.body)["category"]
    if petition_category != category:
        raise RtiError(
            400,
            f"school_category: the I-17 of {name!r} says {CATEGORIES[petition_category]}, not {CATEGORIES[category]}",
            field="school_category",
        )
    fields = {k: _text(body[k]) for k in RESPONSE_FIELDS}
    fields.update(email=email, school_category=category)
    ticket = ResponseTicket(environment=environment, petition_id=petition.id, body=json.dumps(fields), created_at=now)
    session.add(ticket)
    session.flush()
    return ticket


# --- steps 9-10: SEVP decides ----------------------------------------------------------------------------


def _school_prefix(name: str) -> str:
    letters = re.sub(r"[^A-Z]", "", name.upper())
    return (letters + "XXX")[:3]


def _next_school_number(session: Session) -> int:
    row = session.get(Setting, "next_school_number")
    number = int(row.value) if row else FIRST_SCHOOL_NUMBER
    while session.scalars(select(Organization.org_id).where(Organization.org_id.like(f"___214F{number:05d}%"))).first():
        number += 1
    if row is None:
        row = Setting(key="next_school_number", value="")
        session.add(row)
    row.value = str(number + 1)
    return number


def approve(session: Session, p: Petition, now: datetime, host_url: str, smtp: bool) -> dict:
    if p.state != "submitted":
        raise RtiError(409, f"I-17 {p.id} is {p.state}, not submitted; only a submitted I-17 can be approved")
    body = json.loads(p.body)
    number = _next_school_number(session)
    prefix = _school_prefix(body["school_name"])
    main = next(n for n, c in enumerate(body["campuses"]) if c["main"])
    order = [main] + [n for n in range(len(body["campuses"])) if n != main]
    codes = {n: f"{prefix}214F{number:05d}{k:03d}" for k, n in enumerate(order)}
    campuses = []  # in the I-17's order, so campuses[i] is the I-17's campus i
    for n, c in enumerate(body["campuses"]):
        name = body["school_name"] if n == main else f"{body['school_name']} - {c['name']}"
        session.add(
            Organization(
                org_id=codes[n],
                kind="F/M",
                name=name[:200],
                batch_registered=False,
                agreement_on_file=False,
                created_at=now,
            )
        )
        campuses.append({"name": c["name"], "main": n == main, "school_code": codes[n]})
    session.flush()
    for school_code in codes.values():
        session.add(OrganizationProfile(org_id=school_code, profile=json.dumps(school_profile(body)), updated_at=now))
    officials = []
    for o in body["officials"]:
        user_id = accounts.new_user_id(session)
        account = RtiAccount(
            user_id=user_id,
            environment=p.environment,
            role=o["role"],
            first_name=o["first_name"],
            last_name=o["last_name"],
            email=o["email"],
            phone="",
            created_at=now,
        )
        session.add(account)
        session.add(
            Official(
                user_id=user_id,
                org_id=codes[o["campus"]],
                name=account.name,
                email=o["email"],
                role=o["role"],
                batch_registered=False,
                last_login_at=None,
            )
        )
        session.flush()
        accounts.send_set_password(
            session,
            account,
            now,
            link_base(host_url, p.environment),
            smtp,
            f"SEVP approved the I-17 of {body['school_name']}. You are {o['role']} of school code "
            f"{codes[o['campus']]}. Set your password and log in to activate your account.",
        )
        officials.append(
            {
                "user_id": user_id,
                "role": o["role"],
                "email": o["email"],
                "name": account.name,
                "campus_code": codes[o["campus"]],
            }
        )
    decision = {"school_code": codes[main], "campuses": campuses, "officials": officials}
    p.state, p.school_code, p.decided_at, p.updated_at, p.decision = (
        "approved",
        codes[main],
        now,
        now,
        json.dumps(decision),
    )
    owner = accounts.account_of(session, p.owner_user_id)
    listing = "\n".join(f"    {c['school_code']}  {c['name']}{' (main campus)' if c['main'] else ''}" for c in campuses)
    people = "\n".join(
        f"    {o['user_id']}  {o['role']:4}  {o['name']} <{o['email']}>  {o['campus_code']}" for o in officials
    )
    mail.send(
        session,
        to=owner.email,
        subject=f"SEVIS: {body['school_name']} is approved",
        kind="approved",
        now=now,
        user_id=owner.user_id,
        smtp=smtp,
        body=(
            f"Dear {owner.name},\n\nSEVP approved the I-17 of {body['school_name']} (petition {p.id}).\n\n"
            f"School code: {codes[main]}\nCampuses:\n{listing}\n\nOfficials (each was e-mailed a user ID and a "
            f"Set Password link):\n{people}\n\nNext: each PDSO registers for batch processing in RTI.\n\n"
            "-- SEVIS (sevis-mock, a test system)\n"
        ),
    )
    return decision


def reject(session: Session, p: Petition, reason: str, now: datetime, smtp: bool) -> Petition:
    reason = _text(reason, 2000)
    if not reason:
        raise RtiError(400, "reason: say why the I-17 is rejected (the petitioner reads it)", field="reason")
    if p.state != "submitted":
        raise RtiError(409, f"I-17 {p.id} is {p.state}, not submitted; only a submitted I-17 can be rejected")
    p.state, p.decided_at, p.updated_at, p.decision = "rejected", now, now, reason
    owner = accounts.account_of(session, p.owner_user_id)
    name = json.loads(p.body)["school_name"]
    mail.send(
        session,
        to=owner.email,
        subject=f"SEVIS: the I-17 of {name} was not approved",
        kind="rejected",
        now=now,
        user_id=owner.user_id,
        smtp=smtp,
        body=(
            f"Dear {owner.name},\n\nSEVP did not approve the I-17 of {name} (petition {p.id}).\n\nReason: {reason}\n\n"
            "You may register again and submit a corrected I-17.\n\n-- SEVIS (sevis-mock, a test system)\n"
        ),
    )
    return p


def auto_approve_due(session: Session, after_seconds: float, now: datetime, host_url: str, smtp: bool) -> list[int]:
    """`serve --auto-approve SECONDS`: approve every I-17 submitted at least SECONDS ago (mock clock)."""
    cutoff = now - timedelta(seconds=after_seconds)
    due = list(
        session.scalars(
            select(Petition).where(Petition.state == "submitted", Petition.submitted_at <= cutoff).order_by(Petition.id)
        )
    )
    for p in due:
        approve(session, p, now, host_url, smtp)
    return [p.id for p in due]
