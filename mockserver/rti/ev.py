"""RTI's exchange-visitor (J) side: Form DS-3036 and the help desk, as JSON API and pages (API.md)."""

from __future__ import annotations

from flask import Response, g, jsonify, request

from . import designations, records
from .api import form_api
from .blueprint import bp
from .pages import _account, _login_first, form_pages, officials_from_form, places_from_form, ticket_page
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
    sites = [site for _, site in places_from_form("site", SITE_SLOTS)]
    officials = officials_from_form(OFFICER_SLOTS)
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
