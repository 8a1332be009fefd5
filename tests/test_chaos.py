"""`sevis-mock rehearse --chaos`: a client against a scenario, judged from the mock's request journal."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from sevis_mock.harness.chaos import judge
from sevis_mock.cli import main
from tests.support.server import start_server

NAIVE_CLIENT = """
import os, sys, requests
s = requests.Session(); s.trust_env = False
tls = dict(cert=(os.environ["SEVIS_CERT"], os.environ["SEVIS_KEY"]), verify=os.environ["SEVIS_CA"], timeout=30)
ids = {"orgid": os.environ["SEVIS_ORG_ID"], "userid": os.environ["SEVIS_USER_ID"], "batchid": os.environ["SEVIS_BATCH_ID"]}
with open(os.environ["SEVIS_BATCH_FILE"], "rb") as f:
    r = s.post(os.environ["SEVIS_UPLOAD_URL"], data=ids, files={"xml": ("batch.xml", f)}, **tls)
print("upload", r.status_code)
r = s.get(os.environ["SEVIS_DOWNLOAD_URL"], params=ids, **tls)  # once: whatever came back is "the result"
print("download", r.status_code)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # 2 workers: a scenario loaded through the control API acts on whichever worker the client's next try lands on
    srv = start_server(tmp_path_factory.mktemp("chaos"), "--processing-delay", "0", "--workers", "2")
    yield srv
    srv.stop(wait=False)


def rehearse(server, *args: str):
    """``rehearse --chaos`` against the module's server, the client pausing 0.1 s between tries (not 1 s)."""
    connection = str(server.data_dir / "connection.json")
    return CliRunner().invoke(
        main,
        ["rehearse", "--chaos", "--server", server.base_url, "--connection", connection, "--chaos-cooldown", "0.1"]
        + list(args),
    )


@pytest.mark.slow
def test_builtin_client_recovers_from_a_bad_day(server, tmp_path):
    report = tmp_path / "chaos.json"
    result = rehearse(server, "--json", str(report))
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert data["verdict"] == "passed" and data["scenario"] == "sevis-bad-day"
    assert {c["id"] for c in data["checks"]} == {
        "recovered",
        "retried",
        "no-resubmission",
        "polled-S0030",
        "client-exit",
    }
    assert sum(f["hits"] for f in data["faults"]) >= 7  # every fault of the scenario acted
    assert "RECOVERED" in result.output


@pytest.mark.slow
def test_client_command_that_recovers(server):
    result = rehearse(
        server, "--scenario", "gateway-trouble", "--client-command", f"{sys.executable} -m sevis_mock.harness.chaos"
    )
    assert result.exit_code == 0, result.output


def test_naive_client_command_is_caught(server, tmp_path):
    script = tmp_path / "naive.py"
    script.write_text(NAIVE_CLIENT)
    result = rehearse(server, "--client-command", f"{sys.executable} {script}")
    assert result.exit_code == 1, result.output
    lines = {line.split()[1]: line.split()[0] for line in result.output.splitlines() if line[:4] in ("PASS", "FAIL")}
    assert lines["recovered"] == "FAIL" and lines["retried"] == "FAIL" and lines["client-exit"] == "PASS"
    assert "DID NOT RECOVER" in result.output


def test_unknown_scenario_is_a_usage_error(server):
    result = rehearse(server, "--scenario", "no-such-day")
    assert result.exit_code == 2 and "no-such-day" in result.output


def entry(id, action, disposition, faults=(), process_code=""):
    return {
        "id": id,
        "action": action,
        "batch_id": "B",
        "disposition": disposition,
        "faults": list(faults),
        "process_code": process_code,
    }


def test_judge_names_a_resubmitted_batch_and_an_abandoned_poll():
    entries = [
        entry(1, "upload", "S0000"),
        entry(2, "upload", "S0010"),  # sent again after SEVIS had accepted it
        entry(3, "download", "S0030", [9]),  # never asked again
    ]
    checks = {c.id: c for c in judge(entries, [{"id": 9, "kind": "not_yet_processed", "respond": {}}], "B")}
    assert not checks["no-resubmission"].ok and not checks["polled-S0030"].ok and not checks["recovered"].ok
    assert checks["retried"].ok
