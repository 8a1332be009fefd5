"""One check per procedure step: do what the college does, verify what the mock should do, keep evidence.

A check returns a one-line summary when the step passed, or raises `StepFailed` (with what was wrong
and what to do) or `StepWaiting` (the mock has not finished yet, e.g. processing still S0030).
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable

from sevis_mock.harness.client import SevisClient, SevisError, SevisTimeout, describe_code

from sevis_mock.harness.procedure_model import J_PATH, PATHS, PROGRAM_NUMBER, Path

from .context import Context, Official
from ..hints import catalogue_message, hint
from .model import BatchFile, Email, Exchange, RecordOutcome
from .readdress import fresh_batch_id, readdress
from .school import password_for
from ..api import ApiError

CHECKS: dict[str, Callable[[Context], str]] = {}
SCHOOL_CODE = re.compile(r"^[A-Z]{3}214F\d{8}$")
USER_ID_LENGTH = 10
EMAIL_WAIT = 10.0  # seconds to wait for an e-mail to reach the outbox


class StepFailed(Exception):
    """The step did not do what the procedure says; the message says what happened and what to do."""


class StepWaiting(Exception):
    """The mock has not finished yet (e.g. processing); the step may pass later."""


class StepSkipped(Exception):
    """Nothing for this step to do (e.g. no batch was accepted); the message says why."""


def check(*names: str):
    """Register a step's check under its name in procedure.yaml (and procedure-j.yaml, where the J step of the
    same shape has its own name: one function serves both kinds, told apart by ``ctx.kind``)."""

    def register(fn: Callable[[Context], str]) -> Callable[[Context], str]:
        for name in names:
            CHECKS[name] = fn
        return fn

    return register


def _path(ctx: Context) -> Path:
    """The kind of organization's way through the procedure (F/M: I-17 and SEVP; J: DS-3036 and DoS)."""
    return PATHS[ctx.kind]


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise StepFailed(message)


# --------------------------------------------------------------------------------------------
# E-mail outbox
# --------------------------------------------------------------------------------------------
def _outbox_token(ctx: Context) -> str | None:
    """What reads the outbox (it holds Set Password links): the control token from connection.json, else
    a SEVP operator token (the console login); None for a mock run with --open-outbox and neither."""
    t = ctx.target
    if t.control_token:
        return t.control_token
    if ctx.state.sevp_token is None and t.sevp_user and t.sevp_password:
        body = ctx.api.call(
            "POST", f"{t.sevp_url}/api/login", json_body={"user": t.sevp_user, "password": t.sevp_password}
        )
        ctx.state.sevp_token = body.get("token")
    return ctx.state.sevp_token


def _messages(ctx: Context, to: str) -> list[dict]:
    body = ctx.api.call("GET", f"{ctx.target.outbox_url}/api/messages", params={"to": to}, token=_outbox_token(ctx))
    expect(
        isinstance(body, dict) and isinstance(body.get("messages"), list),
        f"the outbox answered without a `messages` list for {to}",
    )
    return body["messages"]


def wait_for_emails(ctx: Context, to: str, kinds: list[str]) -> dict[str, dict]:
    """The newest unseen message of each kind sent to `to`, waiting up to EMAIL_WAIT seconds."""
    deadline = time.monotonic() + EMAIL_WAIT
    while True:
        found: dict[str, dict] = {}
        for message in _messages(ctx, to):
            if message.get("id") in ctx.state.seen_emails or message.get("kind") not in kinds:
                continue
            found[message["kind"]] = message
        if len(found) == len(kinds) or time.monotonic() > deadline:
            break
        ctx.sleep(0.2)
    for message in found.values():
        ctx.state.seen_emails.add(message.get("id"))
        ctx.evidence.emails.append(
            Email(
                to=message.get("to", to),
                subject=message.get("subject", ""),
                kind=message.get("kind"),
                user_id=message.get("user_id"),
                links=[_hide_token(link) for link in message.get("links") or []],
                sent_at=message.get("sent_at"),
            )
        )
    missing = [kind for kind in kinds if kind not in found]
    expect(
        not missing,
        f"no {' / '.join(missing)} e-mail reached {to} within {EMAIL_WAIT:g} s "
        f"(the outbox at {ctx.target.outbox_url}?to={to} shows what was sent)",
    )
    return found


