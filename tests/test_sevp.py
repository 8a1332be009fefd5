"""The SEVP operator console's decisions: reject with a reason, filters, and its own login."""

from __future__ import annotations

import pytest

from tests.support.server import start_server
from tests.test_rti import api, login_token, mail_of, sevp, submitted_petition, web


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("sevp"), "--workers", "1", "--fast-passwords")
    yield srv
    srv.stop(wait=False)


def test_reject_needs_a_reason_then_tells_the_petitioner(server):
    email, temp, pid, name = submitted_petition(server)
    r = sevp(server, "POST", f"petitions/{pid}/reject", json={"reason": ""})
    assert r.status_code == 400 and r.json()["field"] == "reason"
    r = sevp(
        server, "POST", f"petitions/{pid}/reject", json={"reason": "The main campus address is a post office box."}
    )
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    told = mail_of(server, email, "rejected")
    assert "post office box" in told["body"] and name in told["subject"]
    assert sevp(server, "POST", f"petitions/{pid}/approve").status_code == 409
    assert sevp(server, "POST", f"petitions/{pid}/reject", json={"reason": "again"}).status_code == 409
    mine = api(server, "GET", f"petitions/{pid}", login_token(server, temp)).json()
    assert mine["state"] == "rejected" and "post office box" in mine["rejection_reason"]


def test_petition_list_filters_by_state_and_refuses_unknown_states(server):
    _, _, pid, _ = submitted_petition(server)
    listed = sevp(server, "GET", "petitions", params={"state": "submitted"}).json()["petitions"]
    assert pid in [p["petition_id"] for p in listed] and {p["state"] for p in listed} == {"submitted"}
    r = sevp(server, "GET", "petitions", params={"state": "pending"})
    assert r.status_code == 400 and "submitted" in r.json()["error"]
    assert sevp(server, "GET", "petitions/999999").status_code == 404


def test_petitions_belong_to_the_environment_where_the_account_was_registered(server):
    _, _, pid, _ = submitted_petition(server, env="alpha")
    petition = sevp(server, "GET", f"petitions/{pid}").json()
    assert petition["environment"] == "alpha"
    approval = sevp(server, "POST", f"petitions/{pid}/approve").json()
    pdso = approval["officials"][0]
    link = mail_of(server, pdso["email"], "set-password")["links"][0]
    assert link.startswith(server.info["rti"]["alpha"] + "/set-password/")


def test_console_pages_need_the_operator_login(server):
    with web(server) as s:
        r = s.get(f"{server.info['sevp']['url']}/petitions/1", timeout=30)
        assert r.url.endswith("/sevp/login")
        page = s.get(f"{server.info['sevp']['url']}/login", timeout=30)
        import re

        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = s.post(
            f"{server.info['sevp']['url']}/login",
            data={"user": "SEVPADMIN1", "password": "wrong", "csrf_token": token},
            timeout=30,
        )
        assert r.status_code == 401 and "connection.json" in r.text


def test_sevp_sends_a_new_link_even_to_a_seeded_official_who_then_logs_in(server):
    from tests.test_rti import login, set_password

    fm = server.org("F/M")
    r = sevp(server, "POST", f"accounts/{fm['user_id']}/password-link")
    assert r.status_code == 200 and r.json()["environment"] == "beta"
    email = r.json()["email"]
    assert set_password(server, email, fm["user_id"]).status_code == 200
    r = login(server, fm["user_id"])
    assert r.status_code == 200 and r.json()["user"]["org_id"] == fm["org_id"]
    assert sevp(server, "POST", "accounts/NOSUCHUSER/password-link").status_code == 404


def test_the_main_campus_gets_000_wherever_it_is_listed(server):
    from tests.test_rti import i17, register_account, set_password, unique

    email = f"{unique('order')}@example.edu"
    temp = register_account(server, email)
    set_password(server, email)
    token = login_token(server, temp)
    body = i17(f"Order College {unique('')}")
    body["campuses"][0]["main"], body["campuses"][1]["main"] = False, True
    pid = api(server, "POST", "petitions", token, json=body).json()["petition_id"]
    assert api(server, "POST", f"petitions/{pid}/submit", token).status_code == 200
    approval = sevp(server, "POST", f"petitions/{pid}/approve").json()
    first, second = approval["campuses"]
    assert second["main"] and second["school_code"].endswith("000") and second["school_code"] == approval["school_code"]
    assert not first["main"] and first["school_code"] == approval["school_code"][:-3] + "001"
    pdso0 = next(o for o in approval["officials"] if o["email"] == body["officials"][0]["email"])
    assert pdso0["campus_code"] == first["school_code"]


def test_operator_login_locks_after_five_failures_until_30_minutes_pass(server):
    """On the module's server: the test leaves the operator unlocked and the clock 31 minutes on."""
    creds = server.info["sevp"]

    def login(password):
        with web(server) as s:
            return s.post(f"{creds['url']}/api/login", json={"user": creds["user"], "password": password}, timeout=30)

    def advance(seconds):
        server.control("POST", "clock", {"advance_seconds": seconds})

    try:
        assert [login("wrong").status_code for _ in range(4)] == [401] * 4
        assert login(creds["password"]).status_code == 200  # a success clears the count
        assert [login("wrong").status_code for _ in range(5)] == [401] * 4 + [429]
        locked = login(creds["password"])
        assert locked.status_code == 429 and "locked until" in locked.json()["error"]
        advance(29 * 60)
        assert login(creds["password"]).status_code == 429
        advance(2 * 60)
        assert login(creds["password"]).status_code == 200
    finally:
        if login(creds["password"]).status_code == 429:  # failed half-way: unlock it for the module's other tests
            advance(31 * 60)


def test_petitions_page_has_one_new_link_form_and_a_plain_title(server):
    """The console's petitions page once rendered the "Send a new Set Password link" form three times, once
    inside <title>."""
    import re

    sevp_url = server.info["sevp"]["url"]
    with web(server) as s:
        page = s.get(f"{sevp_url}/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        creds = {"user": server.info["sevp"]["user"], "password": server.info["sevp"]["password"]}
        assert s.post(f"{sevp_url}/login", data={**creds, "csrf_token": token}, timeout=30).status_code == 200
        html = s.get(sevp_url, timeout=30).text
    assert html.count("Send a new Set Password link") == 1 and html.count('id="new-link-submit"') == 1
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "<" not in title and title.startswith("SEVP console — petitions")
