"""RTI emulation, web side, through a real `sevis-mock serve` over HTTPS WITHOUT a client certificate:
account -> e-mails -> set password -> login -> I-17 -> Response Center -> SEVP approval -> officials
activate -> PDSO registers a certificate -> an upload with it is S0000 and processed; and each refusal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.tls import CertificateAuthority
from tests.support.server import RunningServer, new_batch_id, start_server, with_batch_id

PASSWORD = "Rehearse#2027"
_seq = [0]


# --- helpers: what a college's person (or script) does -----------------------------------------------------


def web(server: RunningServer) -> requests.Session:
    """A browser-like session: verifies the mock's server certificate, presents NO client certificate."""
    return server.session(None)


def unique(prefix: str) -> str:
    _seq[0] += 1
    return f"{prefix}{_seq[0]}-{datetime.now(UTC).strftime('%H%M%S%f')}"


def outbox(server: RunningServer, to: str) -> list[dict]:
    with web(server) as s:
        r = s.get(
            f"{server.base_url}/outbox/api/messages",
            params={"to": to},
            headers={"Authorization": f"Bearer {server.info['control']['token']}"},
            timeout=30,
        )
    assert r.status_code == 200, r.text
    return r.json()["messages"]


def mail_of(server, to: str, kind: str) -> dict:
    found = [m for m in outbox(server, to) if m["kind"] == kind]
    assert found, f"no {kind} e-mail to {to}: {outbox(server, to)}"
    return found[-1]


def token_of(message: dict) -> str:
    (link,) = message["links"]
    return link.rsplit("/set-password/", 1)[1]


def api(server, method: str, path: str, token: str | None = None, env: str = "beta", **kw) -> requests.Response:
    root = server.info["rti"][env]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with web(server) as s:
        return s.request(method, f"{root}/api/{path}", headers=headers, timeout=60, **kw)


def sevp(server, method: str, path: str, **kw) -> requests.Response:
    creds = server.info["sevp"]
    with web(server) as s:
        login = s.post(
            f"{creds['url']}/api/login", json={"user": creds["user"], "password": creds["password"]}, timeout=30
        )
        assert login.status_code == 200, login.text
        return s.request(
            method,
            f"{creds['url']}/api/{path}",
            timeout=60,
            headers={"Authorization": f"Bearer {login.json()['token']}"},
            **kw,
        )


