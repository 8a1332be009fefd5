"""What a batch and a stored record produce, for every reader: the transaction log of a batch as batchDownload
returns it, the batch's PDFs, and the I-20 / DS-2019 of a stored record.

The download view, RTI's pages and API, and the processor all read these here, so one batch has one log and one
record one form wherever it is fetched: the form RTI prints for a record is byte for byte the one a batch sent
with printForm="true" put in the zip on the same mock day (forms are drawn in reportlab's invariant mode).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from sqlalchemy import Connection, Row, bindparam, exists, select
from sqlalchemy.orm import Session

from ..config import ENVIRONMENTS
from ..store import Batch, BatchForm, Organization, Record
from ..forms import form_job, plan_job, render_job
from ..records import lifecycle
from ..xmlsafe import parse
from . import translog
from .outcome import ProcessOutcome

LOG_NAME = "sevis_transaction_log.xml"  # the log's name in the download zip


# --- the transaction log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchLog:
    """A batch's transaction log as batchDownload returns it now, with the codes it carries."""

    body: bytes
    download_code: str  # S0000, or S0030 while the batch is queued, processing or printing
    process_code: str | None  # the Process code once processed
    reasons: list[str] = field(default_factory=list)  # why S0030, for the reply's detail header


def transaction_log(batch: Batch | Row[Any]) -> BatchLog:
    """The log of ``batch`` (a stored batch, or a row of :func:`for_download`'s columns)."""
    system = ENVIRONMENTS[batch.environment][1]
    upload = translog.UploadPart("S0000", batch.uploaded_at, batch.file_name)
    if batch.state != "processed":
        reason = translog.not_ready(batch)
        body = translog.build(
            batch_id=batch.batch_id,
            org_id=batch.org_id,
            system=system,
            upload=upload,
            download_code="S0030",
            explanation=[f"S0030: {reason}"],
        )
        return BatchLog(body, "S0030", None, [reason])
    outcome = ProcessOutcome.from_json(batch.results) if batch.results else None
    body = translog.build(
        batch_id=batch.batch_id,
        org_id=batch.org_id,
        system=system,
        upload=upload,
        process=outcome,
        download_code="S0000",
    )
    return BatchLog(body, "S0000", outcome.code if outcome is not None else None)


# --- what batchDownload answers -------------------------------------------------------------------------

# the columns of a batch that its log needs (not the uploaded document, up to 16 MB), and whether it made forms,
# in one statement built once: a download is the request polled most
_FOR_DOWNLOAD = select(
    Batch.id,
    Batch.batch_id,
    Batch.org_id,
    Batch.environment,
    Batch.file_name,
    Batch.uploaded_at,
    Batch.due_at,
    Batch.state,
    Batch.results,
    exists().where(BatchForm.batch_pk == Batch.id).label("has_forms"),
).where(
    Batch.environment == bindparam("environment"),
    Batch.org_id == bindparam("org_id"),
    Batch.batch_id == bindparam("batch_id"),
)


def for_download(store, environment: str, org_id: str, batch_id: str) -> tuple[BatchLog, dict[str, bytes]] | None:
    """The log of the batch ``batch_id`` of ``org_id`` on ``environment`` as batchDownload returns it now, with its
    PDFs once processed (:func:`batch_pdfs`); None when there is no such batch. One statement for a batch without
    forms (every poll before it is processed), two with them, in one read transaction."""
    with store.engine.connect() as conn:
        batch = conn.execute(
            _FOR_DOWNLOAD, {"environment": environment, "org_id": org_id, "batch_id": batch_id}
        ).first()
        if batch is None:
            return None
        log = transaction_log(batch)
        pdfs = batch_pdfs(conn, batch.id) if log.download_code == "S0000" and batch.has_forms else {}
    return log, pdfs


# --- a batch's PDFs -----------------------------------------------------------------------------------


def batch_pdfs(db: Session | Connection, batch_pk: int) -> dict[str, bytes]:
    """Every PDF of a processed batch by its name in the zip without ".pdf": "<SEVIS ID>" (I-20 / DS-2019) and
    "<SEVIS ID>-7002" (DS-7002)."""
    rows = db.execute(
        select(BatchForm.name, BatchForm.pdf).where(BatchForm.batch_pk == batch_pk).order_by(BatchForm.name)
    )
    return {name: pdf for name, pdf in rows}


def form_names(session: Session, batch: Batch) -> list[str]:
    """The names of a batch's PDFs, as `batch_pdfs` keys them."""
    return list(session.scalars(select(BatchForm.name).where(BatchForm.batch_pk == batch.id).order_by(BatchForm.name)))


