"""RTI's HTML pages: plain forms (every POST carries the session's CSRF token), server-rendered templates.
Each page calls the same functions as the JSON API and shows a refusal next to the field it names."""

from __future__ import annotations

from typing import Any, Callable

import json
from urllib.parse import quote

from flask import Response, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from ..store import Organization
from ..profiles import describe, load as load_profile
from . import accounts, batchreg, petitions, records
from .blueprint import bp
from .applications import ADDRESS_FIELDS, FormKind
from .errors import RtiError
from ..store import PasswordLink, RtiAccount
from .paths import link_base
from .web import mock, rti_account, smtp_on

CAMPUS_SLOTS = petitions.MAX_CAMPUSES
OFFICIAL_SLOTS = petitions.MAX_OFFICIALS


def _account() -> RtiAccount | None:
    if session.get("rti_env") != g.environment:
        return None
    account = rti_account(session.get("rti_user"), g.environment)
    if account is None or session.get("rti_generation") != account.session_generation:
        return None  # logged out since (a copied cookie stops working too)
    return account


def _login_first():
    flash("Log in first.")
    return redirect(url_for("rti.login_page", next=request.path))


def _page(template: str, status: int = 200, **context: Any):
    context.setdefault("user", _account())
    return render_template(template, environment=g.environment, **context), status


def _errors(err: RtiError) -> dict:
    errors = {"_": err.message}
    for item in err.missing + err.invalid:
        key = item.split(":")[0].split(" ")[0]
        errors.setdefault(key, item if item != key else "Fill this in.")
    if err.field:
        errors.setdefault(err.field, err.message)
    return errors


@bp.get("/")
def home():
    account = _account()
    orgs, profiles = [], []
    if account is not None:
        m = mock()
        with m.store.session() as s:
            orgs = records.visible_orgs(s, account)
            for org_id in orgs:
                org = s.get(Organization, org_id)
                if org is not None:
                    facts = describe(org.kind, load_profile(s, org_id, org.kind))
                    profiles.append((org_id, "Form I-17" if org.kind == "F/M" else "Designation", facts))
    return _page("rti/home.html", orgs=orgs, profiles=profiles)


# --- steps 1-4 -----------------------------------------------------------------------------------------------

REGISTER_FIELDS = ("first_name", "last_name", "email", "phone", "purpose")


@bp.route("/register", methods=["GET", "POST"])
def register_page():
    form = {k: request.form.get(k, "") for k in REGISTER_FIELDS}
    if request.method == "POST":
        m = mock()
        try:
            with m.store.write() as s:
                account, _ = accounts.register_account(
                    s, form, g.environment, m.clock.now(), link_base(request.host_url, g.environment), smtp_on()
                )
            form_name = "Form DS-3036" if account.role == "TEMP-EV" else "Form I-17"
            return _page("rti/registered.html", email=account.email, form_name=form_name)
        except RtiError as err:
            return _page("rti/register.html", err.status, form=form, errors=_errors(err))
    return _page("rti/register.html", form=form, errors={})


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password_page(token: str):
    m = mock()
    if request.method == "POST":
        password, confirm = request.form.get("password", ""), request.form.get("confirm_password", "")
        if password != confirm:
            err = RtiError(400, "the two passwords differ; type the same password twice", field="confirm_password")
            return _page("rti/set_password.html", 400, token=token, errors=_errors(err))
        try:
            with m.store.write() as s:
                account = accounts.set_password(s, token, password, m.clock.now())
            flash(f"Your password is set. Log in with user ID {account.user_id}.")
            return redirect(url_for("rti.login_page", user_id=account.user_id))
        except RtiError as err:
            if err.status in (404, 410):
                return _page("rti/link_gone.html", err.status, error=err)
            return _page("rti/set_password.html", err.status, token=token, errors=_errors(err))
    with m.store.session() as s:
        link = s.get(PasswordLink, accounts.digest(token))
        if link is None or link.used_at is not None or m.clock.now() >= link.expires_at:
            try:
                accounts.set_password(s, token, "", m.clock.now())
            except RtiError as err:
                return _page("rti/link_gone.html", err.status, error=err)
    return _page("rti/set_password.html", token=token, errors={})