def register_account(server, email: str, env: str = "beta") -> str:
    r = api(
        server,
        "POST",
        "accounts",
        env=env,
        json={
            "first_name": "Ada",
            "last_name": "Tester",
            "email": email,
            "phone": "703-555-0100",
            "purpose": "certification",
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["temporary_user_id"]


def set_password(server, email: str, kind_user: str | None = None, password: str = PASSWORD, env: str = "beta"):
    msgs = [
        m
        for m in outbox(server, email)
        if m["kind"] == "set-password" and (kind_user is None or m["user_id"] == kind_user)
    ]
    return api(server, "POST", "set-password", env=env, json={"token": token_of(msgs[-1]), "password": password})


def login(server, user_id: str, password: str = PASSWORD, env: str = "beta") -> requests.Response:
    return api(server, "POST", "login", env=env, json={"user_id": user_id, "password": password})


def login_token(server, user_id: str, env: str = "beta") -> str:
    r = login(server, user_id, env=env)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def i17(name: str, campuses: int = 2) -> dict:
    body = {"school_name": name, "category": "FM", "campuses": [], "officials": []}
    for n in range(campuses):
        body["campuses"].append(
            {
                "name": "Main" if n == 0 else f"Campus {n}",
                "main": n == 0,
                "address": {"address1": f"{n + 1} University Dr", "city": "Fairfax", "state": "VA", "zip": "22030"},
            }
        )
        body["officials"].append(
            {
                "role": "PDSO",
                "first_name": "Pat",
                "last_name": f"Campus{n}",
                "email": f"pdso{n}-{name.replace(' ', '').lower()}@example.edu",
                "campus": n,
            }
        )
    body["officials"].append(
        {
            "role": "DSO",
            "first_name": "Dee",
            "last_name": "Tech",
            "email": f"dso-{name.replace(' ', '').lower()}@example.edu",
            "campus": 0,
        }
    )
    return body


@dataclass
class School:
    name: str
    temp_user: str
    temp_email: str
    petition_id: int
    approval: dict

    def official(self, role: str, campus_code: str) -> dict:
        return next(o for o in self.approval["officials"] if o["role"] == role and o["campus_code"] == campus_code)


def submitted_petition(server, env: str = "beta", campuses: int = 2) -> tuple[str, str, int, str]:
    email = f"{unique('temp')}@example.edu"
    temp = register_account(server, email, env)
    assert set_password(server, email, env=env).status_code == 200
    token = login_token(server, temp, env)
    name = f"Rehearsal College {unique('')}"
    r = api(server, "POST", "petitions", token, env, json=i17(name, campuses))
    assert r.status_code == 201, r.text
    pid = r.json()["petition_id"]
    r = api(server, "POST", f"petitions/{pid}/submit", token, env)
    assert r.status_code == 200 and r.json()["state"] == "submitted", r.text
    return email, temp, pid, name


def approved_school(server, campuses: int = 2) -> School:
    email, temp, pid, name = submitted_petition(server, campuses=campuses)
    r = sevp(server, "POST", f"petitions/{pid}/approve")
    assert r.status_code == 200, r.text
    school = School(name, temp, email, pid, r.json())
    for o in school.approval["officials"]:  # step 10: every official activates
        assert set_password(server, o["email"], o["user_id"]).status_code == 200
        assert login(server, o["user_id"]).status_code == 200
    return school


def issue(server, tmp_path: Path, org_id: str, user_id: str, **kw):
    ca = CertificateAuthority.load_or_create(server.data_dir / "certs")
    return ca.issue_client(tmp_path, org_id=org_id, user_id=user_id, **kw)


def register_cert(server, token: str, org_id: str, certificate: str, accept: bool = True) -> requests.Response:
    return api(
        server,
        "POST",
        "batch-registration",
        token,
        json={"org_id": org_id, "certificate": certificate, "accept_agreement": accept},
    )


def retarget(xml: bytes, org_id: str, user_id: str) -> bytes:
    return xml.replace(b"MCK214F00001000", org_id.encode()).replace(b"MCKPDSO001", user_id.encode())


# --- fixtures --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_backend):
    """One server per backend (SQLite, PostgreSQL): accounts, tokens, lockouts and petitions are rows, shared by
    its 2 workers (each call is a new connection, on either worker)."""
    data_dir = tmp_path_factory.mktemp("rti")
    srv = start_server(
        data_dir, "--processing-delay", "0", "--workers", "2", "--fast-passwords", *module_backend.serve_args(data_dir)
    )  # scrypt itself: tests/test_rti_options.py
    yield srv
    srv.stop(wait=False)


@pytest.fixture(scope="module")
def school(server):
    return approved_school(server)


# --- the whole path ------------------------------------------------------------------------------------------------


def test_whole_path_from_new_account_to_a_processed_batch(server, tmp_path):
    assert "sevp" in server.info and server.info["outbox"].endswith("/outbox")
    email = f"{unique('ada')}@example.edu"
    temp = register_account(server, email)
    assert len(temp) == 10
    first, second = outbox(server, email)
    assert first["kind"] == "temporary-user-id" and first["user_id"] == temp and temp in first["body"]
    assert second["kind"] == "set-password" and second["links"][0].startswith(
        server.info["rti"]["beta"] + "/set-password/"
    )
    assert set_password(server, email).json() == {"user_id": temp}
    r = login(server, temp)
    assert r.json()["user"] == {**r.json()["user"], "user_id": temp, "role": "TEMP", "org_id": None}
    token = r.json()["token"]

    name = f"Whole Path College {unique('')}"
    r = api(server, "POST", "petitions", token, json={"school_name": name})  # a draft may be incomplete
    assert r.status_code == 201 and r.json()["state"] == "draft"
    pid = r.json()["petition_id"]
    assert api(server, "PUT", f"petitions/{pid}", token, json=i17(name)).status_code == 200
    assert api(server, "GET", f"petitions/{pid}", token).json()["campuses"][1]["name"] == "Campus 1"
    assert api(server, "POST", f"petitions/{pid}/submit", token).json()["state"] == "submitted"

    r = api(
        server,
        "POST",
        "response-center",
        json={
            "organization_name": name,
            "contact_name": "Ada Tester",
            "email": email,
            "phone": "703-555-0100",
            "school_category": "F and M",
            "school_name": name,
        },
    )
    assert r.status_code == 201 and r.json()["petition_id"] == pid and r.json()["ticket"].startswith("SRC")
    listed = sevp(server, "GET", "petitions", params={"state": "submitted"}).json()["petitions"]
    mine = next(p for p in listed if p["petition_id"] == pid)
    assert mine["response_center"][0]["ticket"] == r.json()["ticket"]

    approval = sevp(server, "POST", f"petitions/{pid}/approve").json()
    main_code = approval["school_code"]
    assert re.fullmatch(r"[A-Z]{3}214F\d{5}000", main_code)
    assert [c["school_code"] for c in approval["campuses"]] == [main_code, main_code[:-3] + "001"]
    assert all(len(o["user_id"]) == 10 for o in approval["officials"])
    approved = mail_of(server, email, "approved")
    assert main_code in approved["body"] and approved["user_id"] == temp

    pdso = next(o for o in approval["officials"] if o["role"] == "PDSO" and o["campus_code"] == main_code)
    welcome = mail_of(server, pdso["email"], "set-password")
    assert welcome["user_id"] == pdso["user_id"] and pdso["user_id"] in welcome["body"]
    assert set_password(server, pdso["email"], pdso["user_id"]).status_code == 200
    r = login(server, pdso["user_id"])
    assert r.json()["user"]["org_id"] == main_code and r.json()["user"]["role"] == "PDSO"
    token = r.json()["token"]

    issued = issue(server, tmp_path, main_code, pdso["user_id"])
    r = register_cert(server, token, main_code, issued.cert_path.read_text())
    assert r.status_code == 200, r.text
    assert r.json()["org_id"] == main_code and r.json()["user_id"] == pdso["user_id"]
    assert mail_of(server, pdso["email"], "batch-registered")

    batch_id = new_batch_id("R")
    doc = retarget(with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id), main_code, pdso["user_id"])
    org = {
        "org_id": main_code,
        "user_id": pdso["user_id"],
        "client_cert": str(issued.cert_path),
        "client_key": str(issued.key_path),
    }
    assert server.upload(doc, org=org, batch_id=batch_id).upload_code == "S0000"
    reply = server.wait_processed(org=org, batch_id=batch_id)
    assert reply.download_code == "S0000" and reply.process_code == "S0000", reply.raw.decode()

    # steps 12-15 as the PDSO sees them in RTI
    batches = api(server, "GET", "batches", token, params={"org": main_code}).json()["batches"]
    assert [b["batch_id"] for b in batches] == [batch_id]
    detail = api(server, "GET", f"batches/{main_code}/{batch_id}", token).json()
    assert detail["process_code"] == "S0000" and detail["state"] == "processed" and len(detail["results"]) == 3
    log = api(server, "GET", f"batches/{main_code}/{batch_id}/log.xml", token)
    assert log.status_code == 200 and b"<TransactionLog>" in log.content
    sevis_ids = {r["sevis_id"] for r in detail["results"]}
    found = api(server, "GET", "records", token).json()["records"]
    assert sevis_ids <= {r["sevis_id"] for r in found}
    one = api(server, "GET", f"records/{sorted(sevis_ids)[0]}", token).json()
    assert one["org_id"] == main_code and one["history"]
    pdf = api(server, "GET", f"records/{one['sevis_id']}/form.pdf", token)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # the login recorded above is what keeps the batch user active (45-day rule)
    from tests.support.server import open_store
    from sevis_mock.server.store import Official

    with open_store(server).session() as s:
        assert s.get(Official, pdso["user_id"]).last_login_at is not None


# --- refusals: accounts --------------------------------------------------------------------------------------------


def test_weak_password_is_400_naming_each_rule_broken(server):
    email = f"{unique('weak')}@example.edu"
    register_account(server, email)
    r = set_password(server, email, password="password")
    assert r.status_code == 400
    assert r.json()["field"] == "password"
    assert set(r.json()["invalid"]) >= {"an upper-case letter", "a digit", "a special character (e.g. ! # $ %)"}
    assert set_password(server, email).status_code == 200  # the link survives a refused password


def test_used_link_is_410(server):
    email = f"{unique('used')}@example.edu"
    register_account(server, email)
    assert set_password(server, email).status_code == 200
    r = set_password(server, email, password="Another#Pass9")
    assert r.status_code == 410 and "already used" in r.json()["error"]


def test_expired_link_is_410_after_72_hours_of_mock_time(server):
    email = f"{unique('late')}@example.edu"
    register_account(server, email)
    server.control("POST", "clock", {"advance_seconds": 73 * 3600})
    try:
        r = set_password(server, email)
        assert r.status_code == 410 and "expired" in r.json()["error"]
    finally:
        server.control("POST", "clock", {"advance_seconds": -73 * 3600})


def test_failed_login_limit_is_429_until_sevp_unlocks(server):
    email = f"{unique('lock')}@example.edu"
    user = register_account(server, email)
    set_password(server, email)
    codes = [login(server, user, "Wrong#Pass1").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    r = login(server, user)  # even the right password, while locked
    assert r.status_code == 429 and "locked until" in r.json()["error"]
    assert sevp(server, "POST", f"accounts/{user}/unlock").status_code == 200
    assert login(server, user).status_code == 200


def test_unknown_user_and_wrong_environment_are_401(server):
    email = f"{unique('env')}@example.edu"
    user = register_account(server, email)
    set_password(server, email)
    assert login(server, "NOSUCHUSER").status_code == 401
    assert login(server, user, env="alpha").status_code == 401  # a beta account is not an alpha account
    assert login(server, user).status_code == 200


def test_registration_refuses_missing_fields_and_bad_email(server):
    r = api(server, "POST", "accounts", json={"first_name": "A", "email": "x@example.edu", "purpose": "certification"})
    assert r.status_code == 400 and r.json()["missing"] == ["last_name", "phone"]
    r = api(
        server,
        "POST",
        "accounts",
        json={"first_name": "A", "last_name": "B", "email": "not-an-email", "phone": "1", "purpose": "certification"},
    )
    assert r.status_code == 400 and r.json()["field"] == "email"


def test_api_without_a_token_is_401(server):
    r = api(server, "POST", "petitions", json={})
    assert r.status_code == 401 and "log in" in r.json()["error"]


# --- refusals: I-17 and SEVP -------------------------------------------------------------------------------------


def test_submit_without_a_pdso_is_400_naming_it(server):
    email = f"{unique('nopdso')}@example.edu"
    user = register_account(server, email)
    set_password(server, email)
    token = login_token(server, user)
    body = i17("No PDSO College")
    body["officials"] = [o for o in body["officials"] if o["role"] != "PDSO"]
    body["campuses"][1]["address"]["zip"] = ""
    pid = api(server, "POST", "petitions", token, json=body).json()["petition_id"]
    r = api(server, "POST", f"petitions/{pid}/submit", token)
    assert r.status_code == 400
    missing = r.json()["missing"]
    assert "officials: a PDSO for the main campus" in missing
    assert "officials: a PDSO for campus 1 (Campus 1)" in missing
    assert "campuses[1].address.zip" in missing
    assert api(server, "GET", f"petitions/{pid}", token).json()["state"] == "draft"


def test_submit_twice_is_409_and_a_submitted_i17_cannot_change(server):
    email, temp, pid, name = submitted_petition(server)
    token = login_token(server, temp)
    assert api(server, "POST", f"petitions/{pid}/submit", token).status_code == 409
    assert api(server, "PUT", f"petitions/{pid}", token, json=i17(name)).status_code == 409


def test_response_center_needs_a_submitted_i17_of_that_name(server):
    r = api(
        server,
        "POST",
        "response-center",
        json={
            "organization_name": "X",
            "contact_name": "Y",
            "email": "y@example.edu",
            "phone": "1",
            "school_category": "F only",
            "school_name": "Never Petitioned College",
        },
    )
    assert r.status_code == 400 and "no submitted I-17" in r.json()["error"]
    r = api(server, "POST", "response-center", json={"organization_name": "X"})
    assert r.status_code == 400 and "school_name" in r.json()["missing"]


def test_approve_twice_is_409(server, school):
    r = sevp(server, "POST", f"petitions/{school.petition_id}/approve")
    assert r.status_code == 409 and "approved" in r.json()["error"]


def test_sevp_api_needs_the_operator_login(server):
    with web(server) as s:
        assert s.get(f"{server.info['sevp']['url']}/api/petitions", timeout=30).status_code == 401
        r = s.post(
            f"{server.info['sevp']['url']}/api/login", json={"user": "SEVPADMIN1", "password": "guess"}, timeout=30
        )
    assert r.status_code == 401


# --- refusals: batch registration ----------------------------------------------------------------------------------


def _pdso_token(server, school: School, campus: int = 0) -> tuple[str, str, str]:
    code = school.approval["campuses"][campus]["school_code"]
    pdso = school.official("PDSO", code)
    return login_token(server, pdso["user_id"]), code, pdso["user_id"]


def test_unparsable_certificate_is_400(server, school):
    token, code, _ = _pdso_token(server, school)
    r = register_cert(server, token, code, "this is not a certificate")
    assert r.status_code == 400 and r.json()["field"] == "certificate" and "could not be read" in r.json()["error"]


def test_private_key_instead_of_certificate_is_400(server, school, tmp_path):
    token, code, user = _pdso_token(server, school)
    issued = issue(server, tmp_path, code, user)
    r = register_cert(server, token, code, issued.key_path.read_text())
    assert r.status_code == 400 and "private key" in r.json()["error"]


@pytest.mark.parametrize("when,words", [("expired", "expired"), ("not yet valid", "not valid until")])
def test_out_of_date_certificate_is_400(server, school, tmp_path, when, words):
    token, code, user = _pdso_token(server, school)
    now = datetime.now(UTC)
    span = (
        (now - timedelta(days=30), now - timedelta(days=1))
        if when == "expired"
        else (now + timedelta(days=10), now + timedelta(days=40))
    )
    issued = issue(server, tmp_path, code, user, not_before=span[0], not_after=span[1])
    r = register_cert(server, token, code, issued.cert_path.read_text())
    assert r.status_code == 400 and words in r.json()["error"]


def test_certificate_without_client_auth_is_400(server, school, tmp_path):
    token, code, user = _pdso_token(server, school)
    issued = issue(server, tmp_path, code, user, client_auth=False)
    r = register_cert(server, token, code, issued.cert_path.read_text())
    assert r.status_code == 400 and "clientAuth" in r.json()["error"]


def test_agreement_not_accepted_is_400(server, school, tmp_path):
    token, code, user = _pdso_token(server, school)
    issued = issue(server, tmp_path, code, user)
    r = register_cert(server, token, code, issued.cert_path.read_text(), accept=False)
    assert r.status_code == 400 and r.json()["field"] == "accept_agreement"


def test_another_orgs_pdso_and_a_dso_are_403(server, school, tmp_path):
    campus_token, campus_code, campus_user = _pdso_token(server, school, campus=1)
    main_code = school.approval["campuses"][0]["school_code"]
    issued = issue(server, tmp_path, main_code, campus_user)
    r = register_cert(server, campus_token, main_code, issued.cert_path.read_text())
    assert r.status_code == 403 and f"PDSO of {main_code}" in r.json()["error"]
    dso = school.official("DSO", main_code)
    r = register_cert(server, login_token(server, dso["user_id"]), main_code, issued.cert_path.read_text())
    assert r.status_code == 403


def test_campus_pdso_registers_der_as_base64_and_uploads_to_the_campus_code(server, school, tmp_path):
    import base64

    token, code, user = _pdso_token(server, school, campus=1)
    issued = issue(server, tmp_path, code, user)
    der = issued.certificate.public_bytes(serialization.Encoding.DER)
    r = register_cert(server, token, code, base64.b64encode(der).decode())
    assert r.status_code == 200, r.text
    batch_id = new_batch_id("C")
    doc = retarget(with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id), code, user)
    org = {"org_id": code, "user_id": user, "client_cert": str(issued.cert_path), "client_key": str(issued.key_path)}
    assert server.upload(doc, org=org, batch_id=batch_id).upload_code == "S0000"
    # the main campus's certificate is not this campus's: S0002
    main_code = school.approval["campuses"][0]["school_code"]
    assert server.upload(doc, org=org, org_id=main_code, batch_id=new_batch_id("C")).upload_code == "S0002"


def test_officials_see_only_their_own_organizations(server, school):
    token, campus_code, _ = _pdso_token(server, school, campus=1)
    main_code = school.approval["campuses"][0]["school_code"]
    assert api(server, "GET", "batches", token, params={"org": main_code}).status_code == 403
    assert api(server, "GET", "batches", token, params={"org": "MCK214F00001000"}).status_code == 403
    temp = login_token(server, school.temp_user)
    assert api(server, "GET", "records", temp).status_code == 403


# --- bad input never crashes the server -------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
_i17_like = st.fixed_dictionaries(
    {},
    optional={
        "school_name": _json,
        "category": st.sampled_from(["F", "FM", "M", "X", ""]) | _json,
        "campuses": st.lists(
            st.fixed_dictionaries({}, optional={"name": _json, "main": _json, "address": _json}), max_size=4
        )
        | _json,
        "officials": st.lists(
            st.fixed_dictionaries({}, optional={"role": _json, "campus": _json, "email": _json}), max_size=5
        )
        | _json,
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_i17_like)
def test_any_i17_body_is_answered_never_a_server_error(server, fresh_temp_token, body):
    token, pid = fresh_temp_token
    r = api(server, "PUT", f"petitions/{pid}", token, json=body)
    assert r.status_code in (200, 400), r.text
    assert "error" in r.json() or r.json()["state"] == "draft"
    r = api(server, "POST", f"petitions/{pid}/submit", token)
    assert r.status_code in (200, 400, 409), r.text
    if r.status_code == 200:  # a body that passed every check: reopen a draft for the next example
        r = api(server, "POST", "petitions", token, json={})
        fresh_temp_token[1] = r.json()["petition_id"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["accounts", "set-password", "login", "response-center"]), body=_json)
def test_any_json_to_the_open_endpoints_is_answered_never_a_server_error(server, path, body):
    r = api(server, "POST", path, json=body)
    assert r.status_code < 500 and "error" in r.json() or r.status_code in (200, 201), r.text


@pytest.fixture(scope="module")
def fresh_temp_token(server):
    email = f"{unique('fuzz')}@example.edu"
    temp = register_account(server, email)
    set_password(server, email)
    token = login_token(server, temp)
    return [token, api(server, "POST", "petitions", token, json={}).json()["petition_id"]]


@pytest.mark.parametrize(
    "path,body",
    [
        (
            "accounts",
            {"first_name": "A", "last_name": "B", "email": {"x": 1}, "phone": [1], "purpose": "certification"},
        ),
        (
            "response-center",
            {
                "organization_name": 1,
                "contact_name": 2,
                "email": ["a@b.cd"],
                "phone": 3,
                "school_category": {"F": 1},
                "school_name": None,
            },
        ),
        ("login", {"user_id": {"a": 1}, "password": 7}),
    ],
)
def test_wrongly_typed_fields_are_400_or_401(server, path, body):
    r = api(server, "POST", path, json=body)
    assert r.status_code in (400, 401) and r.json()["error"], r.text


def test_unknown_api_paths_answer_json(server):
    r = api(server, "GET", "no-such-endpoint")
    assert r.status_code == 404 and "API.md" in r.json()["error"]
    r = api(server, "DELETE", "accounts")
    assert r.status_code == 405 and r.json()["error"]
