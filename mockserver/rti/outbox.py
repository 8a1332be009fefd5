"""The outbox: every e-mail the mock sent, per address (page ``/outbox``, JSON ``/outbox/api/messages``).

[i] No login: the outbox is the test mailbox of a local mock, read by the people and scripts rehearsing;
it holds Set Password links, so a mock reachable by others shares them too (bind to 127.0.0.1).
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request

from ..paging import Page, PagingError

from . import mail
from .web import auto_approve, deliver_mail, mock

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
PAGE = 1000  # messages per page, oldest first
bp.before_request(auto_approve)
bp.after_request(deliver_mail)


def _messages():
    to = (request.args.get("to") or "").strip() or None
    try:
        page = Page.from_args(request.args, default=PAGE, maximum=PAGE)
    except PagingError as exc:
        abort(400, description=str(exc))
    with mock().store.session() as s:
        found, paging = page.cut(mail.messages(s, to, page))
        return to, [mail.as_json(m) for m in found], paging


@bp.get("/api/messages")
def api_messages():
    _, found, paging = _messages()
    return jsonify({"messages": found, "paging": paging})


@bp.get("")
def page():
    to, found, paging = _messages()
    return render_template("outbox.html", to=to, messages=found, paging=paging)
