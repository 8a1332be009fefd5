"""Reading stored records (the contract in RECORDS-API: used by the control API, RTI pages, rehearsal)."""

from __future__ import annotations

from datetime import datetime

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from ..agency import PREFIX as AGENCY
from ..agency import summary
from ..store import Batch, Record, RecordEvent
from ..xmlsafe import XML_SPACE

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def xml_data(element: etree._Element) -> dict | str:
    """An element as nested data: children by name (a list when repeated), attributes as "@name",
    text as the value itself (or "#text" beside attributes or children)."""
    out: dict = {}
    for name, value in element.attrib.items():
        out["@" + _attr_name(str(name))] = value
    for child in element:
        if not isinstance(child.tag, str):
            continue
        data = xml_data(child)
        if child.tag in out:
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(data)
        else:
            out[child.tag] = data
    text = (element.text or "").strip(XML_SPACE)
    if not out:
        return text
    if text:
        out["#text"] = text
    return out


def _attr_name(name: str) -> str:
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return f"xsi:{local}" if ns == XSI else local
    return name


def _summary(record: Record, dependents: list[Record]) -> dict:
    return {
        "sevis_id": record.sevis_id,
        "org_id": record.org_id,
        "environment": record.environment,
        "kind": record.kind,
        "status": record.status,
        "principal_sevis_id": record.principal_sevis_id,
        "surname": record.surname,
        "given_name": record.given_name,
        "birth_date": record.birth_date,
        "request_id": record.request_id,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "dependents": [
            {
                "sevis_id": d.sevis_id,
                "status": d.status,
                "relationship": d.relationship_code,
                "surname": d.surname,
                "given_name": d.given_name,
            }
            for d in dependents
        ],
    }


def _dependents_of(session: Session, sevis_ids: list[str]) -> dict[str, list[Record]]:
    found: dict[str, list[Record]] = {sid: [] for sid in sevis_ids}
    for chunk in range(0, len(sevis_ids), 500):
        rows = session.scalars(
            select(Record)
            .options(defer(Record.document))
            .where(Record.principal_sevis_id.in_(sevis_ids[chunk : chunk + 500]))
            .order_by(Record.sevis_id)
        )
        for row in rows:
            found[row.principal_sevis_id or ""].append(row)  # selected by principal: never None
    return found


def record_view(session: Session, sevis_id: str, *, environment: str | None = None) -> dict | None:
    """One record (principal or dependent) with its current data and its history, or None."""
    query = select(Record).where(Record.sevis_id == sevis_id)
    if environment is not None:
        query = query.where(Record.environment == environment)
    record = session.scalars(query).first()
    if record is None:
        return None
    view = _summary(record, _dependents_of(session, [record.sevis_id])[record.sevis_id])
    view["data"] = {etree.fromstring(record.document).tag: xml_data(etree.fromstring(record.document))}
    rows = session.execute(
        select(RecordEvent, Batch.batch_id)
        .outerjoin(Batch, RecordEvent.batch_pk == Batch.id)
        .where(RecordEvent.sevis_id == sevis_id)
        .order_by(RecordEvent.id)
    )
    view["history"] = [
        {"event": ev.event, "at": _iso(ev.at), "batch_id": batch_id, "detail": ev.detail}
        | ({"agency": summary(ev.event, ev.detail)} if ev.event.startswith(AGENCY) else {})
        for ev, batch_id in rows
    ]
    return view


def list_records(
    session: Session,
    *,
    org_id: str | list[str] | None = None,
    environment: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    principals_only: bool = True,
    limit: int = 500,
    offset: int = 0,
) -> list[dict]:
    """Record summaries (no data, no history), newest first; ``org_id`` one organization or several."""
    query = select(Record).options(defer(Record.document))  # a summary shows no data: its pages are not read
    if isinstance(org_id, list):
        query = query.where(Record.org_id.in_(org_id))
    elif org_id:
        query = query.where(Record.org_id == org_id)
    if environment:
        query = query.where(Record.environment == environment)
    if status:
        query = query.where(Record.status == status)
    if kind:
        query = query.where(Record.kind == kind)
    if principals_only:
        query = query.where(Record.principal_sevis_id.is_(None))
    records = list(
        session.scalars(query.order_by(Record.created_at.desc(), Record.sevis_id.desc()).limit(limit).offset(offset))
    )
    dependents = _dependents_of(session, [r.sevis_id for r in records])
    return [_summary(r, dependents[r.sevis_id]) for r in records]