def batch_pdf(session: Session, batch: Batch, name: str) -> bytes | None:
    """One PDF of a batch by its zip name (without ".pdf"), None when the batch made no such form."""
    form = session.get(BatchForm, (batch.id, name))
    return form.pdf if form is not None else None


# --- the form of a stored record ----------------------------------------------------------------------


class NoForm(LookupError):
    """A stored record that has no I-20 / DS-2019 to print; the message says why."""


def stored_form_jobs(session: Session, record: Record, org_name: str, issue_date: dt.date) -> dict[str, dict]:
    """The print jobs of a stored principal's form as it stands now, and of each of its dependents' own (a J-2's
    DS-2019; an F-2's or M-2's I-20 [i]), by SEVIS ID. [i] ended dependents leave the form and get none of their
    own: only dependents in an open status (Initial, Active) are printed."""
    dependents = [
        (d.sevis_id, _element(d.document))
        for d in session.scalars(
            select(Record).where(Record.principal_sevis_id == record.sevis_id).order_by(Record.sevis_id)
        )
        if d.status in lifecycle.OPEN
    ]
    return form_jobs(
        _element(record.document),
        kind=record.kind,
        sevis_id=record.sevis_id,
        org_id=record.org_id,
        org_name=org_name,
        issue_date=issue_date,
        dependents=dependents,
    )


def form_jobs(
    element: etree._Element,
    *,
    kind: str,
    sevis_id: str,
    org_id: str,
    org_name: str,
    issue_date: dt.date,
    dependents: list[tuple[str, etree._Element]],
) -> dict[str, dict]:
    """The principal's form job (listing ``dependents``) and each dependent's own, which does not list the family."""
    jobs = {}
    for form_id, listed, holder in [(sevis_id, dependents, None)] + [(d[0], [], d) for d in dependents]:
        jobs[form_id] = form_job(
            element,
            kind=kind,
            sevis_id=sevis_id,
            org_id=org_id,
            org_name=org_name,
            issue_date=issue_date,
            dependents=listed,
            for_dependent=holder,
        )
    return jobs


def org_name(session: Session, org_id: str) -> str:
    """The name a form shows for the organization (its code when the organization is not stored)."""
    org = session.get(Organization, org_id)
    return org.name if org is not None else org_id


def record_form(session: Session, sevis_id: str, issue_date: dt.date) -> bytes:
    """The I-20 / DS-2019 of a stored record (a principal's, or a dependent's own) as it stands now, issued on
    ``issue_date``: the PDF a batch that printed the record on that day put in its zip. `NoForm` when it has none."""
    row = session.get(Record, sevis_id)
    if row is None:
        raise NoForm(f"no record {sevis_id}")
    principal = session.get(Record, row.principal_sevis_id) if row.principal_sevis_id else row
    if principal is None:
        raise NoForm(f"the principal {row.principal_sevis_id} of dependent {sevis_id} is not stored")
    jobs = stored_form_jobs(session, principal, org_name(session, principal.org_id), issue_date)
    if sevis_id not in jobs:
        raise NoForm(
            f"dependent {sevis_id} has ended (status {row.status}): ended dependents leave the principal's form "
            "and get none of their own [i]"
        )
    return render_job(jobs[sevis_id])


def record_plan(session: Session, sevis_id: str, issue_date: dt.date) -> bytes:
    """The DS-7002 (T/IPP) of a stored trainee's or intern's record as it stands now, the whole plan: the PDF a
    batch asking for it (print7002, Reprint7002 without a SiteId) put in its zip that day. `NoForm` without one."""
    row = session.get(Record, sevis_id)
    element = _element(row.document) if row is not None else None
    if row is None or element is None or row.principal_sevis_id or row.kind != "J" or not has_plan(element):
        raise NoForm(
            f"{sevis_id} has no T/IPP, so no DS-7002: a DS-7002 is the training plan of a trainee or intern "
            "(AddTIPP on the create, or TIPP/AddTIPP in an update)"
        )
    job = plan_job(
        element, sevis_id=sevis_id, org_id=row.org_id, org_name=org_name(session, row.org_id), issue_date=issue_date
    )
    return render_job(job)


def has_plan(element: etree._Element) -> bool:
    """Whether a J record holds a T/IPP with sites to print: a DS-7002."""
    return element.find("AddTIPP/TippSite") is not None


def _element(document: str) -> etree._Element:
    return parse(document.encode()).getroot()
