"""The documented Python API: ``with sevis_mock.running(...) as mock`` gives the connection, a SevisClient and the
control API, and cleans up after itself."""

from __future__ import annotations

from importlib import resources

import sevis_mock
from sevis_mock.fixtures import read_fixture
from sevis_mock.harness.pytest_plugin import assert_record_ok
from tests.support.server import new_batch_id, with_batch_id


def test_running_gives_connection_client_and_control_api_then_stops():
    with sevis_mock.running(processing_delay=0) as mock:
        data_dir = mock.data_dir
        assert mock.connection["base_url"].startswith("https://127.0.0.1:")
        school = mock.org("F/M")
        batch_id = new_batch_id("PY")
        with mock.client(school) as client:
            up = client.upload(
                with_batch_id(read_fixture("fm/create-with-dependent.xml"), batch_id),
                org_id=school.org_id,
                user_id=school.user_id,
            )
            assert up.code == "S0000", up.explanation
            done = client.wait_for_processing(
                org_id=school.org_id, user_id=school.user_id, batch_id=batch_id, timeout=30, interval=0.2
            )
        assert_record_ok(done, done.log.records[0].request_id)
        assert [e["batch_id"] for e in mock.journal(action="upload")] == [batch_id]
        assert mock.records() and mock.reset()["organizations"]
        assert mock.records() == []
        proc = mock.proc
    assert proc.poll() is not None, "the server must stop with the with-block"
    assert not data_dir.exists(), "the temporary data dir must be removed"


def test_the_packages_are_typed():
    for package in ("sevis_mock", "sevis_mock.server", "sevis_mock.harness"):
        assert resources.files(package).joinpath("py.typed").is_file(), package
