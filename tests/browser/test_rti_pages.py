"""Steps 1-11 of the beta-testing procedure through the real RTI pages, SEVP console and e-mail outbox,
in headless Chromium, asserting what a person would see."""

from __future__ import annotations

import hashlib
import re

import pytest
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import expect

from sevis_mock.harness.client import SevisClient
from sevis_mock.harness.rehearsal.readdress import fresh_batch_id, readdress
from sevis_mock.harness.rehearsal.sample import sample_batch

PASSWORD = "Browser-Test-7!"
USER_ID = re.compile(r"\b[A-Z0-9]{10}\b")


def read_user_id(page, to: str, kind: str) -> str:
    page.goto(f"{outbox_of(page)}?to={to}")
    body = page.locator(f"article.mail[data-kind='{kind}'] pre").last.inner_text()
    found = re.search(r"user ID[^\n]*?:?\s*\n?\s*([A-Z0-9]{10})\b", body)
    assert found, body
    return found.group(1)


def outbox_of(page) -> str:
    return re.sub(r"^(https://[^/]+).*$", r"\1/outbox", page.url)


def set_password_from_mail(page, outbox: str, to: str) -> None:
    page.goto(f"{outbox}?to={to}")
    page.locator("article.mail[data-kind='set-password'] a.mail-link").last.click()
    expect(page.get_by_role("heading", name="Set Password (step 4)")).to_be_visible()
    page.get_by_label("New password").fill("short")
    page.get_by_label("Type the password again").fill("short")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#error-summary")).to_contain_text("There is a problem")  # the rule broken is shown
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#flash")).to_contain_text("Your password is set")


def log_in(page, user_id: str) -> None:
    assert page.get_by_label("User ID").input_value() == user_id  # the login page names the new user
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#flash")).to_contain_text(f"You are logged in as {user_id}")


