"""RTI's JSON API (RTI-API.md): every action of the pages, for automation. Bearer tokens, no cookies."""

from __future__ import annotations

from flask import Response, g, jsonify, request

from . import accounts, batchreg, petitions, records
from .blueprint import bp
from .errors import RtiError
from ..store import Petition, ResponseTicket, RtiAccount
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


@bp.post("/api/petitions")
def api_petition_create():
    account = api_account(_env())
    m = mock()
    with m.store.write() as s:
        p = petitions.create(s, account, request.get_json(silent=True) or {}, m.clock.now())
        return jsonify(petitions.as_json(p)), 201


@bp.get("/api/petitions")
def api_petition_list():
    account = api_account(_env())
    from sqlalchemy import select

    with mock().store.session() as s:
        rows = s.scalars(select(Petition).where(Petition.owner_user_id == account.user_id).order_by(Petition.id))
        return jsonify({"petitions": [petitions.as_json(p) for p in rows]})


@bp.get("/api/petitions/<int:petition_id>")
def api_petition_get(petition_id: int):
    account = api_account(_env())
    from sqlalchemy import select

    with mock().store.session() as s:
        p = petitions.owned(s, petition_id, account)
        tickets = list(s.scalars(select(ResponseTicket).where(ResponseTicket.petition_id == p.id)))
        return jsonify(petitions.as_json(p, tickets))


@bp.put("/api/petitions/<int:petition_id>")
def api_petition_put(petition_id: int):
    account = api_account(_env())
    m = mock()
    with m.store.write() as s:
        p = petitions.save_draft(petitions.owned(s, petition_id, account), json_body(), m.clock.now())
        return jsonify(petitions.as_json(p))


@bp.post("/api/petitions/<int:petition_id>/submit")
def api_petition_submit(petition_id: int):
    account = api_account(_env())
    m = mock()
    with m.store.write() as s:
        p = petitions.submit(petitions.owned(s, petition_id, account), m.clock.now())
        return jsonify(petitions.as_json(p))


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
