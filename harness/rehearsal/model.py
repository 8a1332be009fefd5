"""What a rehearsal produces: step results with evidence, record outcomes, the overall verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..api import Exchange

__all__ = ["Exchange"]  # one exchange with the mock, as the JSON client records it

PASS, FAIL, SKIP, WAIT = "pass", "fail", "skip", "wait"
STATUSES = (PASS, FAIL, SKIP, WAIT)


@dataclass
class Email:
    to: str
    subject: str
    kind: str | None
    user_id: str | None
    links: list[str]
    sent_at: str | None


@dataclass
class Evidence:
    notes: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)
    emails: list[Email] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    log_excerpts: list[str] = field(default_factory=list)


@dataclass
class StepResult:
    id: str
    number: int
    title: str
    college: str
    mock: str
    check: str
    required: bool
    status: str = SKIP
    summary: str = ""
    seconds: float = 0.0
    evidence: Evidence = field(default_factory=Evidence)


@dataclass
class RecordOutcome:
    """One record of one uploaded batch, as its transaction log reports it."""

    batch_file: str
    batch_id: str
    org_id: str
    request_id: str
    sevis_id: str | None
    ok: bool
    code: str | None
    message: str | None
    hint: str | None
    forms: list[str] = field(default_factory=list)  # PDF file names in the zip for this record


@dataclass
class BatchFile:
    """A batch the rehearsal uploads: the college's own (re-addressed) or the sample."""

    source: str
    batch_id: str
    org_id: str
    user_id: str
    xml: bytes = field(repr=False)
    changes: list[str] = field(default_factory=list)
    sample: bool = False
    upload_code: str | None = None
    process_code: str | None = None
    download_code: str | None = None
    log_xml: bytes | None = field(default=None, repr=False)
    pdfs: dict[str, bytes] = field(default_factory=dict, repr=False)


@dataclass
class Rehearsal:
    target: str
    environment: str
    started_at: str
    finished_at: str | None = None
    seconds: float = 0.0
    school: dict[str, Any] = field(default_factory=dict)  # F/M: the test school
    sponsor: dict[str, Any] = field(default_factory=dict)  # J: the test exchange-visitor program
    kind: str = "F/M"
    steps: list[StepResult] = field(default_factory=list)
    batches: list[BatchFile] = field(default_factory=list)
    records: list[RecordOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> list[RecordOutcome]:
        return [r for r in self.records if not r.ok]

    @property
    def passed(self) -> bool:
        """Zero rejected records and every required step passed."""
        return not self.rejected and all(s.status == PASS for s in self.steps if s.required) and bool(self.steps)

    def counts(self) -> dict[str, int]:
        out = {status: 0 for status in STATUSES}
        for step in self.steps:
            out[step.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (bytes left out: logs as text, PDFs by name and size)."""
        return {
            "passed": self.passed,
            "target": self.target,
            "environment": self.environment,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "rejected_records": len(self.rejected),
            "kind": self.kind,
            "school": self.school,
            **({"sponsor": self.sponsor} if self.kind == "J" else {}),
            "notes": self.notes,
            "steps": [asdict(step) for step in self.steps],
            "batches": [_batch_dict(b) for b in self.batches],
            "records": [asdict(r) for r in self.records],
        }


def _batch_dict(batch: BatchFile) -> dict[str, Any]:
    return {
        "source": batch.source,
        "batch_id": batch.batch_id,
        "org_id": batch.org_id,
        "user_id": batch.user_id,
        "sample": batch.sample,
        "changes": batch.changes,
        "upload_code": batch.upload_code,
        "process_code": batch.process_code,
        "download_code": batch.download_code,
        "transaction_log": batch.log_xml.decode("utf-8", "replace") if batch.log_xml else None,
        "forms": {name: len(data) for name, data in sorted(batch.pdfs.items())},
    }
