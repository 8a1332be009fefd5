"""RTI's exchange-visitor (J) side: Form DS-3036 and the help desk, as JSON API and pages (API.md)."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, g, jsonify, redirect, request, url_for
from sqlalchemy import select

from . import designations, records
from .blueprint import bp
from .errors import RtiError
from ..store import Designation, HelpDeskTicket
from .pages import _account, _errors, _login_first, _page
from .web import api_account, json_body, mock

SITE_SLOTS = designations.MAX_SITES
OFFICER_SLOTS = 4  # the page offers the RO and three AROs; the API takes up to MAX_OFFICIALS


def _tickets(s, d: Designation) -> list[HelpDeskTicket]:
    return list(
        s.scalars(select(HelpDeskTicket).where(HelpDeskTicket.designation_id == d.id).order_by(HelpDeskTicket.id))
    )


# --- JSON --------------------------------------------------------------------------------------------------


@bp.post("/api/designations")
def api_designation_create():
    account = api_account(g.environment)
    m = mock()
    with m.store.write() as s:
        d = designations.create(s, account, request.get_json(silent=True) or {}, m.clock.now())
        return jsonify(designations.as_json(d)), 201


@bp.get("/api/designations")
def api_designation_list():
    account = api_account(g.environment)
    with mock().store.session() as s:
        rows = s.scalars(
            select(Designation).where(Designation.owner_user_id == account.user_id).order_by(Designation.id)
        )
        return jsonify({"designations": [designations.as_json(d) for d in rows]})


@bp.get("/api/designations/<int:designation_id>")
def api_designation_get(designation_id: int):
    account = api_account(g.environment)
    with mock().store.session() as s:
        d = designations.owned(s, designation_id, account)
        return jsonify(designations.as_json(d, _tickets(s, d)))


@bp.put("/api/designations/<int:designation_id>")
def api_designation_put(designation_id: int):
    account = api_account(g.environment)
    m = mock()
    with m.store.write() as s:
        d = designations.save_draft(designations.owned(s, designation_id, account), json_body(), m.clock.now())
        return jsonify(designations.as_json(d))


@bp.post("/api/designations/<int:designation_id>/submit")
def api_designation_submit(designation_id: int):
    account = api_account(g.environment)
    m = mock()
    with m.store.write() as s:
        d = designations.submit(designations.owned(s, designation_id, account), m.clock.now())
        return jsonify(designations.as_json(d))


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


@bp.route("/ds3036", methods=["GET", "POST"])
def ds3036_list():
    account = _account()
    if account is None:
        return _login_first()
    m = mock()
    if request.method == "POST":
        try:
            with m.store.write() as s:
                d = designations.create(s, account, {}, m.clock.now())
            return redirect(url_for("rti.ds3036_edit", designation_id=d.id))
        except RtiError as err:
            flash(err.message)
    with m.store.session() as s:
        rows = [
            designations.as_json(d)
            for d in s.scalars(
                select(Designation).where(Designation.owner_user_id == account.user_id).order_by(Designation.id)
            )
        ]
    return _page("rti/ds3036_list.html", designations=rows, user=account)


@bp.route("/ds3036/<int:designation_id>", methods=["GET", "POST"])
def ds3036_edit(designation_id: int):
    account = _account()
    if account is None:
        return _login_first()
    m = mock()
    errors: dict = {}
    status = 200
    if request.method == "POST":
        raw = _ds3036_from_form()
        try:
            with m.store.write() as s:
                designations.save_draft(designations.owned(s, designation_id, account), raw, m.clock.now())
            if request.form.get("action") == "submit":
                with m.store.write() as s:
                    designations.submit(designations.owned(s, designation_id, account), m.clock.now())
                flash(f"Form DS-3036 {designation_id} is submitted. Next: contact the help desk.")
            else:
                flash(f"Draft of Form DS-3036 {designation_id} saved.")
            return redirect(url_for("rti.ds3036_edit", designation_id=designation_id))
        except RtiError as err:
            errors, status = _errors(err), err.status
    with m.store.session() as s:
        d = designations.owned(s, designation_id, account)
        view = designations.as_json(d, _tickets(s, d))
    if request.method == "POST":
        view.update(_ds3036_from_form())  # show what was typed, next to its errors
    return _page(
        "rti/ds3036_edit.html",
        status,
        d=view,
        errors=errors,
        site_slots=SITE_SLOTS,
        officer_slots=OFFICER_SLOTS,
        program_types=designations.PROGRAM_TYPES,
        categories=designations.CATEGORY_NAMES,
        user=account,
    )


@bp.route("/help-desk", methods=["GET", "POST"])
def help_desk_page():
    form = {k: request.form.get(k, "") for k in designations.HELP_DESK_FIELDS}
    if request.method == "POST":
        m = mock()
        try:
            with m.store.write() as s:
                ticket = designations.contact_help_desk(s, form, g.environment, m.clock.now())
            flash(f"Your message reached the help desk: ticket {ticket.ticket} for DS-3036 {ticket.designation_id}.")
            return redirect(url_for("rti.help_desk_page"))
        except RtiError as err:
            return _page("rti/help_desk.html", err.status, form=form, errors=_errors(err))
    return _page("rti/help_desk.html", form=form, errors={})


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