def _hide_token(link: str) -> str:
    return re.sub(r"(/set-password/)[^/?#]+", r"\1<token>", link)


def _set_password_link(message: dict, to: str) -> str:
    links = [link for link in message.get("links") or [] if "/set-password/" in link]
    expect(links, f"the set-password e-mail to {to} holds no Set Password link")
    return links[0]


def _token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/set-password/", 1)[1].split("?")[0]


# --------------------------------------------------------------------------------------------
# Steps 1-4: account
# --------------------------------------------------------------------------------------------
@check("open_registration")
def open_registration(ctx: Context) -> str:
    page = ctx.api.page(f"{ctx.target.rti_url}/")
    expect(page.status_code == 200, f"the RTI home page {ctx.target.rti_url}/ answered HTTP {page.status_code}")
    expect("text/html" in page.headers.get("Content-Type", ""), "the RTI home page is not an HTML page")
    expect(
        re.search(r"Register\s+for\s+New\s+Account", page.text, re.I),
        'the RTI home page does not offer "Register for New Account"',
    )
    ctx.note("RTI home page reached over TLS without a client certificate")
    return f"RTI home page {ctx.target.rti_url}/ offers Register for New Account"


@check("apply_for_certification", "apply_for_designation")
def apply_for_account(ctx: Context) -> str:
    contact, path = ctx.school["contact"], _path(ctx)
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
            "purpose": path.purpose,
        },
        expect=(201,),
    )
    user_id = body.get("temporary_user_id") or ""
    expect(len(user_id) == USER_ID_LENGTH, f"the temporary user ID {user_id!r} is not {USER_ID_LENGTH} characters")
    ctx.state.temporary_user_id = user_id
    ctx.evidence.ids["temporary_user_id"] = user_id
    purpose = " (designation as an Exchange Visitor Program)" if path is J_PATH else ""
    return f"temporary user ID {user_id} issued for {contact['email']}{purpose}"


@check("account_emails")
def account_emails(ctx: Context) -> str:
    to = ctx.school["contact"]["email"]
    found = wait_for_emails(ctx, to, ["temporary-user-id", "set-password"])
    announced = found["temporary-user-id"].get("user_id")
    expect(
        announced == ctx.state.temporary_user_id,
        f"the temporary-user-id e-mail announces {announced!r}, not {ctx.state.temporary_user_id}",
    )
    ctx.state.set_password_link = _set_password_link(found["set-password"], to)
    return f"2 e-mails to {to}: user ID {announced}, Set Password link"


def set_password(ctx: Context, link: str, password: str, user_id: str) -> None:
    token = _token_of(link)
    body = ctx.api.call(
        "POST", f"{link.split('/set-password/')[0]}/api/set-password", json_body={"token": token, "password": password}
    )
    expect(body.get("user_id") == user_id, f"Set Password answered for user {body.get('user_id')!r}, not {user_id}")
    try:
        ctx.api.call(
            "POST",
            f"{link.split('/set-password/')[0]}/api/set-password",
            json_body={"token": token, "password": password},
            expect=(410,),
        )
    except ApiError as exc:
        raise StepFailed(
            f"the Set Password link worked twice; it must be single-use (HTTP 410 the second time): {exc}"
        ) from exc


def login(ctx: Context, user_id: str, password: str) -> dict:
    body = ctx.api.call("POST", f"{ctx.target.rti_url}/api/login", json_body={"user_id": user_id, "password": password})
    expect(body.get("token"), f"login of {user_id} answered without a token")
    user = body.get("user") or {}
    expect(user.get("user_id") == user_id, f"login of {user_id} answered for user {user.get('user_id')!r}")
    return body


@check("set_password_and_login")
def set_password_and_login(ctx: Context) -> str:
    user_id = ctx.state.temporary_user_id
    password = password_for(user_id)
    set_password(ctx, ctx.state.set_password_link, password, user_id)
    ctx.state.temporary_password = password
    body = login(ctx, user_id, password)
    ctx.state.temporary_token = body["token"]
    ctx.note("the Set Password link was refused a second time (single use)")
    return f"password set (link single-use) and {user_id} logged in"


