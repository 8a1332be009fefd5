"""The procedure machine's model without a server: what SEVIS answers each action in each state, the procedure's
next step along both paths (F/M and J, one implementation), the forms, and the check of a processed batch's log.

The walk below plays SEVIS's part from the model's own replies (user IDs, codes), so the whole procedure of
both paths runs in milliseconds; the server-backed machine (tests/test_procedure_machine.py) then only has to
show that the mock answers as this model says.
"""

from __future__ import annotations

import itertools

import pytest
from lxml import etree

from sevis_mock.harness.procedure_model import (
    ADVANCE,
    FM_PATH,
    J_PATH,
    LINK_LIFETIME,
    PATHS,
    STRONG_PASSWORD,
    UNKNOWN_PROGRAM,
    Batch,
    Model,
    ProcedureMismatch,
    batch_results,
    ds3036_form,
    i17_form,
)

_ids = itertools.count(1)


def sevis(model: Model, name: str, args: dict) -> None:
    """Apply ``name`` to the model as SEVIS would answer it when the model says it succeeds (a stand-in for the
    mock: fresh IDs, codes shaped as SEVIS shapes them)."""
    u = model.users[args["user"] - 100] if "user" in args else None
    if name in ("register_account", "register_sponsor_account"):
        path = FM_PATH if name == "register_account" else J_PATH
        _, email = model.account(path)
        model.account_registered(path, email, f"TMP{next(_ids):07d}")
    elif name == "set_password":
        outcome, link = model.set_password_outcome(u, True, True)
        assert outcome.status == 200, outcome
        model.password_set(u, link, STRONG_PASSWORD)
    elif name == "login":
        assert model.login_outcome(u, True) == 200
        u.token, u.token_at = f"token{next(_ids)}", model.now
    elif name.startswith("fill_"):
        path = FM_PATH if name == "fill_i17" else J_PATH
        owner = model.users[args["owner"] - 100]
        app = model.draft(owner, path)
        form = (
            i17_form(app, args["category"], args["campuses"], args["officials"], args["fault"])
            if path is FM_PATH
            else ds3036_form(app, args["program_type"], args["fault"])
        )
        assert model.fill_outcome(owner, app).status == 201
        model.filled(app, next(_ids), *form)
    elif name.startswith("submit_"):
        path = FM_PATH if name == "submit_i17" else J_PATH
        owner = model.users[args["owner"] - 100]
        app = model.latest(owner, path)
        outcome = model.submit_outcome(owner, app, path)
        model.submitted(app, outcome, {"missing": sorted(app.missing), "invalid": sorted(app.invalid)})
    elif name in ("response_center", "help_desk"):
        path = FM_PATH if name == "response_center" else J_PATH
        app = model.of(path)[args[path.noun_arg]]
        assert model.help_outcome(path, app, False, False).status == 201
        app.tickets += 1
    elif name in ("sevp_decide", "dos_decide"):
        path = FM_PATH if name == "sevp_decide" else J_PATH
        app = model.of(path)[args[path.noun_arg]]
        assert model.decide_outcome(app, True).status == 200
        model.decided(app, True, decision(app))
    elif name == "register_batch":
        org_id = model.org_choice(args["org"], u)
        outcome = model.register_batch_outcome(u, org_id, args["cert"], args["agree"])
        assert outcome.status == 200, outcome
        model.batch_registered(u, org_id, args["cert"])
    elif name == "upload":
        org_id = model.org_choice(args["org"], u)
        cert = model.presented(org_id, u, args["cert"])
        batch_id = f"PM{model.fresh():012d}"
        assert model.upload_code(org_id, u, cert, batch_id, "S0000") == ("S0000", None)
        path = FM_PATH if org_id[0] != "P" else J_PATH
        creates = {f"{path.rule_code}-0001", f"{path.rule_code}-0002"}
        model.uploaded(Batch(org_id, batch_id, u, cert, path.rule_kind, 2, creates))
    elif name == "process_now":
        for b in model.batches:
            if not b.processed:
                model.processed(b, ((min(b.creates), "true", None), (max(b.creates), "false", "S1009")))
    else:
        raise AssertionError(f"the procedure never asks for {name}")


def decision(app) -> dict:
    """SEVP's approval or the Department of State's designation as the mock's JSON API gives it."""
    n = next(_ids)
    if app.path is FM_PATH:
        main = f"ABC214F{n % 100000:05d}000"
        campuses = [{"school_code": f"{main[:12]}{k:03d}"} for k in range(len(app.body["campuses"]))]
        codes = [c["school_code"] for c in campuses]
        officials = [
            {**o, "user_id": f"OFF{next(_ids):07d}", "campus_code": codes[o["campus"]]} for o in app.body["officials"]
        ]
        return {"school_code": main, "campuses": campuses, "officials": officials}
    number = f"{app.body['program_type']}-{n % 100000:05d}"
    officials = [{**o, "user_id": f"OFF{next(_ids):07d}", "program_number": number} for o in app.body["officials"]]
    return {"program_number": number, "categories": app.body["categories"], "officials": officials}


