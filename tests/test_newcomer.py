"""README's walk-through against a real server: the `upload`/`download` commands, curl-like raw posts,
the protocol client, and `certs issue`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sevis_mock.harness.client import SevisClient
from tests.support.server import ROOT, new_batch_id, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the walk-through; batches are processed a second after upload (the README's --wait)."""
    srv = start_server(tmp_path_factory.mktemp("newcomer"), "--processing-delay", "1")
    yield srv
    srv.stop(wait=False)


def cli(server, *args):
    env = {**os.environ, "SEVIS_MOCK_CONNECTION": str(server.data_dir / "connection.json")}
    return subprocess.run(
        [sys.executable, "-m", "sevis_mock", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


@pytest.mark.slow
def test_readme_upload_then_download(server, tmp_path):
    batch_id = new_batch_id("R")
    up = cli(server, "upload", "fixtures/fm/create-with-dependent.xml", "--batch-id", batch_id, "--wait", "30")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "S0000" in up.stdout and batch_id in up.stdout
    out = tmp_path / "out"
    down = cli(server, "download", "--batch-id", batch_id, "--org", server.org("F/M")["org_id"], "--out", str(out))
    assert down.returncode == 0, down.stdout + down.stderr
    pdfs = list(out.glob("N*.pdf"))
    assert (out / "sevis_transaction_log.xml").exists() and len(pdfs) == 2  # the student's I-20 and the F-2's
    log = (out / "sevis_transaction_log.xml").read_text()
    assert all(pdf.stem in log for pdf in pdfs)
    again = cli(server, "upload", "fixtures/fm/create-with-dependent.xml", "--batch-id", batch_id)
    assert again.returncode == 1 and "S0010" in again.stdout


@pytest.mark.slow
def test_protocol_client_against_the_mock(server):
    j = server.org("J")
    with SevisClient(
        server.base_url, cert=(j["client_cert"], j["client_key"]), ca_bundle=server.ca, environment="alphasevisbatch"
    ) as client:
        xml = (ROOT / "fixtures/j/create-with-dependent-and-site.xml").read_bytes()
        up = client.upload(xml, org_id=j["org_id"], user_id=j["user_id"])
        assert up.ok and up.code == "S0000"
        done = client.wait_for_processing(
            org_id=j["org_id"], user_id=j["user_id"], batch_id=up.log.batch_id, timeout=30, interval=0.2
        )
        assert done.ok and done.log.process.code == "S0000"
        record = done.log.records[0]
        assert record.ok and record.sevis_id in done.pdfs
        assert len(record.dependents) == 1 and record.sites


@pytest.mark.slow
def test_certs_issue_registers_a_working_certificate(server, tmp_path):
    fm = server.org("F/M")
    issued = cli(
        server,
        "certs",
        "issue",
        "--org",
        fm["org_id"],
        "--user",
        fm["user_id"],
        "--out",
        str(tmp_path / "mine"),
        "--data-dir",
        str(server.data_dir),
    )
    assert issued.returncode == 0, issued.stderr
    cert = tmp_path / "mine" / f"{fm['org_id']}-{fm['user_id']}.pem"
    key = tmp_path / "mine" / f"{fm['org_id']}-{fm['user_id']}.key.pem"
    batch_id = new_batch_id("C")
    xml = (ROOT / "fixtures/fm/create-three-students.xml").read_bytes().replace(b"FMCREATE3STU01", batch_id.encode())
    reply = server.upload(xml, org=fm, batch_id=batch_id, cert=(str(cert), str(key)))
    assert reply.upload_code == "S0000"
    refused = cli(
        server,
        "certs",
        "issue",
        "--org",
        fm["org_id"],
        "--user",
        "NOBODY0001",
        "--out",
        str(tmp_path / "x"),
        "--data-dir",
        str(server.data_dir),
    )
    assert refused.returncode != 0 and "not an official" in refused.stderr
