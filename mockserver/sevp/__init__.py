"""The SEVP operator console: review Form I-17 petitions and approve or reject them; unlock RTI users.

Pages under ``/sevp`` (cookie session + CSRF), JSON under ``/sevp/api`` (bearer token from
``POST /sevp/api/login``). The operator's credentials are generated into the data dir at first start,
printed by ``serve`` and written to connection.json. [i] One console serves all three environments.
"""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from ..console import Console
from ..rti import accounts, petitions
from ..store import RtiAccount
from ..rti.web import json_body, mock, smtp_on

CONSOLE = Console(
    name="sevp",
    title="SEVP console",
    heading="SEVP operator console",
    kind=petitions.I17,
    noun="I-17 petition",
    states=("submitted", "approved", "rejected", "draft"),
    home="sevp.petitions_page",
    wrong_login="Wrong user or password. The SEVP operator's credentials are printed by serve and in "
    "connection.json (sevp).",
)
bp = CONSOLE.blueprint()
STATES = CONSOLE.states
GENERATION = CONSOLE.generation


def page_operator() -> str | None:
    """The operator logged in to the console pages by this request's session cookie, or None."""
    return CONSOLE.page_operator()


def _approve(petition_id: int) -> dict:
    m = mock()
    with m.store.write() as s:
        return petitions.approve(s, CONSOLE.one(s, petition_id), m.clock.now(), request.host_url, smtp_on())


def _unlock(user_id: str) -> str:
    with mock().store.write() as s:
        return accounts.unlock(s, user_id).user_id


def _new_link(user_id: str) -> dict:
    m = mock()
    with m.store.write() as s:
        account = accounts.new_link_for(s, user_id, m.clock.now(), request.host_url, smtp_on())
        return {"user_id": account.user_id, "email": account.email, "environment": account.environment}


# --- JSON ---------------------------------------------------------------------------------------------------


@bp.get("/api/petitions")
def api_petitions():
    CONSOLE.api_operator()
    return jsonify({"petitions": CONSOLE.listing(request.args.get("state") or None)})


@bp.get("/api/petitions/<int:petition_id>")
def api_petition(petition_id: int):
    CONSOLE.api_operator()
    with mock().store.session() as s:
        return jsonify(CONSOLE.full(s, CONSOLE.one(s, petition_id)))


@bp.post("/api/petitions/<int:petition_id>/approve")
def api_approve(petition_id: int):
    CONSOLE.api_operator()
    return jsonify(_approve(petition_id))


@bp.post("/api/petitions/<int:petition_id>/reject")
def api_reject(petition_id: int):
    CONSOLE.api_operator()
    return jsonify(CONSOLE.reject(petition_id, str(json_body().get("reason") or "")))


@bp.post("/api/accounts/<user_id>/unlock")
def api_unlock(user_id: str):
    CONSOLE.api_operator()
    return jsonify({"user_id": _unlock(user_id), "unlocked": True})


@bp.post("/api/accounts/<user_id>/password-link")
def api_new_link(user_id: str):
    CONSOLE.api_operator()
    return jsonify(_new_link(user_id))


# --- pages --------------------------------------------------------------------------------------------------


@bp.get("")
def petitions_page():
    if not CONSOLE.page_operator():
        return redirect(url_for("sevp.login_page"))
    state = request.args.get("state") or None
    with mock().store.session() as s:
        locked = list(
            s.scalars(select(RtiAccount).where(RtiAccount.locked_until.is_not(None)).order_by(RtiAccount.user_id))
        )
    return render_template(
        "sevp/petitions.html",
        petitions=CONSOLE.listing(state),
        state=state,
        states=STATES,
        locked=locked,
        now=mock().clock.now(),
    )


@bp.get("/petitions/<int:petition_id>")
def petition_page(petition_id: int):
    if not CONSOLE.page_operator():
        return redirect(url_for("sevp.login_page"))
    with mock().store.session() as s:
        p = CONSOLE.full(s, CONSOLE.one(s, petition_id))
    return render_template("sevp/petition.html", p=p, categories=petitions.CATEGORIES)


@bp.post("/petitions/<int:petition_id>/approve")
def approve_page(petition_id: int):
    if not CONSOLE.page_operator():
        return redirect(url_for("sevp.login_page"))
    decision = _approve(petition_id)
    flash(f"Approved: school code {decision['school_code']}; {len(decision['officials'])} official(s) e-mailed.")
    return redirect(url_for("sevp.petition_page", petition_id=petition_id))


@bp.post("/petitions/<int:petition_id>/reject")
def reject_page(petition_id: int):
    if not CONSOLE.page_operator():
        return redirect(url_for("sevp.login_page"))
    CONSOLE.reject(petition_id, request.form.get("reason", ""))
    flash("Rejected; the petitioner was e-mailed the reason.")
    return redirect(url_for("sevp.petition_page", petition_id=petition_id))


@bp.post("/accounts/unlock")
def unlock_page():
    if not CONSOLE.page_operator():
        return redirect(url_for("sevp.login_page"))
    flash(f"User {_unlock(request.form.get('user_id', ''))} is unlocked.")
    return redirect(url_for("sevp.petitions_page"))


@bp.post("/accounts/password-link")
def new_link_page():
    if not CONSOLE.page_operator():
        return redirect(url_for("sevp.login_page"))
    sent = _new_link(request.form.get("user_id", ""))
    flash(f"A new Set Password link for {sent['user_id']} was e-mailed to {sent['email']}.")
    return redirect(url_for("sevp.petitions_page"))
