"""The exchange-visitor sponsor's steps (procedure-j.yaml): designation instead of certification.

Register with the designation purpose, Form DS-3036 (sponsor, program type, categories, RO and AROs,
sites), the help desk, the Department of State's designation (program number, categories), the officials'
activation, and batch registration by the RO (an ARO is refused first [i]). The e-mail steps, the
password step and steps 12-15 (batches) are the F/M checks, which work for either kind.
"""

from __future__ import annotations

import re
from typing import Any

from ..api import ApiError
from .checks import _messages, check, expect, login, set_password, wait_for_emails, _set_password_link
from .context import Context, Official
from .school import password_for

PROGRAM_NUMBER = re.compile(r"^P-[134]-\d{5}$")
USER_ID_LENGTH = 10


def _designation_url(ctx: Context, suffix: str = "") -> str:
    return f"{ctx.target.rti_url}/api/designations/{ctx.state.petition_id}{suffix}"


def _ds3036_body(ctx: Context, with_officials: bool) -> dict:
    sponsor = ctx.school
    body: dict[str, Any] = {
        "sponsor_name": sponsor["sponsor_name"],
        "program_type": sponsor["program_type"],
        "categories": sponsor["categories"],
        "sites": sponsor["sites"],
    }
    if with_officials:
        body["officials"] = [
            {k: o[k] for k in ("role", "first_name", "last_name", "email")} for o in sponsor["officials"]
        ]
    return body


@check("apply_for_designation")
def apply_for_designation(ctx: Context) -> str:
    contact = ctx.school["contact"]
    for message in _messages(ctx, contact["email"]):  # older mail to the same address is not evidence
        ctx.state.seen_emails.add(message.get("id"))
    body = ctx.api.call(
        "POST",
        f"{ctx.target.rti_url}/api/accounts",
        json_body={
            "first_name": contact["first_name"],
            "last_name": contact["last_name"],
            "email": contact["email"],
            "phone": contact["phone"],
            "purpose": "designation",
        },
        expect=(201,),
    )
    user_id = body.get("temporary_user_id") or ""
    expect(len(user_id) == USER_ID_LENGTH, f"the temporary user ID {user_id!r} is not {USER_ID_LENGTH} characters")
    ctx.state.temporary_user_id = user_id
    ctx.evidence.ids["temporary_user_id"] = user_id
    return f"temporary user ID {user_id} issued for {contact['email']} (designation as an Exchange Visitor Program)"


@check("fill_ds3036")
def fill_ds3036(ctx: Context) -> str:
    sponsor = ctx.school
    body = ctx.api.call(
        "POST",
        f"{ctx.target.rti_url}/api/designations",
        json_body=_ds3036_body(ctx, False),
        token=ctx.state.temporary_token,
        expect=(201,),
    )
    expect(body.get("designation_id") is not None, "the new DS-3036 has no designation_id")
    expect(body.get("state") == "draft", f"a new DS-3036 should be a draft, not {body.get('state')!r}")
    ctx.state.petition_id = body["designation_id"]
    ctx.evidence.ids["designation_id"] = str(body["designation_id"])
    stored = ctx.api.call("GET", _designation_url(ctx), token=ctx.state.temporary_token)
    for key in ("sponsor_name", "program_type", "categories"):
        expect(stored.get(key) == sponsor[key], f"the draft reads back {key} {stored.get(key)!r}, not {sponsor[key]!r}")
    expect(
        len(stored.get("sites") or []) == len(sponsor["sites"]),
        f"the draft reads back {len(stored.get('sites') or [])} site(s), not {len(sponsor['sites'])}",
    )
    return (
        f"draft DS-3036 {body['designation_id']} for {sponsor['sponsor_name']} ({sponsor['program_type']}, "
        f"categories {', '.join(sponsor['categories'])}, {len(sponsor['sites'])} site(s))"
    )


@check("add_officers")
def add_officers(ctx: Context) -> str:
    ctx.api.call("PUT", _designation_url(ctx), json_body=_ds3036_body(ctx, True), token=ctx.state.temporary_token)
    stored = ctx.api.call("GET", _designation_url(ctx), token=ctx.state.temporary_token)
    got = sorted((o.get("role", ""), o.get("email", "")) for o in stored.get("officials") or [])
    wanted = sorted((o["role"], o["email"]) for o in ctx.school["officials"])
    expect(got == wanted, f"the draft reads back officials {got}, not {wanted}")
    roles = ", ".join(f"{o['role']} {o['first_name']} {o['last_name']}" for o in ctx.school["officials"])
    return f"{len(wanted)} official(s) on the draft: {roles}"


@check("submit_ds3036")
def submit_ds3036(ctx: Context) -> str:
    body = ctx.api.call("POST", _designation_url(ctx, "/submit"), token=ctx.state.temporary_token)
    expect(body.get("state") == "submitted", f"after submit the DS-3036 is {body.get('state')!r}, not submitted")
    return f"DS-3036 {ctx.state.petition_id} submitted"


@check("contact_help_desk")
def contact_help_desk(ctx: Context) -> str:
    contact = ctx.school["contact"]
    body = ctx.api.call(
        "POST",
        f"{ctx.target.rti_url}/api/help-desk",
        json_body={
            "organization_name": ctx.school["organization_name"],
            "contact_name": f"{contact['first_name']} {contact['last_name']}",
            "email": contact["email"],
            "phone": contact["phone"],
            "sponsor_name": ctx.school["sponsor_name"],
        },
        expect=(201,),
    )
    expect(body.get("ticket") is not None, "the help desk answered without a ticket")
    expect(
        body.get("designation_id") == ctx.state.petition_id,
        f"the help desk linked the ticket to DS-3036 {body.get('designation_id')}, not {ctx.state.petition_id}",
    )
    ctx.state.ticket = body["ticket"]
    ctx.evidence.ids["ticket"] = str(body["ticket"])
    return f"ticket {body['ticket']} for DS-3036 {ctx.state.petition_id} ({ctx.school['sponsor_name']})"


