"""PDF forms for batch records: Form I-20, DS-2019 and the DS-7002 training/internship placement plan.

`render_form` draws a Form I-20 look-alike for an F/M `Student` create record or a DS-2019 look-alike
for a J `ExchangeVisitor` create record (printForm="true"). `render_plan` draws the DS-7002 look-alike
of a J record's T/IPP (print7002="true" or Reprint7002). Every page says TEST — NOT A GOVERNMENT FORM,
and so do the PDF's title and subject. Output is deterministic for the same input (reportlab's
invariant mode).

The drawing modules (and reportlab) load on first use, so `mockserver.forms.store` (a table that
`mockserver.db` imports) costs nothing to import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from importlib import import_module

from lxml import etree

__all__ = ["FORM_KINDS", "TEST_MARK", "render_form", "render_plan"]

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
) -> bytes:
    """The PDF bytes of the form for one create record.

    record      the `Student` (kind "F/M") or `ExchangeVisitor` (kind "J") element as posted
    sevis_id    the SEVIS ID assigned to the principal (shown large and as a Code 128 barcode)
    org_id      the school code or program number; org_name the school or program sponsor name
    issue_date  the form's issue date
    dependents  (dependent SEVIS ID, `Dependent` element) pairs, listed on the second page

    Missing optional elements leave their boxes blank. Raises ValueError for an unknown `kind`.
    """
    try:
        module, func = _RENDERERS[kind]
    except KeyError:
        raise ValueError(f"unknown form kind {kind!r}: use 'F/M' (Form I-20) or 'J' (DS-2019)") from None
    render = getattr(import_module(module, __name__), func)
    return render(
        record, sevis_id=sevis_id, org_id=org_id, org_name=org_name, issue_date=issue_date, dependents=list(dependents)
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