@pytest.mark.parametrize("path", [FM_PATH, J_PATH], ids=["F/M", "J"])
def test_the_progress_steps_reach_a_processed_batch_along_each_path(path):
    """The same next-step implementation takes a college and a sponsor from an account to a processed batch,
    through the fifteen steps in the procedure's order."""
    m = Model()
    sponsor = path is J_PATH
    steps = []
    for _ in range(60):
        name, args = m.next_step(sponsor=sponsor)
        steps.append(name)
        sevis(m, name, args)
        if m.done(path):
            break
    assert m.done(path), steps
    form = "i17" if path is FM_PATH else "ds3036"
    register = "register_account" if path is FM_PATH else "register_sponsor_account"
    assert steps[:6] == [register, "set_password", "login", f"fill_{form}", f"submit_{form}", path.help_action]
    assert steps[-3:] == ["register_batch", "upload", "process_now"]
    batch = m.batches[-1]
    assert m.records[batch.org_id] == 1 and batch.kind == path.rule_kind


def test_a_path_done_yields_to_the_other():
    m = Model()
    for _ in range(60):
        sevis(m, *m.next_step())
        if m.done(FM_PATH):
            break
    assert m.next_step() == ("register_sponsor_account", {})


def test_a_refused_form_is_filled_again_and_submitted():
    m = Model()
    for name, args in [("register_account", {}), ("set_password", {"user": 101}), ("login", {"user": 101})]:
        sevis(m, name, args)
    owner = m.users[1]
    app = m.draft(owner, FM_PATH)
    m.filled(app, 7, *i17_form(app, "F", 2, 2, "no-zip"))
    assert m.next_step() == ("submit_i17", {"owner": 101})
    outcome = m.submit_outcome(owner, app, FM_PATH)
    assert (outcome.action, outcome.status) == ("submit_i17 incomplete", 400)
    with pytest.raises(ProcedureMismatch, match=r"submit_i17 incomplete: refused naming .*SEVIS should name"):
        m.submitted(app, outcome, {"missing": ["school_name"]})
    assert m.next_step()[0] == "fill_i17"


@pytest.mark.parametrize(
    "fault, missing",
    [
        ("no-school-name", {"school_name"}),
        ("no-zip", {"campuses[1].address.zip"}),
        ("no-pdso", {"officials: a PDSO for the main campus"}),
        ("none", set()),
    ],
)
def test_an_i17_names_what_it_lacks(fault, missing):
    m = Model()
    app = m.draft(m.users[0], FM_PATH)
    body, got, invalid = i17_form(app, "FM", 2, 2, fault)
    assert got == missing and invalid == set() and len(body["campuses"]) == 2


@pytest.mark.parametrize(
    "fault, missing, invalid",
    [
        ("no-ro", {"officials: a Responsible Officer (RO)"}, set()),
        ("no-site", {"sites: at least the program's main site"}, set()),
        ("forbidden-category", set(), {"categories: 13 (Au Pair)"}),
        ("none", set(), set()),
    ],
)
def test_a_ds3036_names_what_it_lacks_or_may_not_ask(fault, missing, invalid):
    m = Model()
    body, got, bad = ds3036_form(m.draft(m.users[0], J_PATH), "P-3", fault)
    assert got == missing and {b.split(" is not")[0] for b in bad} == invalid
    assert (body["program_type"] == "P-1") == (fault == "forbidden-category")


def test_login_failures_lock_then_the_lock_ends():
    m = Model()
    sevis(m, "register_account", {})
    sevis(m, "set_password", {"user": 101})
    u = m.users[1]
    assert [m.login_outcome(u, False) for _ in range(5)] == [401, 401, 401, 401, 429]
    assert m.login_outcome(u, True) == 429
    m.now += 31 * 60
    assert m.login_outcome(u, True) == 200 and u.failed == 0


def test_set_password_links_are_single_use_and_expire():
    m = Model()
    sevis(m, "register_account", {})
    u = m.users[1]
    m.now += LINK_LIFETIME
    assert m.set_password_outcome(u, True, True)[0].action == "set_password expired link"
    m.new_link(u, u.email)
    assert m.set_password_outcome(u, True, False)[0].status == 400
    outcome, link = m.set_password_outcome(u, True, True)
    m.password_set(u, link, STRONG_PASSWORD)
    assert m.set_password_outcome(u, True, True)[0].action == "set_password used link"
    assert m.set_password_outcome(m.users[0], True, True)[0].status == 404  # the seeded PDSO has no link
    with pytest.raises(ProcedureMismatch, match="new link e-mailed to"):
        m.new_link(u, "someone@else.example")


