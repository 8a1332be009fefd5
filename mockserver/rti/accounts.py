"""RTI accounts: new-account registration, Set Password links, password rules, login with a failed-login
limit, and bearer tokens for the JSON API. Every time comes from the mock clock (``now`` arguments)."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..store import Official
from . import mail
from .errors import RtiError
from ..store import AuthToken, PasswordLink, RtiAccount

LINK_LIFETIME = timedelta(hours=72)  # [i] SEVIS does not publish it; RTI-API.md fixes 72 hours
MAX_FAILED_LOGINS = 5  # [i]
LOCK_TIME = timedelta(minutes=30)  # [i]
TOKEN_LIFETIME = timedelta(hours=24)  # [i] mock-clock hours; log in again after
MIN_PASSWORD = 8
USER_ID_ALPHABET = string.ascii_uppercase + string.digits
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PURPOSE_TEXT = "Apply for Certification by DHS to admit F and/or M students"
DESIGNATION_TEXT = "Apply for designation by the Department of State as an Exchange Visitor Program"
# purpose -> (role of the temporary user, the form it prepares, what the first e-mail says)
PURPOSES = {
    "certification": ("TEMP", "Form I-17", "apply for certification by DHS to admit F and/or M students"),
    "designation": (
        "TEMP-EV",
        "Form DS-3036",
        "apply for designation by the Department of State as an Exchange Visitor Program",
    ),
}
TEMPORARY_ROLES = ("TEMP", "TEMP-EV")


def purpose_of(value) -> str | None:
    """'certification' or 'designation' from the short word or RTI's full option text, else None."""
    value = str(value if value is not None else "").strip().lower()
    if value in ("certification", PURPOSE_TEXT.lower()):
        return "certification"
    if value in ("designation", DESIGNATION_TEXT.lower()):
        return "designation"
    return None


FAST_PASSWORD_METHOD = "pbkdf2:sha256:1000"  # --fast-passwords: salted, but about 100 times cheaper than scrypt


def hash_password(password: str) -> str:
    """A salted hash for storage: werkzeug's scrypt, or cheap PBKDF2 when the server runs with
    ``--fast-passwords``. Checking reads the method from the stored hash, so either kind keeps working."""
    if _fast_passwords():
        return generate_password_hash(password, method=FAST_PASSWORD_METHOD)
    return generate_password_hash(password)


def _fast_passwords() -> bool:
    return bool(
        has_app_context()
        and "sevis_mock" in current_app.extensions
        and current_app.extensions["sevis_mock"].settings.fast_passwords
    )


_DUMMY_HASHES: dict[bool, str] = {}


def burn_password_check(password: str) -> None:
    """Check ``password`` against a dummy hash made the way real ones are, and throw the answer away: an
    unknown user ID (or one without a password yet) then costs a login as long as a wrong password for a
    known one does, so the time of a refusal does not tell which user IDs exist."""
    fast = _fast_passwords()
    if fast not in _DUMMY_HASHES:
        _DUMMY_HASHES[fast] = hash_password(secrets.token_urlsafe(16))
    check_password_hash(_DUMMY_HASHES[fast], password or "")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_user_id(session: Session, prefix: str = "") -> str:
    """A fresh 10-character SEVIS user ID (upper-case letters and digits) no account or official has."""
    while True:
        candidate = prefix + "".join(secrets.choice(USER_ID_ALPHABET) for _ in range(10 - len(prefix)))
        if session.get(RtiAccount, candidate) is None and session.get(Official, candidate) is None:
            return candidate


