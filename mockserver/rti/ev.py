"""RTI's exchange-visitor (J) side: Form DS-3036 and the help desk, as JSON API and pages (API.md)."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from . import designations, records
from .api import form_api
from .blueprint import bp
from .pages import _account, _login_first, form_pages, ticket_page
from .web import api_account, json_body, mock

SITE_SLOTS = designations.MAX_SITES
OFFICER_SLOTS = 4  # the page offers the RO and three AROs; the API takes up to MAX_OFFICIALS


form_api(designations.DS3036, path="designations", singular="designation")


@bp.post("/api/help-desk")
def api_help_desk():
    m = mock()
    with m.store.write() as s:
        ticket = designations.contact_help_desk(s, json_body(), g.environment, m.clock.now())
        return jsonify({"ticket": ticket.ticket, "designation_id": ticket.designation_id}), 201


# --- pages -------------------------------------------------------------------------------------------------


def _ds3036_from_form() -> dict:
    f = request.form
    sites, officials = [], []
    for n in range(SITE_SLOTS):
        c: dict[str, Any] = {
            "name": f.get(f"site-{n}-name", ""),
            "address": {k: f.get(f"site-{n}-{k}", "") for k in designations.ADDRESS_FIELDS},
        }
        if n == 0 or c["name"].strip() or any(v.strip() for v in c["address"].values()):
            sites.append(c)
    for n in range(OFFICER_SLOTS):
        o = {k: f.get(f"official-{n}-{k}", "") for k in ("role", "first_name", "last_name", "email")}
        if any(o[k].strip() for k in ("first_name", "last_name", "email")):
            officials.append(o)
    return {
        "sponsor_name": f.get("sponsor_name", ""),
        "program_type": f.get("program_type", ""),
        "categories": f.getlist("categories"),
        "officials": officials,
        "sites": sites,
    }


form_pages(
    designations.DS3036,
    name="ds3036",
    from_form=_ds3036_from_form,
    rows_name="designations",
    view_name="d",
    submitted_next="contact the help desk",
    context={
        "site_slots": SITE_SLOTS,
        "officer_slots": OFFICER_SLOTS,
        "program_types": designations.PROGRAM_TYPES,
        "categories": designations.CATEGORY_NAMES,
    },
)


@bp.route("/help-desk", methods=["GET", "POST"])
def help_desk_page():
    fields, contact = designations.HELP_DESK_FIELDS, designations.contact_help_desk
    return ticket_page(designations.DS3036, "rti/help_desk.html", fields, contact)


# --- a trainee's or intern's DS-7002 ------------------------------------------------------------------------


@bp.get("/api/records/<sevis_id>/ds7002.pdf")
def api_record_ds7002(sevis_id: str):
    account = api_account(g.environment)
    m = mock()
    with m.store.session() as s:
        pdf = records.printable_ds7002(s, account, g.environment, sevis_id, m.clock.now().date())
    return Response(pdf, mimetype="application/pdf")


@bp.get("/records/<sevis_id>/ds7002.pdf")
def record_ds7002(sevis_id: str):
    account = _account()
    if account is None:
        return _login_first()
    m = mock()
    with m.store.session() as s:
        pdf = records.printable_ds7002(s, account, g.environment, sevis_id, m.clock.now().date())
    return Response(pdf, mimetype="application/pdf")