# --------------------------------------------------------------------------------------------
# Steps 5-8: Form I-17 and the Response Center
# --------------------------------------------------------------------------------------------
# what each form holds besides its officials, what must read back equal, and the list counted on the draft
FORM_FIELDS = {
    "F/M": (("school_name", "category", "campuses"), ("school_name",), "campuses"),
    "J": (
        ("sponsor_name", "program_type", "categories", "sites"),
        ("sponsor_name", "program_type", "categories"),
        "sites",
    ),
}
OFFICIAL_FIELDS = {
    "F/M": ("role", "first_name", "last_name", "email", "campus"),
    "J": ("role", "first_name", "last_name", "email"),
}


def _form_url(ctx: Context, suffix: str = "") -> str:
    return f"{ctx.target.rti_url}/api/{_path(ctx).api}/{ctx.state.petition_id}{suffix}"


def _form_body(ctx: Context, with_officials: bool) -> dict:
    """Form I-17 (F/M) or DS-3036 (J) as the school or sponsor file gives it."""
    given = ctx.school
    body: dict[str, Any] = {key: given[key] for key in FORM_FIELDS[ctx.kind][0]}
    if with_officials:
        body["officials"] = [{k: o[k] for k in OFFICIAL_FIELDS[ctx.kind]} for o in given["officials"]]
    return body


@check("fill_i17", "fill_ds3036")
def fill_form(ctx: Context) -> str:
    path, given = _path(ctx), ctx.school
    body = ctx.api.call(
        "POST",
        f"{ctx.target.rti_url}/api/{path.api}",
        json_body=_form_body(ctx, False),
        token=ctx.state.temporary_token,
        expect=(201,),
    )
    number = body.get(path.id_field)
    expect(number is not None, f"the new {path.form} has no {path.id_field}")
    expect(body.get("state") == "draft", f"a new {path.form} should be a draft, not {body.get('state')!r}")
    ctx.state.petition_id = number
    ctx.evidence.ids[path.id_field] = str(number)
    stored = ctx.api.call("GET", _form_url(ctx), token=ctx.state.temporary_token)
    _, equal, counted = FORM_FIELDS[ctx.kind]
    for key in equal:
        expect(stored.get(key) == given[key], f"the draft reads back {key} {stored.get(key)!r}, not {given[key]!r}")
    expect(
        len(stored.get(counted) or []) == len(given[counted]),
        f"the draft reads back {len(stored.get(counted) or [])} {counted}, not {len(given[counted])}",
    )
    if path is J_PATH:
        what = f"{given['program_type']}, categories {', '.join(given['categories'])}, {len(given['sites'])} site(s)"
    else:
        what = f"{len(given['campuses'])} campus(es)"
    return f"draft {path.form} {number} for {given[path.name_field]} ({what})"


@check("add_officials", "add_officers")
def add_officials(ctx: Context) -> str:
    ctx.api.call("PUT", _form_url(ctx), json_body=_form_body(ctx, True), token=ctx.state.temporary_token)
    stored = ctx.api.call("GET", _form_url(ctx), token=ctx.state.temporary_token)
    got = sorted((o.get("role", ""), o.get("email", "")) for o in stored.get("officials") or [])
    wanted = sorted((o["role"], o["email"]) for o in ctx.school["officials"])
    expect(got == wanted, f"the draft reads back officials {got}, not {wanted}")
    roles = ", ".join(f"{o['role']} {o['first_name']} {o['last_name']}" for o in ctx.school["officials"])
    return f"{len(wanted)} official(s) on the draft: {roles}"


@check("submit_i17", "submit_ds3036")
def submit_form(ctx: Context) -> str:
    form = _path(ctx).form
    body = ctx.api.call("POST", _form_url(ctx, "/submit"), token=ctx.state.temporary_token)
    expect(body.get("state") == "submitted", f"after submit the {form} is {body.get('state')!r}, not submitted")
    return f"{form} {ctx.state.petition_id} submitted"


