"""A pytest plugin for projects that talk to SEVIS Batch: a real sevis-mock over mutual TLS per session.

Installed with sevis-mock (entry point ``pytest11``: ``sevis_mock``), it gives every test:

* ``sevis_mock`` -- the running server (:class:`MockServer`), reset to a fresh data dir before each test
  (session-scoped process; ``POST /control/reset`` per test). Seeded: the approved, batch-registered
  F/M school ``MCK214F00001000`` (PDSO ``MCKPDSO001``) and J sponsor ``P-1-12345`` (RO ``MCKRO00001``).
* ``sevis_org`` -- the organization a test acts as (:class:`SevisOrg`: org ID, user ID, certificate
  paths); the school unless the test is marked ``@pytest.mark.sevis_org("J")``.
* ``sevis_client`` -- a :class:`sevis_mock.harness.client.SevisClient` for ``sevis_org`` on the beta endpoint.
* :func:`assert_record_ok` and :func:`assert_record_failed` to assert on a transaction log.

ini options: ``sevis_mock_processing_delay`` (seconds, default 0) and ``sevis_mock_serve_args``
(more ``sevis-mock serve`` arguments, e.g. ``--schemas path/to/official/xsd``).
"""

from __future__ import annotations

import shlex

import pytest

from sevis_mock import running
from sevis_mock._server import FaultHandle, MockControlError, MockServer, SevisOrg, control_certificate, start_mock

__all__ = [
    "FaultHandle",
    "MockControlError",
    "MockServer",
    "SevisOrg",
    "assert_record_failed",
    "assert_record_ok",
    "start_mock",
    "control_certificate",
]


# --- assertions on a transaction log ------------------------------------------------------------


def _records(log) -> list:
    from .client import TransactionLog, parse_transaction_log

    if isinstance(log, (bytes, str)):
        log = parse_transaction_log(log)
    log = getattr(log, "log", log)  # a DownloadResult or UploadResult holds its TransactionLog
    if not isinstance(log, TransactionLog):
        raise TypeError(f"expected a transaction log (DownloadResult, TransactionLog or XML), not {type(log).__name__}")
    if log.process is None:
        raise AssertionError(
            f"batch {log.batch_id} has no Process result yet (download code {log.download_code}); "
            "wait for processing before asserting on records"
        )
    return log.records


def _find(log, request_id: str):
    records = _records(log)
    for record in records:
        if record.request_id == request_id:
            return record
    known = ", ".join(r.request_id for r in records) or "none"
    raise AssertionError(f"no Record with requestID {request_id!r} in the log (requestIDs: {known})")


def assert_record_ok(log, request_id: str):
    """The record sent with ``request_id`` succeeded; returns its :class:`sevis_mock.harness.client.RecordResult`."""
    record = _find(log, request_id)
    if not record.ok:
        raise AssertionError(f"record {request_id} failed with {record.error_code}: {record.error_message}")
    return record


def assert_record_failed(log, request_id: str, *, code: str | None = None):
    """The record sent with ``request_id`` failed (with result ``code`` when given); returns it."""
    record = _find(log, request_id)
    if record.ok:
        raise AssertionError(
            f"record {request_id} succeeded (SEVIS ID {record.sevis_id}); expected "
            f"{'failure ' + code if code else 'a failure'}"
        )
    if code is not None and record.error_code != code:
        raise AssertionError(
            f"record {request_id} failed with {record.error_code} ({record.error_message}), not {code}"
        )
    return record


# --- pytest hooks and fixtures ------------------------------------------------------------------


def pytest_addoption(parser) -> None:
    parser.addini(
        "sevis_mock_processing_delay", "seconds between upload and processing in the sevis_mock server", default="0"
    )
    parser.addini("sevis_mock_serve_args", "more `sevis-mock serve` arguments for the sevis_mock server", default="")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", 'sevis_org(kind): act as the seeded "F/M" school (default) or "J" sponsor')
    config.addinivalue_line(
        "markers",
        "sevis_fault(respond=None, match=None, times=None, scenario=None): faults in force for the test "
        "(a rule, or a shipped scenario by name); repeatable",
    )


@pytest.fixture(scope="session")
def sevis_mock_server(tmp_path_factory, pytestconfig):
    """The session's sevis-mock process (not reset; most tests want ``sevis_mock``)."""
    delay = float(pytestconfig.getini("sevis_mock_processing_delay") or 0)
    # a throwaway server: cheap password hashing (tests that log in to RTI would spend most time in scrypt)
    extra = tuple(shlex.split(pytestconfig.getini("sevis_mock_serve_args") or ""))
    with running(data_dir=tmp_path_factory.mktemp("sevis-mock"), processing_delay=delay, extra=extra) as server:
        yield server


@pytest.fixture
def sevis_mock(sevis_mock_server, request) -> MockServer:
    """The running mock, reset to its seeded state (clock, organizations, no batches, records or faults), with
    the faults of the test's ``sevis_fault`` markers in force."""
    if not sevis_mock_server.alive():
        raise RuntimeError(f"the sevis-mock server has stopped; see {sevis_mock_server.data_dir / 'serve.log'}")
    sevis_mock_server.reset()
    for marker in reversed(list(request.node.iter_markers("sevis_fault"))):  # closest last: file order
        apply_fault_marker(sevis_mock_server, *marker.args, **marker.kwargs)
    return sevis_mock_server


def apply_fault_marker(server: MockServer, respond: dict | None = None, match: dict | None = None, **kwargs) -> None:
    scenario = kwargs.pop("scenario", None)
    if scenario is not None:
        if respond is not None or match is not None or kwargs:
            raise pytest.UsageError("sevis_fault: give scenario=NAME alone, or a rule (respond=, match=, times=)")
        server.load_scenario(scenario)
        return
    if respond is None:
        raise pytest.UsageError("sevis_fault: give respond={...} (and match=, times=) or scenario=NAME")
    server.add_fault(respond, match, **kwargs)


@pytest.fixture
def sevis_org(sevis_mock, request) -> SevisOrg:
    marker = request.node.get_closest_marker("sevis_org")
    kind = marker.args[0] if marker and marker.args else "F/M"
    return sevis_mock.org(kind)


@pytest.fixture
def sevis_client(sevis_mock, sevis_org):
    client = sevis_mock.client(sevis_org)
    yield client
    client.close()
