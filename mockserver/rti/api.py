"""RTI's JSON API (RTI-API.md): every action of the pages, for automation. Bearer tokens, no cookies."""

from __future__ import annotations

from flask import Response, g, jsonify, request
from sqlalchemy import select

from . import accounts, batchreg, petitions, records
from .applications import FormKind
from .blueprint import bp
from .errors import RtiError
from ..store import RtiAccount
from .paths import link_base
from .web import api_account, bearer, json_body, mock, smtp_on


def _env() -> str:
    return g.environment


@bp.post("/api/accounts")
def api_register():
    m = mock()
    with m.store.write() as s:
        account, emails = accounts.register_account(
            s, json_body(), _env(), m.clock.now(), link_base(request.host_url, _env()), smtp_on()
        )
        return jsonify({"temporary_user_id": account.user_id, "emails": emails}), 201


@bp.post("/api/set-password")
def api_set_password():
    body = json_body()
    m = mock()
    with m.store.write() as s:
        account = accounts.set_password(s, str(body.get("token") or ""), str(body.get("password") or ""), m.clock.now())
        return jsonify({"user_id": account.user_id})


@bp.post("/api/login")
def api_login():
    body = json_body()
    m = mock()
    with m.store.write() as s:
        outcome = accounts.login(
            s, str(body.get("user_id") or ""), str(body.get("password") or ""), _env(), m.clock.now()
        )
        if isinstance(outcome, RtiAccount):
            token = accounts.issue_token(s, "rti", outcome.user_id, m.clock.now())
            reply = {"token": token, "user": accounts.user_json(s, outcome)}
    if isinstance(outcome, RtiError):
        raise outcome
    return jsonify(reply)


@bp.post("/api/logout")
def api_logout():
    with mock().store.write() as s:
        accounts.revoke_token(s, bearer())
    return jsonify({"logged_out": True})


@bp.get("/api/me")
def api_me():
    account = api_account(_env())
    with mock().store.session() as s:
        return jsonify(accounts.user_json(s, account))


# --- Form I-17 -------------------------------------------------------------------------------------------


def form_api(kind: FormKind, *, path: str, singular: str) -> None:
    """The JSON API of an application form on the RTI blueprint: ``POST /api/<path>`` (a new draft), ``GET``
    (the user's), ``GET``/``PUT /api/<path>/<id>`` (one with its tickets; change the draft) and
    ``POST /api/<path>/<id>/submit``; endpoints ``rti.api_<singular>_create``, ``_list``, ``_get``, ``_put``,
    ``_submit``."""

    def create():
        account = api_account(_env())
        m = mock()
        with m.store.write() as s:
            form = kind.create(s, account, request.get_json(silent=True) or {}, m.clock.now())
            return jsonify(kind.as_json(form)), 201

    def listing():
        account = api_account(_env())
        table = kind.table
        with mock().store.session() as s:
            rows = s.scalars(select(table).where(table.owner_user_id == account.user_id).order_by(table.id))
            return jsonify({path: [kind.as_json(form) for form in rows]})

    def one(**ids: int):
        account = api_account(_env())
        with mock().store.session() as s:
            return jsonify(kind.with_tickets(s, kind.owned(s, ids[kind.id_key], account)))

    def change(**ids: int):
        account = api_account(_env())
        m = mock()
        with m.store.write() as s:
            form = kind.save_draft(kind.owned(s, ids[kind.id_key], account), json_body(), m.clock.now())
            return jsonify(kind.as_json(form))

    def submit(**ids: int):
        account = api_account(_env())
        m = mock()
        with m.store.write() as s:
            form = kind.submit(kind.owned(s, ids[kind.id_key], account), m.clock.now())
            return jsonify(kind.as_json(form))

    one_path = f"/api/{path}/<int:{kind.id_key}>"
    bp.add_url_rule(f"/api/{path}", endpoint=f"api_{singular}_create", view_func=create, methods=["POST"])
    bp.add_url_rule(f"/api/{path}", endpoint=f"api_{singular}_list", view_func=listing, methods=["GET"])
    bp.add_url_rule(one_path, endpoint=f"api_{singular}_get", view_func=one, methods=["GET"])
    bp.add_url_rule(one_path, endpoint=f"api_{singular}_put", view_func=change, methods=["PUT"])
    bp.add_url_rule(f"{one_path}/submit", endpoint=f"api_{singular}_submit", view_func=submit, methods=["POST"])


