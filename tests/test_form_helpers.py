"""The form helper processes start with the first batch whose forms a processor hands them (more than two records),
not with the process: a server that prints no form or only small batches' (most test servers, a CI job that only
uploads) never starts them."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from sevis_mock.fixtures import read_fixture
from sevis_mock.harness.batches import students_batch
from sevis_mock.server.app import Mock
from sevis_mock.server.config import Settings
from sevis_mock.server.datadir import DataDir
from tests.support.server import new_batch_id, start_server, with_batch_id


def test_a_server_process_has_a_helper_per_core_whatever_the_number_of_workers(tmp_path):
    """One server process processes a batch: its helpers may draw its forms on every core."""
    settings = Settings(data_dir=tmp_path / "mock", processing_delay=0, workers=2)
    DataDir(settings).prepare()
    mock = Mock(settings)
    try:
        assert mock.render_pool.processes == (os.cpu_count() or 1)
    finally:
        mock.store.engine.dispose()


def helpers(server) -> list[str]:
    """Command lines of the multiprocessing children anywhere below the server's arbiter."""
    found, parents = [], [server.proc.pid]
    while parents:
        pid = parents.pop()
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for child in children:
            parents.append(int(child))
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    command = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "multiprocessing.spawn" in command:
                found.append(command)
    return found


@pytest.mark.server
def test_helpers_start_with_the_first_batch_that_hands_them_forms(tmp_path):
    server = start_server(tmp_path, "--processing-delay", "0", "--workers", "1")
    try:
        time.sleep(1.0)  # what an eager start would have had time to spawn
        assert helpers(server) == [], "no form helper before any batch"
        org = server.org("F/M")
        small = new_batch_id("S")  # one record: its form is drawn by the processor itself
        assert server.upload(students_batch(1, small, org["org_id"]), org=org, batch_id=small).upload_code == "S0000"
        processed = server.wait_processed(org=org, batch_id=small, timeout=120)
        assert processed.download_code == "S0000" and len(processed.pdfs) == 1
        time.sleep(1.0)
        assert helpers(server) == [], "a one-record batch starts no form helper"
        batch_id = new_batch_id("H")
        xml = with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id)
        assert server.upload(xml, org=org, batch_id=batch_id).upload_code == "S0000"
        assert server.wait_processed(org=org, batch_id=batch_id, timeout=120).download_code == "S0000"
        deadline = time.monotonic() + 60
        while not helpers(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert helpers(server), "the first batch starts the form helpers"
    finally:
        server.stop(wait=False)


def test_a_helper_lets_ctrl_c_pass_to_the_process_that_started_it():
    """Ctrl-C reaches every process of the terminal's group: a helper neither dies nor prints a traceback; the
    server process stops its helpers itself."""
    import signal

    from sevis_mock.server.forms.pool import RenderPool

    pool = RenderPool(1)
    try:
        pool.start()
        deadline = time.monotonic() + 60
        while not pool.ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.ready()
        (pid,) = pool._executor._processes  # type: ignore[union-attr]
        os.kill(pid, signal.SIGINT)
        time.sleep(0.5)
        assert pool.submit({"form": "nothing"}) is not None  # still taking work
        assert pool._executor._processes.keys() == {pid}  # type: ignore[union-attr]
    finally:
        pool.shutdown()
