"""``POST /control/records/<sevis_id>/agency-events``: another agency's event on a record, as a test lever.

The body names the event and its facts (``mockserver/agency.py`` lists them); the event joins the
record's history (``GET /control/records/<sevis_id>``, RTI's record page) and batch rules read it. Where
SEVIS itself changes the record on such an event (a transfer release whose date has come), the record
changes too. ``GET`` lists the record's agency events.
"""

from __future__ import annotations

from flask import abort, jsonify, request
from lxml import etree
from sqlalchemy import select

from .. import agency
from ..store import Record, RecordEvent
from ..records import lifecycle
from . import bp, mock

# The history entry SEVIS's own status change adds (the same names batch events use).
STATUS_EVENTS = {"Completed": "Status/Complete", "Terminated": "Status/Terminate"}


def _record(session, sevis_id: str) -> Record:
    record = session.scalars(select(Record).where(Record.sevis_id == sevis_id)).first()
    if record is None:
        abort(404, description=f"no record with SEVIS ID {sevis_id[:20]!r}; list them at /control/records")
    return record


def _events(session, sevis_id: str) -> list[dict]:
    rows = session.scalars(
        select(RecordEvent)
        .where(RecordEvent.sevis_id == sevis_id, RecordEvent.event.startswith(agency.PREFIX))
        .order_by(RecordEvent.id)
    )
    return [
        {"event": r.event.removeprefix(agency.PREFIX), "at": r.at.isoformat(timespec="seconds"), "detail": r.detail}
        for r in rows
    ]


@bp.get("/records/<sevis_id>/agency-events")
def agency_events_list(sevis_id: str):
    with mock().store.session() as s:
        _record(s, sevis_id)
        return jsonify({"sevis_id": sevis_id, "events": _events(s, sevis_id)})


@bp.post("/records/<sevis_id>/agency-events")
def agency_event_add(sevis_id: str):
    m = mock()
    now = m.clock.now()
    with m.store.write() as s:
        record = _record(s, sevis_id)
        try:
            name, detail = agency.build(
                request.get_json(silent=True), kind=record.kind, is_dependent=record.principal_sevis_id is not None
            )
        except agency.AgencyEventError as err:
            abort(400, description=f"{sevis_id}: {err}")
        s.add(
            RecordEvent(
                sevis_id=sevis_id, batch_pk=None, event=name, detail=etree.tostring(detail, encoding="unicode"), at=now
            )
        )
        document = etree.fromstring(record.document)
        changed = agency.sevis_changes(detail, record.kind, record.status, document, now.date())
        record.document, record.updated_at = etree.tostring(document, encoding="unicode"), now
        if changed is not None:
            record.status = changed
            s.add(RecordEvent(sevis_id=sevis_id, batch_pk=None, event=STATUS_EVENTS[changed], detail="", at=now))
            # dependents still in use follow their principal, as they do on a batch's status event
            for dep in s.scalars(select(Record).where(Record.principal_sevis_id == sevis_id)):
                if dep.status in lifecycle.OPEN:
                    dep.status, dep.updated_at = changed, now
                    s.add(
                        RecordEvent(
                            sevis_id=dep.sevis_id, batch_pk=None, event=STATUS_EVENTS[changed], detail="", at=now
                        )
                    )
        s.flush()
        events = _events(s, sevis_id)
    return jsonify({"sevis_id": sevis_id, "status": record.status, "changed_status": changed, "events": events}), 201