def password_problems(password: str, user_id: str = "") -> list[str]:
    """The strength rules a password breaks (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"at least {MIN_PASSWORD} characters")
    if not re.search(r"[A-Z]", password):
        problems.append("an upper-case letter")
    if not re.search(r"[a-z]", password):
        problems.append("a lower-case letter")
    if not re.search(r"[0-9]", password):
        problems.append("a digit")
    if not re.search(r"[^A-Za-z0-9]", password):
        problems.append("a special character (e.g. ! # $ %)")
    if user_id and user_id.lower() in password.lower():
        problems.append("no copy of your user ID")
    return problems


def check_email(value: str, field: str = "email") -> str:
    value = str(value if value is not None else "").strip()
    if not EMAIL.match(value):
        raise RtiError(400, f"{field}: {value!r} is not an e-mail address (name@example.edu)", field=field)
    return value


def require(body: dict, fields: list[str]) -> None:
    missing = [f for f in fields if not str(body.get(f) or "").strip()]
    if missing:
        raise RtiError(
            400, f"fill in every required field; missing: {', '.join(missing)}", field=missing[0], missing=missing
        )


# --- links and e-mails ---------------------------------------------------------------------------------


def issue_link(session: Session, account: RtiAccount, now: datetime) -> str:
    token = secrets.token_urlsafe(24)
    session.add(
        PasswordLink(token_hash=digest(token), user_id=account.user_id, created_at=now, expires_at=now + LINK_LIFETIME)
    )
    return token


def send_set_password(
    session: Session, account: RtiAccount, now: datetime, link_base: str, smtp: bool, intro: str
) -> mail.OutboxMessage:
    token = issue_link(session, account, now)
    expires = (now + LINK_LIFETIME).isoformat(timespec="minutes")
    body = (
        f"Dear {account.name},\n\n{intro}\n\nYour SEVIS user ID: {account.user_id}\n\n"
        f"Set your password here (the link works once and expires {expires} UTC):\n"
        f"{link_base}/set-password/{token}\n\n"
        "Passwords need at least 8 characters with an upper-case letter, a lower-case letter, a digit and a "
        "special character.\n\n-- SEVIS (sevis-mock, a test system)\n"
    )
    return mail.send(
        session,
        to=account.email,
        subject="SEVIS: set your password",
        body=body,
        kind="set-password",
        now=now,
        user_id=account.user_id,
        smtp=smtp,
    )


def register_account(
    session: Session, body: dict, environment: str, now: datetime, link_base: str, smtp: bool
) -> tuple[RtiAccount, list[int]]:
    """'Register for New Account' with a purpose: certification (F/M, Form I-17) or designation (J, Form
    DS-3036). Makes the temporary user who prepares the form, and sends two e-mails."""
    require(body, ["first_name", "last_name", "email", "phone", "purpose"])
    purpose = purpose_of(body["purpose"])
    if purpose is None:
        raise RtiError(
            400,
            f"purpose: choose 'certification' ({PURPOSE_TEXT}) or 'designation' ({DESIGNATION_TEXT})",
            field="purpose",
        )
    role, form, wording = PURPOSES[purpose]
    email = check_email(body["email"])
    account = RtiAccount(
        user_id=new_user_id(session),
        environment=environment,
        role=role,
        first_name=str(body["first_name"]).strip()[:60],
        last_name=str(body["last_name"]).strip()[:60],
        email=email,
        phone=str(body["phone"]).strip()[:40],
        created_at=now,
    )
    session.add(account)
    session.flush()
    first = mail.send(
        session,
        to=email,
        subject=f"SEVIS: your temporary user ID for {form}",
        kind="temporary-user-id",
        now=now,
        user_id=account.user_id,
        smtp=smtp,
        body=(
            f"Dear {account.name},\n\nYou registered to {wording}. Your temporary user ID for preparing "
            f"{form} is:\n\n    {account.user_id}\n\n"
            "A separate e-mail holds the link to set your password.\n\n-- SEVIS (sevis-mock, a test system)\n"
        ),
    )
    second = send_set_password(
        session,
        account,
        now,
        link_base,
        smtp,
        f"Set the password of your temporary user ID, then log in to prepare {form}.",
    )
    return account, [first.id, second.id]


def set_password(session: Session, token: str, password: str, now: datetime) -> RtiAccount:
    link = session.get(PasswordLink, digest(token or ""))
    if link is None:
        raise RtiError(404, "this Set Password link is not known; use the newest link from your e-mail", field="token")
    if link.used_at is not None:
        raise RtiError(
            410,
            f"this Set Password link was already used ({link.used_at.isoformat(timespec='minutes')} UTC); "
            "log in with your password, or ask for a new link",
            field="token",
        )
    if now >= link.expires_at:
        if _ended_by_another_link(session, link):
            raise RtiError(
                410,
                f"this Set Password link ended {link.expires_at.isoformat(timespec='minutes')} UTC, when the "
                f"password of {link.user_id} was set with a newer link; log in with that password, or ask SEVP "
                "(the operator console) for a new link",
                field="token",
            )
        raise RtiError(
            410,
            f"this Set Password link expired {link.expires_at.isoformat(timespec='minutes')} UTC; "
            "ask SEVP (the operator console) for a new link",
            field="token",
        )
    account = account_of(session, link.user_id)
    problems = password_problems(password or "", account.user_id)
    if problems:
        raise RtiError(400, "the password needs " + "; ".join(problems), field="password", invalid=problems)
    account.password_hash = hash_password(password)
    account.failed_logins = 0
    account.locked_until = None
    link.used_at = now
    end_other_access(session, account, now, keep=link)
    return account


def end_other_access(session: Session, account: RtiAccount, now: datetime, keep: PasswordLink) -> None:
    """A new password ends everything the old one (or a stolen link) could have opened: every other
    unused Set Password link of the account expires now, every page session ends (the generation the
    session cookies carry moves on) and every bearer token of the account is revoked."""
    others = session.scalars(
        select(PasswordLink).where(
            PasswordLink.user_id == account.user_id,
            PasswordLink.token_hash != keep.token_hash,
            PasswordLink.used_at.is_(None),
            PasswordLink.expires_at > now,
        )
    )
    for other in others:
        other.expires_at = now
    account.session_generation = (account.session_generation or 0) + 1
    session.execute(delete(AuthToken).where(AuthToken.kind == "rti", AuthToken.subject == account.user_id))


def _ended_by_another_link(session: Session, link: PasswordLink) -> bool:
    """Whether ``link`` expired because a newer link of the same account set the password at that moment."""
    return (
        session.scalars(
            select(PasswordLink.token_hash).where(
                PasswordLink.user_id == link.user_id,
                PasswordLink.token_hash != link.token_hash,
                PasswordLink.used_at == link.expires_at,
            )
        ).first()
        is not None
    )


def login(session: Session, user_id: str, password: str, environment: str, now: datetime) -> RtiAccount | RtiError:
    """Check the password; count failures (the 5th in a row locks the account for 30 minutes: HTTP 429).
    A refusal is RETURNED, not raised, so that the caller commits the failure count before answering."""
    user_id = (user_id or "").strip().upper()
    account = session.get(RtiAccount, user_id)
    bad = RtiError(
        401, "the user ID or password is wrong (user IDs are 10 characters, from your e-mail)", field="password"
    )
    if account is None or account.environment != environment:
        burn_password_check(password)
        return bad
    if account.locked_until is not None:
        if now < account.locked_until:
            return RtiError(
                429,
                f"too many failed logins: user {user_id} is locked until "
                f"{account.locked_until.isoformat(timespec='minutes')} UTC (or until SEVP unlocks it)",
            )
        account.locked_until, account.failed_logins = None, 0
    if account.password_hash is None:
        burn_password_check(password)
        return RtiError(
            401, f"user {user_id} has no password yet; open the Set Password link from your e-mail", field="password"
        )
    if not check_password_hash(account.password_hash, password or ""):
        account.failed_logins += 1
        if account.failed_logins >= MAX_FAILED_LOGINS:
            account.locked_until = now + LOCK_TIME
            return RtiError(
                429,
                f"{MAX_FAILED_LOGINS} failed logins in a row: user {user_id} is locked until "
                f"{account.locked_until.isoformat(timespec='minutes')} UTC (or until SEVP unlocks it)",
            )
        left = MAX_FAILED_LOGINS - account.failed_logins
        return RtiError(
            401,
            f"{bad.message}; {left} attempt{'s' if left != 1 else ''} left before the account locks",
            field="password",
        )
    account.failed_logins = 0
    account.last_login_at = now
    official = session.get(Official, user_id)
    if official is not None:
        official.last_login_at = now  # feeds the batch 45-day inactivity rule (S0003)
    return account


def account_of(session: Session, user_id: str) -> RtiAccount:
    """The RTI account ``user_id`` (RtiError 404 when there is none)."""
    account = session.get(RtiAccount, (user_id or "").strip().upper())
    if account is None:
        raise RtiError(404, f"no RTI user {user_id!r}")
    return account


def unlock(session: Session, user_id: str) -> RtiAccount:
    account = account_of(session, user_id)
    account.locked_until, account.failed_logins = None, 0
    return account


def new_link_for(session: Session, user_id: str, now: datetime, host_url: str, smtp: bool) -> RtiAccount:
    """SEVP sends a user a fresh Set Password link (a lost or expired link, a forgotten password). An official
    seeded in the data dir without an RTI account gets one here, in the beta environment [i]."""
    from .paths import link_base

    user_id = (user_id or "").strip().upper()
    account = session.get(RtiAccount, user_id)
    if account is None:
        official = session.get(Official, user_id)
        if official is None:
            raise RtiError(404, f"no RTI user or official {user_id!r}", field="user_id")
        first, _, last = official.name.partition(" ")
        account = RtiAccount(
            user_id=user_id,
            environment="beta",
            role=official.role,
            first_name=first,
            last_name=last,
            email=official.email or f"{user_id.lower()}@example.edu",
            created_at=now,
        )
        session.add(account)
        session.flush()
    send_set_password(
        session,
        account,
        now,
        link_base(host_url, account.environment),
        smtp,
        "SEVP sent you a new link to set the password of your SEVIS user ID.",
    )
    return account


# --- bearer tokens -------------------------------------------------------------------------------------


def issue_token(session: Session, kind: str, subject: str, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.execute(delete(AuthToken).where(AuthToken.expires_at < now))
    session.add(
        AuthToken(token_hash=digest(token), kind=kind, subject=subject, created_at=now, expires_at=now + TOKEN_LIFETIME)
    )
    return token


def token_subject(session: Session, token: str, kind: str, now: datetime) -> str | None:
    row = session.get(AuthToken, digest(token))
    if row is None or row.kind != kind or now >= row.expires_at:
        return None
    return row.subject


def revoke_token(session: Session, token: str) -> None:
    session.execute(delete(AuthToken).where(AuthToken.token_hash == digest(token)))


def user_json(session: Session, account: RtiAccount) -> dict:
    official = session.get(Official, account.user_id)
    return {
        "user_id": account.user_id,
        "role": account.role,
        "org_id": official.org_id if official else None,
        "name": account.name,
        "email": account.email,
        "environment": account.environment,
        "last_login_at": account.last_login_at.isoformat(timespec="seconds") if account.last_login_at else None,
    }


def find_accounts(session: Session, email: str) -> list[RtiAccount]:
    return list(session.scalars(select(RtiAccount).where(RtiAccount.email == email)))
