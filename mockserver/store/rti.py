"""RTI, SEVP console and outbox tables (declared on the store's ``Base``).

The batch endpoint keeps reading ``Organization`` / ``Official`` / ``Certificate``: approval and batch
registration write those rows; these tables hold what only the web side needs (passwords, links,
petitions, e-mails).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .core import Base, UTCDateTime


class RtiAccount(Base):
    """A person who can log in to RTI: the temporary I-17 user or an official (PDSO/DSO)."""

    __tablename__ = "rti_accounts"
    user_id: Mapped[str] = mapped_column(String(10), primary_key=True)
    environment: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(8))  # TEMP | PDSO | DSO
    first_name: Mapped[str] = mapped_column(String(60), default="")
    last_name: Mapped[str] = mapped_column(String(60), default="")
    email: Mapped[str] = mapped_column(String(200), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    session_generation: Mapped[int] = mapped_column(Integer, default=0)  # logout ends every page session

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class PasswordLink(Base):
    """A Set Password link: single use, expiring. Only the SHA-256 of the token is stored."""

    __tablename__ = "rti_password_links"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("rti_accounts.user_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuthToken(Base):
    """A bearer token for the JSON APIs (RTI user or SEVP operator). Only its SHA-256 is stored."""

    __tablename__ = "rti_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # rti | sevp
    subject: Mapped[str] = mapped_column(String(40))  # RTI user ID or operator user
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApplicationForm:
    """The columns Form I-17 (``Petition``) and Form DS-3036 (``Designation``) share: a draft owned by the
    temporary user who prepares it, submitted, then decided; each adds the number its decision assigns."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-10)
    environment: Mapped[str] = mapped_column(String(16), sort_order=-9)
    owner_user_id: Mapped[str] = mapped_column(ForeignKey("rti_accounts.user_id"), index=True, sort_order=-8)
    state: Mapped[str] = mapped_column(String(12), default="draft", sort_order=-7)  # draft|submitted|<decided>|rejected
    body: Mapped[str] = mapped_column(Text, default="{}", sort_order=-6)  # JSON, the form as entered
    # the decision's number comes here (sort order 0)
    decision: Mapped[str] = mapped_column(
        Text, default="", sort_order=1
    )  # JSON of the decision, or the rejection reason
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, sort_order=2)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, sort_order=3)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, sort_order=4)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, sort_order=5)


class FormTicket:
    """A message to the desk that answers about a form (SEVP Response Center, the exchange-visitor help desk);
    each adds the column naming its form."""

    PREFIX: ClassVar[str]  # of the ticket number shown to the sender
    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-10)
    environment: Mapped[str] = mapped_column(String(16), sort_order=-9)
    # the form's ID comes here (sort order 0)
    body: Mapped[str] = mapped_column(Text, sort_order=1)  # JSON of the fields sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, sort_order=2)

    @property
    def ticket(self) -> str:
        return f"{self.PREFIX}{self.id:07d}"


class Petition(ApplicationForm, Base):
    """A Form I-17 petition, from draft to approved (or rejected)."""

    __tablename__ = "rti_petitions"
    school_code: Mapped[str | None] = mapped_column(String(15), nullable=True)


class ResponseTicket(FormTicket, Base):
    """A message to the SEVP Response Center (step 8), linked to the I-17 it names."""

    __tablename__ = "rti_response_tickets"
    PREFIX = "SRC"
    petition_id: Mapped[int] = mapped_column(ForeignKey("rti_petitions.id"), index=True)


class OutboxMessage(Base):
    """Every e-mail the mock sent; delivered by SMTP too when ``serve --smtp`` is given."""

    __tablename__ = "outbox_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(200), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(10), nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    smtp_status: Mapped[str] = mapped_column(
        Text, default=""
    )  # "" (no --smtp) | pending | sending | delivered | failed: ...


class Designation(ApplicationForm, Base):
    """A Form DS-3036 (application for designation as an Exchange Visitor Program), from draft to
    designated (or rejected) by the Department of State."""

    __tablename__ = "rti_designations"
    program_number: Mapped[str | None] = mapped_column(String(9), nullable=True)


class HelpDeskTicket(FormTicket, Base):
    """A message to the Department of State's exchange-visitor help desk, linked to the DS-3036 it names."""

    __tablename__ = "rti_help_desk_tickets"
    PREFIX = "EVHD"
    designation_id: Mapped[int] = mapped_column(ForeignKey("rti_designations.id"), index=True)
