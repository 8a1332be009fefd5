"""Where a batch's DS-7002 PDFs are kept, next to its I-20 / DS-2019 PDFs (`BatchForm`), and
the print jobs of batches whose forms are still being drawn.

A record can get both a DS-2019 and a DS-7002 from one batch, and `BatchForm` holds one PDF per
(batch, SEVIS ID); so the DS-7002s have this table of their own, which `create_all` also adds to a
data dir made before it existed. Part of `sevis_mock.server.store`.

Forms are drawn outside the batch's write transaction: processing stores what each form shows (a `PrintJob`)
with the records and leaves the batch "printing"; the processor then draws the PDFs with no lock held and
stores them, marking the batch "processed", in a second short transaction. A job whose processor died is
taken over once its lease (real time) has run out.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .core import Base, UTCDateTime

# [i] PROTOCOL §4 says only that clients find a PDF by the SEVIS ID in its file name; the DS-2019 is
# "<SEVIS ID>.pdf", so the DS-7002 of the same record is "<SEVIS ID>-7002.pdf" (the ID is still in the name).
PLAN_SUFFIX = "-7002"


class PlanForm(Base):
    """A DS-7002 (T/IPP) PDF made for a J record whose batch asked for one."""

    __tablename__ = "batch_plan_forms"
    batch_pk: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    sevis_id: Mapped[str] = mapped_column(String(11), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)


def plan_name(sevis_id: str) -> str:
    """The PDF's name in the download zip, without ".pdf"."""
    return f"{sevis_id}{PLAN_SUFFIX}"


def plan_pdfs(session: Session, batch_pk: int) -> dict[str, bytes]:
    """The batch's DS-7002 PDFs by their zip name (without ".pdf")."""
    rows = session.scalars(select(PlanForm).where(PlanForm.batch_pk == batch_pk).order_by(PlanForm.sevis_id))
    return {plan_name(row.sevis_id): row.pdf for row in rows}


class PrintJob(Base):
    """The forms a processed batch still has to draw: JSON ``{"forms": {sevis_id: job}, "plans": {...}}`` where a
    job holds everything its PDF shows (see `sevis_mock.server.forms.render_job`)."""

    __tablename__ = "batch_print_jobs"
    batch_pk: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    jobs: Mapped[str] = mapped_column(Text)
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # real time; then another may take it

    def decoded(self) -> dict[str, dict[str, dict]]:
        return json.loads(self.jobs)
