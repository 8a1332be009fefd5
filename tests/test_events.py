"""Every F/M and J update event and sub-action, applied by a real server over mutual TLS.

The walks in fixtures/events/*.steps create records, then upload update batches; after each batch the
stored record (read through /control/records) must show the change and a history entry per event.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import update
from pypdf import PdfReader

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.records.events import APPLIERS
from sevis_mock.server.store import Official
from tests.support.server import assert_valid_log, new_batch_id, open_store, start_server, with_batch_id

EVENTS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "events"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ROOTS = {
    "F/M": ("SEVISBatchCreateUpdateStudent", "UpdateStudent", "Student", "Create-UpdateStudent.xsd"),
    "J": ("SEVISBatchCreateUpdateEV", "UpdateEV", "ExchangeVisitor", "Create-UpdateExchangeVisitor.xsd"),
}
CREATE_CLOCK = "2027-01-05T09:00:00"  # the walks' records are created before their programs start
UPDATE_CLOCK = "2027-01-20T09:00:00"


# --- the walk files ---------------------------------------------------------------------------------


@dataclass
class Step:
    batch: int
    record: str
    event: str
    status: str
    checks: list[str]
    xml: str  # the event element, placeholders unfilled
    clock: str | None = None  # the mock clock to set before this step's batch


@dataclass
class AgencyCall:
    """Another agency's event (``<Agency batch= record= event= field=.../>``) posted before a batch's upload."""

    batch: int
    record: str
    body: dict


def load_agency(name: str) -> list[AgencyCall]:
    root = etree.parse(str(EVENTS_DIR / name)).getroot()
    return [
        AgencyCall(
            int(el.get("batch")), el.get("record"), {k: v for k, v in el.attrib.items() if k not in ("batch", "record")}
        )
        for el in root.iterfind("Agency")
    ]


def load_walk(name: str) -> tuple[str, list[Step]]:
    root = etree.parse(str(EVENTS_DIR / name)).getroot()
    steps = []
    for el in root.iterfind("Step"):
        event = next(c for c in el if isinstance(c.tag, str))
        steps.append(
            Step(
                int(el.get("batch")),
                el.get("record"),
                el.get("event"),
                el.get("status"),
                [c for c in el.get("check", "").split(";") if c],
                etree.tostring(event, encoding="unicode", with_tail=False),
                el.get("clock"),
            )
        )
    return root.get("kind"), steps


def update_batch(kind: str, org: dict, batch_id: str, updates: list[tuple[str, str, str]]) -> bytes:
    """An update document: ``updates`` are (sevisID, requestID, event element XML)."""
    root, update, principal, xsd = ROOTS[kind]
    records = "\n".join(
        f'<{principal} sevisID="{sid}" requestID="{rid}" userID="{org["user_id"]}">{xml}</{principal}>'
        for sid, rid, xml in updates
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns:xsi="{XSI}" xsi:noNamespaceSchemaLocation="{xsd}" '
        f'userID="{org["user_id"]}"><BatchHeader><BatchID>{batch_id}</BatchID><OrgID>{org["org_id"]}</OrgID>'
        f"</BatchHeader><{update}>{records}</{update}></{root}>"
    ).encode()


# --- talking to the server ----------------------------------------------------------------------------


def control(server, method: str, path: str, **kw):
    org = server.org("F/M")
    with server.session((org["client_cert"], org["client_key"])) as s:
        r = s.request(
            method,
            f"{server.base_url}/control/{path}",
            timeout=60,
            headers={"Authorization": f"Bearer {server.info['control']['token']}"},
            **kw,
        )
    return r


def move_clock(server, now: str) -> None:
    """Set the mock clock, with the officials logged in to RTI that day (so none is inactive)."""
    r = control(server, "POST", "clock", json={"now": now})
    assert r.status_code == 200, r.text
    store = open_store(server)
    with store.write() as s:
        s.execute(update(Official).values(last_login_at=datetime.fromisoformat(now).replace(tzinfo=UTC)))
    store.engine.dispose()


def record(server, sevis_id: str) -> dict:
    r = control(server, "GET", f"records/{sevis_id}")
    assert r.status_code == 200, r.text
    return r.json()


def upload_and_process(server, kind: str, xml: bytes, batch_id: str):
    org = server.org(kind)
    up = server.upload(xml, org=org, batch_id=batch_id)
    assert up.upload_code == "S0000", up.raw.decode()
    reply = server.wait_processed(org=org, batch_id=batch_id)
    assert reply.process_code in ("S0000", "S0020"), reply.raw.decode()
    assert_valid_log(reply.raw)
    return reply


def on_walk_calendar(xml: bytes) -> bytes:
    """The catalog fixtures start their programs in 2030 (so they stay acceptable on the real clock); the
    walks are written for programs starting in January 2027, so their dates move back three years."""
    return re.sub(rb"\b(20[3-9]\d)-(\d\d-\d\d)\b", lambda m: b"%d-%s" % (int(m.group(1)) - 3, m.group(2)), xml)


def create(server, kind: str, fixture: str) -> tuple[str, list[str], str]:
    """Upload a create fixture (fresh names); returns (SEVIS ID, dependent IDs, stored last name)."""
    # The fixtures' people are made new by with_batch_id (fresh last names), so repeats are no duplicates.
    batch_id = new_batch_id("C")
    xml = read_fixture(fixture)
    if not fixture.startswith("events/"):
        xml = on_walk_calendar(xml)
    reply = upload_and_process(server, kind, with_batch_id(xml, batch_id), batch_id)
    assert reply.process_code == "S0000", reply.raw.decode()
    rec = reply.log.find("BatchDetail/Process/Record")
    deps = [d.get("dependentSevisID") for d in rec.iterfind("Dependent")]
    view = record(server, rec.get("sevisID"))
    return rec.get("sevisID"), deps, view["surname"]


# --- checks on the stored record ------------------------------------------------------------------------


def resolve(data, path: str):
    """Follow ``path`` (tags, "@attr") through record data; a repeated element means its last entry."""
    node = data
    for part in path.split("/"):
        if isinstance(node, list):
            node = node[-1]
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, list):
        node = node[-1]
    if isinstance(node, dict) and "#text" in node:
        node = node["#text"]
    return node


def check(view: dict, spec: str, names: dict[str, str]) -> None:
    path, _, expected = spec.partition("=")
    if path.startswith("dep:"):
        dep_id = names[path[4:]]
        status = {d["sevis_id"]: d["status"] for d in view["dependents"]}.get(dep_id)
        assert status == expected, f"dependent {path[4:]} ({dep_id}) is {status}, expected {expected}"
        return
    if path.startswith("."):
        assert view[path[1:]] == expected, f"{path[1:]} is {view[path[1:]]!r}, expected {expected!r}"
        return
    (doc,) = view["data"].values()
    found = resolve(doc, path)
    if expected == "!":
        assert found is None, f"{path} should be cleared, found {found!r}"
    else:
        assert found == expected, f"{path} is {found!r}, expected {expected!r}"


def fill(xml: str, names: dict[str, str]) -> str:
    return re.sub(r"\{([\w.]+)\}", lambda m: names[m.group(1)], xml)


def run_walk(server, walk: str, creates: dict[str, str]) -> set[str]:
    kind, steps = load_walk(walk)
    ids: dict[str, str] = {}
    names: dict[str, str] = {}
    surnames: dict[str, str] = {}
    move_clock(server, CREATE_CLOCK)
    for alias, fixture in creates.items():
        sevis_id, deps, surname = create(server, kind, fixture)
        ids[alias], surnames[alias] = sevis_id, surname
        dep_surnames = {d["sevis_id"]: d["surname"] for d in record(server, sevis_id)["dependents"]}
        for n, dep_id in enumerate(deps, start=1):
            names[f"{alias}.dep{n}"], names[f"{alias}.dep{n}.surname"] = dep_id, dep_surnames[dep_id]
    names["dep1"] = names.get("A.dep1", "")
    move_clock(server, UPDATE_CLOCK)
    history_len = {alias: len(record(server, sid)["history"]) for alias, sid in ids.items()}
    by_batch: dict[int, list[Step]] = defaultdict(list)
    for step in steps:
        by_batch[step.batch].append(step)
    agency_before: dict[int, list[AgencyCall]] = defaultdict(list)
    for call in load_agency(walk):
        agency_before[call.batch].append(call)
    walked: set[str] = set()
    for number in sorted(by_batch):
        batch = by_batch[number]
        for step in batch:
            if step.clock:
                move_clock(server, step.clock)
        posted: dict[str, list[str]] = defaultdict(list)
        for call in agency_before[number]:
            r = control(server, "POST", f"records/{ids[call.record]}/agency-events", json=call.body)
            assert r.status_code == 201, r.text
            posted[call.record].append("Agency/" + call.body["event"])
        batch_id = new_batch_id("W")
        updates = []
        for n, step in enumerate(batch):
            xml = fill(step.xml, {**names, "surname": surnames[step.record]})
            updates.append((ids[step.record], f"W{number}-{n:02d}", xml))
        reply = upload_and_process(server, kind, update_batch(kind, server.org(kind), batch_id, updates), batch_id)
        for n, step in enumerate(batch):
            rec = reply.record(f"W{number}-{n:02d}")
            result = rec.find("Result")
            assert result.get("status") == "true", (
                f"batch {number} step {step.event} on {step.record} refused: "
                f"{result.findtext('ErrorCode')} {result.findtext('ErrorMessage')}"
            )
            if step.event == "Dependent/Add":
                names["dep2"] = names[f"{step.record}.dep2"] = rec.find("Dependent").get("dependentSevisID")
        assert reply.process_code == "S0000"
        count = reply.log.find("BatchDetail/Process/RecordCount")
        assert [count.findtext(t) for t in ("Success", "Failure", "Total")] == [
            "%d" % len(batch),
            "0",
            "%d" % len(batch),
        ]
        for alias in {s.record for s in batch}:
            view = record(server, ids[alias])
            mine = [s for s in batch if s.record == alias]
            new = [h["event"] for h in view["history"][history_len[alias] :]]
            assert new == posted[alias] + [s.event for s in mine], f"{alias}: history grew by {new}"
            history_len[alias] = len(view["history"])
            assert view["status"] == mine[-1].status
            for step in mine:
                for spec in step.checks:
                    check(view, spec, names)
                walked.add(step.event)
    return walked


def sub_actions(kind: str) -> set[str]:
    return {name for k, name in APPLIERS if k == kind}


# --- the walks -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def walk_server(tmp_path_factory):
    """One server for both walks (each creates its own records, with fresh names)."""
    server = start_server(tmp_path_factory.mktemp("walks"), "--processing-delay", "0", "--workers", "1")
    yield server
    server.stop(wait=False)


@pytest.mark.slow
def test_every_fm_event_and_sub_action_changes_the_stored_record(walk_server):
    walked = run_walk(
        walk_server,
        "fm-walk.steps",
        {"A": "fm/create-with-dependent.xml", "B": "fm/create-with-dependent.xml", "C": "fm/create-with-dependent.xml"},
    )
    assert walked == sub_actions("F/M")


@pytest.mark.slow
def test_every_j_event_and_sub_action_changes_the_stored_record(walk_server):
    sponsor = walk_server.org("J")["org_id"]  # record K is a Korea WEST trainee: the sponsor must run Korea WEST
    r = control(walk_server, "POST", f"orgs/{sponsor}/profile", json={"korea_west": True})
    assert r.status_code == 200, r.text
    walked = run_walk(
        walk_server,
        "j-walk.steps",
        {
            "A": "j/create-with-dependent-and-site.xml",
            "B": "j/create-with-dependent-and-site.xml",
            "C": "j/create-with-dependent-and-site.xml",
            "D": "j/create-with-dependent-and-site.xml",
            "T": "events/j-create-trainee.tmpl",
            "K": "events/j-create-korea-west.tmpl",
        },
    )
    assert walked == sub_actions("J")


# --- one batch, some records refused ------------------------------------------------------------------------


def _pdf_text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_partial_success_applies_the_good_records_and_counts_all(mock_server):
    server = mock_server
    first, _, surname = create(server, "F/M", "fm/create-with-dependent.xml")
    second, _, _ = create(server, "F/M", "fm/create-with-dependent.xml")
    before = record(server, second)
    batch_id = new_batch_id("P")
    xml = update_batch(
        "F/M",
        server.org("F/M"),
        batch_id,
        [
            (
                first,
                "P-OK",
                f'<PersonalInfo printForm="false"><FullName><LastName>{surname}</LastName>'
                f"<FirstName>PRIYANKA</FirstName></FullName></PersonalInfo>",
            ),
            (
                second,
                "P-NODEP",
                '<Dependent><Edit printForm="false" dependentSevisID="N0999999999">'
                "<Email>x@example.com</Email></Edit></Dependent>",
            ),
            ("N0999999998", "P-NOREC", "<Reprint><Reason>03</Reason></Reprint>"),
        ],
    )
    reply = upload_and_process(server, "F/M", xml, batch_id)
    assert reply.process_code == "S0020"
    assert reply.log.find("BatchDetail").get("status") == "false"
    count = reply.log.find("BatchDetail/Process/RecordCount")
    assert [count.findtext(t) for t in ("Success", "Failure", "Total")] == ["1", "2", "3"]
    assert reply.record("P-OK").find("Result").get("status") == "true"
    assert reply.record("P-NODEP").findtext("Result/ErrorCode") == "S1113"
    assert reply.record("P-NOREC").findtext("Result/ErrorCode") == "S1003"
    applied = record(server, first)
    assert applied["given_name"] == "PRIYANKA" and applied["history"][-1]["event"] == "PersonalInfo"
    assert applied["history"][-1]["batch_id"] == batch_id
    assert record(server, second) == before  # refused: neither data nor history changed


def test_print_form_on_an_update_renders_the_amended_record(mock_server):
    server = mock_server
    sevis_id, _, surname = create(server, "F/M", "fm/create-with-dependent.xml")
    batch_id = new_batch_id("F")
    xml = update_batch(
        "F/M",
        server.org("F/M"),
        batch_id,
        [
            (
                sevis_id,
                "F-PRINT",
                f'<PersonalInfo printForm="true"><FullName><LastName>{surname}</LastName>'
                f"<FirstName>PRIYAMVADA</FirstName></FullName><Remarks>Name corrected at the "
                f"student request</Remarks></PersonalInfo>",
            ),
        ],
    )
    reply = upload_and_process(server, "F/M", xml, batch_id)
    assert reply.process_code == "S0000", reply.raw.decode()
    text = _pdf_text(reply.pdfs[sevis_id])
    assert "PRIYAMVADA" in text and "PRIYA LAKSHMI" not in text
    assert "Name corrected at the student request" in text


def test_j_print_form_on_an_update_renders_the_amended_program(mock_server):
    server = mock_server
    sevis_id, _, _ = create(server, "J", "j/create-with-dependent-and-site.xml")
    batch_id = new_batch_id("F")
    xml = update_batch(
        "J",
        server.org("J"),
        batch_id,
        [
            (
                sevis_id,
                "F-JPRINT",
                '<Program><EditSubject printForm="true"><SubjectFieldCode>26.0202</SubjectFieldCode>'
                "<SubjectFieldRemarks>Biochemistry of membrane transport</SubjectFieldRemarks>"
                "<Remarks>Refined</Remarks></EditSubject></Program>",
            ),
        ],
    )
    reply = upload_and_process(server, "J", xml, batch_id)
    assert reply.process_code == "S0000", reply.raw.decode()
    text = _pdf_text(reply.pdfs[sevis_id])
    assert "26.0202" in text and "Biochemistry of membrane transport" in text


def test_update_logs_report_added_dependents_sites_and_addresses(mock_server):
    server = mock_server
    visitor, _, surname = create(server, "J", "j/create-with-dependent-and-site.xml")
    student, _, _ = create(server, "F/M", "fm/create-with-dependent.xml")
    batch_id = new_batch_id("L")
    xml = update_batch(
        "J",
        server.org("J"),
        batch_id,
        [
            (
                visitor,
                "L-DEP",
                f'<Dependent><UserDefinedA>KID-0001</UserDefinedA><Add printForm="false"><FullName>'
                f"<LastName>{surname}</LastName><FirstName>LENA</FirstName></FullName><BirthDate>2021-06-30"
                f"</BirthDate><Gender>F</Gender><BirthCity>Heidelberg</BirthCity><BirthCountryCode>GM"
                f"</BirthCountryCode><CitizenshipCountryCode>GM</CitizenshipCountryCode>"
                f"<PermanentResidenceCountryCode>GM</PermanentResidenceCountryCode><Relationship>02"
                f"</Relationship><FormPurpose>06</FormPurpose></Add></Dependent>",
            ),
            (
                visitor,
                "L-SITE",
                f'<SiteOfActivity><Add xmlns:xsi="{XSI}" xsi:type="AddSOA" printForm="false">'
                "<Address1>3700 O Street NW</Address1><City>Washington</City><State>DC</State>"
                "<PostalCode>20057</PostalCode><SiteName>Georgetown Lab</SiteName>"
                "<PrimarySite>false</PrimarySite></Add></SiteOfActivity>",
            ),
        ],
    )
    reply = upload_and_process(server, "J", xml, batch_id)
    assert reply.process_code == "S0000", reply.raw.decode()
    dep = reply.record("L-DEP").find("Dependent")
    assert re.fullmatch(r"N\d{10}", dep.get("dependentSevisID")) and dep.findtext("UserDefinedA") == "KID-0001"
    site = reply.record("L-SITE").find("SiteOfActivity")
    assert site.findtext("SiteName") == "Georgetown Lab" and site.findtext("SiteId")
    view = record(server, visitor)
    added = next(d for d in view["dependents"] if d["sevis_id"] == dep.get("dependentSevisID"))
    assert added == {
        "sevis_id": dep.get("dependentSevisID"),
        "status": "Initial",
        "relationship": "02",
        "surname": surname,
        "given_name": "LENA",
    }
    stored_sites = view["data"]["ExchangeVisitor"]["AddSiteOfActivity"]["SiteOfActivity"]
    assert stored_sites[-1]["@siteId"] == site.findtext("SiteId")
    dep_view = record(server, dep.get("dependentSevisID"))
    assert dep_view["principal_sevis_id"] == visitor and dep_view["history"][0]["event"] == "Dependent/Add"

    batch_id = new_batch_id("L")
    xml = update_batch(
        "F/M",
        server.org("F/M"),
        batch_id,
        [
            (
                student,
                "L-ADDR",
                '<PersonalInfo printForm="false"><USAddress><Address1>77 Massachusetts Avenue</Address1>'
                "<City>Cambridge</City><State>MA</State><PostalCode>02139</PostalCode></USAddress>"
                "</PersonalInfo>",
            ),
        ],
    )
    reply = upload_and_process(server, "F/M", xml, batch_id)
    rec = reply.record("L-ADDR")
    assert rec.findtext("PhysicalProvidedAddress/Address1") == "77 Massachusetts Avenue"
    assert rec.find("PhysicalAddressMessage") is not None  # valid: provided and an empty message, as SEVIS
