"""The fault rules' tables: each rule (as checked JSON, see ``sevis_mock.server.faults.model``) with its counters,
and the batches a processing fault has acted on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .core import Base, UTCDateTime


class Fault(Base):
    """One fault rule and its counters."""

    __tablename__ = "faults"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")  # a label, or the scenario it came from
    kind: Mapped[str] = mapped_column(String(24))
    rule: Mapped[str] = mapped_column(Text)  # the checked rule, JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # mock clock
    seen: Mapped[int] = mapped_column(Integer, default=0)  # matching requests so far (for nth)
    hits: Mapped[int] = mapped_column(Integer, default=0)  # times the fault acted
    last_hit_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FaultBatch(Base):
    """A processing fault applied to one batch (so an overnight deferral happens once)."""

    __tablename__ = "fault_batches"
    fault_id: Mapped[int] = mapped_column(ForeignKey("faults.id", ondelete="CASCADE"), primary_key=True)
    batch_pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