@bp.route("/login", methods=["GET", "POST"])
def login_page():
    user_id = request.values.get("user_id", "")
    if request.method == "POST":
        m = mock()
        with m.store.write() as s:
            outcome = accounts.login(s, user_id, request.form.get("password", ""), g.environment, m.clock.now())
        if isinstance(outcome, RtiError):
            return _page("rti/login.html", outcome.status, user_id=user_id, errors=_errors(outcome))
        session.clear()  # a new session at login (no fixation); a fresh CSRF token comes with the next form
        session["rti_user"], session["rti_env"] = outcome.user_id, g.environment
        session["rti_generation"] = outcome.session_generation
        flash(f"Welcome, {outcome.name}. You are logged in as {outcome.user_id}.")
        return redirect(_local_target(request.args.get("next", "")))
    return _page("rti/login.html", user_id=user_id, errors={})


def _local_target(target: str) -> str:
    """Where to go after login: a page of this RTI environment, re-quoted so that no character of the
    ``next`` parameter (CR, LF, NUL, quotes) can reach the Location header as sent; else the home page."""
    if not target.startswith(f"/{g.rti_root}/") or "//" in target or "\\" in target:
        return url_for("rti.home")
    return quote(target, safe="/-._~!$&'()*+,;=:@%")


@bp.post("/logout")
def logout_page():
    account = _account()
    if account is not None:
        with mock().store.write() as s:
            s.get(RtiAccount, account.user_id).session_generation += 1
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("rti.home"))


# --- steps 5-7: Form I-17 --------------------------------------------------------------------------------------


def places_from_form(prefix: str, slots: int) -> list[tuple[int, dict[str, Any]]]:
    """The campuses (I-17) or sites (DS-3036) typed into the page's rows ``<prefix>-<n>-name`` and
    ``<prefix>-<n>-address1`` etc., with their row numbers: the first row always, another when anything is typed."""
    f = request.form
    rows = []
    for n in range(slots):
        place: dict[str, Any] = {
            "name": f.get(f"{prefix}-{n}-name", ""),
            "address": {k: f.get(f"{prefix}-{n}-{k}", "") for k in ADDRESS_FIELDS},
        }
        if n == 0 or place["name"].strip() or any(v.strip() for v in place["address"].values()):
            rows.append((n, place))
    return rows


def officials_from_form(slots: int, *more: str) -> list[dict[str, str]]:
    """The officials typed into the page's rows ``official-<n>-role`` etc. (and ``more`` fields): those with a name
    or an e-mail address."""
    f = request.form
    rows = [
        {k: f.get(f"official-{n}-{k}", "") for k in ("role", "first_name", "last_name", "email", *more)}
        for n in range(slots)
    ]
    return [o for o in rows if any(o[k].strip() for k in ("first_name", "last_name", "email"))]


def _i17_from_form() -> dict:
    f = request.form
    main = f.get("main_campus", "0")
    campuses = [{**c, "main": str(n) == main} for n, c in places_from_form("campus", CAMPUS_SLOTS)]
    officials = officials_from_form(OFFICIAL_SLOTS, "campus")
    return {
        "school_name": f.get("school_name", ""),
        "category": f.get("category", ""),
        "campuses": campuses,
        "officials": officials,
        "english_language_school": f.get("english_language_school", ""),
        "public_institution": f.get("public_institution", ""),
        "programs_of_study": f.get("programs_of_study", ""),
    }