@check("contact_response_center", "contact_help_desk")
def contact_help(ctx: Context) -> str:
    """The Response Center (F/M, with the school's category) or the help desk (J): a ticket linked to the form."""
    contact, path, given = ctx.school["contact"], _path(ctx), ctx.school
    request = {
        "organization_name": given["organization_name"],
        "contact_name": f"{contact['first_name']} {contact['last_name']}",
        "email": contact["email"],
        "phone": contact["phone"],
    }
    if path is not J_PATH:
        request["school_category"] = given["category"]
    request[path.name_field] = given[path.name_field]
    body = ctx.api.call(
        "POST",
        f"{ctx.target.rti_url}/api/{path.help}",
        json_body=request,
        token=ctx.state.temporary_token,
        expect=(201,),
    )
    desk = "Response Center" if path is not J_PATH else "help desk"
    expect(body.get("ticket") is not None, f"the {desk} answered without a ticket")
    expect(
        body.get(path.id_field) == ctx.state.petition_id,
        f"the {desk} linked the ticket to {path.form} {body.get(path.id_field)}, not {ctx.state.petition_id}",
    )
    ctx.state.ticket = body["ticket"]
    ctx.evidence.ids["ticket"] = str(body["ticket"])
    if path is J_PATH:
        return f"ticket {body['ticket']} for DS-3036 {ctx.state.petition_id} ({given['sponsor_name']})"
    category = {"F": "F only", "FM": "F and M", "M": "M only"}[given["category"]]
    return f"ticket {body['ticket']} ({category}, {given['school_name']})"


# --------------------------------------------------------------------------------------------
# Steps 9-11: approval, officials, batch registration
# --------------------------------------------------------------------------------------------
@check("sevp_approves", "dos_designates")
def decide(ctx: Context) -> str:
    """SEVP approves the I-17 (a school code per campus) or the Department of State designates the DS-3036 (a
    program number and its categories); each official gets a user ID."""
    t, path = ctx.target, _path(ctx)
    console = "SEVP console" if path is not J_PATH else "Department of State console"
    expect(
        t.sevp_user and t.sevp_password,
        f"no operator credentials for the {console}: give --sevp-user/--sevp-password or a connection file with "
        + ("`dos` or `sevp`" if path is J_PATH else "`sevp`"),
    )
    url = (t.dos_url or t.sevp_url.rsplit("/", 1)[0] + "/dos") if path is J_PATH else t.sevp_url
    body = ctx.api.call("POST", f"{url}/api/login", json_body={"user": t.sevp_user, "password": t.sevp_password})
    token = body.get("token")
    expect(token, f"the {console} login answered without a token")
    if path is not J_PATH:
        ctx.state.sevp_token = token
    listed = ctx.api.call("GET", f"{url}/api/{path.api}", params={"state": "submitted"}, token=token)
    ids = [str(x.get(path.id_field)) for x in listed.get(path.api) or []]
    expect(
        str(ctx.state.petition_id) in ids,
        f"{path.form} {ctx.state.petition_id} is not listed as submitted in the {console}",
    )
    decision = ctx.api.call(
        "POST",
        f"{url}/api/{path.api}/{ctx.state.petition_id}/{path.decide[0]}",
        json_body={"categories": ctx.school["categories"]} if path is J_PATH else None,
        token=token,
    )
    code, codes, summary = _designated(ctx, decision) if path is J_PATH else _approved(ctx, decision)
    ctx.state.school_code, ctx.state.campus_codes = code, codes
    ctx.evidence.ids["program_number" if path is J_PATH else "school_code"] = code
    word = "designation" if path is J_PATH else "approval"
    by_email = {o.get("email"): o for o in decision.get("officials") or []}
    ctx.state.officials = []
    for given in ctx.school["officials"]:
        issued = by_email.get(given["email"])
        expect(issued, f"the {word} issued no user ID for official {given['email']}")
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
                campus=given.get("campus", 0),
                user_id=issued["user_id"],
                campus_code=issued.get("program_number") if path is J_PATH else issued.get("campus_code"),
            )
        )
    for o in ctx.state.officials:
        ctx.evidence.ids[f"{o.role} {o.email}"] = o.user_id or ""
    return f"{summary}, {len(ctx.state.officials)} official user ID(s)"


def _approved(ctx: Context, approved: dict) -> tuple[str, list, str]:
    """(school code, campus codes, summary) of SEVP's approval, checked."""
    code = approved.get("school_code") or ""
    expect(
        SCHOOL_CODE.match(code) and code.endswith("000"),
        f"the school code {code!r} is not <AAA>214F<8 digits> ending in 000",
    )
    campuses = approved.get("campuses") or []
    expect(
        len(campuses) == len(ctx.school["campuses"]),
        f"approval gave {len(campuses)} campus code(s) for {len(ctx.school['campuses'])} campus(es)",
    )
    codes = [c.get("school_code") for c in campuses]
    ctx.evidence.ids.update({f"campus {i} ({ctx.school['campuses'][i]['name']})": c or "" for i, c in enumerate(codes)})
    return code, codes, f"I-17 approved: school code {code}"


