"""The print jobs of batches whose forms are still being drawn, and how a DS-7002 is named beside the I-20 /
DS-2019 of the same record (both kept in `BatchForm`). Part of `sevis_mock.server.store`.

Forms are drawn outside the batch's write transaction: processing stores what each form shows (a `PrintJob`)
with the records and leaves the batch "printing"; the processor then draws the PDFs with no lock held and
stores them, marking the batch "processed", in a second short transaction. A job whose processor died is
taken over once its lease (real time) has run out.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from .core import Base, UTCDateTime

# [i] PROTOCOL §4 says only that clients find a PDF by the SEVIS ID in its file name; the DS-2019 is
# "<SEVIS ID>.pdf", so the DS-7002 of the same record is "<SEVIS ID>-7002.pdf" (the ID is still in the name).
PLAN_SUFFIX = "-7002"


def plan_name(sevis_id: str) -> str:
    """The DS-7002's name in the download zip (and `BatchForm.name`), without ".pdf"."""
    return f"{sevis_id}{PLAN_SUFFIX}"


class PrintJob(Base):
    """The forms a processed batch still has to draw: JSON ``{"forms": {sevis_id: job}, "plans": {...}}`` where a
    job holds everything its PDF shows (see `sevis_mock.server.forms.render_job`)."""

    __tablename__ = "batch_print_jobs"
    batch_pk: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    jobs: Mapped[str] = mapped_column(Text)
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # real time; then another may take it

    def decoded(self) -> dict[str, dict[str, dict]]:
        return json.loads(self.jobs)
