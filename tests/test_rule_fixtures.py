"""Every rule fixture (fixtures/rules/fm and fixtures/rules/j), each case through the server's application.

Each case uploads its steps in order; earlier steps must succeed entirely; the last step's records must end with
the expected code and exactly the catalogue's message (placeholders filled), in a log valid against the
official TransLog XSD. Clock at RULE_FIXTURE_CLOCK, processing at once.

Every case runs in this process (tests/support/inprocess.py: the same application, its batch endpoints and control
API, without sockets); a sample of them (``WIRE_SAMPLE``: every tenth case, and cases that need the control API or
a clock change) runs again through a real `sevis-mock serve` over mutual TLS, which shows the two paths agree.
"""

from __future__ import annotations

import re
import time

import pytest

from sevis_mock.fixtures.rules import RULE_FIXTURE_CLOCK, RuleCase, load_cases
from sevis_mock.server.catalog import catalogue
from sevis_mock.server.clock import MockClock, parse_iso
from tests.support.inprocess import InProcessServer
from tests.support.server import new_batch_id, open_store, start_server

CASES = load_cases()
# every tenth case, with at least one that makes control API calls and one that moves the clock
WIRE_SAMPLE = CASES[::10]
WIRE_SAMPLE += [
    next(c for c in CASES if c.control and c not in WIRE_SAMPLE),
    next(c for c in CASES if c.clock and c not in WIRE_SAMPLE),
]


@pytest.fixture(scope="module")
def rule_server(tmp_path_factory):
    # 2 workers: the clock a case sets in the store (MockClock) is the clock of whichever worker takes the batch
    server = start_server(
        tmp_path_factory.mktemp("rules"), "--clock", RULE_FIXTURE_CLOCK, "--processing-delay", "0", "--workers", "2"
    )
    server.clock = MockClock(open_store(server))
    server.clock_at = RULE_FIXTURE_CLOCK
    yield server
    server.stop(wait=False)


@pytest.fixture(scope="module")
def rules_app(tmp_path_factory):
    server = InProcessServer(tmp_path_factory.mktemp("rules-app"), clock=parse_iso(RULE_FIXTURE_CLOCK))
    server.clock_at = RULE_FIXTURE_CLOCK
    yield server
    server.stop()


def _set_clock(server, when: str) -> None:
    """The mock clock for the next step (left alone when already there, so time runs on as usual)."""
    if server.clock_at != when:
        server.clock.set(parse_iso(when))
        server.clock_at = when


def _message_pattern(code: str) -> re.Pattern[str]:
    """The catalogue message with each ``[placeholder]`` or ``{n}`` standing for some non-empty filled text."""
    parts = re.split(r"\[[^\]]+\]|\{\d+\}", catalogue()[code].message)
    return re.compile("(?s)" + ".+?".join(re.escape(p) for p in parts))


def _wait_processed(server, org: dict, batch_id: str, timeout: float = 30):
    """Like RunningServer.wait_processed, polling every 20 ms: processing is immediate here."""
    deadline = time.monotonic() + timeout
    while True:
        reply = server.download(org=org, batch_id=batch_id)
        if reply.download_code != "S0030" or time.monotonic() > deadline:
            return reply
        time.sleep(0.02)


def _run_step(server, case: RuleCase, n: int, sevis_ids: dict, dependent_ids: dict, site_ids: dict):
    org = server.org(case.kind)
    _set_clock(server, case.clock_for(n))
    for method, path, body in case.control_calls(n, sevis_ids, dependent_ids, site_ids):
        server.control(method, path, body)
    batch_id = new_batch_id("R")
    xml = case.render(n, batch_id, sevis_ids, dependent_ids, site_ids)
    upload = server.upload(xml, org=org, batch_id=batch_id)
    assert upload.upload_code == "S0000", f"{case.case_id} step {n}: upload {upload.upload_code}\n{upload.raw.decode()}"
    reply = _wait_processed(server, org, batch_id)
    assert reply.process_code in ("S0000", "S0020"), reply.raw.decode()
    for record in reply.log.iterfind("BatchDetail/Process/Record"):
        request_id = record.get("requestID")
        if record.get("sevisID"):
            sevis_ids.setdefault(request_id, record.get("sevisID"))
        deps = [d.get("dependentSevisID") for d in record.iterfind("Dependent")]
        if deps:
            dependent_ids.setdefault(request_id, deps)
        sites = [s.findtext("SiteId") for s in record.iterfind("SiteOfActivity")]
        if sites:
            site_ids.setdefault(request_id, sites)
    return reply


def _outcome(record) -> tuple[str | None, str | None]:
    result = record.find("Result")
    if result.get("status") == "true":
        return None, None
    return result.findtext("ErrorCode"), result.findtext("ErrorMessage")


def _run_case(server, case: RuleCase) -> None:
    try:
        _check_case(server, case)
    finally:  # the seeded organization's profile back to its defaults (a case may change it)
        if any("profile" in call["path"] for calls in case.control.values() for call in calls):
            server.control("DELETE", f"orgs/{case.org_id}/profile")


def _check_case(server, case: RuleCase) -> None:
    sevis_ids: dict[str, str] = {}
    dependent_ids: dict[str, list[str]] = {}
    site_ids: dict[str, list[str]] = {}
    for n in range(len(case.steps) - 1):
        reply = _run_step(server, case, n, sevis_ids, dependent_ids, site_ids)
        failed = {
            r.get("requestID"): _outcome(r)
            for r in reply.log.iterfind("BatchDetail/Process/Record")
            if _outcome(r)[0] is not None
        }
        assert not failed, f"{case.case_id}: setup step {case.steps[n]} must succeed, got {failed}"
    reply = _run_step(server, case, len(case.steps) - 1, sevis_ids, dependent_ids, site_ids)
    for request_id, expected in case.expect.items():
        code, message = _outcome(reply.record(request_id))
        assert code == expected, f"{case.case_id}: {request_id} got {code} {message!r}, expected {expected}"
        if expected is not None:
            tokens = re.findall(r"\[[^\]]+\]", catalogue()[expected].message)
            assert not [t for t in tokens if t in message], f"unfilled placeholder in {message!r}"
            assert _message_pattern(expected).fullmatch(message), (message, catalogue()[expected].message)


# the whole set takes about half a minute: the quick subset (-m "not slow") keeps the cases the wire sample holds
IN_PROCESS = [case if case in WIRE_SAMPLE else pytest.param(case, marks=pytest.mark.slow) for case in CASES]


@pytest.mark.parametrize("case", IN_PROCESS, ids=[c.case_id for c in CASES])
def test_rule_fixture(rules_app, case: RuleCase):
    _run_case(rules_app, case)


@pytest.mark.parametrize("case", WIRE_SAMPLE, ids=[c.case_id for c in WIRE_SAMPLE])
def test_rule_fixture_over_the_wire(rule_server, case: RuleCase):
    _run_case(rule_server, case)
