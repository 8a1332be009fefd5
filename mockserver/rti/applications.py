"""What Form I-17 (a school's petition to SEVP, ``petitions.py``) and Form DS-3036 (a sponsor's application to the
Department of State, ``designations.py``) share: the draft owned by the temporary user who prepares it, its
submission, the tickets that name it, the decision that creates the organization's officials, the rejection,
and the e-mails to the preparer. One :class:`FormKind` a form says what differs (its name, its table, its words).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store import Official, Organization, OrganizationProfile, Setting
from . import accounts, mail
from .errors import RtiError
from ..store import RtiAccount
from .paths import link_base

SIGNATURE = "-- SEVIS (sevis-mock, a test system)\n"
US_STATES = set(
    """AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM
NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI""".split()
)
ZIP = re.compile(r"^\d{5}(-\d{4})?$")
ADDRESS_FIELDS = ("address1", "address2", "city", "state", "zip")  # a campus's (I-17) or a site's (DS-3036)


@dataclass(frozen=True)
class FormKind:
    """One kind of application form, in the words its pages, e-mails and errors use."""

    form_name: str  # "I-17" | "DS-3036"
    table: Any  # Petition | Designation
    ticket_table: Any  # ResponseTicket | HelpDeskTicket
    id_key: str  # the form's ID in its JSON and its tickets' column naming it: "petition_id" | "designation_id"
    number_key: str  # what the decision assigns: "school_code" | "program_number"
    decided: str  # the state a positive decision leaves: "approved" | "designated"
    decision_key: str  # the decision in the JSON: "approval" | "designation"
    tickets_key: str  # its tickets in the JSON: "response_center" | "help_desk"
    desk: str  # who reads its tickets: "the SEVP Response Center" | "the help desk"
    name_field: str  # the organization's name in the body: "school_name" | "sponsor_name"
    organization: str  # how the tickets name it: "school" | "sponsor"
    preparer_role: str  # the temporary user who prepares it: "TEMP" | "TEMP-EV"
    not_preparer: str  # the 403 for anyone else
    reader: str  # who reads a rejection: "petitioner" | "applicant"
    refused: str  # a rejection's first line, with {name} and {id}
    normalize: Callable[[Any], dict]  # the form as stored: known fields only (400s name the field)
    problems: Callable[[dict], tuple[list[str], list[str]]]  # (missing, invalid) that keep it from submission
    extra: tuple[tuple[str, str], ...] = ()  # constant keys of its JSON (("form", "DS-3036"),)

    # --- the form as JSON ------------------------------------------------------------------------------------

    def as_json(self, form: Any, tickets: list | None = None) -> dict:
        out = {
            self.id_key: form.id,
            **dict(self.extra),
            "state": form.state,
            "environment": form.environment,
            "owner": form.owner_user_id,
            **json.loads(form.body),
            self.number_key: getattr(form, self.number_key),
            "created_at": form.created_at.isoformat(timespec="seconds"),
            "updated_at": form.updated_at.isoformat(timespec="seconds"),
            "submitted_at": form.submitted_at.isoformat(timespec="seconds") if form.submitted_at else None,
            "decided_at": form.decided_at.isoformat(timespec="seconds") if form.decided_at else None,
        }
        if form.state == self.decided and form.decision:
            out[self.decision_key] = json.loads(form.decision)
        if form.state == "rejected":
            out["rejection_reason"] = form.decision
        if tickets is not None:
            out[self.tickets_key] = [
                {"ticket": t.ticket, **json.loads(t.body), "created_at": t.created_at.isoformat(timespec="seconds")}
                for t in tickets
            ]
        return out

    def tickets(self, session: Session, form: Any) -> list:
        """The tickets that name ``form``, oldest first."""
        column = getattr(self.ticket_table, self.id_key)
        return list(session.scalars(select(self.ticket_table).where(column == form.id).order_by(self.ticket_table.id)))

    def with_tickets(self, session: Session, form: Any) -> dict:
        return self.as_json(form, self.tickets(session, form))

    # --- the preparer's draft ----------------------------------------------------------------------------------

    def owned(self, session: Session, form_id: int, account: RtiAccount) -> Any:
        form = session.get(self.table, form_id)
        if form is None or form.owner_user_id != account.user_id:
            raise RtiError(404, f"no {self.form_name} {form_id} of user {account.user_id}")
        return form

    def create(self, session: Session, account: RtiAccount, raw: Any, now: datetime) -> Any:
        """A new draft holding ``raw`` (normalized), owned by the temporary user preparing it."""
        if account.role != self.preparer_role:
            raise RtiError(403, self.not_preparer)
        body = self.normalize(raw if raw is not None else {})
        form = self.table(
            environment=account.environment,
            owner_user_id=account.user_id,
            state="draft",
            body=json.dumps(body),
            created_at=now,
            updated_at=now,
            decision="",
        )
        session.add(form)
        session.flush()
        return form

    def save_draft(self, draft: Any, raw: Any, now: datetime) -> Any:
        """Replace a draft's body with ``raw`` (normalized); a form past its draft answers 409."""
        body = self.normalize(raw)
        if draft.state != "draft":
            raise RtiError(409, f"{self.form_name} {draft.id} is {draft.state}; only a draft can be changed")
        draft.body = json.dumps(body)
        draft.updated_at = now
        return draft

    def submit(self, draft: Any, now: datetime) -> Any:
        """Submit a draft; a 400 names each missing field and each invalid entry :attr:`problems` finds."""
        if draft.state != "draft":
            raise RtiError(409, f"{self.form_name} {draft.id} is already {draft.state}")
        missing, invalid = self.problems(json.loads(draft.body))
        if missing or invalid:
            parts = ([f"missing: {'; '.join(missing)}"] if missing else []) + (
                [f"invalid: {'; '.join(invalid)}"] if invalid else []
            )
            raise RtiError(
                400,
                f"the {self.form_name} cannot be submitted yet; "
                + " | ".join(parts)
                + ". Complete it and submit again",
                missing=missing,
                invalid=invalid,
            )
        draft.state, draft.submitted_at, draft.updated_at = "submitted", now, now
        return draft

    # --- tickets -------------------------------------------------------------------------------------------------

    def submitted_named(self, session: Session, environment: str, name: str, field: str) -> Any:
        """The newest submitted (or decided) form of the organization named ``name`` (spacing and case aside);
        a 400 on ``field`` when there is none."""
        wanted = " ".join(name.split()).lower()
        candidates: list[Any] = list(
            session.scalars(
                select(self.table)
                .where(self.table.environment == environment, self.table.state.in_(("submitted", self.decided)))
                .order_by(self.table.id.desc())
            )
        )
        found = next(
            (f for f in candidates if " ".join(json.loads(f.body)[self.name_field].split()).lower() == wanted), None
        )
        if found is None:
            raise RtiError(
                400,
                f"no submitted {self.form_name} for a {self.organization} named {name!r} on this system; give the "
                f"{self.organization} name exactly as on the {self.form_name} (submit the {self.form_name} first)",
                field=field,
            )
        return found

    def ticket_reached(self, ticket: Any) -> str:
        """What the page tells the sender of ``ticket``."""
        return (
            f"Your message reached {self.desk}: ticket {ticket.ticket} for {self.form_name} "
            f"{getattr(ticket, self.id_key)}."
        )

    def open_ticket(self, session: Session, environment: str, form: Any, fields: dict, now: datetime) -> Any:
        """A ticket (``fields`` as sent, checked) naming ``form``."""
        ticket = self.ticket_table(
            environment=environment, body=json.dumps(fields), created_at=now, **{self.id_key: form.id}
        )
        session.add(ticket)
        session.flush()
        return ticket

    # --- the decision ----------------------------------------------------------------------------------------

    def check_submitted(self, form: Any, verb: str) -> None:
        """409 unless ``form`` waits for a decision (``verb``: "approved", "designated", "rejected")."""
        if form.state != "submitted":
            raise RtiError(
                409,
                f"{self.form_name} {form.id} is {form.state}, not submitted; only a submitted {self.form_name} "
                f"can be {verb}",
            )

    def decide(self, form: Any, number: str, decision: dict, now: datetime) -> None:
        """Record the positive decision and the number it assigned."""
        form.state, form.decided_at, form.updated_at, form.decision = self.decided, now, now, json.dumps(decision)
        setattr(form, self.number_key, number)

    def reject(self, session: Session, form: Any, reason: str, now: datetime, smtp: bool) -> Any:
        reason = str(reason).strip()[:2000] if reason is not None else ""
        if not reason:
            raise RtiError(
                400, f"reason: say why the {self.form_name} is rejected (the {self.reader} reads it)", field="reason"
            )
        self.check_submitted(form, "rejected")
        form.state, form.decided_at, form.updated_at, form.decision = "rejected", now, now, reason
        name = json.loads(form.body)[self.name_field]
        refused = self.refused.format(name=name, id=form.id)
        tell_owner(
            session,
            form,
            subject=f"SEVIS: the {self.form_name} of {name} was not approved",
            kind="rejected",
            now=now,
            smtp=smtp,
            text=f"{refused}.\n\nReason: {reason}\n\nYou may register again and submit a corrected {self.form_name}.",
        )
        return form

    def decide_due(self, session: Session, after_seconds: float, now: datetime, decide: Callable[[Any], Any]) -> list:
        """``decide`` each form submitted at least ``after_seconds`` ago (mock clock), oldest first
        (`serve --auto-approve`); their IDs."""
        cutoff = now - timedelta(seconds=after_seconds)
        due: list[Any] = list(
            session.scalars(
                select(self.table)
                .where(self.table.state == "submitted", self.table.submitted_at <= cutoff)
                .order_by(self.table.id)
            )
        )
        for form in due:
            decide(form)
        return [form.id for form in due]


