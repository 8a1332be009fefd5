"""RTI and SEVP console as a person uses them: HTML pages and plain forms over HTTPS, no client certificate.
Every POST form needs the session's CSRF token; refusals show next to the field they concern."""

from __future__ import annotations

import re

import pytest

from tests.support.server import start_server
from tests.test_rti import PASSWORD, i17, issue, mail_of, outbox, unique, web

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A cookie-keeping HTTPS session that reads each page's CSRF token before posting its form."""

    def __init__(self, server):
        self.server = server
        self.s = web(server)
        self.root = server.info["rti"]["beta"]

    def get(self, url, **kw):
        return self.s.get(url if url.startswith("http") else self.root + url, timeout=60, **kw)

    def submit(self, page_url: str, form_url: str | None = None, data=None, files=None):
        page = self.get(page_url)
        assert page.status_code == 200, page.text
        token = CSRF.search(page.text).group(1)
        target = form_url or page_url
        return self.s.post(
            target if target.startswith("http") else self.root + target,
            data={**(data or {}), "csrf_token": token},
            files=files,
            timeout=60,
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(
        tmp_path_factory.mktemp("rti-pages"), "--processing-delay", "0", "--workers", "1", "--fast-passwords"
    )
    yield srv
    srv.stop(wait=False)


def test_post_without_csrf_token_is_refused(server):
    b = Browser(server)
    b.get("/login")  # the session exists and has a token; the forged form does not carry it
    r = b.s.post(f"{b.root}/login", data={"user_id": "X", "password": "Y"}, timeout=30)
    assert r.status_code == 400 and "csrf_token" in r.text
    r = b.s.post(f"{b.root}/login", data={"user_id": "X", "password": "Y", "csrf_token": "forged"}, timeout=30)
    assert r.status_code == 400
    fresh = web(server)  # no session at all: refused too
    r = fresh.post(f"{b.root}/register", data={"first_name": "A"}, timeout=30)
    assert r.status_code == 400 and "security token" in r.text
    r = fresh.post(f"{server.info['sevp']['url']}/login", data=server.info["sevp"], timeout=30)
    assert r.status_code == 400


def test_register_form_shows_errors_next_to_fields(server):
    b = Browser(server)
    r = b.submit(
        "/register",
        data={"first_name": "Ada", "last_name": "", "email": "nope", "phone": "1", "purpose": "certification"},
    )
    assert r.status_code == 400
    assert 'id="e-last_name"' in r.text and 'aria-invalid="true"' in r.text and 'value="Ada"' in r.text


def test_the_whole_path_through_the_pages(server, tmp_path):
    b = Browser(server)
    email = f"{unique('page')}@example.edu"
    home = b.get("/")
    assert "Register for New Account" in home.text
    r = b.submit(
        "/register",
        data={
            "first_name": "Ada",
            "last_name": "Page",
            "email": email,
            "phone": "703-555-0101",
            "purpose": "certification",
        },
    )
    assert r.status_code == 200 and "Two e-mails were sent" in r.text
    page = b.get(
        f"{server.info['outbox']}?to={email}", headers={"Authorization": f"Bearer {server.info['control']['token']}"}
    )
    assert "temporary user ID" in page.text and "/set-password/" in page.text
    temp = mail_of(server, email, "temporary-user-id")["user_id"]
    link = mail_of(server, email, "set-password")["links"][0]

    r = b.submit(link, data={"password": "short", "confirm_password": "short"})
    assert r.status_code == 400 and 'id="e-password"' in r.text and "at least 8 characters" in r.text
    r = b.submit(link, data={"password": PASSWORD, "confirm_password": PASSWORD})
    assert r.status_code == 200 and "Your password is set" in r.text and r.url.startswith(b.root + "/login")
    assert b.get(link).status_code == 410  # single use

    r = b.submit("/login", data={"user_id": temp, "password": "Wrong#Pass1"})
    assert r.status_code == 401 and "attempts left" in r.text
    r = b.submit("/login", data={"user_id": temp, "password": PASSWORD})
    assert r.status_code == 200 and f"logged in as {temp}" in r.text

    r = b.submit("/i17", data={})
    assert r.status_code == 200 and "Form I-17" in r.text
    edit_url = r.url
    name = f"Page College {unique('')}"
    body = i17(name)
    form = {
        "school_name": name,
        "category": "F",
        "main_campus": "0",
        "english_language_school": "true",
        "programs_of_study": "11.0701, 52.0201",
    }
    for n, c in enumerate(body["campuses"]):
        form[f"campus-{n}-name"] = c["name"]
        form.update({f"campus-{n}-{k}": v for k, v in c["address"].items()})
    for n, o in enumerate(body["officials"]):
        form.update({f"official-{n}-{k}": str(v) for k, v in o.items()})
    incomplete = {**form, "campus-1-zip": "", "official-1-first_name": "", "action": "submit"}
    r = b.submit(edit_url, data=incomplete)
    assert r.status_code == 400 and "campuses[1].address.zip" in r.text and "There is a problem" in r.text
    r = b.submit(edit_url, data={**form, "programs_of_study": "computer science", "action": "save"})
    assert r.status_code == 400 and 'id="e-programs_of_study"' in r.text and "CIP major codes" in r.text
    r = b.submit(edit_url, data={**form, "action": "save"})
    assert r.status_code == 200 and "Draft of Form I-17" in r.text
    assert 'id="f-english_language_school" name="english_language_school" value="true" checked' in r.text
    r = b.submit(edit_url, data={**form, "action": "submit"})
    assert r.status_code == 200 and "is submitted" in r.text

    r = b.submit(
        "/response-center",
        data={
            "organization_name": name,
            "contact_name": "Ada Page",
            "email": email,
            "phone": "703-555-0101",
            "school_category": "F",
            "school_name": name,
        },
    )
    assert r.status_code == 200 and "ticket SRC" in r.text

    console = Browser(server)
    sevp_url = server.info["sevp"]["url"]
    r = console.submit(
        f"{sevp_url}/login", data={"user": server.info["sevp"]["user"], "password": server.info["sevp"]["password"]}
    )
    assert r.status_code == 200 and name in r.text
    pid = re.search(rf'/sevp/petitions/(\d+)">I-17 \d+</a></td><td>beta</td>\s*<td>{re.escape(name)}', r.text).group(1)
    r = console.submit(f"{sevp_url}/petitions/{pid}", f"{sevp_url}/petitions/{pid}/approve")
    assert r.status_code == 200 and "Approved: school code" in r.text
    code = re.search(r'id="school-code">([A-Z0-9]{15})<', r.text).group(1)
    assert "is approved" in mail_of(server, email, "approved")["subject"]

    pdso_mail = mail_of(server, body["officials"][0]["email"], "set-password")
    pdso = Browser(server)
    pdso.submit(pdso_mail["links"][0], data={"password": PASSWORD, "confirm_password": PASSWORD})
    r = pdso.submit("/login", data={"user_id": pdso_mail["user_id"], "password": PASSWORD})
    assert r.status_code == 200 and code in r.text
    # the approved I-17's facts are the school's profile, which batch rules read and RTI shows
    facts = re.search(rf'<table class="org-profile" id="profile-{code}">(.*?)</table>', r.text, re.S).group(1)
    assert "<td>F-1</td>" in facts and "English language school</th><td>yes" in facts
    assert "11.0701, 52.0201" in facts and "Public institution</th><td>no" in facts
    assert server.control("GET", f"orgs/{code}/profile")["profile"] == {
        "visa_types": ["F"],
        "english_language_school": True,
        "public_institution": False,
        "programs_of_study": ["11.0701", "52.0201"],
        "stem_programs": None,
        "withdrawal": None,
    }

    issued = issue(server, tmp_path, code, pdso_mail["user_id"], client_auth=False)
    r = pdso.submit(
        "/batch-registration",
        data={"org_id": code, "accept_agreement": "yes"},
        files={"certificate_file": ("client.pem", issued.cert_path.read_bytes())},
    )
    assert r.status_code == 400 and 'id="e-certificate"' in r.text and "clientAuth" in r.text
    issued = issue(server, tmp_path, code, pdso_mail["user_id"])
    r = pdso.submit("/batch-registration", data={"org_id": code, "certificate": issued.cert_path.read_text()})
    assert r.status_code == 400 and 'id="e-accept_agreement"' in r.text
    r = pdso.submit(
        "/batch-registration",
        data={"org_id": code, "accept_agreement": "yes"},
        files={"certificate_file": ("client.pem", issued.cert_path.read_bytes())},
    )
    assert r.status_code == 200 and "Registered for batch processing" in r.text
    assert pdso.get("/batches").status_code == 200 and pdso.get("/records").status_code == 200
    assert "batch-registered" in {m["kind"] for m in outbox(server, body["officials"][0]["email"])}


def test_pages_that_need_a_login_send_you_to_log_in(server):
    b = Browser(server)
    r = b.get("/i17")
    assert r.status_code == 200 and r.url.startswith(b.root + "/login") and "Log in first" in r.text
    r = b.get(server.info["sevp"]["url"])
    assert r.url.endswith("/sevp/login")


def test_records_and_batches_pages_show_what_a_batch_did(server):
    from sevis_mock.fixtures import read_fixture
    from tests.support.server import new_batch_id, with_batch_id
    from tests.test_rti import sevp

    fm = server.org("F/M")
    batch_id = new_batch_id("P")
    server.upload(with_batch_id(read_fixture("fm/create-with-dependent.xml"), batch_id), org=fm, batch_id=batch_id)
    assert server.wait_processed(org=fm, batch_id=batch_id).process_code == "S0000"

    email = sevp(server, "POST", f"accounts/{fm['user_id']}/password-link").json()["email"]
    b = Browser(server)
    link = mail_of(server, email, "set-password")["links"][0]
    b.submit(link, data={"password": PASSWORD, "confirm_password": PASSWORD})
    assert b.submit("/login", data={"user_id": fm["user_id"], "password": PASSWORD}).status_code == 200

    batches = b.get("/batches")
    assert batch_id in batches.text
    page = b.get(f"/batches/{fm['org_id']}/{batch_id}")
    assert page.status_code == 200 and 'id="process-code">S0000<' in page.text and "&lt;TransactionLog&gt;" in page.text
    log = b.get(f"/batches/{fm['org_id']}/{batch_id}/log.xml")
    assert log.headers["Content-Type"].startswith("text/xml") and b"<Process" in log.content
    sevis_id = re.search(r'/records/(N\d{10})">', page.text).group(1)
    server.control(
        "POST",
        f"records/{sevis_id}/agency-events",
        {"event": "CBPAdmission", "date": "2027-01-10", "port_of_entry": "BOS", "class_of_admission": "F-1"},
    )
    record = b.get(f"/records/{sevis_id}")
    assert record.status_code == 200 and 'id="record-status">' in record.text and 'id="dependents"' in record.text
    assert (
        "Agency/CBPAdmission" in record.text and "PortOfEntry BOS (BOSTON, MA)" in record.text
    )  # another agency's event
    assert sevis_id in b.get("/records").text
    filtered = b.get("/records", params={"status": "Initial"})  # the filter is shown, not taken for the HTTP status
    assert filtered.status_code == 200 and 'value="Initial"' in filtered.text and sevis_id in filtered.text
    pdf = b.get(f"/records/{sevis_id}/form.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    other = b.get("/batches", params={"org": "P-1-12345"})
    assert other.status_code == 403 and "not one of your organizations" in other.text


def test_logout_ends_the_session_even_for_a_copied_cookie(server):
    from tests.test_rti import register_account, set_password

    email = f"{unique('out')}@example.edu"
    user = register_account(server, email)
    set_password(server, email)
    b = Browser(server)
    assert b.submit("/login", data={"user_id": user, "password": PASSWORD}).status_code == 200
    thief = web(server)
    thief.cookies.update(b.s.cookies)
    assert thief.get(f"{b.root}/i17", timeout=30).url.endswith("/i17")  # the copied cookie works...
    r = b.submit("/", "/logout", data={})
    assert r.status_code == 200 and "You are logged out" in r.text
    r = thief.get(f"{b.root}/i17", timeout=30)
    assert "/login" in r.url  # ...until its owner logs out


@pytest.mark.parametrize(
    "kind, fixture", [("F/M", "fm/create-with-dependent.xml"), ("J", "j/create-with-dependent-and-site.xml")]
)
def test_a_records_form_from_rti_is_the_pdf_in_the_download_zip(server, kind, fixture):
    """One record, one form: the I-20 / DS-2019 RTI prints for a record (and for its dependent) is byte for byte
    the one its batch put in the zip that day."""
    from sevis_mock.fixtures import read_fixture
    from tests.support.server import new_batch_id, with_batch_id
    from tests.test_rti import sevp

    org = server.org(kind)
    batch_id = new_batch_id("F")
    server.upload(with_batch_id(read_fixture(fixture), batch_id), org=org, batch_id=batch_id)
    reply = server.wait_processed(org=org, batch_id=batch_id)
    assert reply.process_code == "S0000" and len(reply.pdfs) == 2, (
        reply.raw.decode()
    )  # the principal's, the dependent's

    email = sevp(server, "POST", f"accounts/{org['user_id']}/password-link").json()["email"]
    b = Browser(server)
    link = mail_of(server, email, "set-password")["links"][-1]
    b.submit(link, data={"password": PASSWORD, "confirm_password": PASSWORD})
    assert b.submit("/login", data={"user_id": org["user_id"], "password": PASSWORD}).status_code == 200
    for sevis_id, pdf in reply.pdfs.items():
        printed = b.get(f"/records/{sevis_id}/form.pdf")
        assert printed.status_code == 200 and printed.content == pdf, sevis_id
        from_batch = b.get(f"/batches/{org['org_id']}/{batch_id}/forms/{sevis_id}.pdf")
        assert from_batch.content == pdf


def _j_update(batch_id: str, sevis_id: str, event: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<SEVISBatchCreateUpdateEV xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" userID="MCKRO00001">'
        f"<BatchHeader><BatchID>{batch_id}</BatchID><OrgID>P-1-12345</OrgID></BatchHeader>"
        f'<UpdateEV><ExchangeVisitor sevisID="{sevis_id}" requestID="U-1" userID="MCKRO00001">{event}'
        "</ExchangeVisitor></UpdateEV></SEVISBatchCreateUpdateEV>"
    ).encode()


def test_a_reprint_after_a_dependent_ended_leaves_it_out_in_the_zip_and_in_rti(server):
    """[i] ended dependents leave the form and get none of their own: the zip of a Reprint and RTI agree."""
    from sevis_mock.fixtures import read_fixture
    from tests.support.server import new_batch_id, with_batch_id
    from tests.test_rti import sevp

    org = server.org("J")
    batch_id = new_batch_id("E")
    server.upload(
        with_batch_id(read_fixture("j/create-with-dependent-and-site.xml"), batch_id), org=org, batch_id=batch_id
    )
    created = server.wait_processed(org=org, batch_id=batch_id).record("JDEP-0001")
    principal, dependent = created.get("sevisID"), created.find("Dependent").get("dependentSevisID")
    terminate = (
        f'<Dependent><Terminate dependentSevisID="{dependent}"><Reason>01</Reason>'
        "<EffectiveDate>2027-01-15</EffectiveDate></Terminate></Dependent>"
    )
    reprint = '<Reprint printForm="true"><Reason>13</Reason><Remarks>Form damaged</Remarks></Reprint>'
    replies = []
    for event in (terminate, reprint):
        batch_id = new_batch_id("E")
        server.upload(_j_update(batch_id, principal, event), org=org, batch_id=batch_id)
        replies.append(server.wait_processed(org=org, batch_id=batch_id))
        assert replies[-1].process_code == "S0000", replies[-1].raw.decode()
    assert list(replies[-1].pdfs) == [principal]  # the ended dependent's own form is not made

    email = sevp(server, "POST", f"accounts/{org['user_id']}/password-link").json()["email"]
    b = Browser(server)
    b.submit(
        mail_of(server, email, "set-password")["links"][-1], data={"password": PASSWORD, "confirm_password": PASSWORD}
    )
    assert b.submit("/login", data={"user_id": org["user_id"], "password": PASSWORD}).status_code == 200
    assert b.get(f"/records/{principal}/form.pdf").content == replies[-1].pdfs[principal]
    refused = b.get(f"/records/{dependent}/form.pdf")
    assert refused.status_code == 404 and "has ended" in refused.text


def test_the_help_desk_page_opens_a_ticket_or_shows_the_refusal_by_its_field(server):
    from tests.test_rti import api, login, set_password
    from tests.test_rti_designation import ds3036, register_sponsor_account

    email, name = f"{unique('desk')}@example.org", f"Desk Page Exchange {unique('')}"
    form = {"organization_name": name, "contact_name": "Rosa Sponsor", "email": email, "phone": "202-555-0100"}
    b = Browser(server)
    r = b.submit("/help-desk", data={**form, "sponsor_name": name})  # no DS-3036 of that name yet
    assert r.status_code == 400 and 'id="e-sponsor_name"' in r.text and "no submitted DS-3036" in r.text
    assert f'value="{name}"' in r.text  # what was typed stays in the form
    temp = register_sponsor_account(server, email)
    set_password(server, email)
    token = login(server, temp).json()["token"]
    did = api(server, "POST", "designations", token, json=ds3036(name)).json()["designation_id"]
    assert api(server, "POST", f"designations/{did}/submit", token).status_code == 200
    r = b.submit("/help-desk", data={**form, "sponsor_name": name})
    assert r.status_code == 200 and re.search(rf"ticket EVHD\d{{7}} for DS-3036 {did}\b", r.text), r.text
    assert f'value="{name}"' not in r.text  # an empty form for the next message
