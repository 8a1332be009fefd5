"""What the RTI, SEVP and outbox blueprints share: the mock, the clock, CSRF tokens for HTML forms, bearer
tokens for JSON, the auto-approve sweep and SMTP delivery after each request."""

from __future__ import annotations

import hmac
import logging
import secrets

from flask import jsonify, request, session

from . import accounts, petitions
from .errors import RtiError
from ..current import mock
from ..store import Designation, Petition, RtiAccount
from . import designations
from .mail import deliver_pending

log = logging.getLogger("sevis_mock.server.rti")
CSRF_FIELD = "csrf_token"


def now():
    return mock().clock.now()


def smtp_on() -> bool:
    return bool(mock().settings.smtp)


def csrf_token() -> str:
    """The per-session token every HTML form carries in a hidden ``csrf_token`` field."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a POST form whose token is missing or not this session's (cross-site request forgery)."""
    if request.method != "POST":
        return
    sent, expected = request.form.get(CSRF_FIELD, ""), session.get("csrf", "")
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise RtiError(
            400,
            "the form's security token (csrf_token) is missing or out of date: this form was not sent "
            "from this site's page, or your session ended. Reload the page and send the form again",
        )


def bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else ""


def json_body() -> dict:
    body = request.get_json(silent=True)
    if body is None and request.form:
        body = request.form.to_dict()
    if not isinstance(body, dict):
        raise RtiError(400, "send a JSON object (Content-Type: application/json)")
    return body


def json_error(err: RtiError):
    return jsonify(err.as_json()), err.status


def auto_approve() -> None:
    """`serve --auto-approve SECONDS`: approve due I-17s and designate due DS-3036s lazily, on any RTI / SEVP /
    Department of State request."""
    after = mock().settings.auto_approve
    if after is None:
        return
    m = mock()
    with m.store.session() as s:  # cheap look first: most requests find nothing due
        from sqlalchemy import select

        i17 = s.scalars(select(Petition.id).where(Petition.state == "submitted").limit(1)).first() is not None
        ds3036 = s.scalars(select(Designation.id).where(Designation.state == "submitted").limit(1)).first() is not None
    if not (i17 or ds3036):
        return
    with m.store.write() as s:
        approved = petitions.auto_approve_due(s, after, m.clock.now(), request.host_url, smtp_on()) if i17 else []
        designated = (
            designations.auto_designate_due(s, after, m.clock.now(), request.host_url, smtp_on()) if ds3036 else []
        )
    if approved:
        log.info("auto-approved I-17 %s", ", ".join(map(str, approved)))
    if designated:
        log.info("auto-designated DS-3036 %s", ", ".join(map(str, designated)))


def deliver_mail(response):
    """After each request: hand pending e-mails to the SMTP server when `serve --smtp` is given."""
    m = mock()
    if m.settings.smtp:
        deliver_pending(m.store, m.settings.smtp)
    return response


def rti_account(subject: str | None, environment: str | None = None):
    """The RtiAccount behind a session or token subject, or None."""
    if not subject:
        return None
    with mock().store.session() as s:
        account = s.get(RtiAccount, subject)
    if account is None or (environment and account.environment != environment):
        return None
    return account


def api_account(environment: str):
    m = mock()
    token = bearer()
    if not token:
        raise RtiError(401, "log in first: POST api/login, then send Authorization: Bearer <token>")
    with m.store.session() as s:
        subject = accounts.token_subject(s, token, "rti", m.clock.now())
    account = rti_account(subject, environment)
    if account is None:
        raise RtiError(401, "the bearer token is unknown or expired, or belongs to another environment; log in again")
    return account