def address_problems(where: str, address: dict, state_example: str, missing: list[str], invalid: list[str]) -> None:
    """Add to ``missing`` and ``invalid`` what keeps the address of ``where`` ("campuses[0]", "sites[1]") from
    submission, each naming its field."""
    missing += [f"{where}.address.{k}" for k in ("address1", "city", "state", "zip") if not address[k]]
    if address["state"] and address["state"].upper() not in US_STATES:
        invalid.append(f"{where}.address.state: {address['state']!r} is not a US state code (e.g. {state_example})")
    if address["zip"] and not ZIP.match(address["zip"]):
        invalid.append(f"{where}.address.zip: {address['zip']!r} is not a ZIP code (12345 or 12345-6789)")


def official_problems(n: int, official: dict, roles: tuple[str, ...], missing: list[str], invalid: list[str]) -> None:
    """Add to ``missing`` and ``invalid`` what keeps ``officials[n]`` from submission: its names and e-mail
    address, and a role of ``roles``."""
    missing += [f"officials[{n}].{k}" for k in ("first_name", "last_name", "email") if not official[k]]
    if official["role"] not in roles:
        invalid.append(f"officials[{n}].role: {official['role'] or 'empty'!s} is not {' or '.join(roles)}")
    if official["email"] and not accounts.EMAIL.match(official["email"]):
        invalid.append(f"officials[{n}].email: {official['email']!r} is not an e-mail address")