def _designated(ctx: Context, decision: dict) -> tuple[str, list, str]:
    """(program number, [program number], summary) of the Department of State's designation, checked."""
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
    ctx.state.designated_categories = categories
    ctx.evidence.ids["designated categories"] = ", ".join(categories)
    return number, [number], f"DS-3036 designated: program number {number}, categories {', '.join(categories)}"


@check("officials_activate", "officers_activate")
def officials_activate(ctx: Context) -> str:
    decided = _path(ctx).decided[0]
    wait_for_emails(ctx, ctx.school["contact"]["email"], [decided])
    for official in ctx.state.officials:
        found = wait_for_emails(ctx, official.email, ["set-password"])
        message = found["set-password"]
        link = _set_password_link(message, official.email)
        announced = message.get("user_id")
        if announced is None:  # the user ID may come in its own e-mail
            announced = wait_for_emails(ctx, official.email, ["temporary-user-id"])["temporary-user-id"].get("user_id")
        expect(
            announced == official.user_id,
            f"the e-mail to {official.email} announces user ID {announced!r}, not {official.user_id}",
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
        f"{'approval' if decided == 'approved' else 'designation'} e-mail received; {len(ctx.state.officials)} "
        "official(s) set passwords and logged in: " + ", ".join(f"{o.role} {o.user_id}" for o in ctx.state.officials)
    )


def _certificate_for(ctx: Context, official: Official, is_main: bool):
    from .certs import issue_from_development_ca

    if is_main and ctx.college_certificate is not None:
        return ctx.college_certificate
    if ctx.target.ca_dir is None:
        raise StepFailed(
            f"no certificate for {official.campus_code}: give --cert/--key or --p12 (the main campus's "
            "PDSO registers it); extra campuses need a mock reachable locally to issue theirs"
        )
    return issue_from_development_ca(
        ctx.target.ca_dir, ctx.work_dir / "certs", org_id=official.campus_code, user_id=official.user_id
    )


@check("register_for_batch", "ro_registers_for_batch")
def register_for_batch(ctx: Context) -> str:
    """Each PDSO (or the RO) registers its campus's (program's) certificate; for a program, an ARO trying
    first is refused [i]."""
    refused = _aro_refused(ctx) if ctx.kind == "J" else ""
    return refused + _register_certificates(ctx)


def _aro_refused(ctx: Context) -> str:
    ro = ctx.main_pdso()
    aros = [o for o in ctx.state.officials if o.role == "ARO"]
    if not aros:
        return ""
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
    ctx.note(f"ARO {aros[0].user_id} tried to register the certificate and was refused: only the RO may [i]")
    return f"ARO {aros[0].user_id} refused (403); "


def _register_certificates(ctx: Context) -> str:
    from cryptography.hazmat.primitives import serialization
    import hashlib

    main = ctx.main_pdso()
    done = []
    for official in [o for o in ctx.state.officials if o.role in ("PDSO", "RO")]:
        certificate = _certificate_for(ctx, official, official is main)
        official.certificate = certificate
        body = ctx.api.call(
            "POST",
            f"{ctx.target.rti_url}/api/batch-registration",
            token=official.token,
            json_body={"org_id": official.campus_code, "certificate": certificate.pem, "accept_agreement": True},
        )
        der = certificate.leaf.public_bytes(serialization.Encoding.DER)
        expected = hashlib.sha256(der).hexdigest()
        got = (body.get("fingerprint") or "").replace(":", "").lower()
        expect(
            got == expected,
            f"batch registration of {official.campus_code} answered fingerprint {got!r}, "
            f"not the certificate's SHA-256 {expected}",
        )
        expect(
            body.get("org_id") == official.campus_code and body.get("user_id") == official.user_id,
            f"batch registration bound {body.get('org_id')}/{body.get('user_id')}, "
            f"not {official.campus_code}/{official.user_id}",
        )
        ctx.evidence.ids[f"certificate {official.campus_code}"] = f"{certificate.subject} (SHA-256 {expected[:16]}...)"
        ctx.note(
            f"{official.campus_code}: {certificate.source} certificate {certificate.subject}, valid until "
            f"{certificate.not_after}, registered for {official.user_id}; customer agreement accepted"
        )
        done.append(official.campus_code)
    return f"registered for batch: {', '.join(done)}"


