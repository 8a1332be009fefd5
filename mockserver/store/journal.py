"""The request journal's table: every request to the batch endpoints and the disposition it got (written and read by
``sevis_mock.server.control.journal``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .core import Base, UTCDateTime


class JournalEntry(Base):
    """One request to ``batchUpload`` or ``batchDownload`` and the disposition it got."""

    __tablename__ = "request_journal"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the mock clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # real time
    action: Mapped[str] = mapped_column(String(8))  # upload | download | tls (a refused handshake)
    environment: Mapped[str] = mapped_column(String(16), default="")
    method: Mapped[str] = mapped_column(String(8))
    client_subject: Mapped[str] = mapped_column(Text, default="")
    org_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    user_id: Mapped[str] = mapped_column(String(64), default="")
    batch_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    file_name: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(Integer, default=0)  # bytes of the xml part (uploads)
    http_status: Mapped[int] = mapped_column(Integer)
    disposition: Mapped[str] = mapped_column(String(32), default="")  # S0000..S0031, HTTP nnn, or a dropped connection
    process_code: Mapped[str] = mapped_column(String(5), default="")  # downloads of processed batches
    detail: Mapped[str] = mapped_column(Text, default="")
    faults: Mapped[str] = mapped_column(String(200), default="")  # ids of the faults that acted, comma-separated

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "at": self.at.isoformat(timespec="seconds"),
            "received_at": self.received_at.isoformat(timespec="milliseconds"),
            "action": self.action,
            "environment": self.environment,
            "method": self.method,
            "client_subject": self.client_subject,
            "org_id": self.org_id,
            "user_id": self.user_id,
            "batch_id": self.batch_id,
            "file_name": self.file_name,
            "size": self.size,
            "http_status": self.http_status,
            "disposition": self.disposition,
            "process_code": self.process_code or None,
            "detail": self.detail,
            "faults": [int(f) for f in self.faults.split(",") if f] if self.faults else [],
        }