def form_pages(
    kind: FormKind,
    *,
    name: str,
    from_form: Callable[[], dict],
    rows_name: str,
    view_name: str,
    submitted_next: str,
    context: dict[str, Any],
) -> None:
    """The preparer's pages of an application form (``/<name>``: theirs, and a new draft; ``/<name>/<id>``: the
    draft to fill in and submit), on the RTI blueprint as ``rti.<name>_list`` and ``rti.<name>_edit``."""

    def list_page():
        account = _account()
        if account is None:
            return _login_first()
        m = mock()
        if request.method == "POST":
            try:
                with m.store.write() as s:
                    form = kind.create(s, account, {}, m.clock.now())
                return redirect(url_for(f"rti.{name}_edit", **{kind.id_key: form.id}))
            except RtiError as err:
                flash(err.message)
        with m.store.session() as s:
            table = kind.table
            mine = s.scalars(select(table).where(table.owner_user_id == account.user_id).order_by(table.id))
            rows = [kind.as_json(form) for form in mine]
        listing: dict[str, Any] = {rows_name: rows}
        return _page(f"rti/{name}_list.html", **listing, user=account)

    def edit_page(**ids: int):
        form_id = ids[kind.id_key]
        account = _account()
        if account is None:
            return _login_first()
        m = mock()
        errors: dict = {}
        status = 200
        if request.method == "POST":
            raw = from_form()
            try:
                with m.store.write() as s:
                    kind.save_draft(kind.owned(s, form_id, account), raw, m.clock.now())
                if request.form.get("action") == "submit":
                    with m.store.write() as s:
                        kind.submit(kind.owned(s, form_id, account), m.clock.now())
                    flash(f"Form {kind.form_name} {form_id} is submitted. Next: {submitted_next}.")
                else:
                    flash(f"Draft of Form {kind.form_name} {form_id} saved.")
                here: dict[str, Any] = {kind.id_key: form_id}
                return redirect(url_for(f"rti.{name}_edit", **here))
            except RtiError as err:
                errors, status = _errors(err), err.status
        with m.store.session() as s:
            view = kind.with_tickets(s, kind.owned(s, form_id, account))
        if request.method == "POST":
            view.update(from_form())  # show what was typed, next to its errors
        return _page(f"rti/{name}_edit.html", status, **{view_name: view}, errors=errors, user=account, **context)

    methods = ["GET", "POST"]
    bp.add_url_rule(f"/{name}", endpoint=f"{name}_list", view_func=list_page, methods=methods)
    bp.add_url_rule(f"/{name}/<int:{kind.id_key}>", endpoint=f"{name}_edit", view_func=edit_page, methods=methods)


form_pages(
    petitions.I17,
    name="i17",
    from_form=_i17_from_form,
    rows_name="petitions",
    view_name="p",
    submitted_next="contact the SEVP Response Center (step 8)",
    context={"campus_slots": CAMPUS_SLOTS, "official_slots": OFFICIAL_SLOTS, "categories": petitions.CATEGORIES},
)


# --- step 8 ------------------------------------------------------------------------------------------------------


def ticket_page(kind: FormKind, template: str, fields: list[str], contact: Callable[..., Any], **context):
    """A page that writes to the desk of ``kind`` (the SEVP Response Center, the exchange-visitor help desk): the
    form's ``fields`` go to ``contact`` (session, fields, environment, now) in one write transaction; the ticket it
    opens is flashed over an empty form, a refusal shown next to the field it names."""
    form = {k: request.form.get(k, "") for k in fields}
    if request.method == "POST":
        m = mock()
        try:
            with m.store.write() as s:
                ticket = contact(s, form, g.environment, m.clock.now())
            flash(kind.ticket_reached(ticket))
            return redirect(url_for(str(request.endpoint)))
        except RtiError as err:
            return _page(template, err.status, form=form, errors=_errors(err), **context)
    return _page(template, form=form, errors={}, **context)


@bp.route("/response-center", methods=["GET", "POST"])
def response_center_page():
    fields, contact = petitions.RESPONSE_FIELDS, petitions.contact_response_center
    return ticket_page(petitions.I17, "rti/response_center.html", fields, contact, categories=petitions.CATEGORIES)


# --- step 11 -----------------------------------------------------------------------------------------------------


