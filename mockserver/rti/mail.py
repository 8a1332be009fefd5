"""The mock's e-mail: every message lands in the outbox table; with ``serve --smtp HOST:PORT`` it is also
delivered to that SMTP server (after the transaction that wrote it has committed)."""

from __future__ import annotations

import logging
import re
import smtplib
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..paging import Page

from ..store import OutboxMessage

SENDER = "SEVIS (sevis-mock) <no-reply@sevis-mock.invalid>"
LINK = re.compile(r"https?://[^\s<>\"']+")
log = logging.getLogger("sevis_mock.server.mail")


def send(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    kind: str,
    now: datetime,
    user_id: str | None = None,
    smtp: bool = False,
) -> OutboxMessage:
    msg = OutboxMessage(
        to_address=to.strip(),
        subject=subject,
        body=body,
        kind=kind,
        user_id=user_id,
        sent_at=now,
        smtp_status="pending" if smtp else "",
    )
    session.add(msg)
    session.flush()
    return msg


def as_json(msg: OutboxMessage) -> dict:
    return {
        "id": msg.id,
        "to": msg.to_address,
        "subject": msg.subject,
        "body": msg.body,
        "sent_at": msg.sent_at.isoformat(timespec="seconds"),
        "links": LINK.findall(msg.body),
        "user_id": msg.user_id,
        "kind": msg.kind,
        "smtp": msg.smtp_status or None,
    }


def messages(session: Session, to: str | None = None, page: Page | None = None) -> list[OutboxMessage]:
    """Oldest first; with a page, that page's rows plus one (see `sevis_mock.server.paging.Page.apply`)."""
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if to:
        query = query.where(OutboxMessage.to_address == to.strip())
    if page is not None:
        query = page.apply(query)
    return list(session.scalars(query))


def parse_smtp(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) -> (host, port); ValueError says what is wrong."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. localhost:1025)")
    return host, int(port)


def deliver_pending(store, smtp: str, timeout: float = 10) -> int:
    """Deliver every pending message by SMTP; each is claimed first, so two workers never send one twice.
    A failure is recorded on the message (the outbox page shows it) and never fails the request."""
    host, port = parse_smtp(smtp)
    sent = 0
    while True:
        with store.write() as s:
            msg = s.scalars(
                select(OutboxMessage).where(OutboxMessage.smtp_status == "pending").order_by(OutboxMessage.id).limit(1)
            ).first()
            if msg is None:
                return sent
            msg.smtp_status = "sending"
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = SENDER, msg.to_address, msg.subject
        email["X-Sevis-Mock-Kind"] = msg.kind
        email.set_content(msg.body)
        try:
            with smtplib.SMTP(host, port, timeout=timeout) as client:
                client.send_message(email)
            status = "delivered"
            sent += 1
        except (OSError, smtplib.SMTPException) as exc:
            status = f"failed: {type(exc).__name__}: {exc}"[:500]
            log.warning("e-mail %s to %s not delivered to %s:%s: %s", msg.id, msg.to_address, host, port, exc)
        with store.write() as s:
            s.execute(update(OutboxMessage).where(OutboxMessage.id == msg.id).values(smtp_status=status))
