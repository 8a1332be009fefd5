"""The Department of State's designation console: review Form DS-3036 applications and designate (assign
the program number and the designated categories) or reject them.

Pages under ``/dos`` (cookie session + CSRF), JSON under ``/dos/api`` (bearer token from
``POST /dos/api/login``). [i] The console sits beside the SEVP console and the same operator (user and
password in connection.json under ``dos``, equal to ``sevp``) works both, under the same failed-login limit.
"""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for

from ..console import Console
from ..rti import designations
from ..rti.errors import RtiError
from ..rti.web import json_body, mock, smtp_on

CONSOLE = Console(
    name="dos",
    title="Department of State console",
    heading="Department of State designation console",
    kind=designations.DS3036,
    noun="DS-3036",
    states=("submitted", "designated", "rejected", "draft"),
    home="dos.designations_page",
    wrong_login="Wrong user or password. The operator's credentials are printed by serve and in connection.json (dos).",
)
bp = CONSOLE.blueprint()
STATES = CONSOLE.states
GENERATION = CONSOLE.generation


def _designate(designation_id: int, categories) -> dict:
    m = mock()
    with m.store.write() as s:
        return designations.designate(
            s, CONSOLE.one(s, designation_id), m.clock.now(), request.host_url, smtp_on(), categories
        )


# --- JSON ---------------------------------------------------------------------------------------------------


@bp.get("/api/designations")
def api_designations():
    CONSOLE.api_operator()
    return jsonify({"designations": CONSOLE.listing(request.args.get("state") or None)})


@bp.get("/api/designations/<int:designation_id>")
def api_designation(designation_id: int):
    CONSOLE.api_operator()
    with mock().store.session() as s:
        return jsonify(CONSOLE.full(s, CONSOLE.one(s, designation_id)))


@bp.post("/api/designations/<int:designation_id>/designate")
def api_designate(designation_id: int):
    CONSOLE.api_operator()
    body = request.get_json(silent=True)
    categories = body.get("categories") if isinstance(body, dict) else None
    return jsonify(_designate(designation_id, categories))


@bp.post("/api/designations/<int:designation_id>/reject")
def api_reject(designation_id: int):
    CONSOLE.api_operator()
    return jsonify(CONSOLE.reject(designation_id, str(json_body().get("reason") or "")))


# --- pages --------------------------------------------------------------------------------------------------


@bp.get("")
def designations_page():
    if not CONSOLE.page_operator():
        return redirect(url_for("dos.login_page"))
    state = request.args.get("state") or None
    return render_template("dos/designations.html", designations=CONSOLE.listing(state), state=state, states=STATES)


@bp.get("/designations/<int:designation_id>")
def designation_page(designation_id: int):
    if not CONSOLE.page_operator():
        return redirect(url_for("dos.login_page"))
    with mock().store.session() as s:
        d = CONSOLE.full(s, CONSOLE.one(s, designation_id))
    return render_template(
        "dos/designation.html",
        d=d,
        program_types=designations.PROGRAM_TYPES,
        label=designations.category_label,
    )


@bp.post("/designations/<int:designation_id>/designate")
def designate_page(designation_id: int):
    if not CONSOLE.page_operator():
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
    if not CONSOLE.page_operator():
        return redirect(url_for("dos.login_page"))
    CONSOLE.reject(designation_id, request.form.get("reason", ""))
    flash("Rejected; the applicant was e-mailed the reason.")
    return redirect(url_for("dos.designation_page", designation_id=designation_id))
