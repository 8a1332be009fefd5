"""The exchange-visitor sponsor's path through the real pages in headless Chromium: register for designation,
Form DS-3036, the help desk, the Department of State's console, the RO's account and batch registration (an
ARO is refused), and the batches page listing the DS-2019s and the DS-7002 of an uploaded EV batch."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sevis_mock.harness.client import SevisClient
from sevis_mock.harness.rehearsal.readdress import fresh_batch_id, readdress
from sevis_mock.harness.rehearsal.sample import sample_ev_batches
from tests.browser.test_rti_pages import log_in, read_user_id, set_password_from_mail


@pytest.mark.slow
def test_the_j_path_through_the_pages(server_factory, browser_page, tmp_path):
    # the outbox read unlogged; 2 workers: a page session made on one is honoured by the other
    server = server_factory("--processing-delay", "0", "--fast-passwords", "--open-outbox", "--workers", "2")
    rti, dos, outbox = server.info["rti"]["beta"], server.info["dos"], server.info["outbox"]
    page = browser_page()
    contact, ro_mail, aro_mail = "rosa.browser@example.org", "rory.browser@example.org", "ari.browser@example.org"

    # register for designation; the two e-mails name Form DS-3036
    page.goto(f"{rti}/")
    page.get_by_role("main").get_by_role("link", name="Register for New Account").click()
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Browser")
    page.get_by_label("E-mail address").fill(contact)
    page.get_by_label("Phone").fill("202-555-0199")
    page.get_by_label("Apply for designation by the Department of State as an Exchange Visitor Program").check()
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#registered-message")).to_contain_text("temporary user ID for Form DS-3036")
    temporary = read_user_id(page, contact, "temporary-user-id")
    set_password_from_mail(page, outbox, contact)
    log_in(page, temporary)

    # Form DS-3036: submitting an incomplete one names what is missing, and a category the type may not use
    page.get_by_role("navigation").get_by_role("link", name="Form DS-3036").click()
    page.get_by_role("button", name="Start a new Form DS-3036").click()
    page.get_by_label("Sponsor name").fill("Browser Exchange")
    page.get_by_role("button", name="Submit Form DS-3036").click()
    expect(page.locator("#error-summary")).to_contain_text("program_type")
    expect(page.locator("#error-summary")).to_contain_text("Responsible Officer (RO)")
    page.get_by_label("P-1: Academic").check()
    page.get_by_label("08 Research Scholar").check()
    page.get_by_label("2A Trainee").check()
    page.get_by_label("13 Au Pair").check()
    page.get_by_label("Official 1 first name").fill("Rory")
    page.get_by_label("Official 1 last name").fill("Browser")
    page.get_by_label("Official 1 e-mail").fill(ro_mail)
    assert page.get_by_label("Official 1 role").input_value() == "RO"
    page.get_by_label("Official 2 first name").fill("Ari")
    page.get_by_label("Official 2 last name").fill("Browser")
    page.get_by_label("Official 2 e-mail").fill(aro_mail)
    assert page.get_by_label("Official 2 role").input_value() == "ARO"
    page.get_by_label("Site 1 name").fill("Headquarters")
    page.get_by_label("Site 1 Address line 1").fill("2201 C Street NW")
    page.get_by_label("Site 1 City").fill("Washington")
    page.get_by_label("Site 1 State (2 letters)").fill("DC")
    page.get_by_label("Site 1 ZIP code").fill("20520")
    page.get_by_role("button", name="Submit Form DS-3036").click()
    expect(page.locator("#error-summary")).to_contain_text("13 (Au Pair) is not for a P-1 program")
    page.get_by_label("13 Au Pair").uncheck()
    page.get_by_role("button", name="Submit Form DS-3036").click()
    expect(page.locator("#flash")).to_contain_text("is submitted")

    # the help desk
    page.get_by_role("navigation").get_by_role("link", name="Help desk").click()
    page.get_by_label("Organization name").fill("Browser Exchange")
    page.get_by_label("Point-of-contact name").fill("Rosa Browser")
    page.get_by_label("Point-of-contact e-mail").fill(contact)
    page.get_by_label("Point-of-contact phone").fill("202-555-0199")
    page.get_by_label("Sponsor name (exactly as on the DS-3036)").fill("Browser Exchange")
    page.get_by_role("button", name="Send to the help desk").click()
    expect(page.locator("#flash")).to_contain_text("ticket EVHD")

    # the Department of State designates it (own browser profile)
    officer = browser_page()
    officer.goto(f"{dos['url']}/login")
    officer.get_by_label("Operator user").fill(dos["user"])
    officer.get_by_label("Password").fill(dos["password"])
    officer.get_by_role("button", name="Log in").click()
    row = officer.locator("#designations tr", has_text="Browser Exchange")
    assert "submitted" in row.inner_text() and "EVHD" in row.inner_text()
    row.get_by_role("link").click()
    officer.get_by_role("button", name="Designate the program").click()
    program = officer.locator("#program-number").inner_text().strip()
    assert re.fullmatch(r"P-1-\d{5}", program), program
    assert officer.locator("#designated-categories").inner_text().strip() == "2A, 08"  # in the order of lookup table 15
    ro_user = officer.locator("#designation tr", has_text=ro_mail).locator("td").first.inner_text().strip()
    aro_user = officer.locator("#designation tr", has_text=aro_mail).locator("td").first.inner_text().strip()

    # the ARO activates and may not register the certificate; the RO does
    from sevis_mock.server.tls import CertificateAuthority

    issued = CertificateAuthority.load_or_create(server.data_dir / "certs").issue_client(
        tmp_path, org_id=program, user_id=ro_user
    )
    page.goto(f"{rti}/")
    page.get_by_role("button", name=f"Log out {temporary}").click()
    set_password_from_mail(page, outbox, aro_mail)
    log_in(page, aro_user)
    page.get_by_role("navigation").get_by_role("link", name="Register for Batch Processing").click()
    page.get_by_label("Certificate file (PEM or DER)").set_input_files(str(issued.cert_path))
    page.get_by_label("I accept the customer agreement").check()
    page.get_by_role("button", name="Register for batch processing").click()
    expect(page.locator("#error-summary")).to_contain_text("only the Responsible Officer (RO)")
    page.get_by_role("button", name=f"Log out {aro_user}").click()

    assert read_user_id(page, ro_mail, "set-password") == ro_user
    set_password_from_mail(page, outbox, ro_mail)
    log_in(page, ro_user)
    assert f"RO {ro_user}" in page.get_by_role("main").inner_text() and program in page.get_by_role("main").inner_text()
    page.get_by_role("navigation").get_by_role("link", name="Register for Batch Processing").click()
    assert page.get_by_label("School or campus code, or program number").input_value() == program
    page.get_by_label("Certificate file (PEM or DER)").set_input_files(str(issued.cert_path))
    page.get_by_label("I accept the customer agreement").check()
    page.get_by_role("button", name="Register for batch processing").click()
    expect(page.get_by_role("heading", name="Registered for batch processing")).to_be_visible()

    # an EV batch: the batch page lists its DS-2019s (the J-2's too) and the trainee's DS-7002
    (_, create), _ = sample_ev_batches()
    batch_id = fresh_batch_id()
    xml, _ = readdress(create, org_id=program, user_id=ro_user, batch_id=batch_id, kind="J")
    with SevisClient(server.base_url, cert=(str(issued.cert_path), str(issued.key_path)), ca_bundle=server.ca) as c:
        assert c.upload(xml, org_id=program, user_id=ro_user).code == "S0000"
        assert (
            c.wait_for_processing(org_id=program, user_id=ro_user, batch_id=batch_id, timeout=30, interval=0.1).code
            == "S0000"
        )
    page.get_by_role("navigation").get_by_role("link", name="Batches").click()
    page.locator("#batches").get_by_role("link", name=batch_id).click()
    expect(page.locator("#process-code")).to_have_text("S0000")
    forms = page.get_by_role("main").get_by_role("link", name=re.compile(r"\.pdf$")).all_inner_texts()
    # a DS-2019 for the scholar, the spouse and the trainee, and the trainee's DS-7002
    assert len([f for f in forms if f.endswith("-7002.pdf")]) == 1 and len(forms) == 4, forms
    expect(page.get_by_role("main")).to_contain_text("DS-2019 of a dependent of N")
    page.get_by_role("navigation").get_by_role("link", name="Records").click()
    page.locator("#records tr", has_text="OKAFOR").get_by_role("link").click()
    expect(page.locator("#print-ds7002")).to_contain_text("DS-7002")  # the trainee's record offers the T/IPP