form_api(petitions.I17, path="petitions", singular="petition")


@bp.post("/api/response-center")
def api_response_center():
    m = mock()
    with m.store.write() as s:
        ticket = petitions.contact_response_center(s, json_body(), _env(), m.clock.now())
        return jsonify({"ticket": ticket.ticket, "petition_id": ticket.petition_id}), 201


# --- batch registration ------------------------------------------------------------------------------------


@bp.post("/api/batch-registration")
def api_batch_registration():
    account = api_account(_env())
    body = json_body()
    m = mock()
    with m.store.write() as s:
        accepted = body.get("accept_agreement") in (True, "true", "on", "yes", "1")
        done = batchreg.register(
            s,
            account,
            str(body.get("org_id") or ""),
            str(body.get("certificate") or ""),
            accepted,
            m.clock.now(),
            smtp_on(),
        )
    return jsonify(done)


# --- batches and records ------------------------------------------------------------------------------------


@bp.get("/api/batches")
def api_batches():
    account = api_account(_env())
    with mock().store.session() as s:
        orgs = records.check_org(s, account, request.args.get("org") or None)
        found, paging = records.list_batches(s, orgs, _env(), records.page_of(request.args))
        return jsonify({"batches": [_with_links(b) for b in found], "paging": paging})


def _with_links(summary: dict) -> dict:
    base = f"{request.host_url.rstrip('/')}/{g.rti_root}/api/batches/{summary['org_id']}/{summary['batch_id']}"
    summary["links"] = {"detail": base, "log": f"{base}/log.xml"}
    if "forms" in summary:
        summary["links"]["forms"] = {sid: f"{base}/forms/{sid}.pdf" for sid in summary["forms"]}
    return summary


@bp.get("/api/batches/<org_id>/<batch_id>")
def api_batch(org_id: str, batch_id: str):
    account = api_account(_env())
    with mock().store.session() as s:
        b = records.get_batch(s, account, org_id, batch_id, _env())
        return jsonify(_with_links(records.batch_detail(b)))


@bp.get("/api/batches/<org_id>/<batch_id>/log.xml")
def api_batch_log(org_id: str, batch_id: str):
    account = api_account(_env())
    with mock().store.session() as s:
        return Response(
            records.transaction_log(records.get_batch(s, account, org_id, batch_id, _env())), mimetype="text/xml"
        )


@bp.get("/api/batches/<org_id>/<batch_id>/forms/<sevis_id>.pdf")
def api_batch_pdf(org_id: str, batch_id: str, sevis_id: str):
    account = api_account(_env())
    with mock().store.session() as s:
        b = records.get_batch(s, account, org_id, batch_id, _env())
        return Response(records.batch_pdf(s, b, sevis_id), mimetype="application/pdf")


@bp.get("/api/records")
def api_records():
    account = api_account(_env())
    with mock().store.session() as s:
        found, paging = records.list_records(
            s,
            account,
            _env(),
            request.args.get("org") or None,
            request.args.get("status"),
            records.page_of(request.args),
        )
        return jsonify({"records": found, "paging": paging})


@bp.get("/api/records/<sevis_id>")
def api_record(sevis_id: str):
    account = api_account(_env())
    with mock().store.session() as s:
        return jsonify(records.record(s, account, _env(), sevis_id))


@bp.get("/api/records/<sevis_id>/form.pdf")
def api_record_form(sevis_id: str):
    account = api_account(_env())
    m = mock()
    with m.store.session() as s:
        pdf = records.printable_form(s, account, _env(), sevis_id, m.clock.now().date())
    return Response(pdf, mimetype="application/pdf")
