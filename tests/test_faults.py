"""Faults and outages on demand: every fault kind, provoked three ways (the control API, a scenario loaded
through the control API, the pytest plugin's context manager) and observed by a real client over TLS.

The cases are data: a rule, what must exist before it is added (an uploaded batch), how a client provokes
it and what the client must see. One server serves the module; each test starts from a reset.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from sevis_mock.fixtures import read_fixture
from tests.support.server import assert_valid_log, new_batch_id, start_server, with_batch_id

FIXTURE = "fm/create-with-dependent.xml"  # one student with printForm: a PDF in the zip
EASTERN = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # 2 workers: a fault added through the control API acts on every worker (new connections land on either)
    srv = start_server(tmp_path_factory.mktemp("faults"), "--processing-delay", "0", "--workers", "2")
    yield srv
    srv.stop(wait=False)


@pytest.fixture
def mock(server) -> "Client":
    """No faults and the clock at real time (cheaper than a reset; batches and records stay, under fresh IDs)."""
    client = Client(server)
    client.control("DELETE", "faults")
    client.control("POST", "clock", json={"now": datetime.now(UTC).isoformat()})
    client.seen = max((e["id"] for e in client.journal()), default=0)
    yield client
    client.close()


class Client:
    """A college's client and the control API, both over mutual TLS."""

    def __init__(self, server) -> None:
        self.server = server
        self.org = server.org("F/M")
        self.cert = (self.org["client_cert"], self.org["client_key"])
        self.plugin = server.mock  # its control API uses a certificate of its own, which no certificate fault refuses

    def close(self) -> None:
        pass  # the server's handle outlives the test

    def control(self, method: str, path: str, expect: int | None = None, **kw):
        return self.plugin.api.control(method, path, expect=(expect,) if expect else (200, 201, 202, 204), **kw)

    def fresh(self) -> requests.Session:
        """A new connection for each request: a fault that breaks one must not break the next."""
        return self.server.session(self.cert)

    def upload(self, batch_id: str | None = None, env: str = "sbtsevisbatch") -> tuple[requests.Response, str]:
        batch_id = batch_id or new_batch_id("F")
        xml = with_batch_id(read_fixture(FIXTURE), batch_id)
        fields = {"orgid": self.org["org_id"], "userid": self.org["user_id"], "batchid": batch_id}
        with self.fresh() as s:
            r = s.post(
                f"{self.server.base_url}/{env}/action/batchUpload",
                data=fields,
                files={"xml": ("batch.xml", xml, "text/xml")},
                timeout=60,
            )
        return r, batch_id

    def download(self, batch_id: str, env: str = "sbtsevisbatch") -> requests.Response:
        fields = {"orgid": self.org["org_id"], "userid": self.org["user_id"], "batchid": batch_id}
        with self.fresh() as s:
            return s.get(f"{self.server.base_url}/{env}/action/batchDownload", params=fields, timeout=60)

    def processed_batch(self) -> str:
        r, batch_id = self.upload()
        assert code_of(r.content, "Upload") == "S0000", r.text
        self.server.wait_processed(org=self.org, batch_id=batch_id)
        return batch_id

    seen = 0  # the last journal entry of earlier tests

    def journal(self, **filters) -> list[dict]:
        """This test's journal entries."""
        return [e for e in self.control("GET", "journal", params=filters)["entries"] if e["id"] > self.seen]


