"""The RTI blueprint: one set of routes under each environment's root (/sbtsevis, /alphasevis, /sevis)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request

from .errors import RtiError
from .paths import ENVIRONMENT_OF_ROOT
from .web import auto_approve, check_csrf, deliver_mail, json_error

bp = Blueprint("rti", __name__, url_prefix="/<any(" + ",".join(ENVIRONMENT_OF_ROOT) + "):rti_root>")


@bp.url_value_preprocessor
def _environment(endpoint, values):
    g.rti_root = values.pop("rti_root")
    g.environment = ENVIRONMENT_OF_ROOT[g.rti_root]


@bp.url_defaults
def _root(endpoint, values):
    if "rti_root" not in values and "rti_root" in g and current_app.url_map.is_endpoint_expecting(endpoint, "rti_root"):
        values["rti_root"] = g.rti_root


def is_api() -> bool:
    return request.path.startswith(f"/{g.rti_root}/api/")


@bp.before_request
def _before():
    auto_approve()
    if not is_api():
        check_csrf()  # every HTML form POST; the JSON API uses bearer tokens, not cookies


bp.after_request(deliver_mail)


@bp.errorhandler(RtiError)
def _refused(err: RtiError):
    if is_api():
        return json_error(err)
    return render_template("error.html", error=err), err.status
