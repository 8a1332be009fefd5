"""RTI, SEVP console and outbox tables (declared on the store's ``Base``).

The batch endpoint keeps reading ``Organization`` / ``Official`` / ``Certificate``: approval and batch
registration write those rows; these tables hold what only the web side needs (passwords, links,
petitions, e-mails).
"""

from __future__ import annotations

from datetime import datetime

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


class Petition(Base):
    """A Form I-17 petition, from draft to approved (or rejected)."""

    __tablename__ = "rti_petitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(16))
    owner_user_id: Mapped[str] = mapped_column(ForeignKey("rti_accounts.user_id"), index=True)
    state: Mapped[str] = mapped_column(String(12), default="draft")  # draft|submitted|approved|rejected
    body: Mapped[str] = mapped_column(Text, default="{}")  # JSON, the I-17 as entered
    school_code: Mapped[str | None] = mapped_column(String(15), nullable=True)
    decision: Mapped[str] = mapped_column(Text, default="")  # JSON of the approval, or the rejection reason
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ResponseTicket(Base):
    """A message to the SEVP Response Center (step 8), linked to the I-17 it names."""

    __tablename__ = "rti_response_tickets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(16))
    petition_id: Mapped[int] = mapped_column(ForeignKey("rti_petitions.id"), index=True)
    body: Mapped[str] = mapped_column(Text)  # JSON of the fields sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def ticket(self) -> str:
        return f"SRC{self.id:07d}"


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


class Designation(Base):
    """A Form DS-3036 (application for designation as an Exchange Visitor Program), from draft to
    designated (or rejected) by the Department of State."""

    __tablename__ = "rti_designations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(16))
    owner_user_id: Mapped[str] = mapped_column(ForeignKey("rti_accounts.user_id"), index=True)
    state: Mapped[str] = mapped_column(String(12), default="draft")  # draft|submitted|designated|rejected
    body: Mapped[str] = mapped_column(Text, default="{}")  # JSON, the DS-3036 as entered
    program_number: Mapped[str | None] = mapped_column(String(9), nullable=True)
    decision: Mapped[str] = mapped_column(Text, default="")  # JSON of the designation, or the rejection reason
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class HelpDeskTicket(Base):
    """A message to the Department of State's exchange-visitor help desk, linked to the DS-3036 it names."""

    __tablename__ = "rti_help_desk_tickets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(16))
    designation_id: Mapped[int] = mapped_column(ForeignKey("rti_designations.id"), index=True)
    body: Mapped[str] = mapped_column(Text)  # JSON of the fields sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def ticket(self) -> str:
        return f"EVHD{self.id:07d}"
