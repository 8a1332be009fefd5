"""Processing faults: a batch processed overnight, failed as a whole, or with an internal error per record.

The processor calls :func:`before_processing` for each due batch, inside its write transaction; a fault
applies to a batch once (``fault_batches``), so a batch deferred to the night is processed normally then.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..batch.outcome import ProcessOutcome, RecordOutcome
from ..clock import sevis_timestamp
from ..store import Fault, FaultBatch
from .model import EASTERN, RequestFacts, checked
from ..batch.processing import LAYOUT, _ud
from ..catalog import INTERNAL_ERROR
from ..rules import Violation
from ..xmlsafe import parse

NIGHT = time(2, 0)  # [i] "overnight": the next 02:00 Eastern


def next_night(after: datetime) -> datetime:
    zone = ZoneInfo(EASTERN)
    local = after.astimezone(zone)
    night = datetime.combine(local.date(), NIGHT, zone)
    if night <= local:
        night = datetime.combine(local.date() + timedelta(days=1), NIGHT, zone)
    return night.astimezone(after.tzinfo)


def before_processing(session, batch, now: datetime) -> bool:
    """Apply the processing fault that fits ``batch`` (at most one, the oldest). True when the batch was
    dealt with here (deferred or given its outcome) and must not be processed now."""
    faults = list(session.scalars(select(Fault).where(Fault.kind == "process").order_by(Fault.id)))
    if not faults:
        return False
    done = set(session.scalars(select(FaultBatch.fault_id).where(FaultBatch.batch_pk == batch.id)))
    if done:
        return False  # a fault already had its way with this batch (an overnight deferral ends here)
    facts = RequestFacts("upload", batch.uploaded_at, batch.environment, batch.org_id, batch.user_id, batch.batch_id)
    for fault in faults:
        rule = checked(fault)
        if not (rule.live(fault.hits, now) and rule.fits(facts)):
            continue
        fault.seen += 1
        if fault.seen < rule.match.nth:
            continue
        fault.hits += 1
        fault.last_hit_at = now
        session.add(FaultBatch(fault_id=fault.id, batch_pk=batch.id, applied_at=now))
        return _APPLY[rule.respond["process"]](session, batch, now, fault.id)
    return False


def _overnight(session, batch, now, fault_id) -> bool:
    batch.due_at = next_night(batch.uploaded_at)
    return batch.due_at > now


def _finish(batch, now, outcome: ProcessOutcome) -> bool:
    batch.state = "processed"
    batch.processed_at = now
    batch.process_code = outcome.code
    batch.results = outcome.to_json()
    return True


def _batch_failure(session, batch, now, fault_id) -> bool:
    return _finish(batch, now, ProcessOutcome("S0001", sevis_timestamp(now), [], fault=fault_id))


def _record_errors(session, batch, now, fault_id) -> bool:
    create_path, update_path, _ = LAYOUT[batch.kind]
    root = parse(batch.document).getroot()
    violation = Violation.of(INTERNAL_ERROR)
    records = [
        RecordOutcome(
            request_id=el.get("requestID", ""),
            user_id=el.get("userID"),
            sevis_id=el.get("sevisID"),
            user_defined_a=_ud(el, "UserDefinedA"),
            user_defined_b=_ud(el, "UserDefinedB"),
            ok=False,
            at=sevis_timestamp(now),
            error_code=violation.code,
            error_message=violation.message,
        )
        for path in (create_path, update_path)
        for el in root.iterfind(path)
    ]
    outcome = ProcessOutcome("S0020" if records else "S0001", sevis_timestamp(now), records, fault=fault_id)
    return _finish(batch, now, outcome)


_APPLY = {"overnight": _overnight, "batch_failure": _batch_failure, "record_errors": _record_errors}