# --------------------------------------------------------------------------------------------
# Steps 12-15: batches
# --------------------------------------------------------------------------------------------
def _client(ctx: Context) -> tuple[SevisClient, Official]:
    pdso = ctx.main_pdso()
    cert = pdso.certificate
    client = SevisClient(
        ctx.target.base_url,
        cert=(str(cert.cert_path), str(cert.key_path)),
        ca_bundle=ctx.target.ca_cert,
        environment=ctx.target.environment,
        timeout=60,
    )
    client._session.hooks["response"].append(lambda response, **_: _record_batch_exchange(ctx, response))
    return client, pdso


def _record_batch_exchange(ctx: Context, response) -> None:
    """Keep a batch upload/download as evidence: the reply's log text, or the zip's size and members."""
    body = response.content
    if body[:2] == b"PK":
        shown = f"zip, {len(body)} bytes"
    else:
        shown = body[:1200].decode("utf-8", "replace")
    request = response.request
    sent = None
    if request.method == "POST" and request.body is not None:
        sent = f"multipart/form-data, {len(request.body)} bytes (orgid, userid, batchid, xml)"
    ctx.evidence.exchanges.append(
        Exchange(
            request.method, request.url, response.status_code, sent, shown, int(response.elapsed.total_seconds() * 1000)
        )
    )


@check("upload_batches")
def upload_batches(ctx: Context) -> str:
    client, pdso = _client(ctx)
    refused = []
    with client:
        for name, xml, sample in ctx.batch_sources:
            batch_id = fresh_batch_id()
            filled: list[str] = []
            if SEVIS_PLACEHOLDER.search(xml):  # an update of records an earlier batch creates
                xml, filled = _fill_sevis_ids(ctx, client, xml, name)
            addressed, changes = readdress(
                xml, org_id=pdso.campus_code, user_id=pdso.user_id, batch_id=batch_id, source=name, kind=ctx.kind
            )
            changes = filled + changes
            batch = BatchFile(
                source=name,
                batch_id=batch_id,
                org_id=pdso.campus_code,
                user_id=pdso.user_id,
                xml=addressed,
                changes=changes,
                sample=sample,
            )
            ctx.batches.append(batch)
            ctx.note(f"{name} re-addressed to the test school: " + "; ".join(changes))
            try:
                result = client.upload(
                    addressed, org_id=batch.org_id, user_id=batch.user_id, batch_id=batch_id, filename=_file_name(name)
                )
            except SevisError as exc:
                raise StepFailed(f"uploading {name} failed: {exc}") from exc
            batch.upload_code = result.code
            ctx.evidence.uploads.append(
                {
                    "file": name,
                    "batch_id": batch_id,
                    "code": result.code,
                    "meaning": describe_code(result.code),
                    "reply": result.log.xml.decode("utf-8", "replace"),
                }
            )
            if result.code != "S0000":
                said = mock_detail(result.log.xml)
                refused.append(
                    f"{name} (BatchID {batch_id}): {result.code} {describe_code(result.code)}"
                    f"{f' ({said})' if said else ''}. Fix: {hint(result.code)}"
                )
    expect(not refused, "upload refused: " + " | ".join(refused))
    return f"{len(ctx.batches)} batch(es) uploaded, each answered S0000: " + ", ".join(b.batch_id for b in ctx.batches)


SEVIS_PLACEHOLDER = re.compile(rb"\{\{sevis:([^}]{1,20})\}\}")


def _fill_sevis_ids(ctx: Context, client: SevisClient, xml: bytes, name: str) -> tuple[bytes, list[str]]:
    """Replace each {{sevis:REQUESTID}} with the SEVIS ID an earlier batch's log gave that requestID,
    waiting for those batches to be processed first."""
    from sevis_mock.harness.client import parse_transaction_log

    given: dict[str, str] = {}
    for batch in [b for b in ctx.batches if b.upload_code == "S0000"]:
        try:
            result = client.wait_for_processing(
                org_id=batch.org_id,
                user_id=batch.user_id,
                batch_id=batch.batch_id,
                timeout=ctx.process_timeout,
                interval=ctx.poll_interval,
            )
        except SevisTimeout as exc:
            raise StepWaiting(
                f"{name} updates records of batch {batch.batch_id}, which was not processed after "
                f"{ctx.process_timeout:g} s (S0030); give --timeout"
            ) from exc
        batch.log_xml, batch.pdfs = result.log.xml, result.pdfs
        for record in parse_transaction_log(result.log.xml).records:
            if record.ok and record.sevis_id:
                given[record.request_id] = record.sevis_id
    wanted = [m.decode() for m in SEVIS_PLACEHOLDER.findall(xml)]
    missing = sorted({r for r in wanted if r not in given})
    expect(
        not missing,
        f"{name} updates the records of requestID {', '.join(missing)}, which no earlier batch created "
        "(see the records of the batches before it)",
    )
    filled = [f"sevisID of {r} -> {given[r]} (from the log of an earlier batch)" for r in dict.fromkeys(wanted)]
    return SEVIS_PLACEHOLDER.sub(lambda m: given[m.group(1).decode()].encode(), xml), filled


