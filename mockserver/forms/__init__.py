"""PDF forms for batch records: Form I-20, DS-2019 and the DS-7002 training/internship placement plan.

`render_form` draws a Form I-20 look-alike for an F/M `Student` create record or a DS-2019 look-alike
for a J `ExchangeVisitor` create record (printForm="true"). `render_plan` draws the DS-7002 look-alike
of a J record's T/IPP (print7002="true" or Reprint7002). Every page says TEST — NOT A GOVERNMENT FORM,
and so do the PDF's title and subject. Output is deterministic for the same input (reportlab's
invariant mode).

The drawing modules (and reportlab) load on first use, so importing the package costs nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from importlib import import_module

from lxml import etree

__all__ = ["FORM_KINDS", "TEST_MARK", "form_job", "plan_job", "render_form", "render_job", "render_plan"]

_RENDERERS = {"F/M": (".i20", "render_i20"), "J": (".ds2019", "render_ds2019")}


def __getattr__(name: str):
    if name == "TEST_MARK":
        return import_module(".sheet", __name__).TEST_MARK
    if name == "FORM_KINDS":
        return {kind: getattr(import_module(module, __name__), func) for kind, (module, func) in _RENDERERS.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def render_form(
    record: etree._Element,
    *,
    kind: str,
    sevis_id: str,
    org_id: str,
    org_name: str,
    issue_date: dt.date,
    dependents: Sequence[tuple[str, etree._Element]] = (),
    for_dependent: tuple[str, etree._Element] | None = None,
) -> bytes:
    """The PDF bytes of the form for one create record, or for one of its dependents.

    record      the `Student` (kind "F/M") or `ExchangeVisitor` (kind "J") element as posted
    sevis_id    the SEVIS ID assigned to the principal (shown large and as a Code 128 barcode)
    org_id      the school code or program number; org_name the school or program sponsor name
    issue_date  the form's issue date
    dependents  (dependent SEVIS ID, `Dependent` element) pairs, listed on the second page
    for_dependent  (SEVIS ID, `Dependent` element) of one dependent: that J-2's DS-2019 or F-2/M-2's I-20 [i],
                the dependent's data with the principal's program (`record` and `sevis_id` stay the principal's)

    Missing optional elements leave their boxes blank. Raises ValueError for an unknown `kind`.
    """
    try:
        module, func = _RENDERERS[kind]
    except KeyError:
        raise ValueError(f"unknown form kind {kind!r}: use 'F/M' (Form I-20) or 'J' (DS-2019)") from None
    render = getattr(import_module(module, __name__), func)
    return render(
        record,
        sevis_id=sevis_id,
        org_id=org_id,
        org_name=org_name,
        issue_date=issue_date,
        dependents=list(dependents),
        for_dependent=for_dependent,
    )


def render_plan(
    visitor: etree._Element,
    *,
    sevis_id: str,
    org_id: str,
    org_name: str,
    issue_date: dt.date,
    site_id: str | None = None,
) -> bytes:
    """The PDF bytes of the DS-7002 look-alike for a stored J `ExchangeVisitor` record.

    site_id  print only this T/IPP site (Reprint7002 with a SiteId); None prints the whole plan
    """
    from .ds7002 import render_ds7002

    return render_ds7002(
        visitor, sevis_id=sevis_id, org_id=org_id, org_name=org_name, issue_date=issue_date, site_id=site_id
    )


# --- print jobs: what a form shows, kept as data so it can be drawn after the batch's transaction -----------------


def form_job(
    record: etree._Element,
    *,
    kind: str,
    sevis_id: str,
    org_id: str,
    org_name: str,
    issue_date: dt.date,
    dependents: Sequence[tuple[str, etree._Element]] = (),
    for_dependent: tuple[str, etree._Element] | None = None,
) -> dict:
    """`render_form`'s arguments as JSON-ready data, taken now (the elements may change afterwards)."""
    job = {
        "form": "form",
        "record": etree.tostring(record, encoding="unicode", with_tail=False),
        "kind": kind,
        "sevis_id": sevis_id,
        "org_id": org_id,
        "org_name": org_name,
        "issue_date": issue_date.isoformat(),
        "dependents": [
            [dep_id, etree.tostring(dep, encoding="unicode", with_tail=False)] for dep_id, dep in dependents
        ],
    }
    if for_dependent is not None:
        job["for_dependent"] = [for_dependent[0], etree.tostring(for_dependent[1], encoding="unicode", with_tail=False)]
    return job


def plan_job(
    visitor: etree._Element,
    *,
    sevis_id: str,
    org_id: str,
    org_name: str,
    issue_date: dt.date,
    site_id: str | None = None,
) -> dict:
    """`render_plan`'s arguments as JSON-ready data, taken now."""
    return {
        "form": "plan",
        "record": etree.tostring(visitor, encoding="unicode", with_tail=False),
        "sevis_id": sevis_id,
        "org_id": org_id,
        "org_name": org_name,
        "issue_date": issue_date.isoformat(),
        "site_id": site_id,
    }


def render_job(job: dict) -> bytes:
    """The PDF of a job made by `form_job` or `plan_job`: the same bytes the direct call would have drawn."""
    common = {
        "sevis_id": job["sevis_id"],
        "org_id": job["org_id"],
        "org_name": job["org_name"],
        "issue_date": dt.date.fromisoformat(job["issue_date"]),
    }
    record = etree.fromstring(job["record"])
    if job["form"] == "plan":
        return render_plan(record, site_id=job.get("site_id"), **common)
    dependents = [(dep_id, etree.fromstring(xml)) for dep_id, xml in job.get("dependents", [])]
    holder = job.get("for_dependent")
    for_dependent = (holder[0], etree.fromstring(holder[1])) if holder else None
    return render_form(record, kind=job["kind"], dependents=dependents, for_dependent=for_dependent, **common)


def render_jobs(jobs: dict[str, dict[str, dict]]) -> dict[str, dict[str, bytes]]:
    """``{"forms": {sevis_id: job}, "plans": {...}}`` -> the same shape with PDFs. A job that cannot be drawn (a
    mock bug) is logged and left out: it costs one PDF, never the batch."""
    out: dict[str, dict[str, bytes]] = {"forms": {}, "plans": {}}
    for group, batch in jobs.items():
        for sevis_id, job in batch.items():
            try:
                out.setdefault(group, {})[sevis_id] = render_job(job)
            except Exception:
                logging.getLogger(__name__).exception("could not draw the %s of %s", job.get("form"), sevis_id)
    return out
