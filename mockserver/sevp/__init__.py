"""The SEVP operator console: review Form I-17 petitions and approve or reject them; unlock RTI users.

Pages under ``/sevp`` (cookie session + CSRF), JSON under ``/sevp/api`` (bearer token from
``POST /sevp/api/login``). The operator's credentials are generated into the data dir at first start,
printed by ``serve`` and written to connection.json. [i] One console serves all three environments.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import select

from ..rti import accounts, petitions
from ..rti.errors import RtiError
from ..rti.keys import operator_credentials
from ..store import Setting
from ..store import Petition, ResponseTicket, RtiAccount
from ..rti.web import auto_approve, bearer, check_csrf, deliver_mail, json_body, json_error, mock, smtp_on

bp = Blueprint("sevp", __name__, url_prefix="/sevp")
STATES = ("submitted", "approved", "rejected", "draft")


def _is_api() -> bool:
    return request.path.startswith("/sevp/api/")


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


def _credentials_ok(user: str, password: str) -> bool:
    creds = operator_credentials(mock().settings.data_dir)
    return hmac.compare_digest(user.encode(), creds["user"].encode()) & hmac.compare_digest(
        password.encode(), creds["password"].encode()
    )


FAILED = "sevp_failed_logins"  # Settings shared by every worker: failures in a row, and the lock's end
LOCKED_UNTIL = "sevp_locked_until"


def _operator_login(user: str, password: str) -> None:
    """Check the operator's credentials with the same limit RTI users have: the 5th failure in a row
    locks the console for 30 minutes of mock-clock time (HTTP 429); a success clears the count."""
    m = mock()
    now = m.clock.now()
    with m.store.write() as s:
        failed = s.get(Setting, FAILED) or Setting(key=FAILED, value="0")
        locked = s.get(Setting, LOCKED_UNTIL)
        if locked is not None and locked.value:
            until = datetime.fromisoformat(locked.value)
            if now < until:
                raise RtiError(
                    429,
                    "SEVP console: too many failed logins; locked until "
                    f"{until.isoformat(timespec='minutes')} UTC (mock clock)",
                )
            locked.value, failed.value = "", "0"
        if _credentials_ok(user, password):
            failed.value = "0"
            s.merge(failed)
            return
        failed.value = str(int(failed.value) + 1)
        s.merge(failed)
        if int(failed.value) >= accounts.MAX_FAILED_LOGINS:
            s.merge(Setting(key=LOCKED_UNTIL, value=(now + accounts.LOCK_TIME).isoformat()))
            s.merge(Setting(key=FAILED, value="0"))
            error = RtiError(
                429,
                f"SEVP console: {accounts.MAX_FAILED_LOGINS} failed logins in a row; locked "
                f"until {(now + accounts.LOCK_TIME).isoformat(timespec='minutes')} UTC (mock clock)",
            )
        else:
            error = RtiError(
                401, "SEVP console: wrong user or password (see sevp in connection.json)", field="password"
            )
    raise error


def _api_operator() -> str:
    m = mock()
    token = bearer()
    with m.store.session() as s:
        subject = accounts.token_subject(s, token, "sevp", m.clock.now()) if token else None
    if subject is None:
        raise RtiError(
            401,
            "SEVP console: log in first (POST /sevp/api/login with the sevp user and password from "
            "connection.json), then send Authorization: Bearer <token>",
        )
    return subject


GENERATION = "sevp_session_generation"  # a Setting; logging out bumps it and ends every console session


def page_operator() -> str | None:
    """The operator logged in to the console pages by this request's session cookie, or None."""
    return _page_operator()


def _page_operator() -> str | None:
    if session.get("sevp_generation") != mock().store.get_setting(GENERATION, "0"):
        return None
    return session.get("sevp_operator")


def _petition(s, petition_id: int) -> Petition:
    p = s.get(Petition, petition_id)
    if p is None:
        raise RtiError(404, f"no I-17 petition {petition_id}")
    return p


def _full(s, p: Petition) -> dict:
    tickets = list(
        s.scalars(select(ResponseTicket).where(ResponseTicket.petition_id == p.id).order_by(ResponseTicket.id))
    )
    return petitions.as_json(p, tickets)


def _listing(state: str | None) -> list[dict]:
    if state and state not in STATES:
        raise RtiError(400, f"state: {state!r} is not one of {', '.join(STATES)}", field="state")
    with mock().store.session() as s:
        query = select(Petition).order_by(Petition.id)
        if state:
            query = query.where(Petition.state == state)
        return [_full(s, p) for p in s.scalars(query)]


def _approve(petition_id: int) -> dict:
    m = mock()
    with m.store.write() as s:
        return petitions.approve(s, _petition(s, petition_id), m.clock.now(), request.host_url, smtp_on())


def _reject(petition_id: int, reason: str) -> dict:
    m = mock()
    with m.store.write() as s:
        return petitions.as_json(petitions.reject(s, _petition(s, petition_id), reason, m.clock.now(), smtp_on()))