@check("dos_designates")
def dos_designates(ctx: Context) -> str:
    t = ctx.target
    expect(
        t.sevp_user and t.sevp_password,
        "no operator credentials: give --sevp-user/--sevp-password or a connection file with `dos` or `sevp`",
    )
    dos = t.dos_url or t.sevp_url.rsplit("/", 1)[0] + "/dos"
    body = ctx.api.call("POST", f"{dos}/api/login", json_body={"user": t.sevp_user, "password": t.sevp_password})
    token = body.get("token")
    expect(token, "the Department of State console login answered without a token")
    listed = ctx.api.call("GET", f"{dos}/api/designations", params={"state": "submitted"}, token=token)
    ids = [d.get("designation_id") for d in listed.get("designations") or []]
    expect(
        ctx.state.petition_id in ids,
        f"DS-3036 {ctx.state.petition_id} is not listed as submitted in the Department of State console",
    )
    decision = ctx.api.call(
        "POST",
        f"{dos}/api/designations/{ctx.state.petition_id}/designate",
        json_body={"categories": ctx.school["categories"]},
        token=token,
    )
    number = decision.get("program_number") or ""
    prefix = ctx.school["program_type"]
    expect(
        PROGRAM_NUMBER.match(number) and number.startswith(prefix + "-"),
        f"the program number {number!r} is not {prefix}- and five digits",
    )
    categories = decision.get("categories") or []
    expect(
        sorted(categories) == sorted(ctx.school["categories"]),
        f"the designation gives categories {categories}, not the {ctx.school['categories']} applied for",
    )
    ctx.state.school_code = number
    ctx.state.campus_codes = [number]
    ctx.state.designated_categories = categories
    by_email = {o.get("email"): o for o in decision.get("officials") or []}
    ctx.state.officials = []
    for given in ctx.school["officials"]:
        issued = by_email.get(given["email"])
        expect(issued, f"the designation issued no user ID for official {given['email']}")
        expect(
            len(issued.get("user_id") or "") == USER_ID_LENGTH,
            f"official {given['email']} got user ID {issued.get('user_id')!r}, not 10 characters",
        )
        ctx.state.officials.append(
            Official(
                role=given["role"],
                first_name=given["first_name"],
                last_name=given["last_name"],
                email=given["email"],
                campus=0,
                user_id=issued["user_id"],
                campus_code=number,
            )
        )
    ctx.evidence.ids["program_number"] = number
    ctx.evidence.ids["designated categories"] = ", ".join(categories)
    for o in ctx.state.officials:
        ctx.evidence.ids[f"{o.role} {o.email}"] = o.user_id or ""
    return (
        f"DS-3036 designated: program number {number}, categories {', '.join(categories)}, "
        f"{len(ctx.state.officials)} official user ID(s)"
    )


@check("officers_activate")
def officers_activate(ctx: Context) -> str:
    wait_for_emails(ctx, ctx.school["contact"]["email"], ["designated"])
    for official in ctx.state.officials:
        found = wait_for_emails(ctx, official.email, ["set-password"])
        message = found["set-password"]
        link = _set_password_link(message, official.email)
        expect(
            message.get("user_id") == official.user_id,
            f"the e-mail to {official.email} announces user ID {message.get('user_id')!r}, not {official.user_id}",
        )
        official.password = password_for(official.user_id)
        set_password(ctx, link, official.password, official.user_id)
        body = login(ctx, official.user_id, official.password)
        official.token = body["token"]
        user = body["user"]
        expect(
            user.get("org_id") == official.campus_code,
            f"{official.user_id} logged in as an official of {user.get('org_id')!r}, not {official.campus_code}",
        )
        expect(
            user.get("role") == official.role,
            f"{official.user_id} logged in with role {user.get('role')!r}, not {official.role}",
        )
    return (
        f"designation e-mail received; {len(ctx.state.officials)} official(s) set passwords and logged in: "
        + ", ".join(f"{o.role} {o.user_id}" for o in ctx.state.officials)
    )


@check("ro_registers_for_batch")
def ro_registers_for_batch(ctx: Context) -> str:
    """An ARO trying to register the certificate is refused [i]; then the RO registers it."""
    from .checks import _certificate_for, register_for_batch

    ro = ctx.main_pdso()
    aros = [o for o in ctx.state.officials if o.role == "ARO"]
    refused = ""
    if aros:
        certificate = _certificate_for(ctx, ro, True)
        try:
            ctx.api.call(
                "POST",
                f"{ctx.target.rti_url}/api/batch-registration",
                token=aros[0].token,
                json_body={"org_id": ro.campus_code, "certificate": certificate.pem, "accept_agreement": True},
                expect=(403,),
            )
        except ApiError as exc:
            expect(False, f"an ARO registering the program's certificate must be refused with HTTP 403: {exc}")
        refused = f"ARO {aros[0].user_id} refused (403); "
        ctx.note(f"ARO {aros[0].user_id} tried to register the certificate and was refused: only the RO may [i]")
    return refused + register_for_batch(ctx)