@bp.route("/batch-registration", methods=["GET", "POST"])
def batch_registration_page():
    account = _account()
    if account is None:
        return _login_first()
    m = mock()
    with m.store.session() as s:
        orgs = records.visible_orgs(s, account)
    form = {
        "org_id": request.form.get("org_id", orgs[0] if orgs else ""),
        "certificate": request.form.get("certificate", ""),
    }
    if request.method == "POST":
        upload = request.files.get("certificate_file")
        data = upload.read(1_000_000) if upload is not None and upload.filename else form["certificate"]
        try:
            with m.store.write() as s:
                done = batchreg.register(
                    s,
                    account,
                    form["org_id"],
                    data,
                    request.form.get("accept_agreement") == "yes",
                    m.clock.now(),
                    smtp_on(),
                )
            return _page("rti/batch_registered.html", done=done, user=account)
        except RtiError as err:
            return _page(
                "rti/batch_registration.html", err.status, form=form, orgs=orgs, errors=_errors(err), user=account
            )
    return _page("rti/batch_registration.html", form=form, orgs=orgs, errors={}, user=account)


# --- steps 12-15: records and batches ---------------------------------------------------------------------------


@bp.get("/records")
def records_page():
    account = _account()
    if account is None:
        return _login_first()
    org, status = request.args.get("org") or None, request.args.get("status") or None
    with mock().store.session() as s:
        orgs = records.check_org(s, account, None)
        found, paging = records.list_records(s, account, g.environment, org, status, records.page_of(request.args))
    return _page(
        "rti/records.html", records=found, orgs=orgs, org=org, status_filter=status, user=account, paging=paging
    )  # not `status=`: that is the page's HTTP status


@bp.get("/records/<sevis_id>")
def record_page(sevis_id: str):
    account = _account()
    if account is None:
        return _login_first()
    with mock().store.session() as s:
        view = records.record(s, account, g.environment, sevis_id)
        tipp = records.has_tipp(s, sevis_id)
    return _page("rti/record.html", r=view, data=json.dumps(view.get("data"), indent=2), user=account, tipp=tipp)


@bp.get("/records/<sevis_id>/form.pdf")
def record_form(sevis_id: str):
    account = _account()
    if account is None:
        return _login_first()
    m = mock()
    with m.store.session() as s:
        pdf = records.printable_form(s, account, g.environment, sevis_id, m.clock.now().date())
    return Response(pdf, mimetype="application/pdf")


@bp.get("/batches")
def batches_page():
    account = _account()
    if account is None:
        return _login_first()
    org = request.args.get("org") or None
    with mock().store.session() as s:
        orgs = records.check_org(s, account, None)
        found, paging = records.list_batches(
            s, records.check_org(s, account, org), g.environment, records.page_of(request.args)
        )
    return _page("rti/batches.html", batches=found, orgs=orgs, org=org, user=account, paging=paging)


@bp.get("/batches/<org_id>/<batch_id>")
def batch_page(org_id: str, batch_id: str):
    account = _account()
    if account is None:
        return _login_first()
    with mock().store.session() as s:
        b = records.get_batch(s, account, org_id, batch_id, g.environment)
        detail = records.batch_detail(b)
        log = records.transaction_log(b).decode()
    return _page("rti/batch.html", b=detail, log=log, user=account)


@bp.get("/batches/<org_id>/<batch_id>/log.xml")
def batch_log(org_id: str, batch_id: str):
    account = _account()
    if account is None:
        return _login_first()
    with mock().store.session() as s:
        body = records.transaction_log(records.get_batch(s, account, org_id, batch_id, g.environment))
    return Response(body, mimetype="text/xml")


@bp.get("/batches/<org_id>/<batch_id>/forms/<sevis_id>.pdf")
def batch_pdf(org_id: str, batch_id: str, sevis_id: str):
    account = _account()
    if account is None:
        return _login_first()
    with mock().store.session() as s:
        pdf = records.batch_pdf(s, records.get_batch(s, account, org_id, batch_id, g.environment), sevis_id)
    return Response(pdf, mimetype="application/pdf")
