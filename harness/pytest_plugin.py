"""A pytest plugin for projects that talk to SEVIS Batch: a real sevis-mock over mutual TLS per session.

Installed with sevis-mock (entry point ``pytest11``: ``sevis_mock``), it gives every test:

* ``sevis_mock`` -- the running server (:class:`MockServer`), reset to a fresh data dir before each test
  (session-scoped process; ``POST /control/reset`` per test). Seeded: the approved, batch-registered
  F/M school ``MCK214F00001000`` (PDSO ``MCKPDSO001``) and J sponsor ``P-1-12345`` (RO ``MCKRO00001``).
* ``sevis_org`` -- the organization a test acts as (:class:`SevisOrg`: org ID, user ID, certificate
  paths); the school unless the test is marked ``@pytest.mark.sevis_org("J")``.
* ``sevis_client`` -- a :class:`harness.client.SevisClient` for ``sevis_org`` on the beta endpoint.
* :func:`assert_record_ok` and :func:`assert_record_failed` to assert on a transaction log.

ini options: ``sevis_mock_processing_delay`` (seconds, default 0) and ``sevis_mock_serve_args``
(more ``sevis-mock serve`` arguments, e.g. ``--schemas path/to/official/xsd``).
"""

from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import launch

__all__ = ["MockServer", "SevisOrg", "assert_record_failed", "assert_record_ok", "start_mock"]


class MockControlError(RuntimeError):
    """The control API refused a request; the message carries its explanation."""


@dataclass(frozen=True)
class SevisOrg:
    """An organization of the mock as a client sees it: IDs and the official's certificate files."""

    org_id: str
    kind: str  # "F/M" | "J"
    name: str
    user_id: str
    client_cert: str
    client_key: str
    ca_cert: str

    @property
    def cert(self) -> tuple[str, str]:
        return (self.client_cert, self.client_key)


class MockServer:
    """A `sevis-mock serve` subprocess and the ways to reach it (batch client, control API)."""

    def __init__(self, data_dir: Path, proc: subprocess.Popen, info: dict) -> None:
        self.data_dir = data_dir
        self.proc = proc
        self.info = info
        self._http = requests.Session()
        self._http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=
        self._http.verify = self.ca_cert
        school = self.orgs[0]  # the control API answers over the same mutual-TLS listener
        self._http.cert = school.cert
        self._http.headers["Authorization"] = f"Bearer {info['control']['token']}"

    # --- where things are ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    @property
    def ca_cert(self) -> str:
        return self.info["ca_cert"]

    @property
    def orgs(self) -> list[SevisOrg]:
        return [
            SevisOrg(o["org_id"], o["kind"], o["name"], o["user_id"], o["client_cert"], o["client_key"], self.ca_cert)
            for o in self.info["organizations"]
        ]

    def org(self, kind: str = "F/M") -> SevisOrg:
        """The seeded school (``"F/M"``) or sponsor (``"J"``)."""
        found = [o for o in self.orgs if o.kind == kind]
        if not found:
            raise LookupError(f"no seeded organization of kind {kind!r}; kinds are 'F/M' and 'J'")
        return found[0]

    def client(self, org: SevisOrg | None = None, *, environment: str = "sbtsevisbatch"):
        from .client import SevisClient

        org = org or self.org("F/M")
        return SevisClient(self.base_url, cert=org.cert, ca_bundle=self.ca_cert, environment=environment)

    # --- control API -----------------------------------------------------------------------------
    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.info['control']['url']}/{path.lstrip('/')}"
        r = self._http.request(method, url, timeout=60, **kwargs)
        if r.status_code >= 400:
            try:
                reason = r.json().get("error", r.text)
            except ValueError:
                reason = r.text[:300]
            raise MockControlError(f"{method} {url}: HTTP {r.status_code}: {reason}")
        return r.json()

    def reset(self, *, keep_clock: bool = False) -> dict:
        return self.control("POST", "reset", json={"keep_clock": keep_clock})

    def seed(self, kind: str = "F/M", **fields: Any) -> SevisOrg:
        """A further approved, batch-registered organization with one official and a client certificate."""
        made = self.control("POST", "seed", json={"kind": kind, **fields})
        official = made["officials"][0]
        return SevisOrg(
            made["org_id"],
            made["kind"],
            made["name"],
            official["user_id"],
            official["client_cert"],
            official["client_key"],
            self.ca_cert,
        )

    def process_now(self) -> int:
        return self.control("POST", "process-now")["processed"]

    def profile(self, org_id: str) -> dict:
        """The organization's profile: a school's Form I-17 facts or a sponsor's designation."""
        return self.control("GET", f"orgs/{org_id}/profile")["profile"]

    def set_profile(self, org_id: str, **changes: Any) -> dict:
        """Change profile keys (e.g. ``english_language_school=True``, ``korea_west=True``); returns the profile."""
        return self.control("POST", f"orgs/{org_id}/profile", json=changes)["profile"]

    def reset_profile(self, org_id: str) -> dict:
        """Put the organization's profile back to the defaults."""
        return self.control("DELETE", f"orgs/{org_id}/profile")["profile"]

    def clock(self) -> dict:
        return self.control("GET", "clock")

    def set_clock(self, now: str) -> dict:
        return self.control("POST", "clock", json={"now": now})

    def advance_clock(self, seconds: float) -> dict:
        return self.control("POST", "clock", json={"advance_seconds": seconds})

    def journal(self, **filters: str) -> list[dict]:
        """Requests to the batch endpoints; filters ``org``, ``batch``, ``user``, ``action``, ``since``."""
        return self.control("GET", "journal", params=filters)["entries"]

    def records(self, **filters: str) -> list[dict]:
        return self.control("GET", "records", params=filters)["records"]

    def record(self, sevis_id: str) -> dict:
        return self.control("GET", f"records/{sevis_id}")

    # --- lifetime --------------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self._http.close()
        launch.stop(self.proc)


