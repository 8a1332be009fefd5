"""The outbox: every e-mail the mock sent, per address (page ``/outbox``, JSON ``/outbox/api/messages``).

[i] No login: the outbox is the test mailbox of a local mock, read by the people and scripts rehearsing;
it holds Set Password links, so a mock reachable by others shares them too (bind to 127.0.0.1).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from . import mail
from .web import auto_approve, deliver_mail, mock

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
bp.before_request(auto_approve)
bp.after_request(deliver_mail)


def _messages():
    to = (request.args.get("to") or "").strip() or None
    with mock().store.session() as s:
        return to, [mail.as_json(m) for m in mail.messages(s, to)]


@bp.get("/api/messages")
def api_messages():
    _, found = _messages()
    return jsonify({"messages": found})


@bp.get("")
def page():
    to, found = _messages()
    return render_template("outbox.html", to=to, messages=found)