def tell_owner(session: Session, form: Any, *, subject: str, kind: str, now: datetime, smtp: bool, text: str) -> None:
    """E-mail the user who prepared ``form``: "Dear <name>," and ``text`` and SEVIS's signature."""
    owner = accounts.account_of(session, form.owner_user_id)
    mail.send(
        session,
        to=owner.email,
        subject=subject,
        kind=kind,
        now=now,
        user_id=owner.user_id,
        smtp=smtp,
        body=f"Dear {owner.name},\n\n{text}\n\n{SIGNATURE}",
    )


def add_organization(session: Session, org_id: str, kind: str, name: str, profile: dict, now: datetime) -> None:
    """An organization the decision creates (not yet registered for batch, no agreement on file) and its profile,
    which batch rules read."""
    session.add(
        Organization(
            org_id=org_id,
            kind=kind,
            name=name[:200],
            batch_registered=False,
            agreement_on_file=False,
            created_at=now,
        )
    )
    session.flush()
    session.add(OrganizationProfile(org_id=org_id, profile=json.dumps(profile), updated_at=now))


def add_official(
    session: Session,
    environment: str,
    person: dict,
    org_id: str,
    now: datetime,
    host_url: str,
    smtp: bool,
    welcome: str,
) -> RtiAccount:
    """An official the decision names (``person``: role, first_name, last_name, email): an RTI account in
    ``environment`` and the organization's official, e-mailed a user ID and a Set Password link with ``welcome``."""
    account = RtiAccount(
        user_id=accounts.new_user_id(session),
        environment=environment,
        role=person["role"],
        first_name=person["first_name"],
        last_name=person["last_name"],
        email=person["email"],
        phone="",
        created_at=now,
    )
    session.add(account)
    session.add(
        Official(
            user_id=account.user_id,
            org_id=org_id,
            name=account.name,
            email=person["email"],
            role=person["role"],
            batch_registered=False,
            last_login_at=None,
        )
    )
    session.flush()
    accounts.send_set_password(session, account, now, link_base(host_url, environment), smtp, welcome)
    return account


def decided_official(account: RtiAccount, person: dict, **where: str) -> dict:
    """An official as the decision lists it: user ID, role, e-mail, name, and ``where`` (its code)."""
    return {"user_id": account.user_id, "role": person["role"], "email": person["email"], "name": account.name, **where}


def next_number(session: Session, key: str, first: int, org_id_like: Callable[[int], str]) -> int:
    """The next number a decision assigns (kept in Setting ``key``), skipping any an organization already has."""
    row = session.get(Setting, key)
    number = int(row.value) if row else first
    while session.scalars(select(Organization.org_id).where(Organization.org_id.like(org_id_like(number)))).first():
        number += 1
    if row is None:
        row = Setting(key=key, value="")
        session.add(row)
    row.value = str(number + 1)
    return number