def start_mock(
    data_dir: Path, *, processing_delay: float = 0, workers: int = 1, extra: tuple[str, ...] = (), timeout: float = 90
) -> MockServer:
    """Start ``sevis-mock serve`` on a free port of 127.0.0.1 and wait until it has written connection.json."""
    data_dir = Path(data_dir)
    deadline = time.monotonic() + timeout
    proc, info = launch.launch(
        data_dir,
        "--host",
        "127.0.0.1",
        "--processing-delay",
        str(processing_delay),
        "--workers",
        str(workers),
        *extra,
        timeout=timeout,
    )
    server = MockServer(data_dir, proc, info)
    _wait_answering(server, deadline)
    return server


def _wait_answering(server: MockServer, deadline: float) -> None:
    """connection.json is written when the listener is bound; wait until a worker answers as well."""
    while True:
        try:
            server.clock()
            return
        except (requests.ConnectionError, MockControlError) as exc:
            if not server.alive() or time.monotonic() > deadline:
                server.stop()
                tail = (server.data_dir / "serve.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"sevis-mock serve does not answer ({exc}):\n{tail}") from exc
            time.sleep(0.1)


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
    """The record sent with ``request_id`` succeeded; returns its :class:`harness.client.RecordResult`."""
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


@pytest.fixture(scope="session")
def sevis_mock_server(tmp_path_factory, pytestconfig):
    """The session's sevis-mock process (not reset; most tests want ``sevis_mock``)."""
    delay = float(pytestconfig.getini("sevis_mock_processing_delay") or 0)
    # a throwaway server: cheap password hashing (tests that log in to RTI would spend most time in scrypt)
    extra = ("--fast-passwords", *shlex.split(pytestconfig.getini("sevis_mock_serve_args") or ""))
    server = start_mock(tmp_path_factory.mktemp("sevis-mock"), processing_delay=delay, extra=extra)
    yield server
    server.stop()


@pytest.fixture
def sevis_mock(sevis_mock_server) -> MockServer:
    """The running mock, reset to its seeded state (clock, organizations, no batches or records)."""
    if not sevis_mock_server.alive():
        raise RuntimeError(f"the sevis-mock server has stopped; see {sevis_mock_server.data_dir / 'serve.log'}")
    sevis_mock_server.reset()
    return sevis_mock_server


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