def mock_detail(log_xml: bytes) -> str | None:
    """What the mock adds to a refusal (an XML comment `sevis-mock: ...`); real SEVIS adds nothing."""
    from lxml import etree

    try:
        root = etree.fromstring(log_xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    for comment in root.iter(etree.Comment):
        text = (comment.text or "").strip()
        if text.startswith("sevis-mock:"):
            return re.sub(r"^S\d{4}:\s*", "", text[len("sevis-mock:") :].strip())
    return None


def _file_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base if len(base) <= 30 else base[-30:]


@check("batches_applied")
def batches_applied(ctx: Context) -> str:
    accepted = [b for b in ctx.batches if b.upload_code == "S0000"]
    if not accepted:
        raise StepSkipped("no batch was accepted at upload (step 12)")
    client, pdso = _client(ctx)
    with client:
        for batch in accepted:
            try:
                result = client.wait_for_processing(
                    org_id=batch.org_id,
                    user_id=batch.user_id,
                    batch_id=batch.batch_id,
                    timeout=ctx.process_timeout,
                    interval=ctx.poll_interval,
                )
            except SevisTimeout as exc:
                raise StepWaiting(
                    f"batch {batch.batch_id} not processed after {ctx.process_timeout:g} s (S0030); "
                    "download it again later or give --timeout"
                ) from exc
            except SevisError as exc:
                raise StepFailed(f"downloading {batch.batch_id} failed: {exc}") from exc
            batch.download_code = result.code
            expect(
                result.code == "S0000",
                f"download of {batch.batch_id} answered {result.code} {describe_code(result.code)}",
            )
            batch.log_xml, batch.pdfs = result.log.xml, result.pdfs
            batch.process_code = result.log.process.code if result.log.process else None
    created = {}
    for batch in accepted:
        for record in _log_records(batch, ctx):
            if record.ok and record.sevis_id:
                created[record.sevis_id] = record.request_id
    for batch in accepted:
        shown = ctx.api.call(
            "GET", f"{ctx.target.rti_url}/api/batches/{batch.org_id}/{batch.batch_id}", token=pdso.token
        )
        expect(
            shown.get("process_code") == batch.process_code,
            f"RTI shows batch {batch.batch_id} with process result {shown.get('process_code')!r}, but its log "
            f"says {batch.process_code}",
        )
    listed = ctx.api.call(
        "GET", f"{ctx.target.rti_url}/api/records", params={"org": pdso.campus_code}, token=pdso.token
    )
    seen = {r.get("sevis_id") for r in (listed.get("records", []) if isinstance(listed, dict) else listed)}
    absent = sorted(set(created) - seen)
    expect(not absent, f"records applied by the batch but not visible in RTI: {', '.join(absent)}")
    for sevis_id, request_id in created.items():
        ctx.evidence.ids[request_id] = sevis_id
    return (
        f"processed ({', '.join(f'{b.batch_id} {b.process_code}' for b in accepted)}); "
        f"{len(created)} record(s) visible in RTI"
    )


def _log_records(batch: BatchFile, ctx: Context):
    """The batch's records from its latest log (downloaded in step 13 or 15)."""
    from sevis_mock.harness.client import parse_transaction_log

    if batch.log_xml is None:
        client, _ = _client(ctx)
        with client:
            result = client.download(org_id=batch.org_id, user_id=batch.user_id, batch_id=batch.batch_id)
        batch.log_xml, batch.pdfs = result.log.xml, result.pdfs
    return parse_transaction_log(batch.log_xml).records


def _processed(ctx: Context) -> list[BatchFile]:
    return [b for b in ctx.batches if b.upload_code == "S0000"]


def _requests_in(xml: bytes) -> list[tuple[str, bool]]:
    """(requestID, printForm) of every principal record in an uploaded document."""
    from lxml import etree

    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    out = []
    for section in root:
        if not isinstance(section.tag, str) or etree.QName(section).localname == "BatchHeader":
            continue
        for record in section:
            if isinstance(record.tag, str) and record.get("requestID") is not None:
                out.append((record.get("requestID"), record.get("printForm") == "true"))
    return out


@check("transaction_log_recorded")
def transaction_log_recorded(ctx: Context) -> str:
    from sevis_mock.harness.client import parse_transaction_log

    totals = []
    for batch in _processed(ctx):
        _log_records(batch, ctx)
        log = parse_transaction_log(batch.log_xml)
        expect(log.process is not None, f"the log of {batch.batch_id} has no Process result")
        p = log.process
        requests = [r for r, _ in _requests_in(batch.xml)]
        expect(
            p.total == len(requests),
            f"{batch.batch_id}: RecordCount Total {p.total}, but the batch has {len(requests)} record(s)",
        )
        expect(
            p.success + p.failure == p.total,
            f"{batch.batch_id}: RecordCount Success {p.success} + Failure {p.failure} is not Total {p.total}",
        )
        logged = [r.request_id for r in log.records]
        missing = [r for r in requests if r not in logged]
        expect(not missing, f"{batch.batch_id}: no Record in the log for requestID {', '.join(missing)}")
        expect(
            p.failure == len(log.failures),
            f"{batch.batch_id}: RecordCount Failure {p.failure}, but {len(log.failures)} Record(s) failed",
        )
        expect(
            (p.code == "S0000") == (p.failure == 0),
            f"{batch.batch_id}: process result {p.code} does not agree with {p.failure} failure(s)",
        )
        ctx.evidence.log_excerpts.append(_excerpt(batch.log_xml))
        totals.append(f"{batch.batch_id}: process {p.code}, {p.success}/{p.failure}/{p.total}")
    return "; ".join(totals)


def _excerpt(xml: bytes, limit: int = 4000) -> str:
    text = xml.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text)} characters)"