def _unlock(user_id: str) -> str:
    with mock().store.write() as s:
        return accounts.unlock(s, user_id).user_id


def _new_link(user_id: str) -> dict:
    m = mock()
    with m.store.write() as s:
        account = accounts.new_link_for(s, user_id, m.clock.now(), request.host_url, smtp_on())
        return {"user_id": account.user_id, "email": account.email, "environment": account.environment}


# --- JSON ---------------------------------------------------------------------------------------------------


@bp.post("/api/login")
def api_login():
    body = json_body()
    _operator_login(str(body.get("user") or ""), str(body.get("password") or ""))
    m = mock()
    with m.store.write() as s:
        token = accounts.issue_token(s, "sevp", str(body["user"]), m.clock.now())
    return jsonify({"token": token})


@bp.post("/api/logout")
def api_logout():
    with mock().store.write() as s:
        accounts.revoke_token(s, bearer())
    return jsonify({"logged_out": True})


@bp.get("/api/petitions")
def api_petitions():
    _api_operator()
    return jsonify({"petitions": _listing(request.args.get("state") or None)})


@bp.get("/api/petitions/<int:petition_id>")
def api_petition(petition_id: int):
    _api_operator()
    with mock().store.session() as s:
        return jsonify(_full(s, _petition(s, petition_id)))


@bp.post("/api/petitions/<int:petition_id>/approve")
def api_approve(petition_id: int):
    _api_operator()
    return jsonify(_approve(petition_id))


@bp.post("/api/petitions/<int:petition_id>/reject")
def api_reject(petition_id: int):
    _api_operator()
    return jsonify(_reject(petition_id, str(json_body().get("reason") or "")))


@bp.post("/api/accounts/<user_id>/unlock")
def api_unlock(user_id: str):
    _api_operator()
    return jsonify({"user_id": _unlock(user_id), "unlocked": True})


@bp.post("/api/accounts/<user_id>/password-link")
def api_new_link(user_id: str):
    _api_operator()
    return jsonify(_new_link(user_id))


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
                "Wrong user or password. The SEVP operator's credentials are printed by serve and in "
                "connection.json (sevp)."
                if status == 401
                else refused.message
            )
        else:
            session.clear()
            session["sevp_operator"] = request.form["user"]
            session["sevp_generation"] = mock().store.get_setting(GENERATION, "0")
            return redirect(url_for("sevp.petitions_page"))
    return render_template("sevp/login.html", error=error), status


@bp.post("/logout")
def logout_page():
    if _page_operator():
        mock().store.update_setting(GENERATION, lambda old: str(int(old or "0") + 1))
    session.clear()
    flash("You are logged out of the SEVP console.")
    return redirect(url_for("sevp.login_page"))


@bp.get("")
def petitions_page():
    if not _page_operator():
        return redirect(url_for("sevp.login_page"))
    state = request.args.get("state") or None
    with mock().store.session() as s:
        locked = list(
            s.scalars(select(RtiAccount).where(RtiAccount.locked_until.is_not(None)).order_by(RtiAccount.user_id))
        )
    return render_template(
        "sevp/petitions.html",
        petitions=_listing(state),
        state=state,
        states=STATES,
        locked=locked,
        now=mock().clock.now(),
    )


@bp.get("/petitions/<int:petition_id>")
def petition_page(petition_id: int):
    if not _page_operator():
        return redirect(url_for("sevp.login_page"))
    with mock().store.session() as s:
        p = _full(s, _petition(s, petition_id))
    return render_template("sevp/petition.html", p=p, categories=petitions.CATEGORIES)


@bp.post("/petitions/<int:petition_id>/approve")
def approve_page(petition_id: int):
    if not _page_operator():
        return redirect(url_for("sevp.login_page"))
    decision = _approve(petition_id)
    flash(f"Approved: school code {decision['school_code']}; {len(decision['officials'])} official(s) e-mailed.")
    return redirect(url_for("sevp.petition_page", petition_id=petition_id))


@bp.post("/petitions/<int:petition_id>/reject")
def reject_page(petition_id: int):
    if not _page_operator():
        return redirect(url_for("sevp.login_page"))
    _reject(petition_id, request.form.get("reason", ""))
    flash("Rejected; the petitioner was e-mailed the reason.")
    return redirect(url_for("sevp.petition_page", petition_id=petition_id))


@bp.post("/accounts/unlock")
def unlock_page():
    if not _page_operator():
        return redirect(url_for("sevp.login_page"))
    flash(f"User {_unlock(request.form.get('user_id', ''))} is unlocked.")
    return redirect(url_for("sevp.petitions_page"))


@bp.post("/accounts/password-link")
def new_link_page():
    if not _page_operator():
        return redirect(url_for("sevp.login_page"))
    sent = _new_link(request.form.get("user_id", ""))
    flash(f"A new Set Password link for {sent['user_id']} was e-mailed to {sent['email']}.")
    return redirect(url_for("sevp.petitions_page"))
