"""`sevis-mock validate` gives the verdict the server gives: on every fixture and on generated documents.

The server is a real `sevis-mock serve` over mutual TLS that processes only when told (process-now), reset
before each document; validate runs with the server's state (its officials, and for updates the records
the server holds, exported through GET /control/records/<sevis_id>).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from sevis_mock.fixtures import load_catalog, read_fixture, render_template
from sevis_mock.harness.mutants import mutants
from sevis_mock.harness.pytest_plugin import start_mock
from sevis_mock.harness.strategies import documents_and_trees, serialize
from sevis_mock.harness.validate import State, Validator
from sevis_mock.server.validation import SchemaSet
from tests.support.server import RunningServer

SCHEMAS = SchemaSet.discover([])
ROOT = {"F/M": "SEVISBatchCreateUpdateStudent", "J": "SEVISBatchCreateUpdateEV"}
BASE_OF_TEMPLATE = "fm/create-with-dependent.xml"  # the record the F/M templates update (see their comments)
# documents generated per kind (25 under the ci profile, 1,250 under thorough); each yields up to 4 documents checked
GENERATED_EXAMPLES = max(25, settings.default.max_examples // 4)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    mock = start_mock(tmp_path_factory.mktemp("agreement"), processing_delay=86400)
    clients = {org.kind: mock.client(org) for org in mock.orgs}
    mock.clients = clients
    yield mock
    for client in clients.values():
        client.close()
    RunningServer(mock).stop(wait=False)


def server_verdict(server, kind: str, data: bytes, org_id: str, user_id: str, batch_id: str):
    """(upload code, process code, {requestID: error code or None}) as the server answers them."""
    client = server.clients[kind]
    upload = client.upload(data, org_id=org_id, user_id=user_id, batch_id=batch_id)
    if upload.code != "S0000":
        return upload.code, None, {}
    server.process_now()  # returns once the batch is processed (by this call or the processor thread)
    download = client.download(org_id=org_id, user_id=user_id, batch_id=batch_id)
    assert download.code == "S0000", download.log
    log = download.log
    return upload.code, log.process.code, {r.request_id: r.error_code for r in log.records}


def validate_verdict(server, kind: str, data: bytes, org_id: str, batch_id: str, records: list[dict] = ()):
    org = server.org(kind)
    state = State(list(records), officials=[{"user_id": org.user_id, "org_id": org.org_id}])
    verdict = Validator(SCHEMAS, rules=True, state=state, orgid=org_id, batchid=batch_id).check(data)
    return verdict.upload, verdict.process, verdict.records


# --- every fixture ----------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", load_catalog(), ids=lambda e: e["file"])
def test_fixture_verdicts_agree(server, entry):
    server.reset()
    data, records = read_fixture(entry["file"]), []
    if entry["template"]:
        base = read_fixture(BASE_OF_TEMPLATE)
        server_verdict(server, entry["kind"], base, entry["org_id"], entry["user_id"], "FMCREATEDEP001")
        [created] = server.records(org=entry["org_id"])
        records = [server.record(created["sevis_id"])]
        data = render_template(entry["file"], created["sevis_id"])
    expected = server_verdict(server, entry["kind"], data, entry["org_id"], entry["user_id"], entry["batch_id"])
    got = validate_verdict(server, entry["kind"], data, entry["org_id"], entry["batch_id"], records)
    assert got == expected
    assert expected[0] == entry["upload"] and expected[1] == entry["process"]  # the catalog agrees too


# --- generated documents ----------------------------------------------------------------------------


@st.composite
def variants(draw, kind: str):
    """A generated valid document with the seeded org's header, and variants of it: two schema mutants
    (sevis_mock.harness.mutants, one fault each) and a copy cut short (not well-formed)."""
    xsd = str(SCHEMAS.files[ROOT[kind]])
    _, tree = draw(documents_and_trees(xsd, ROOT[kind], max_repeats=2))
    tree = etree.ElementTree(etree.fromstring(serialize(tree)))
    header = tree.getroot().find("BatchHeader")
    header.find("OrgID").text = "MCK214F00001000" if kind == "F/M" else "P-1-12345"
    header.find("BatchID").text = "GENERATED00001"
    data = serialize(tree)
    out = [("valid", data)]
    try:
        faults = mutants(xsd, tree)
        out += [("mutant", draw(faults).document) for _ in range(2)]
    except ValueError:  # no single fault applies to this document
        pass
    out.append(("cut", data[: draw(st.integers(1, len(data) - 1))]))
    return out


@pytest.mark.parametrize("kind", ["F/M", "J"])
def test_generated_documents_agree(server, kind):
    seen: list[tuple] = []
    org = server.org(kind)
    dirty = [True]

    @settings(
        max_examples=GENERATED_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(variants(kind))
    def agree(documents):
        for how, data in documents:
            if dirty[0]:  # records made by an earlier document would change this one's verdict
                server.reset()
            expected = server_verdict(server, kind, data, org.org_id, org.user_id, "GENERATED00001")
            dirty[0] = expected[0] == "S0000"
            assert validate_verdict(server, kind, data, org.org_id, "GENERATED00001") == expected, how
            seen.append((how, expected[0], expected[1]))

    agree()
    assert len(seen) >= GENERATED_EXAMPLES * 15 // 4
    uploads = {u for _, u, _ in seen}
    assert {"S0000", "S0012", "S0013"} <= uploads, uploads  # all three verdicts were exercised
    assert {p for _, _, p in seen} >= {"S0000", "S0020"}
    print(f"\n{kind}: validate and the server agreed on {len(seen)} generated documents")
