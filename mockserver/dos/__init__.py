"""The Department of State's designation console: review Form DS-3036 applications and designate (assign
the program number and the designated categories) or reject them.

Pages under ``/dos`` (cookie session + CSRF), JSON under ``/dos/api`` (bearer token from
``POST /dos/api/login``). [i] The console sits beside the SEVP console and the same operator (user and
password in connection.json under ``dos``, equal to ``sevp``) works both, under the same failed-login limit.
"""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import select

from ..rti import accounts, designations
from ..rti.errors import RtiError
from ..store import Designation, HelpDeskTicket
from ..rti.web import auto_approve, bearer, check_csrf, deliver_mail, json_body, json_error, mock, smtp_on
from ..sevp import _operator_login

bp = Blueprint("dos", __name__, url_prefix="/dos")
STATES = ("submitted", "designated", "rejected", "draft")
GENERATION = "dos_session_generation"  # a Setting; logging out bumps it and ends every console session


def _is_api() -> bool:
    return request.path.startswith("/dos/api/")


@bp.before_request
def _before():
    auto_approve()
    if not _is_api():
        check_csrf()


bp.after_request(deliver_mail)


@bp.errorhandler(RtiError)
def _refused(err: RtiError):
    if _is_api():
        return json_error(err)
    return render_template("error.html", error=err, console=True), err.status


def _api_operator() -> str:
    m = mock()
    token = bearer()
    with m.store.session() as s:
        subject = accounts.token_subject(s, token, "dos", m.clock.now()) if token else None
    if subject is None:
        raise RtiError(
            401,
            "Department of State console: log in first (POST /dos/api/login with the dos user and password "
            "from connection.json), then send Authorization: Bearer <token>",
        )
    return subject


def _page_operator() -> str | None:
    if session.get("dos_generation") != mock().store.get_setting(GENERATION, "0"):
        return None
    return session.get("dos_operator")


def _designation(s, designation_id: int) -> Designation:
    d = s.get(Designation, designation_id)
    if d is None:
        raise RtiError(404, f"no DS-3036 {designation_id}")
    return d


def _full(s, d: Designation) -> dict:
    tickets = list(
        s.scalars(select(HelpDeskTicket).where(HelpDeskTicket.designation_id == d.id).order_by(HelpDeskTicket.id))
    )
    return designations.as_json(d, tickets)


def _listing(state: str | None) -> list[dict]:
    if state and state not in STATES:
        raise RtiError(400, f"state: {state!r} is not one of {', '.join(STATES)}", field="state")
    with mock().store.session() as s:
        query = select(Designation).order_by(Designation.id)
        if state:
            query = query.where(Designation.state == state)
        return [_full(s, d) for d in s.scalars(query)]


def _designate(designation_id: int, categories) -> dict:
    m = mock()
    with m.store.write() as s:
        return designations.designate(
            s, _designation(s, designation_id), m.clock.now(), request.host_url, smtp_on(), categories
        )


def _reject(designation_id: int, reason: str) -> dict:
    m = mock()
    with m.store.write() as s:
        d = designations.reject(s, _designation(s, designation_id), reason, m.clock.now(), smtp_on())
        return designations.as_json(d)


# --- JSON ---------------------------------------------------------------------------------------------------


@bp.post("/api/login")
def api_login():
    body = json_body()
    _operator_login(str(body.get("user") or ""), str(body.get("password") or ""))
    m = mock()
    with m.store.write() as s:
        token = accounts.issue_token(s, "dos", str(body["user"]), m.clock.now())
    return jsonify({"token": token})


@bp.post("/api/logout")
def api_logout():
    with mock().store.write() as s:
        accounts.revoke_token(s, bearer())
    return jsonify({"logged_out": True})


@bp.get("/api/designations")
def api_designations():
    _api_operator()
    return jsonify({"designations": _listing(request.args.get("state") or None)})


@bp.get("/api/designations/<int:designation_id>")
def api_designation(designation_id: int):
    _api_operator()
    with mock().store.session() as s:
        return jsonify(_full(s, _designation(s, designation_id)))


@bp.post("/api/designations/<int:designation_id>/designate")
def api_designate(designation_id: int):
    _api_operator()
    body = request.get_json(silent=True)
    categories = body.get("categories") if isinstance(body, dict) else None
    return jsonify(_designate(designation_id, categories))


@bp.post("/api/designations/<int:designation_id>/reject")
def api_reject(designation_id: int):
    _api_operator()
    return jsonify(_reject(designation_id, str(json_body().get("reason") or "")))


# --- pages --------------------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login_page():
    error = None
    status = 200
    if request.method == "POST":
        try:
            _operator_login(request.form.get("user", ""), request.form.get("password", ""))
        except RtiError as refused:
            status = refused.status
            error = (
                "Wrong user or password. The operator's credentials are printed by serve and in connection.json (dos)."
                if status == 401
                else refused.message
            )
        else:
            session.clear()
            session["dos_operator"] = request.form["user"]
            session["dos_generation"] = mock().store.get_setting(GENERATION, "0")
            return redirect(url_for("dos.designations_page"))
    return render_template("dos/login.html", error=error), status


@bp.post("/logout")
def logout_page():
    if _page_operator():
        mock().store.update_setting(GENERATION, lambda old: str(int(old or "0") + 1))
    session.clear()
    flash("You are logged out of the Department of State console.")
    return redirect(url_for("dos.login_page"))


@bp.get("")
def designations_page():
    if not _page_operator():
        return redirect(url_for("dos.login_page"))
    state = request.args.get("state") or None
    return render_template("dos/designations.html", designations=_listing(state), state=state, states=STATES)


@bp.get("/designations/<int:designation_id>")
def designation_page(designation_id: int):
    if not _page_operator():
        return redirect(url_for("dos.login_page"))
    with mock().store.session() as s:
        d = _full(s, _designation(s, designation_id))
    return render_template(
        "dos/designation.html",
        d=d,
        program_types=designations.PROGRAM_TYPES,
        label=designations.category_label,
    )


@bp.post("/designations/<int:designation_id>/designate")
def designate_page(designation_id: int):
    if not _page_operator():
        return redirect(url_for("dos.login_page"))
    chosen = request.form.getlist("categories")
    if not chosen:
        raise RtiError(400, "categories: tick at least one category to designate", field="categories")
    decision = _designate(designation_id, chosen)
    flash(
        f"Designated: program {decision['program_number']} for {', '.join(decision['categories'])}; "
        f"{len(decision['officials'])} official(s) e-mailed."
    )
    return redirect(url_for("dos.designation_page", designation_id=designation_id))


@bp.post("/designations/<int:designation_id>/reject")
def reject_page(designation_id: int):
    if not _page_operator():
        return redirect(url_for("dos.login_page"))
    _reject(designation_id, request.form.get("reason", ""))
    flash("Rejected; the applicant was e-mailed the reason.")
    return redirect(url_for("dos.designation_page", designation_id=designation_id))
