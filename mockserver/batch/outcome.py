"""What processing a batch produced: one :class:`RecordOutcome` a principal record, gathered in a
:class:`ProcessOutcome` (the transaction log's ``Process`` part).

The outcome is stored with the batch as JSON (``Batch.results``) and read back by the download, the RTI
pages and the API: :meth:`ProcessOutcome.to_json` / :meth:`ProcessOutcome.from_json` keep that JSON exactly
as it has always been written, so batches stored by an older mock stay readable and the API's ``results``
keep their shape (a key that does not apply to a record is left out, not written as null).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

# A standardized address as the log reports it (sevis_mock.server.addresses.person_address / doctor):
# "provided", "corrected", "result", "message"; a site's also "site_name" and "site_id".
AddressResult = dict[str, Any]


@dataclass
class DependentOutcome:
    """A dependent created by the record's event, as the log's ``Record/Dependent`` names it."""

    sevis_id: str | None
    user_defined_a: str | None = None
    user_defined_b: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"sevis_id": self.sevis_id, "user_defined_a": self.user_defined_a, "user_defined_b": self.user_defined_b}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DependentOutcome:
        return cls(data.get("sevis_id"), data.get("user_defined_a"), data.get("user_defined_b"))


# Keys every stored record carries, even when null; the others are stored only when they apply.
_ALWAYS = ("request_id", "user_id", "user_defined_a", "user_defined_b", "ok")


@dataclass
class RecordOutcome:
    """One principal record's result: ``ok`` with what was created, or the code and message that failed it."""

    request_id: str
    user_id: str | None = None
    user_defined_a: str | None = None
    user_defined_b: str | None = None
    ok: bool = True
    sevis_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    sites: list[AddressResult] | None = None  # J: each site of activity sent, standardized
    dependents: list[DependentOutcome] | None = None  # dependents the event created
    physical_address: AddressResult | None = None
    mailing_address: AddressResult | None = None
    at: str | None = None  # SEVIS timestamp of when the record was applied (the log's Record/ProcessDate)

    def failed(self, code: str, message: str) -> RecordOutcome:
        """This record failed with ``code``: what it would have created is dropped."""
        return RecordOutcome(
            request_id=self.request_id,
            user_id=self.user_id,
            user_defined_a=self.user_defined_a,
            user_defined_b=self.user_defined_b,
            ok=False,
            sevis_id=self.sevis_id,
            error_code=code,
            error_message=message,
            at=self.at,
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready form (the stored one, and the RTI API's ``results`` item)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name not in _ALWAYS:
                continue
            if f.name == "dependents":
                value = [d.as_dict() for d in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordOutcome:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("dependents") is not None:
            values["dependents"] = [DependentOutcome.from_dict(d) for d in values["dependents"]]
        values.setdefault("request_id", "")
        return cls(**values)


@dataclass
class ProcessOutcome:
    """A processed batch: its code (S0000, S0020, or S0001 for a batch that failed whole), when it ended,
    each record's result, and the fault that decided it where a scripted fault did."""

    code: str
    at: str  # SEVIS timestamp: the log's Process/@dateTimeStamp
    records: list[RecordOutcome] = field(default_factory=list)
    fault: str | None = None

    @property
    def failures(self) -> int:
        return sum(1 for r in self.records if not r.ok)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "at": self.at, "records": [r.as_dict() for r in self.records]}
        if self.fault is not None:
            out["fault"] = self.fault
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> ProcessOutcome:
        data = json.loads(text)
        return cls(
            code=data.get("code", ""),
            at=data.get("at", ""),
            records=[RecordOutcome.from_dict(r) for r in data.get("records") or ()],
            fault=data.get("fault"),
        )


def records_to_json(records: list[RecordOutcome]) -> str:
    """Results of the records applied so far (a batch processed in steps keeps them between steps)."""
    return json.dumps([r.as_dict() for r in records])


def records_from_json(text: str) -> list[RecordOutcome]:
    """The records of `records_to_json`, or of several such lists one per line (a batch processed in steps appends
    each step's results as a line)."""
    return [RecordOutcome.from_dict(r) for line in text.split("\n") if line.strip() for r in json.loads(line)]
