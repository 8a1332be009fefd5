"""PDF forms for batch records sent with printForm="true".

`render_form` draws a Form I-20 look-alike for an F/M `Student` create record or a DS-2019 look-alike
for a J `ExchangeVisitor` create record. Every page says TEST — NOT A GOVERNMENT FORM, and so do the
PDF's title and subject. Output is deterministic for the same input (reportlab's invariant mode).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from lxml import etree

from .ds2019 import render_ds2019
from .i20 import render_i20
from .sheet import TEST_MARK

__all__ = ["FORM_KINDS", "TEST_MARK", "render_form"]

FORM_KINDS = {"F/M": render_i20, "J": render_ds2019}


def render_form(record: etree._Element, *, kind: str, sevis_id: str, org_id: str, org_name: str,
                issue_date: dt.date, dependents: Sequence[tuple[str, etree._Element]] = ()) -> bytes:
    """The PDF bytes of the form for one create record.

    record      the `Student` (kind "F/M") or `ExchangeVisitor` (kind "J") element as posted
    sevis_id    the SEVIS ID assigned to the principal (shown large and as a Code 128 barcode)
    org_id      the school code or program number; org_name the school or program sponsor name
    issue_date  the form's issue date
    dependents  (dependent SEVIS ID, `Dependent` element) pairs, listed on the second page

    Missing optional elements leave their boxes blank. Raises ValueError for an unknown `kind`.
    """
    try:
        render = FORM_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown form kind {kind!r}: use 'F/M' (Form I-20) or 'J' (DS-2019)") from None
    return render(record, sevis_id=sevis_id, org_id=org_id, org_name=org_name, issue_date=issue_date,
                  dependents=list(dependents))
