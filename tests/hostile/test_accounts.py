"""Setting a password ends every other way into the account: older (and newer) unused Set Password
links, every page session and every bearer token issued before."""

from __future__ import annotations

import pytest

from tests.support.server import start_server
from tests.test_rti import PASSWORD, api, login_token, outbox, register_account, sevp, token_of, unique, web
from tests.test_rti_pages import CSRF, Browser

NEW_PASSWORD = "Changed#2028x"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(
        tmp_path_factory.mktemp("hostile-accounts"), "--processing-delay", "0", "--workers", "1", "--fast-passwords"
    )
    yield srv
    srv.stop(wait=False)


def links(server, email: str) -> list[str]:
    """The Set Password tokens e-mailed to ``email``, oldest first."""
    return [token_of(m) for m in outbox(server, email) if m["kind"] == "set-password"]


def new_link(server, user_id: str) -> str:
    r = sevp(server, "POST", f"accounts/{user_id}/password-link")
    assert r.status_code == 200, r.text


def set_with(server, token: str, password: str):
    return api(server, "POST", "set-password", json={"token": token, "password": password})


def account(server) -> tuple[str, str]:
    email = f"{unique('acct')}@example.edu"
    return register_account(server, email), email


def test_a_newer_link_used_ends_the_older_one(server):
    user_id, email = account(server)
    new_link(server, user_id)
    first, second = links(server, email)
    assert set_with(server, second, PASSWORD).status_code == 200
    r = set_with(server, first, NEW_PASSWORD)
    assert r.status_code == 410, r.text
    assert "set with a newer link" in r.json()["error"]
    assert api(server, "POST", "login", json={"user_id": user_id, "password": NEW_PASSWORD}).status_code == 401
    assert api(server, "POST", "login", json={"user_id": user_id, "password": PASSWORD}).status_code == 200


def test_an_older_link_used_ends_the_newer_unused_one(server):
    user_id, email = account(server)
    new_link(server, user_id)
    first, second = links(server, email)
    assert set_with(server, first, PASSWORD).status_code == 200
    assert set_with(server, second, NEW_PASSWORD).status_code == 410


def test_a_password_reset_revokes_every_bearer_token_of_the_account(server):
    user_id, email = account(server)
    assert set_with(server, links(server, email)[-1], PASSWORD).status_code == 200
    before = [login_token(server, user_id), login_token(server, user_id)]
    assert all(api(server, "GET", "me", token=t).status_code == 200 for t in before)
    new_link(server, user_id)
    assert set_with(server, links(server, email)[-1], NEW_PASSWORD).status_code == 200
    assert [api(server, "GET", "me", token=t).status_code for t in before] == [401, 401]
    r = api(server, "POST", "login", json={"user_id": user_id, "password": NEW_PASSWORD})
    assert api(server, "GET", "me", token=r.json()["token"]).status_code == 200


def test_a_password_reset_ends_every_page_session_of_the_account(server):
    user_id, email = account(server)
    assert set_with(server, links(server, email)[-1], PASSWORD).status_code == 200
    b = Browser(server)
    r = b.submit("/login", data={"user_id": user_id, "password": PASSWORD})
    assert r.status_code == 200 and user_id in r.text, r.text
    r = b.get("/i17")
    assert r.status_code == 200 and r.url.endswith("/i17"), r.url
    new_link(server, user_id)
    with web(server) as other:  # someone else (or the user on another device) resets the password
        page = other.get(f"{server.info['rti']['beta']}/set-password/{links(server, email)[-1]}", timeout=30)
        token = CSRF.search(page.text).group(1)
        r = other.post(
            f"{server.info['rti']['beta']}/set-password/{links(server, email)[-1]}",
            data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, "csrf_token": token},
            timeout=30,
        )
        assert r.status_code == 200, r.text
    r = b.get("/i17")
    assert r.url.split("?")[0].endswith("/login"), r.url
