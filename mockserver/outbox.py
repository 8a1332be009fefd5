"""The outbox: every e-mail the mock sent, per address (page ``/outbox``, JSON ``/outbox/api/messages``).

It holds Set Password links, so reading it needs the control token (``Authorization: Bearer <control.token
from connection.json>``), a SEVP operator bearer token, or a SEVP console page session; ``serve
--open-outbox`` opens it to anyone who reaches the mock (a throwaway mock on a developer's own machine).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, jsonify, render_template, request, url_for

from .paging import Page, PagingError
from .rti import accounts, mail
from .rti.errors import RtiError
from .rti.web import auto_approve, bearer, deliver_mail, mock
from .sevp import page_operator

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
PAGE = 1000  # messages per page, oldest first
bp.after_request(deliver_mail)

REFUSED = (
    "the outbox holds Set Password links: log in to the SEVP operator console ({console}) and open it again, "
    "or send Authorization: Bearer <control.token from connection.json> (or a SEVP console API token); "
    "serve --open-outbox opens it to anyone"
)


def may_read() -> bool:
    """Whether this request may read the outbox (see the module's docstring)."""
    m = mock()
    if m.settings.open_outbox:
        return True
    token = bearer()
    if token:
        if m.control_token and hmac.compare_digest(token.encode(), m.control_token.encode()):
            return True
        with m.store.session() as s:
            return accounts.token_subject(s, token, "sevp", m.clock.now()) is not None
    return page_operator() is not None


@bp.before_request
def _before():
    if not may_read():
        err = RtiError(401, REFUSED.format(console=url_for("sevp.login_page", _external=True)))
        if request.path.startswith("/outbox/api/"):
            return jsonify(err.as_json()), 401
        return render_template("error.html", error=err, console=True), 401
    auto_approve()


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
