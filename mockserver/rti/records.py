"""What an official may see on the records and batches pages: their organizations, batches, logs, PDFs."""

from __future__ import annotations


from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from ..batch import results
from ..batch.outcome import ProcessOutcome
from ..store import Batch, Official, Organization, Record
from ..store import PLAN_SUFFIX
from ..paging import Page, PagingError
from ..xmlsafe import parse
from .errors import RtiError
from ..store import RtiAccount
from ..records.queries import list_records as query
from ..records.queries import record_view


def visible_orgs(session: Session, account: RtiAccount) -> list[str]:
    """The official's own code; an official of a main campus (code ending 000) also sees the school's
    other campuses [i]. The temporary I-17 user sees none."""
    official = session.get(Official, account.user_id)
    if official is None:
        return []
    org_id = official.org_id
    if org_id.endswith("000") and len(org_id) == 15:
        return list(
            session.scalars(
                select(Organization.org_id)
                .where(Organization.org_id.like(org_id[:12] + "%"))
                .order_by(Organization.org_id)
            )
        )
    return [org_id]


def check_org(session: Session, account: RtiAccount, org_id: str | None) -> list[str]:
    orgs = visible_orgs(session, account)
    if not orgs:
        raise RtiError(
            403, f"user {account.user_id} is not a school official; records and batches are shown to officials"
        )
    if org_id:
        if org_id not in orgs:
            raise RtiError(403, f"{org_id} is not one of your organizations ({', '.join(orgs)})", field="org")
        return [org_id]
    return orgs


def batch_summary(b: Batch) -> dict:
    records = ProcessOutcome.from_json(b.results).records if b.results else []
    return {
        "org_id": b.org_id,
        "batch_id": b.batch_id,
        "user_id": b.user_id,
        "kind": b.kind,
        "environment": b.environment,
        "file_name": b.file_name,
        "state": b.state,
        "upload_code": "S0000",
        "uploaded_at": b.uploaded_at.isoformat(timespec="seconds"),
        "due_at": b.due_at.isoformat(timespec="seconds"),
        "processed_at": b.processed_at.isoformat(timespec="seconds") if b.processed_at else None,
        "process_code": b.process_code,
        "records": len(records),
        "failed": sum(1 for r in records if not r.ok),
    }


PAGE = 100  # rows a list shows unless ?limit= says otherwise
MAX_PAGE = 1000


def page_of(args) -> Page:
    """The ``?limit=&offset=`` of an RTI list; a bad value is refused naming the parameter."""
    try:
        return Page.from_args(args, default=PAGE, maximum=MAX_PAGE)
    except PagingError as exc:
        raise RtiError(400, str(exc), field="offset" if "offset" in str(exc) else "limit") from None


def list_batches(session: Session, orgs: list[str], environment: str, page: Page) -> tuple[list[dict], dict]:
    """One page of the batches of ``orgs``, newest first, and its paging facts."""
    rows = session.scalars(
        page.apply(
            select(Batch)
            .where(Batch.org_id.in_(orgs), Batch.environment == environment)
            .order_by(Batch.uploaded_at.desc(), Batch.id.desc())
        )
    )
    batches, paging = page.cut(list(rows))
    return [batch_summary(b) for b in batches], paging


def get_batch(session: Session, account: RtiAccount, org_id: str, batch_id: str, environment: str) -> Batch:
    check_org(session, account, org_id)
    b = session.scalars(
        select(Batch).where(Batch.org_id == org_id, Batch.batch_id == batch_id, Batch.environment == environment)
    ).first()
    if b is None:
        raise RtiError(404, f"no batch {batch_id} of {org_id} on this system")
    return b


def batch_detail(b: Batch) -> dict:
    out = batch_summary(b)
    out["results"] = [r.as_dict() for r in ProcessOutcome.from_json(b.results).records] if b.results else []
    session = object_session(b)
    out["forms"] = results.form_names(session, b) if session is not None else []  # "<ID>" and "<ID>-7002"
    out["form_list"] = form_list(b.kind, out["forms"], out["results"])
    return out


def form_list(kind: str, names: list[str], results: list[dict]) -> list[dict]:
    """Each PDF of a batch: its zip name, which form it is, and for a dependent's own form its principal."""
    principal_of = {d.get("sevis_id"): r.get("sevis_id") for r in results for d in r.get("dependents") or ()}
    main = "I-20" if kind == "F/M" else "DS-2019"
    out = []
    for name in names:
        if name.endswith(PLAN_SUFFIX):
            out.append({"name": name, "form": "DS-7002", "dependent_of": None})
        else:
            out.append({"name": name, "form": main, "dependent_of": principal_of.get(name)})
    return out


def transaction_log(b: Batch) -> bytes:
    """The log as batchDownload would return it now."""
    return results.transaction_log(b).body


def batch_pdf(session: Session, b: Batch, name: str) -> bytes:
    """The form named as in the download zip: "<SEVIS ID>" (I-20 / DS-2019) or "<SEVIS ID>-7002" (DS-7002)."""
    pdf = results.batch_pdf(session, b, name)
    if pdf is not None:
        return pdf
    if name.endswith(PLAN_SUFFIX):
        raise RtiError(404, f"batch {b.batch_id} made no DS-7002 for {name.removesuffix(PLAN_SUFFIX)}")
    raise RtiError(
        404,
        f'batch {b.batch_id} made no form for {name} (forms are made for records sent with printForm="true")',
    )


# --- records (the records read API) -------------------------------------------------------------------------------


def list_records(
    session: Session, account: RtiAccount, environment: str, org_id: str | None, status: str | None, page: Page
) -> tuple[list[dict], dict]:
    """One page of the records of the official's organizations (or ``org_id``), newest first."""
    orgs = check_org(session, account, org_id)
    found = query(
        session, org_id=orgs, environment=environment, status=status or None, limit=page.limit + 1, offset=page.offset
    )
    return page.cut(found)


def record(session: Session, account: RtiAccount, environment: str, sevis_id: str) -> dict:
    view = record_view(session, sevis_id, environment=environment)
    if view is None or view["org_id"] not in visible_orgs(session, account):
        raise RtiError(404, f"no record {sevis_id} of your organizations on this system")
    return view


def printable_form(session: Session, account: RtiAccount, environment: str, sevis_id: str, today) -> bytes:
    """The I-20 / DS-2019 of a record as it stands now: a principal's, or a dependent's own (a J-2's DS-2019,
    an F-2's or M-2's I-20 [i]) with the principal's program; the same PDF a batch printing it today puts in its
    zip (`sevis_mock.server.batch.results.record_form`)."""
    record(session, account, environment, sevis_id)  # 404 unless one of the official's organizations' records
    try:
        return results.record_form(session, sevis_id, today)
    except results.NoForm as exc:
        raise RtiError(404, str(exc)) from None


def printable_ds7002(session: Session, account: RtiAccount, environment: str, sevis_id: str, today) -> bytes:
    """The DS-7002 (T/IPP) of a trainee's or intern's record as it stands now; 404 for a record without one."""
    record(session, account, environment, sevis_id)
    try:
        return results.record_plan(session, sevis_id, today)
    except results.NoForm as exc:
        raise RtiError(404, str(exc)) from None


def has_tipp(session: Session, sevis_id: str) -> bool:
    """Whether the record holds a T/IPP (its page then offers the DS-7002)."""
    row = session.get(Record, sevis_id)
    return row is not None and row.kind == "J" and results.has_plan(parse(row.document.encode()).getroot())
