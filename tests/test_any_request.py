"""Any request to any route, with any body, query or form, signed in or not, is answered below 500.

The routes come from the application's own URL map, so a new route is fuzzed the day it is added. Path
parameters, JSON, forms, queries, multipart files and raw bytes are drawn by Hypothesis (any text, and the
hostile values every echoed position must survive: dash runs, ']]>', control characters, 10 kB strings),
sent as nobody, with a junk bearer token, with a client certificate, with the control token, as a college
with its RTI token, as SEVP, or from a logged-in RTI page session (with its CSRF token). The session-end check of tests/support/server.py
also fails the run if the server logged a traceback.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import lxml.html as lhtml
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.hostile import HOSTILE
from tests.support.server import start_server
from tests.test_rti import PASSWORD, api, login_token, register_account, set_password, web

SKIPPED = {"/control/reset"}  # it would wipe the accounts the signed-in examples use (tests/test_control.py has it)
FIELDS = [
    "user_id",
    "password",
    "token",
    "email",
    "first_name",
    "last_name",
    "phone",
    "purpose",
    "school_name",
    "category",
    "org_id",
    "certificate",
    "accept_agreement",
    "orgid",
    "userid",
    "batchid",
    "xml",
    "now",
    "advance_seconds",
    "csrf_token",
    "reason",
    "to",
    "limit",
    "since",
    "org",
    "batch",
    "action",
    "environment",
    "disposition",
    "user",
    "ticket",
    "name",
    "kind",
    "keep_clock",
    "count",
]


def app_routes(tmp_path_factory) -> list[tuple[str, str]]:
    """(method, rule) for every route of the application, HEAD and OPTIONS aside."""
    from sevis_mock.server import create_app
    from sevis_mock.server.config import Settings

    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("url-map"), run_worker=False))
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule not in SKIPPED and not rule.rule.startswith("/static")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


@pytest.fixture(scope="module")
def routes(tmp_path_factory):
    found = app_routes(tmp_path_factory)
    assert len(found) > 60 and ("POST", "/<env_prefix>/action/batchUpload") in found, found
    return found


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("any-request"), "--processing-delay", "0", "--fast-passwords")
    yield server
    server.stop(wait=False)


@pytest.fixture(scope="module")
def signed_in(mock):
    """A college with an RTI token and a draft I-17, SEVP's token, and a logged-in RTI page session."""
    email = "any-request@example.edu"
    user_id = register_account(mock, email)
    assert set_password(mock, email).status_code == 200
    token = login_token(mock, user_id)
    assert api(mock, "POST", "petitions", token, json={}).status_code == 201
    creds = mock.info["sevp"]
    with web(mock) as s:
        sevp = s.post(
            f"{creds['url']}/api/login", json={"user": creds["user"], "password": creds["password"]}, timeout=30
        ).json()["token"]
    page, login = web(mock), f"{mock.info['rti']['beta']}/login"
    csrf = lhtml.fromstring(page.get(login, timeout=30).content).xpath("//input[@name='csrf_token']/@value")
    page.post(login, data={"user_id": user_id, "password": PASSWORD, "csrf_token": csrf[0]}, timeout=30)
    fm = mock.org("F/M")
    cert = (fm["client_cert"], fm["client_key"])
    # kept-alive sessions for the examples sent without a page login (a TLS handshake each was most of their time)
    plain, with_cert = mock.session(None), mock.session(cert)
    return {"cert": cert, "rti": token, "sevp": sevp, "page": page, "plain": plain, "with-cert": with_cert}


_text = (
    st.text(max_size=30)
    | HOSTILE
    | st.sampled_from(
        [
            "",
            "0",
            "-1",
            "99999999999999999999",
            "N0001000001",
            "MCK214F00001000",
            "sbtsevisbatch",
            "../x",
            "%00",
            "a" * 3000,
            "é",
            "null",
        ]
    )
)
_segment = _text.filter(lambda t: t not in ("", ".", ".."))
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=8,
)
_fields = st.dictionaries(st.sampled_from(FIELDS) | _text, _text, max_size=6)
_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _path(rule: str, number: int, segment: str) -> str:
    def fill(match: re.Match) -> str:
        converter = match.group(1)
        if converter == "int":
            return str(abs(number) % 10**12)
        if converter == "any":
            return "sbtsevis"
        return quote(segment, safe="")

    return _PARAM.sub(fill, rule)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.data(),
    number=st.integers(),
    segment=_segment,
    body=_json,
    form=_fields,
    kind=st.sampled_from(["json", "form", "query", "files", "raw"]),
    auth=st.sampled_from(["none", "junk-token", "cert", "control", "rti", "sevp", "page"]),
)
def test_any_request_is_answered_below_500(mock, routes, signed_in, data, number, segment, body, form, kind, auth):
    method, rule = data.draw(st.sampled_from(routes), label="route")
    info = mock.info
    if auth == "page":
        session = signed_in["page"]
    else:
        session = signed_in["with-cert" if auth in ("cert", "control") else "plain"]
        session.cookies.clear()  # each example starts signed out, whatever a login route answered the last one
    headers = {
        "junk-token": {"Authorization": "Bearer " + quote(segment, safe="")},
        "control": {"Authorization": f"Bearer {info['control']['token']}"},
        "rti": {"Authorization": f"Bearer {signed_in['rti']}"},
        "sevp": {"Authorization": f"Bearer {signed_in['sevp']}"},
    }.get(auth, {})
    if auth == "page" and kind == "form" and method == "POST":
        csrf = lhtml.fromstring(session.get(f"{info['base_url'].rstrip('/')}/sbtsevis/i17", timeout=60).content).xpath(
            "//input[@name='csrf_token']/@value"
        )
        form = dict(form, csrf_token=csrf[0] if csrf else "")
    sent = {
        "json": {"json": body},
        "form": {"data": form},
        "query": {"params": form},
        "files": {"files": {k: ("file.xml", v.encode()) for k, v in form.items()}},
        "raw": {"data": segment.encode()},
    }[kind]
    url = info["base_url"].rstrip("/") + _path(rule, number, segment)
    r = session.request(method, url, headers=headers, timeout=60, **sent)
    assert r.status_code < 500, f"{method} {url} ({kind}, {auth}) answered {r.status_code}: {r.text[:500]}"