@check("review_results")
def review_results(ctx: Context) -> str:
    from sevis_mock.harness.client import parse_transaction_log

    client, _ = _client(ctx)
    with client:
        for batch in _processed(ctx):
            result = client.download(org_id=batch.org_id, user_id=batch.user_id, batch_id=batch.batch_id)
            expect(
                result.code == "S0000",
                f"download of {batch.batch_id} answered {result.code} {describe_code(result.code)}",
            )
            batch.log_xml, batch.pdfs, batch.download_code = result.log.xml, result.pdfs, result.code
    missing_forms = []
    for batch in _processed(ctx):
        log = parse_transaction_log(batch.log_xml)
        printed = dict(_requests_in(batch.xml))
        for record in log.records:
            forms = sorted(name for name in batch.pdfs if record.sevis_id and record.sevis_id in name)
            code = None if record.ok else (record.error_code or "unknown")
            ctx.records.append(
                RecordOutcome(
                    batch_file=batch.source,
                    batch_id=batch.batch_id,
                    org_id=batch.org_id,
                    request_id=record.request_id,
                    sevis_id=record.sevis_id,
                    ok=record.ok,
                    code=code,
                    message=None if record.ok else (record.error_message or catalogue_message(code)),
                    hint=None if record.ok else hint(code),
                    forms=[f"{n}.pdf" if not n.endswith(".pdf") else n for n in forms],
                )
            )
            if record.ok and printed.get(record.request_id) and not forms:
                missing_forms.append(f"{record.request_id} ({record.sevis_id})")
    rejected = [r for r in ctx.records if not r.ok]
    ok = len(ctx.records) - len(rejected)
    forms = sum(len(r.forms) for r in ctx.records)
    expect(not missing_forms, f'printForm="true" but no form in the zip for {", ".join(missing_forms)}')
    if rejected:
        raise StepFailed(
            f"{len(rejected)} of {len(ctx.records)} record(s) rejected: "
            + "; ".join(f"{r.request_id} {r.code} {r.message}" for r in rejected)
        )
    return f"{ok} record(s) applied, 0 rejected; {forms} form(s) in the zip"