def log_of(zip_bytes: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        return assert_valid_log(zf.read("sevis_transaction_log.xml"))


def code_of(xml: bytes, part: str) -> str | None:
    el = etree.fromstring(xml).find(f"BatchDetail/{part}")
    return None if el is None else el.get("resultCode")


def eventually(condition: Callable[[], bool], timeout: float = 10) -> None:
    """A refused handshake is counted by the server after the client has seen the alert: wait for it."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.05)


# --- the three ways in -------------------------------------------------------------------------------


def by_control_api(mock: Client, rule: dict) -> list[int]:
    return [mock.control("POST", "faults", expect=201, json=rule)["id"]]


def by_scenario(mock: Client, rule: dict) -> list[int]:
    text = yaml.safe_dump({"name": "test-scenario", "description": "one fault", "faults": [rule]})
    made = mock.control("POST", "scenarios", expect=201, json={"yaml": text})
    assert made["scenario"] == "test-scenario"
    return [f["id"] for f in made["faults"]]


WAYS = {"control": by_control_api, "scenario": by_scenario, "plugin": None}  # plugin: a context manager


# --- the cases ---------------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    rule: dict
    provoke: Callable  # (mock, batch_id or None) -> observation
    check: Callable  # (mock, observation) -> None
    needs_batch: bool = False  # a processed batch exists before the fault is added


CASES: list[Case] = []


def case(id: str, rule: dict, *, needs_batch: bool = False):
    def register(provoke_and_check):
        provoke, check = provoke_and_check()
        CASES.append(Case(id, rule, provoke, check, needs_batch))
        return provoke_and_check

    return register


def _upload(mock, _):
    return mock.upload()


def _download(mock, batch_id):
    return mock.download(batch_id)


@case("disposition-S0001-upload", {"match": {"endpoint": "upload"}, "respond": {"disposition": "S0001"}, "times": 1})
def _():
    def check(mock, got):
        r, batch_id = got
        assert r.status_code == 200
        log = assert_valid_log(r.content)
        assert log.find("BatchDetail/Upload").get("resultCode") == "S0001"
        assert log.findtext("BatchHeader/BatchID") == batch_id
        assert "fault" in r.headers["X-Sevis-Mock-Detail"]
        again, _ = mock.upload()  # times: 1
        assert code_of(again.content, "Upload") == "S0000"

    return _upload, check


@case("disposition-S9999-is-S0001", {"match": {"endpoint": "upload"}, "respond": {"disposition": "S9999"}})
def _():
    def check(mock, got):
        assert code_of(got[0].content, "Upload") == "S0001"  # the catalogue has no S9999
        (fault,) = mock.control("GET", "faults")["faults"]
        assert fault["respond"] == {"disposition": "S0001"} and "S9999" in fault["notes"][0]

    return _upload, check


@case(
    "disposition-S0003-download",
    {"match": {"endpoint": "download"}, "respond": {"disposition": "S0003"}},
    needs_batch=True,
)
def _():
    def check(mock, r):
        assert r.status_code == 200
        assert log_of(r.content).find("BatchDetail/Download").get("resultCode") == "S0003"

    return _download, check


def _http(status: int, title: str):
    def check(mock, got):
        r = got[0]
        assert r.status_code == status
        assert r.headers["Content-Type"].startswith("text/html")
        assert f"<title>{title}</title>" in r.text
        if status == 503:
            assert r.headers["Retry-After"] == "7"

    return _upload, check


for _status, _title in (
    (500, "Internal Server Error"),
    (502, "Bad Gateway"),
    (403, "Access Denied"),
    (504, "Gateway Timeout"),
):
    case(f"http-{_status}", {"match": {"endpoint": "upload"}, "respond": {"http_status": _status}})(
        lambda s=_status, t=_title: _http(s, t)
    )
case("http-503-retry-after", {"match": {"endpoint": "upload"}, "respond": {"http_status": 503, "retry_after": 7}})(
    lambda: _http(503, "Service Unavailable")
)


@case("delay", {"match": {"endpoint": "upload"}, "respond": {"delay_seconds": 1.0}, "times": 1})
def _():
    def provoke(mock, _):
        started = time.monotonic()
        got = mock.upload()
        return got, time.monotonic() - started

    def check(mock, got):
        (r, _), waited = got
        assert code_of(r.content, "Upload") == "S0000"  # a delay holds the real answer back
        assert waited >= 1.0

    return provoke, check


@case("delay-random", {"match": {"endpoint": "upload"}, "respond": {"delay_seconds": {"min": 0.5, "max": 0.6}}})
def _():
    def provoke(mock, _):
        started = time.monotonic()
        mock.upload()
        return time.monotonic() - started

    def check(mock, waited):
        assert waited >= 0.5

    return provoke, check


@case("connection-reset", {"match": {"endpoint": "upload"}, "respond": {"connection": "reset"}, "times": 1})
def _():
    def provoke(mock, _):
        batch_id = new_batch_id("F")
        with pytest.raises(requests.ConnectionError):
            mock.upload(batch_id)
        return batch_id

    def check(mock, batch_id):
        eventually(lambda: mock.journal(batch=batch_id))  # each worker writes its journal entries in the background
        (entry,) = mock.journal(batch=batch_id)
        assert entry["disposition"] == "connection reset" and entry["faults"]
        r, _ = mock.upload(batch_id)  # nothing was accepted: the same batch ID goes through
        assert code_of(r.content, "Upload") == "S0000"

    return provoke, check


@case(
    "connection-cut-body", {"match": {"endpoint": "download"}, "respond": {"connection": "cut_body"}}, needs_batch=True
)
def _():
    def provoke(mock, batch_id):
        # the head arrived and then half the body: a read that stops short, not a refused connection
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            mock.download(batch_id)
        return batch_id

    def check(mock, batch_id):
        eventually(lambda: [e for e in mock.journal(batch=batch_id, action="download") if e["faults"]])
        (entry,) = [e for e in mock.journal(batch=batch_id, action="download") if e["faults"]]
        assert entry["disposition"] == "body cut mid-stream"

    return provoke, check


@case("tls-handshake", {"respond": {"connection": "tls_handshake"}, "times": 1})
def _():
    def provoke(mock, _):
        with pytest.raises(requests.exceptions.SSLError):  # an alert, or the connection closed mid-handshake
            mock.upload()

    def check(mock, _):
        eventually(lambda: len(mock.journal(action="tls")) == 1)  # journaled off the event loop
        (entry,) = mock.journal(action="tls")
        assert entry["disposition"] == "TLS handshake failure" and entry["faults"]
        r, _ = mock.upload()  # times: 1
        assert code_of(r.content, "Upload") == "S0000"

    return provoke, check


def _zip_case(how: str, check_zip: Callable[[bytes], None]):
    @case(f"zip-{how}", {"respond": {"zip": how}, "times": 1}, needs_batch=True)
    def _():
        def check(mock, r):
            assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/zip")
            check_zip(r.content)

        return _download, check


def _bad_zip(body: bytes) -> None:
    with pytest.raises(zipfile.BadZipFile):
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            for name in zf.namelist():
                zf.read(name)


def _names(body: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return zf.namelist()


def _malformed(body: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        with pytest.raises(etree.XMLSyntaxError):
            etree.fromstring(zf.read("sevis_transaction_log.xml"))


def _no_download_part(body: bytes) -> None:
    log = log_of(body)
    assert log.find("BatchDetail/Download") is None and log.find("BatchDetail/Process") is not None


_zip_case("truncated", _bad_zip)
_zip_case("corrupt", _bad_zip)
_zip_case("no_pdfs", lambda body: _names(body) == ["sevis_transaction_log.xml"] or pytest.fail(_names(body)))
_zip_case("no_log", lambda body: "sevis_transaction_log.xml" not in _names(body) and _names(body) or pytest.fail())
_zip_case("malformed_log", _malformed)
_zip_case("no_download_part", _no_download_part)


@case("not-yet-processed-2-polls", {"respond": {"not_yet_processed": True}, "times": 2}, needs_batch=True)
def _():
    def provoke(mock, batch_id):
        return batch_id, [log_of(mock.download(batch_id).content) for _ in range(3)]

    def check(mock, got):
        batch_id, logs = got
        codes = [log.find("BatchDetail/Download").get("resultCode") for log in logs]
        assert codes == ["S0030", "S0030", "S0000"]
        assert logs[0].find("BatchDetail/Upload").get("resultCode") == "S0000"

    return provoke, check


@case("process-overnight", {"respond": {"process": "overnight"}, "times": 1})
def _():
    def provoke(mock, _):
        r, batch_id = mock.upload()
        assert code_of(r.content, "Upload") == "S0000"
        time.sleep(1.5)  # the processor had its chance (processing delay 0)
        return batch_id, log_of(mock.download(batch_id).content)

    def check(mock, got):
        batch_id, log = got
        assert log.find("BatchDetail/Download").get("resultCode") == "S0030"
        due = datetime.fromisoformat(
            mock.control("GET", "journal", params={"batch": batch_id})["entries"][-1]["detail"].split("due at ")[1][:19]
        ).replace(tzinfo=UTC)
        assert due.astimezone(EASTERN).hour == 2 and due.astimezone(EASTERN).minute == 0
        mock.control("POST", "clock", json={"now": (due + timedelta(minutes=1)).isoformat()})
        done = mock.server.wait_processed(org=mock.org, batch_id=batch_id)
        assert done.process_code == "S0000"

    return provoke, check


@case("process-batch-failure", {"respond": {"process": "batch_failure"}})
def _():
    def provoke(mock, _):
        r, batch_id = mock.upload()
        return mock.server.wait_processed(org=mock.org, batch_id=batch_id)

    def check(mock, done):
        assert done.process_code == "S0001"
        assert done.log.find("BatchDetail/Process/Record") is None

    return provoke, check


@case("process-record-errors", {"respond": {"process": "record_errors"}})
def _():
    def provoke(mock, _):
        r, batch_id = mock.upload()
        return mock.server.wait_processed(org=mock.org, batch_id=batch_id)

    def check(mock, done):
        assert done.process_code == "S0020"
        records = done.log.findall("BatchDetail/Process/Record")
        assert records and {r.findtext("Result/ErrorCode") for r in records} == {"S2000"}
        assert all(r.get("sevisID") is None for r in records)  # no student was created

    return provoke, check


@case("maintenance-window", {"match": {"until": "+1h"}, "respond": {"maintenance": True}})
def _():
    def provoke(mock, _):
        with mock.fresh() as s:
            rti = s.get(f"{mock.server.base_url}/sbtsevis/", timeout=30)
        return mock.upload()[0], rti

    def check(mock, got):
        for r in got:
            assert r.status_code == 503 and "Scheduled Maintenance" in r.text
            assert 3500 <= int(r.headers["Retry-After"]) <= 3600
        mock.control("GET", "clock")  # the mock's own tools stay reachable

    return provoke, check


@case(
    "certificate-expired-handshake",
    {"match": {"org": "MCK214F00001000"}, "respond": {"certificate": "expired", "at": "+0s"}},
)
def _():
    def provoke(mock, _):
        with pytest.raises(requests.ConnectionError):  # TLS 1.3: the refusal comes after the client's Finished
            mock.upload()

    def check(mock, _):
        sponsor = mock.server.org("J")  # another organization's certificate still works
        with mock.server.session((sponsor["client_cert"], sponsor["client_key"])) as s:
            r = s.get(f"{mock.server.base_url}/sbtsevisbatch/action/batchDownload", params={"orgid": "x"}, timeout=30)
        assert r.status_code == 200
        eventually(lambda: len(mock.journal(action="tls")) == 1)
        assert mock.journal(action="tls")[0]["faults"]

    return provoke, check


@case("certificate-revoked-S0002", {"respond": {"certificate": "revoked", "refuse": "S0002"}})
def _():
    def check(mock, got):
        r, _ = got
        assert code_of(r.content, "Upload") == "S0002"
        assert "revoked" in r.headers["X-Sevis-Mock-Detail"]

    return _upload, check


@case(
    "not-yet-processed-until-a-mock-time",
    {"respond": {"not_yet_processed": True}, "match": {"until": "+1h"}},
    needs_batch=True,
)
def _():
    def provoke(mock, batch_id):
        before = log_of(mock.download(batch_id).content)
        mock.control("POST", "clock", json={"advance_seconds": 2 * 3600})
        return before, log_of(mock.download(batch_id).content)

    def check(mock, got):
        codes = [log.find("BatchDetail/Download").get("resultCode") for log in got]
        assert codes == ["S0030", "S0000"]

    return provoke, check


@case(
    "certificate-revoked-later",
    {"match": {"org": "MCK214F00001000"}, "respond": {"certificate": "revoked", "at": "+1h"}},
)
def _():
    def provoke(mock, _):
        before = code_of(mock.upload()[0].content, "Upload")  # still in good standing
        mock.control("POST", "clock", json={"advance_seconds": 2 * 3600})
        with pytest.raises(requests.ConnectionError):
            mock.upload()
        return before

    def check(mock, before):
        assert before == "S0000"

    return provoke, check


@case("http-502-on-rti-pages", {"match": {"endpoint": "rti"}, "respond": {"http_status": 502}, "times": 1})
def _():
    def provoke(mock, _):
        with mock.fresh() as s:
            return [s.get(f"{mock.server.base_url}/sbtsevis/", timeout=30).status_code for _ in range(2)]

    def check(mock, statuses):
        assert statuses[0] == 502 and statuses[1] != 502
        assert code_of(mock.upload()[0].content, "Upload") == "S0000"  # batch endpoints untouched

    return provoke, check


# Every case is provoked once, through one of the three ways in turn (each way is thus used end to end on a third
# of the cases, of every sort): what a fault does depends only on the rule the server stores, and
# test_every_way_stores_the_same_rule shows that the three ways store the same rule for every case.
ROTATION = [(case, list(WAYS)[n % len(WAYS)]) for n, case in enumerate(CASES)]


@pytest.mark.parametrize("case, way", ROTATION, ids=[f"{case.id}-{way}" for case, way in ROTATION])
def test_fault_kind(mock, case, way):
    batch_id = mock.processed_batch() if case.needs_batch else None
    if way == "plugin":
        respond = case.rule["respond"]
        extra = {k: v for k, v in case.rule.items() if k not in ("respond", "match", "times")}
        with mock.plugin.fault(respond, case.rule.get("match"), times=case.rule.get("times"), **extra) as fault:
            got = case.provoke(mock, batch_id)
            eventually(lambda: fault.hits >= 1)
            case.check(mock, got)
        assert mock.control("GET", "faults")["faults"] == []  # removed by the context manager
        return
    ids = WAYS[way](mock, case.rule)
    got = case.provoke(mock, batch_id)
    eventually(lambda: mock.control("GET", f"faults/{ids[0]}")["hits"] >= 1)
    case.check(mock, got)


def _what_it_does(fault: dict) -> tuple[dict, dict]:
    """A stored fault's rule, without what tells two copies apart (id, name, hits, when made), and its window's
    ends (``from``, ``until``: a relative ``+1h`` is resolved when the rule arrives) as datetimes."""
    rule = {k: fault.get(k) for k in ("kind", "respond", "times", "notes")}
    match = dict(fault["match"])
    window = {k: datetime.fromisoformat(match.pop(k)) for k in ("from", "until") if k in match}
    return {**rule, "match": match}, window


def test_every_way_stores_the_same_rule(mock):
    """For every case, the fault made through a scenario and through the plugin is the one the control API makes."""
    for case in CASES:
        stored = []
        by_api = mock.control("GET", f"faults/{by_control_api(mock, case.rule)[0]}")
        by_yaml = mock.control("GET", f"faults/{by_scenario(mock, case.rule)[0]}")
        respond = case.rule["respond"]
        extra = {k: v for k, v in case.rule.items() if k not in ("respond", "match", "times")}
        with mock.plugin.fault(respond, case.rule.get("match"), times=case.rule.get("times"), **extra) as fault:
            by_plugin = mock.control("GET", f"faults/{fault.id}")
        for made in (by_api, by_yaml, by_plugin):
            stored.append(_what_it_does(made))
        (rule, window), *others = stored
        for other_rule, other_window in others:
            assert other_rule == rule, case.id
            assert other_window.keys() == window.keys(), case.id
            assert all(abs(other_window[k] - window[k]) <= timedelta(seconds=60) for k in window), case.id
        mock.control("DELETE", "faults")


# --- the contract of the control API -----------------------------------------------------------------


def test_control_contract(mock):
    rules = [
        {"match": {"endpoint": "upload"}, "respond": {"disposition": "S0001"}, "times": 1},
        {"match": {"endpoint": "upload"}, "respond": {"http_status": 503}, "times": 1},
        {"match": {"endpoint": "download"}, "respond": {"zip": "truncated"}, "times": 1},
        {"match": {"endpoint": "upload"}, "respond": {"delay_seconds": 2}, "times": 1},
    ]
    ids = [mock.control("POST", "faults", expect=201, json=rule)["id"] for rule in rules]
    assert len(set(ids)) == 4
    listed = mock.control("GET", "faults")
    assert [f["id"] for f in listed["faults"]] == ids and all(f["hits"] == 0 for f in listed["faults"])
    r, batch_id = mock.upload()  # delayed 2 s, then S0001
    assert code_of(r.content, "Upload") == "S0001"
    hits = {f["id"]: f["hits"] for f in mock.control("GET", "faults")["faults"]}
    assert hits == {ids[0]: 1, ids[1]: 0, ids[2]: 0, ids[3]: 1}
    eventually(lambda: mock.journal(batch=batch_id))
    (entry,) = mock.journal(batch=batch_id)
    assert entry["faults"] == [ids[0], ids[3]]
    assert mock.upload()[0].status_code == 503  # the next fault of the sequence
    assert mock.control("DELETE", f"faults/{ids[2]}")["deleted"] == [ids[2]]
    mock.control("DELETE", f"faults/{ids[2]}", expect=404)
    assert mock.control("DELETE", "faults")["deleted"] == [ids[0], ids[1], ids[3]]
    assert mock.control("GET", "faults")["faults"] == []


@pytest.mark.parametrize(
    "rule, words",
    [
        ({"respond": {"disposition": "S0000"}}, "respond.disposition"),
        ({"respond": {"disposition": "S1234"}}, "respond.disposition"),
        ({"respond": {"http_status": 418}}, "respond.http_status"),
        ({"respond": {"delay_seconds": 10_000}}, "respond.delay_seconds"),
        ({"respond": {"zip": "truncated"}, "match": {"endpoint": "upload"}}, "match.endpoint must be download"),
        ({"respond": {"connection": "tls_handshake"}, "match": {"org": "X"}}, "certificate"),
        ({"respond": {"disposition": "S0001", "http_status": 500}}, "exactly one"),
        ({"respond": {"frobnicate": 1}}, "exactly one"),
        ({"respond": {"disposition": "S0001"}, "times": 0}, "times"),
        ({"respond": {"disposition": "S0001"}, "match": {"colour": "red"}}, "unknown field"),
        (
            {
                "respond": {"maintenance": True},
                "match": {"schedule": {"days": ["caturday"], "start": "22:00", "end": "06:00"}},
            },
            "days",
        ),
        ({"respond": {"disposition": "S0001"}, "match": {"from": "yesterday"}}, "ISO-8601"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_rules_are_refused_with_what_to_fix(mock, rule, words):
    reply = mock.control("POST", "faults", expect=400, json=rule)
    assert words in reply["error"]


def test_match_org_batch_pattern_environment_and_nth(mock):
    rule = {
        "match": {"endpoint": "upload", "org": mock.org["org_id"], "batch": "FX*", "environment": "beta", "nth": 2},
        "respond": {"disposition": "S0001"},
        "times": 1,
    }
    fault_id = mock.control("POST", "faults", expect=201, json=rule)["id"]
    codes = [
        code_of(mock.upload(new_batch_id("FY"))[0].content, "Upload"),  # batch ID does not fit
        code_of(mock.upload(new_batch_id("FX"), env="alphasevisbatch")[0].content, "Upload"),  # other environment
        code_of(mock.upload(new_batch_id("FX"))[0].content, "Upload"),  # 1st matching request
        code_of(mock.upload(new_batch_id("FX"))[0].content, "Upload"),  # 2nd: the fault answers
        code_of(mock.upload(new_batch_id("FX"))[0].content, "Upload"),  # used up
    ]
    assert codes == ["S0000", "S0000", "S0000", "S0001", "S0000"]
    fault = mock.control("GET", f"faults/{fault_id}")
    assert (fault["seen"], fault["hits"], fault["active"]) == (2, 1, False)


def test_maintenance_schedule_follows_the_mock_clock(mock):
    mock.control("POST", "scenarios", expect=201, json={"name": "maintenance-weekend"})
    saturday_night = datetime(2027, 1, 16, 23, 30, tzinfo=EASTERN)  # a Saturday
    mock.control("POST", "clock", json={"now": saturday_night.isoformat()})
    r, _ = mock.upload()
    assert r.status_code == 503 and 6 * 3600 + 29 * 60 <= int(r.headers["Retry-After"]) <= 6 * 3600 + 30 * 60
    mock.control("POST", "clock", json={"now": datetime(2027, 1, 18, 12, 0, tzinfo=EASTERN).isoformat()})  # Monday
    r, _ = mock.upload()
    assert code_of(r.content, "Upload") == "S0000"


def test_every_shipped_scenario_loads_through_the_control_api(mock):
    shipped = mock.control("GET", "scenarios")["scenarios"]
    names = {s["name"] for s in shipped}
    assert {"sevis-slow-night", "certificate-expired", "maintenance-weekend", "sevis-bad-day"} <= names
    for scenario in shipped:
        made = mock.control("POST", "scenarios", expect=201, json={"name": scenario["name"]})
        assert len(made["faults"]) == len(scenario["faults"])
        mock.control("DELETE", "faults")
    mock.control("POST", "scenarios", expect=404, json={"name": "no-such-scenario"})
    assert "fault 1" in mock.control("POST", "scenarios", expect=400, json={"yaml": "faults: [{respond: {}}]"})["error"]


def test_reset_clears_faults(mock):
    mock.control("POST", "faults", expect=201, json={"respond": {"http_status": 500}})
    mock.control("POST", "reset")
    assert mock.control("GET", "faults")["faults"] == []


@pytest.mark.slow
def test_serve_scenario_file(tmp_path):
    scenario = tmp_path / "flaky.yaml"
    scenario.write_text(
        "name: flaky\ndescription: the first upload fails\nfaults:\n"
        "  - {match: {endpoint: upload}, respond: {disposition: S0001}, times: 1}\n"
    )
    srv = start_server(tmp_path / "mock", "--processing-delay", "0", "--workers", "1", "--scenario", str(scenario))
    try:
        client = Client(srv)
        assert code_of(client.upload()[0].content, "Upload") == "S0001"
        assert code_of(client.upload()[0].content, "Upload") == "S0000"
        (fault,) = client.control("GET", "faults")["faults"]
        assert (fault["name"], fault["hits"]) == ("flaky", 1)
        client.close()
    finally:
        srv.stop(wait=False)


def test_scenarios_command_lists_each_on_one_line():
    from click.testing import CliRunner

    from sevis_mock.cli import main
    from sevis_mock.server.faults.scenario import shipped

    result = CliRunner().invoke(main, ["scenarios"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == len(shipped()) >= 4
    assert any(line.startswith("sevis-slow-night ") for line in lines)


@pytest.mark.parametrize(
    "text, words",
    [
        ("a: &a [1, 2]\nfaults: [*a]\n", "aliases"),
        ("faults: [{respond: {disposition: [S0001]}}]\n", "result code"),
        ("faults: [{respond: {http_status: [500]}}]\n", "respond.http_status"),
        (
            "faults: [{respond: {maintenance: true}, match: {schedule: {days: [[1]], start: '22:00', end: '06:00'}}}]\n",
            "days",
        ),
        ("faults: [{respond: {maintenance: true}, match: {from: [1]}}]\n", "match.from"),
        ("{1: 2, faults: [{respond: {http_status: 500}}]}\n", "unknown field"),
        ("name: [x]\nfaults: [{respond: {http_status: 500}}]\n", "name"),
        ("faults: [\n", "not YAML"),
    ],
)
def test_hostile_scenarios_are_refused_with_what_to_fix(mock, text, words):
    reply = mock.control("POST", "scenarios", expect=400, json={"yaml": text})
    assert words in reply["error"]


# --- any rule: a checked fault or a FaultError, never another exception -------------------------------

_words = st.sampled_from(
    [
        "match",
        "respond",
        "times",
        "duration_seconds",
        "endpoint",
        "org",
        "batch",
        "nth",
        "from",
        "until",
        "schedule",
        "days",
        "start",
        "end",
        "timezone",
        "disposition",
        "http_status",
        "retry_after",
        "delay_seconds",
        "min",
        "max",
        "connection",
        "zip",
        "process",
        "maintenance",
        "certificate",
        "at",
        "refuse",
        "not_yet_processed",
        "x",
    ]
)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**7),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "S0001",
            "S9999",
            "upload",
            "download",
            "rti",
            "reset",
            "truncated",
            "overnight",
            "+1h",
            "2027-01-16T23:30:00",
            "22:00",
            "sat",
            "expired",
            "S0002",
            "handshake",
        ]
    ),
)
_json = st.recursive(
    _leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_words, inner, max_size=4), max_leaves=12
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_words, _json, max_size=4))
def test_any_rule_is_checked_or_refused_with_a_fault_error(data):
    from sevis_mock.server.faults.model import FaultError, FaultRule, parse_rule

    try:
        rule = parse_rule(data, now=datetime(2027, 1, 15, tzinfo=UTC))
    except FaultError as exc:
        assert str(exc) and len(str(exc)) < 2000
        return
    assert FaultRule.from_json(rule.to_json()) == rule  # what is stored reads back the same
