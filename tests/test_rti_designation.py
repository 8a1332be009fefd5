"""The exchange-visitor (J) path through RTI, over a real `sevis-mock serve` (HTTPS, no client certificate):
account with the designation purpose -> e-mails -> set password -> Form DS-3036 -> help desk -> the
Department of State designates (program number, categories) -> RO and AROs activate -> the RO registers
a certificate (an ARO is refused) -> an EV batch with it is S0000 and processed, DS-2019 and DS-7002
listed; and each refusal."""

from __future__ import annotations

import re

import pytest
import requests

from sevis_mock.fixtures import read_fixture
from tests.support.server import new_batch_id, start_server, with_batch_id
from tests.test_rti import api, issue, login, login_token, mail_of, outbox, register_cert, set_password, unique, web


def dos(server, method: str, path: str, **kw) -> requests.Response:
    creds = server.info["dos"]
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


def register_sponsor_account(server, email: str) -> str:
    r = api(
        server,
        "POST",
        "accounts",
        json={
            "first_name": "Rosa",
            "last_name": "Sponsor",
            "email": email,
            "phone": "202-555-0100",
            "purpose": "Apply for designation by the Department of State as an Exchange Visitor Program",
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["temporary_user_id"]


def ds3036(name: str, program_type: str = "P-1", categories=("08", "2A")) -> dict:
    slug = re.sub(r"\W", "", name).lower()
    return {
        "sponsor_name": name,
        "program_type": program_type,
        "categories": list(categories),
        "officials": [
            {"role": "RO", "first_name": "Rory", "last_name": "Officer", "email": f"ro-{slug}@example.org"},
            {"role": "ARO", "first_name": "Ari", "last_name": "Alternate", "email": f"aro-{slug}@example.org"},
        ],
        "sites": [
            {
                "name": "Headquarters",
                "address": {"address1": "2201 C Street NW", "city": "Washington", "state": "DC", "zip": "20520"},
            }
        ],
    }


def submitted_designation(server, **kw) -> tuple[str, str, int, str]:
    email = f"{unique('sponsor')}@example.org"
    temp = register_sponsor_account(server, email)
    assert set_password(server, email).status_code == 200
    token = login_token(server, temp)
    name = f"Rehearsal Exchange {unique('')}"
    r = api(server, "POST", "designations", token, json=ds3036(name, **kw))
    assert r.status_code == 201, r.text
    did = r.json()["designation_id"]
    r = api(server, "POST", f"designations/{did}/submit", token)
    assert r.status_code == 200 and r.json()["state"] == "submitted", r.text
    return email, token, did, name


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # 2 workers: RTI and DoS tokens made on one worker are honoured by the other (each call is a new connection)
    srv = start_server(
        tmp_path_factory.mktemp("rti-j"), "--processing-delay", "0", "--workers", "2", "--fast-passwords"
    )
    yield srv
    srv.stop(wait=False)


def test_whole_j_path_from_new_account_to_a_processed_ev_batch(server, tmp_path):
    email = f"{unique('rosa')}@example.org"
    temp = register_sponsor_account(server, email)
    first, second = outbox(server, email)
    assert first["kind"] == "temporary-user-id" and "Form DS-3036" in first["body"] and temp in first["body"]
    assert second["kind"] == "set-password"
    assert set_password(server, email).json() == {"user_id": temp}
    r = login(server, temp)
    assert r.json()["user"]["role"] == "TEMP-EV"
    token = r.json()["token"]

    name = f"Whole Path Exchange {unique('')}"
    r = api(server, "POST", "designations", token, json={"sponsor_name": name})  # a draft may be incomplete
    assert r.status_code == 201 and r.json()["state"] == "draft" and r.json()["form"] == "DS-3036"
    did = r.json()["designation_id"]
    r = api(server, "POST", f"designations/{did}/submit", token)
    assert r.status_code == 400
    assert r.json()["missing"][:3] == [
        "program_type",
        "categories: at least one exchange-visitor category (lookup table 15)",
        "officials: a Responsible Officer (RO)",
    ]
    assert "sites: at least the program's main site" in r.json()["missing"]
    assert api(server, "PUT", f"designations/{did}", token, json=ds3036(name)).status_code == 200
    assert api(server, "POST", f"designations/{did}/submit", token).json()["state"] == "submitted"
    assert api(server, "POST", "petitions", token, json={}).status_code == 403  # a sponsor's user prepares no I-17

    r = api(
        server,
        "POST",
        "help-desk",
        json={
            "organization_name": name,
            "contact_name": "Rosa Sponsor",
            "email": email,
            "phone": "202-555-0100",
            "sponsor_name": name,
        },
    )
    assert r.status_code == 201 and r.json()["designation_id"] == did and r.json()["ticket"].startswith("EVHD")
    listed = dos(server, "GET", "designations", params={"state": "submitted"}).json()["designations"]
    assert next(d for d in listed if d["designation_id"] == did)["help_desk"][0]["ticket"] == r.json()["ticket"]

    r = dos(server, "POST", f"designations/{did}/designate", json={"categories": ["08", "2A"]})
    assert r.status_code == 200, r.text
    decision = r.json()
    program = decision["program_number"]
    assert re.fullmatch(r"P-1-\d{5}", program) and decision["categories"] == ["08", "2A"]
    assert program in mail_of(server, email, "designated")["body"]
    assert dos(server, "POST", f"designations/{did}/designate").status_code == 409  # not twice

    ro = next(o for o in decision["officials"] if o["role"] == "RO")
    aro = next(o for o in decision["officials"] if o["role"] == "ARO")
    tokens = {}
    for o in (ro, aro):
        assert "Responsible Officer" in mail_of(server, o["email"], "set-password")["body"]
        assert set_password(server, o["email"], o["user_id"]).status_code == 200
        r = login(server, o["user_id"])
        assert r.json()["user"]["org_id"] == program and r.json()["user"]["role"] == o["role"]
        tokens[o["role"]] = r.json()["token"]

    issued = issue(server, tmp_path, program, ro["user_id"])
    r = register_cert(server, tokens["ARO"], program, issued.cert_path.read_text())
    assert r.status_code == 403 and "only the Responsible Officer (RO)" in r.json()["error"], r.text
    r = register_cert(server, tokens["RO"], program, issued.cert_path.read_text())
    assert r.status_code == 200 and r.json()["user_id"] == ro["user_id"], r.text

    trainee = read_fixture("events/j-create-trainee.tmpl").replace(b'print7002="false"', b'print7002="true"')
    for fixture in (read_fixture("j/create-with-dependent-and-site.xml"), trainee):
        batch_id = new_batch_id("J")
        doc = with_batch_id(fixture, batch_id).replace(b"P-1-12345", program.encode())
        doc = doc.replace(b"MCKRO00001", ro["user_id"].encode())
        org = {
            "org_id": program,
            "user_id": ro["user_id"],
            "client_cert": str(issued.cert_path),
            "client_key": str(issued.key_path),
        }
        assert server.upload(doc, org=org, batch_id=batch_id).upload_code == "S0000"
        reply = server.wait_processed(org=org, batch_id=batch_id)
        assert reply.process_code == "S0000", reply.raw.decode()

    # a professor (04): a category the Department of State did not designate for this program
    professor = read_fixture("j/create-with-dependent-and-site.xml").replace(
        b"<CategoryCode>08</CategoryCode>", b"<CategoryCode>04</CategoryCode>"
    )
    batch_id = new_batch_id("J")
    doc = with_batch_id(professor, batch_id).replace(b"P-1-12345", program.encode())
    assert (
        server.upload(doc.replace(b"MCKRO00001", ro["user_id"].encode()), org=org, batch_id=batch_id).upload_code
        == "S0000"
    )
    reply = server.wait_processed(org=org, batch_id=batch_id)
    assert reply.process_code == "S0020" and reply.record("JDEP-0001").findtext("Result/ErrorCode") == "S2163"

    batches = api(server, "GET", "batches", tokens["ARO"]).json()["batches"]  # AROs see the program's batches
    assert len(batches) == 3 and {b["org_id"] for b in batches} == {program}
    forms = [
        f
        for b in batches
        for f in api(server, "GET", f"batches/{program}/{b['batch_id']}", tokens["RO"]).json()["forms"]
    ]
    assert any(f.endswith("-7002") for f in forms) and any(not f.endswith("-7002") for f in forms), forms
    records = api(server, "GET", "records", tokens["RO"]).json()["records"]
    trainee = next(r for r in records if r["org_id"] == program and r["surname"].startswith("OKAFOR"))
    pdf = api(server, "GET", f"records/{trainee['sevis_id']}/ds7002.pdf", tokens["ARO"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")  # the trainee's T/IPP as it stands
    scholar = next(r for r in records if r["org_id"] == program and r["surname"].startswith("SCHNEIDER"))
    r = api(server, "GET", f"records/{scholar['sevis_id']}/ds7002.pdf", tokens["RO"])
    assert r.status_code == 404 and "has no T/IPP" in r.json()["error"]
    mine = [r for r in records if r["org_id"] == program]
    assert len(mine) == 2 and sorted(len(r["dependents"]) for r in mine) == [0, 1]  # the scholar has a spouse


def test_category_the_program_type_may_not_use_is_named_at_submission(server):
    email = f"{unique('aupair')}@example.org"
    temp = register_sponsor_account(server, email)
    assert set_password(server, email).status_code == 200
    token = login_token(server, temp)
    body = ds3036("Academic Au Pairs", "P-1", ("13", "08"))
    did = api(server, "POST", "designations", token, json=body).json()["designation_id"]
    r = api(server, "POST", f"designations/{did}/submit", token)
    assert r.status_code == 400
    assert r.json()["invalid"] == [
        "categories: 13 (Au Pair) is not for a P-1 program: Au Pairs are sponsored by private-sector programs (P-3)"
    ]
    r = api(server, "PUT", f"designations/{did}", token, json={**body, "categories": ["99"]})
    assert r.status_code == 200
    r = api(server, "POST", f"designations/{did}/submit", token)
    assert "'99' is not an exchange-visitor category code" in r.json()["error"]
    r = api(server, "PUT", f"designations/{did}", token, json={**body, "program_type": "P-2"})
    assert r.status_code == 400 and r.json()["field"] == "program_type"


def test_dos_designates_only_categories_asked_for_and_rejects_with_a_reason(server):
    email, _, did, _ = submitted_designation(server, program_type="P-3", categories=("13", "12"))
    r = dos(server, "POST", f"designations/{did}/designate", json={"categories": ["08"]})
    assert r.status_code == 400 and r.json()["invalid"] == ["08"]
    assert dos(server, "POST", f"designations/{did}/reject", json={"reason": ""}).status_code == 400
    r = dos(server, "POST", f"designations/{did}/reject", json={"reason": "Test program closed"})
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert "Test program closed" in mail_of(server, email, "rejected")["body"]
    _, _, did, _ = submitted_designation(server, program_type="P-3", categories=("13", "12"))
    r = dos(server, "POST", f"designations/{did}/designate", json={"categories": ["12"]})
    assert r.status_code == 200 and r.json()["program_number"].startswith("P-3-") and r.json()["categories"] == ["12"]
    # the designation is the program's organization profile, whose categories the batch rules enforce (S2163)
    profile = server.control("GET", f"orgs/{r.json()['program_number']}/profile")["profile"]
    assert profile["categories"] == ["12"] and profile["active"] is True


def test_help_desk_and_console_refusals(server):
    r = api(
        server,
        "POST",
        "help-desk",
        json={
            "organization_name": "X",
            "contact_name": "Y",
            "email": "y@example.org",
            "phone": "1",
            "sponsor_name": "Nobody",
        },
    )
    assert r.status_code == 400 and r.json()["field"] == "sponsor_name"
    r = api(server, "POST", "help-desk", json={"email": "y@example.org"})
    assert r.status_code == 400 and "sponsor_name" in r.json()["missing"]
    with web(server) as s:
        assert s.get(f"{server.info['dos']['url']}/api/designations", timeout=30).status_code == 401
        assert s.get(f"{server.info['dos']['url']}", timeout=30, allow_redirects=False).status_code == 302
    assert dos(server, "GET", "designations/999999").status_code == 404
    assert dos(server, "GET", "designations", params={"state": "bogus"}).status_code == 400