@pytest.mark.slow
def test_steps_1_to_11_through_the_pages(server_factory, browser_page, tmp_path):
    server = server_factory(
        "--processing-delay", "0", "--fast-passwords", "--open-outbox", "--workers", "2"
    )  # a person reads the outbox unlogged; 2 workers: a page session made on one is honoured by the other
    rti, sevp, outbox = server.info["rti"]["beta"], server.info["sevp"], server.info["outbox"]
    page = browser_page()
    contact, pdso_mail = "pat.browser@example.edu", "lee.browser@example.edu"

    # 1-3: register; two e-mails arrive
    page.goto(f"{rti}/")
    page.get_by_role("main").get_by_role("link", name="Register for New Account").click()
    page.get_by_label("First name").fill("Pat")
    page.get_by_label("Last name").fill("Browser")
    page.get_by_label("E-mail address").fill(contact)
    page.get_by_label("Phone").fill("555-010-0199")
    page.get_by_label("Apply for Certification by DHS to admit F and/or M students").check()
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#registered-message")).to_contain_text(f"Two e-mails were sent to {contact}")
    page.get_by_role("main").get_by_role("link", name="e-mail outbox").click()
    assert sorted(page.locator("article.mail").evaluate_all("els => els.map(e => e.dataset.kind)")) == [
        "set-password",
        "temporary-user-id",
    ]
    temporary = read_user_id(page, contact, "temporary-user-id")

    # 4: set the password (a weak one is refused first) and log in
    set_password_from_mail(page, outbox, contact)
    log_in(page, temporary)

    # 5-7: Form I-17; submitting without officials shows what is missing
    page.get_by_role("navigation").get_by_role("link", name="Form I-17").click()
    page.get_by_role("button", name="Start a new Form I-17").click()
    page.get_by_label("School name").fill("Browser Test College")
    page.get_by_label("F only").check()
    page.get_by_label("Campus 1 name").fill("Main Campus")
    page.get_by_label("Campus 1 Address line 1").fill("1 Test Way")
    page.get_by_label("Campus 1 City").fill("Springfield")
    page.get_by_label("Campus 1 State (2 letters)").fill("IL")
    page.get_by_label("Campus 1 ZIP code").fill("62701")
    page.get_by_role("button", name="Submit Form I-17").click()
    expect(page.locator("#error-summary")).to_contain_text("There is a problem")
    expect(page.locator("#error-summary")).to_contain_text("PDSO")
    page.get_by_label("Official 1 first name").fill("Lee")
    page.get_by_label("Official 1 last name").fill("Browser")
    page.get_by_label("Official 1 e-mail").fill(pdso_mail)
    assert page.get_by_label("Official 1 role").input_value() == "PDSO"
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#flash")).to_contain_text("saved")
    page.get_by_role("button", name="Submit Form I-17").click()
    expect(page.locator("#flash")).to_contain_text("is submitted")

    # 8: SEVP Response Center
    page.get_by_role("navigation").get_by_role("link", name="SEVP Response Center").click()
    page.get_by_label("Organization name").fill("Browser Test College")
    page.get_by_label("Point-of-contact name").fill("Pat Browser")
    page.get_by_label("Point-of-contact e-mail").fill(contact)
    page.get_by_label("Point-of-contact phone").fill("555-010-0199")
    page.get_by_label("F only").check()
    page.get_by_label("School name (exactly as on the I-17)").fill("Browser Test College")
    page.get_by_role("button", name="Send to the SEVP Response Center").click()
    expect(page.locator("#flash")).to_contain_text("ticket")

    # 9: the SEVP operator approves (own browser profile)
    operator = browser_page()
    operator.goto(f"{sevp['url']}/login")
    operator.get_by_label("Operator user").fill(sevp["user"])
    operator.get_by_label("Password").fill(sevp["password"])
    operator.get_by_role("button", name="Log in").click()
    row = operator.locator("#petitions tr", has_text="Browser Test College")
    assert "submitted" in row.inner_text()
    row.get_by_role("link").click()
    operator.get_by_role("button", name="Approve Form I-17").click()
    school_code = operator.locator("#school-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z]{3}214F\d{5}000", school_code), school_code
    pdso_user = operator.locator("#approval tr", has_text=pdso_mail).locator("td").first.inner_text().strip()
    assert USER_ID.fullmatch(pdso_user)

    # 10: the temporary user is told; the PDSO sets a password and logs in as an official of the school
    page.goto(f"{outbox}?to={contact}")
    assert page.locator("article.mail[data-kind='approved']").count() == 1
    assert read_user_id(page, pdso_mail, "set-password") == pdso_user
    page.goto(f"{rti}/")
    page.get_by_role("button", name=f"Log out {temporary}").click()  # the temporary user leaves
    expect(page.locator("#flash")).to_contain_text("You are logged out")
    set_password_from_mail(page, outbox, pdso_mail)
    log_in(page, pdso_user)
    assert f"PDSO {pdso_user}" in page.get_by_role("main").inner_text()
    assert school_code in page.get_by_role("main").inner_text()

    # 11: batch registration; the agreement must be accepted
    from sevis_mock.server.tls import CertificateAuthority

    issued = CertificateAuthority.load_or_create(server.data_dir / "certs").issue_client(
        tmp_path, org_id=school_code, user_id=pdso_user
    )
    page.get_by_role("navigation").get_by_role("link", name="Register for Batch Processing").click()
    assert page.get_by_label("School or campus code").input_value() == school_code
    page.get_by_label("Certificate file (PEM or DER)").set_input_files(str(issued.cert_path))
    page.get_by_role("button", name="Register for batch processing").click()
    expect(page.locator("#error-summary")).to_contain_text(re.compile("agreement", re.I))
    page.get_by_label("Certificate file (PEM or DER)").set_input_files(str(issued.cert_path))
    page.get_by_label("I accept the customer agreement").check()
    page.get_by_role("button", name="Register for batch processing").click()
    expect(page.get_by_role("heading", name="Registered for batch processing")).to_be_visible()
    der = issued.certificate.public_bytes(serialization.Encoding.DER)
    assert page.locator("#reg-fingerprint").inner_text().replace(":", "").lower() == hashlib.sha256(der).hexdigest()

    # what the registration is for: the batch interface now accepts this certificate for this school
    xml, _ = readdress(sample_batch(), org_id=school_code, user_id=pdso_user, batch_id=fresh_batch_id())
    with SevisClient(
        server.base_url, cert=(str(issued.cert_path), str(issued.key_path)), ca_bundle=server.ca
    ) as client:
        assert client.upload(xml, org_id=school_code, user_id=pdso_user).code == "S0000"