def test_uploads_are_refused_in_the_mock_s_check_order():
    m = Model()
    seeded = m.users[0]
    assert m.upload_code(seeded.org_id, seeded, "seeded", "PM000000000001", "S0000") == ("S0000", None)
    m.uploaded(Batch(seeded.org_id, "PM000000000001", seeded, "seeded", "good", 1, {"FMDEP-0001"}))
    assert m.upload_code(seeded.org_id, seeded, "seeded", "PM000000000001", "S0000")[0] == "S0010"
    assert m.upload_code(seeded.org_id, seeded, "c0", "PM000000000002", "S0000") == (
        "S0002",
        "certificate registered nowhere",
    )
    assert m.upload_code(UNKNOWN_PROGRAM, seeded, "seeded", "PM000000000003", "S0000") == (
        "S0002",
        "upload to a program number before designation",
    )
    m.now += ADVANCE
    assert m.upload_code(seeded.org_id, seeded, "seeded", "PM000000000004", "S0013") == (
        "S0003",
        "user inactive 45 days",
    )
    assert m.download_code(m.batches[0]) == "S0003"


def test_batch_registration_outcomes():
    m = Model()
    for name, args in [("register_account", {}), ("set_password", {"user": 101}), ("login", {"user": 101})]:
        sevis(m, name, args)
    temp, seeded = m.users[1], m.users[0]
    assert m.register_batch_outcome(seeded, seeded.org_id, "c0", True).status == 401  # never logged in to RTI
    assert m.register_batch_outcome(temp, "ZZZ214F99999000", "c0", True).status == 404
    assert m.register_batch_outcome(temp, seeded.org_id, "c0", True).status == 403
    seeded.token, seeded.token_at = "t", m.now
    assert m.register_batch_outcome(seeded, seeded.org_id, "expired", True).status == 400
    assert m.register_batch_outcome(seeded, seeded.org_id, "c0", False).status == 400
    assert m.register_batch_outcome(seeded, seeded.org_id, "c0", True).status == 200


def test_decisions_are_checked_against_the_form():
    m = Model()
    app = m.draft(m.users[0], J_PATH)
    m.filled(app, 3, *ds3036_form(app, "P-3", "none"))
    app.state = "submitted"
    reply = decision(app)
    with pytest.raises(ProcedureMismatch, match="program number 'P-1-00001' is not P-3- and five digits"):
        m.decided(app, True, {**reply, "program_number": "P-1-00001"})
    assert m.decide_outcome(app, True).action == "DoS designate"
    m.decided(app, True, reply)
    assert app.state == "designated" and app.program == reply["program_number"]
    assert {u.role for u in m.users if u.org_id == app.program} == {"RO", "ARO"}
    assert m.decide_outcome(app, True).action == "DoS designate a designated DS-3036"


def log(records: list[tuple[str, bool, str | None]], counts: tuple[int, int, int] | None = None) -> etree._Element:
    root = etree.fromstring("<TransactionLog><BatchDetail><Process/></BatchDetail></TransactionLog>")
    process = root.find("BatchDetail/Process")
    failures = sum(1 for _, ok, _ in records if not ok)
    process.set("resultCode", "S0020" if failures else "S0000")
    success, failure, total = counts or (len(records) - failures, failures, len(records))
    count = etree.SubElement(process, "RecordCount")
    for tag, n in (("Success", success), ("Failure", failure), ("Total", total)):
        etree.SubElement(count, tag).text = str(n)
    for request_id, ok, code in records:
        record = etree.SubElement(process, "Record", requestID=request_id)
        result = etree.SubElement(record, "Result", status="true" if ok else "false")
        if code:
            etree.SubElement(result, "ErrorCode").text = code
    return root


@pytest.mark.parametrize("path", list(PATHS.values()), ids=list(PATHS))
def test_the_rule_failure_fixture_must_apply_one_record_and_refuse_the_other(path):
    seeded = Model().users[0]
    first, second = f"{path.rule_code}-0001", f"{path.rule_code}-0002"
    b = Batch("X", "PM000000000001", seeded, "seeded", path.rule_kind, 2, {first, second})
    assert batch_results(b, log([(first, True, None), (second, False, path.rule_code)])) == (
        (first, "true", None),
        (second, "false", path.rule_code),
    )
    with pytest.raises(ProcedureMismatch, match=f"the {path.rule_code} batch gave"):
        batch_results(b, log([(first, True, None), (second, False, "S9999")]))
    with pytest.raises(ProcedureMismatch, match="RecordCount 1/0/2"):
        batch_results(b, log([(first, True, None), (second, False, path.rule_code)], counts=(1, 0, 2)))
    with pytest.raises(ProcedureMismatch, match="process S0020 with 0 failures; SEVIS answers S0000"):
        batch_results(b, log([(first, True, None), (second, False, path.rule_code)], counts=(2, 0, 2)))
