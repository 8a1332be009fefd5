"""RTI emulation, web side: the RTI application under each environment's root (accounts, Form I-17,
SEVP Response Center, Form DS-3036, the exchange-visitor help desk, batch registration, records and
batches), the SEVP operator console (``/sevp``), the Department of State's designation console
(``/dos``) and the e-mail outbox (``/outbox``). Pages are server-rendered Jinja templates with plain HTML forms;
every action is also a JSON API. The contract is ``API.md`` beside this file.

The tables are in ``sevis_mock.server.store.rti``.
"""

from __future__ import annotations


def register(app) -> None:
    """Attach the RTI, SEVP and outbox blueprints to ``app`` and give it its session key and cookie rules."""
    from . import api, ev, pages  # noqa: F401  (their routes join the blueprint)
    from .blueprint import bp as rti_bp
    from .keys import operator_credentials, session_secret
    from .outbox import bp as outbox_bp
    from .web import csrf_token
    from ..dos import bp as dos_bp
    from ..sevp import bp as sevp_bp

    mock = app.extensions["sevis_mock"]
    app.secret_key = session_secret(mock.settings.data_dir)
    operator_credentials(mock.settings.data_dir)  # created at first start, before anyone asks
    app.config.update(
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="sevis_mock_session",
    )
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_error_handler(404, _json_for_api)
    app.register_error_handler(405, _json_for_api)
    app.register_blueprint(rti_bp)
    app.register_blueprint(sevp_bp)
    app.register_blueprint(dos_bp)
    app.register_blueprint(outbox_bp)


def _json_for_api(err):
    """Unknown URLs and methods under the control API, the health checks and the RTI / SEVP / outbox JSON
    APIs answer JSON; other paths keep Flask's default answer."""
    import re

    from flask import jsonify, request

    if re.match(r"^/control(/|$)|^/(healthz|readyz)$", request.path):
        return jsonify({"error": f"{request.method} {request.path}: {err.description}"}), err.code
    if re.match(r"^/(sbtsevis|alphasevis|sevis)/api/|^/sevp/api/|^/dos/api/|^/outbox/api/", request.path):
        return jsonify(
            {
                "error": f"{request.method} {request.path}: {err.description} "
                "(the endpoints are listed in mockserver/rti/API.md)"
            }
        ), err.code
    return err
