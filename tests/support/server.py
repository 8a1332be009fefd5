"""Fixtures that run `sevis-mock serve` (gunicorn, real TLS) in a subprocess and talk to it over sockets."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from lxml import etree

from sevis_mock._server import MockServer, launch_mock
from sevis_mock.harness.client import SevisClient
from sevis_mock.harness.lifecycle import letters
from tests.support.reference import OFFICIAL_XSD, REFERENCE, official_or_project  # noqa: F401  (re-exported)

ROOT = Path(__file__).resolve().parents[2]
TRANSLOG_XSD = official_or_project(OFFICIAL_XSD / "6.27-j" / "SevisTransLog.xsd", "TransactionLog")

_translog_schema = None


def official_translog_schema() -> etree.XMLSchema:
    global _translog_schema
    if _translog_schema is None:
        _translog_schema = etree.XMLSchema(etree.parse(str(TRANSLOG_XSD)))
    return _translog_schema


SEVIS_TIME = "%Y-%m-%dT%H:%M:%S.%f%z"
SEVIS_TIME_SHAPE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")
EASTERN = ZoneInfo("America/New_York")


def sevis_time(value: str | None) -> datetime:
    """A SEVIS timestamp (PROTOCOL §3a: ``2019-05-21T11:55:36.234-04:00``), parsed with the strict pattern a
    client would use; it must be America/New_York time with that moment's offset."""
    assert value is not None and SEVIS_TIME_SHAPE.fullmatch(value), f"{value!r} is not YYYY-MM-DDThh:mm:ss.fff±hh:mm"
    when = datetime.strptime(value, SEVIS_TIME)
    assert when.utcoffset() == when.astimezone(EASTERN).utcoffset(), f"{value!r} is not America/New_York time"
    return when


def assert_valid_log(xml: bytes) -> etree._Element:
    """Every log the mock emits must validate against the official SevisTransLog.xsd (the project's copy when
    the reference folder is absent), and every timestamp in it must be written as SEVIS writes them (see
    ``sevis_time``), no record stamped after its batch."""
    doc = etree.fromstring(xml)
    schema = official_translog_schema()
    assert schema.validate(doc.getroottree()), f"log invalid against official XSD: {schema.error_log}\n{xml.decode()}"
    for stamped in doc.iterfind("BatchDetail/*[@dateTimeStamp]"):
        sevis_time(stamped.get("dateTimeStamp"))
    process = doc.find("BatchDetail/Process")
    if process is not None:
        ended = sevis_time(process.get("dateTimeStamp"))
        for record in process.iterfind("Record"):
            assert sevis_time(record.findtext("ProcessDate")) <= ended, xml.decode()
    return doc


@dataclass
class Reply:
    log: etree._Element
    raw: bytes
    detail: str
    pdfs: dict

    @property
    def upload_code(self) -> str | None:
        el = self.log.find("BatchDetail/Upload")
        return None if el is None else el.get("resultCode")

    @property
    def process_code(self) -> str | None:
        el = self.log.find("BatchDetail/Process")
        return None if el is None else el.get("resultCode")

    @property
    def download_code(self) -> str | None:
        el = self.log.find("BatchDetail/Download")
        return None if el is None else el.get("resultCode")

    def record(self, request_id: str) -> etree._Element:
        found = self.log.find(f"BatchDetail/Process/Record[@requestID='{request_id}']")
        assert found is not None, f"no Record for {request_id}:\n{self.raw.decode()}"
        return found


class RunningServer:
    """A test's hold on a running mock: the product's own handle (:class:`sevis_mock._server.MockServer`: the
    process, its connection.json, the control API) and batch client (:class:`SevisClient`), with replies checked
    against the official TransLog XSD and organizations as connection.json lists them (dicts)."""

    def __init__(self, mock: MockServer) -> None:
        self.mock = mock

    @property
    def data_dir(self) -> Path:
        return self.mock.data_dir

    @property
    def proc(self) -> subprocess.Popen:
        return self.mock.proc

    @property
    def args(self) -> list[str]:
        return list(self.mock.proc.args)

    @property
    def info(self) -> dict:
        return self.mock.info

    @property
    def base_url(self) -> str:
        return self.mock.base_url

    @property
    def database_url(self) -> str:
        """The store the server runs on: its ``--database`` URL, else SQLite's file in its data dir."""
        args = [str(a) for a in self.args]
        if "--database" in args:
            return args[args.index("--database") + 1]
        return f"sqlite:///{self.data_dir / 'sevis-mock.db'}"

    @property
    def ca(self) -> str:
        return self.mock.ca_cert

    def org(self, kind: str) -> dict:
        return next(o for o in self.info["organizations"] if o["kind"] == kind)

    def session(self, cert: tuple[str, str] | None) -> requests.Session:
        """A bare session trusting the mock's CA, for requests the batch client would not send."""
        s = requests.Session()
        s.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
        s.verify = self.ca
        s.cert = cert
        return s

    def client(self, org: dict, cert: tuple[str, str] | None, env: str) -> SevisClient:
        return SevisClient(
            self.base_url, cert=cert or (org["client_cert"], org["client_key"]), ca_bundle=self.ca, environment=env
        )

    def upload(
        self,
        xml: bytes,
        *,
        org: dict,
        batch_id: str,
        user_id: str | None = None,
        org_id: str | None = None,
        cert: tuple[str, str] | None = None,
        env: str = "sbtsevisbatch",
        filename: str = "batch.xml",
    ) -> Reply:
        with self.client(org, cert, env) as client:
            sent = client.upload(
                xml,
                org_id=org_id or org["org_id"],
                user_id=user_id or org["user_id"],
                batch_id=batch_id,
                filename=filename,
            )
        return Reply(assert_valid_log(sent.log.xml), sent.log.xml, sent.detail or "", {})

    def download(
        self,
        *,
        org: dict,
        batch_id: str,
        user_id: str | None = None,
        org_id: str | None = None,
        cert: tuple[str, str] | None = None,
        env: str = "sbtsevisbatch",
        method: str = "GET",
    ) -> Reply:
        """``method``: GET (query string), POST (multipart) or FORM (urlencoded POST)."""
        with self.client(org, cert, env) as client:
            return self._download(client, org, batch_id, user_id, org_id, method)

    def _download(
        self, client: SevisClient, org: dict, batch_id: str, user_id: str | None, org_id: str | None, method: str
    ) -> Reply:
        got = client.download(
            org_id=org_id or org["org_id"], user_id=user_id or org["user_id"], batch_id=batch_id, method=method
        )
        assert got.zip_bytes is not None, f"a download must answer a zip, not:\n{got.log.xml.decode()}"
        return Reply(assert_valid_log(got.log.xml), got.log.xml, got.detail or "", got.pdfs)

    def wait_processed(
        self,
        *,
        org: dict,
        batch_id: str,
        timeout: float = 30,
        user_id: str | None = None,
        org_id: str | None = None,
        cert: tuple[str, str] | None = None,
        env: str = "sbtsevisbatch",
        method: str = "GET",
    ) -> Reply:
        """Download until the batch is processed: the polls of one wait on one connection, kept alive between them
        as a polling client keeps it (a new TLS handshake for each poll cost more than the poll itself)."""
        deadline = time.monotonic() + timeout
        with self.client(org, cert, env) as client:
            while True:
                reply = self._download(client, org, batch_id, user_id, org_id, method)
                if reply.download_code != "S0030" or time.monotonic() > deadline:
                    return reply
                time.sleep(0.05)  # a batch is processed in tens of milliseconds: a longer poll is mostly waiting

    def control(self, method: str, path: str, body=None):
        """A control API call (``path`` relative to /control/); returns the JSON reply."""
        return self.mock.control(method, path, json=body)

    def stop(self, *, wait: bool = True) -> None:
        """Stop the server and its workers. ``wait=False``, for fixture teardowns after which nothing uses the data
        dir again, only starts the stop (SIGTERM to its process group): the next tests run while it winds down,
        and the session waits for it before it reads the servers' logs."""
        if wait or self.proc.poll() is not None:
            self.mock.stop()
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        _stopping.append(self.mock)


_stopping: list[MockServer] = []  # servers told to stop and not waited for yet


def wait_for_stopping_servers() -> None:
    while _stopping:
        _stopping.pop().stop()  # waits for the exit (SIGKILL after 20 s)


def sevis_mock_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``sevis-mock ARGS...`` in a subprocess, with no SEVIS_MOCK_* variable of this environment but those of
    ``env``; its output captured as text."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SEVIS_MOCK_")}
    return subprocess.run(
        [sys.executable, "-m", "sevis_mock", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **(env or {})},
        timeout=timeout,
    )


def start_server(data_dir: Path, *extra: str, timeout: float = 60, migrated: bool = True) -> RunningServer:
    """``sevis-mock serve --data-dir DATA_DIR --port 0 EXTRA...`` with ONE worker process unless ``extra`` says
    ``--workers N`` (serve's own default is 2). A test that checks behaviour across processes (a change made
    through one worker seen by the next request, on whichever worker it lands; competing batch processors) passes
    ``"--workers", "2"`` and says why.

    A new (absent or empty) data dir on SQLite gets a copy of a database with this version's schema
    (:func:`migrated_sqlite`): the server then starts as on any later day, without running the migrations (half a
    second of CPU per server; tests/test_migrations.py tests them). ``migrated=False`` for a test of what a first
    start makes of an empty data dir."""
    data_dir = Path(data_dir)
    workers = () if "--workers" in extra else ("--workers", "1")
    elsewhere = "--database" in extra or os.environ.get("SEVIS_MOCK_DATABASE_URL")
    if migrated and not elsewhere and (not data_dir.exists() or not any(data_dir.iterdir())):
        migrated_sqlite(data_dir)
    return RunningServer(launch_mock(data_dir, *workers, *extra, timeout=timeout, cwd=ROOT, answering=False))


_schema_template: list[Path] = []  # an SQLite database migrated once per test process


def migrated_sqlite(data_dir: Path) -> Path:
    """``DATA_DIR/sevis-mock.db`` (serve's default database) as a new database holding this version's schema and
    nothing else, mode 0600: a copy of one migrated once per test process (a file copy instead of the migrations)."""
    if not _schema_template:
        from sevis_mock.server.store import Store

        folder = Path(tempfile.mkdtemp(prefix="sevis-mock-schema-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        store = Store(f"sqlite:///{folder / 'sevis-mock.db'}")
        try:
            store.create_all()
        finally:
            store.engine.dispose()  # the last connection closed: the write-ahead log is in the file, and gone
        _schema_template.append(folder / "sevis-mock.db")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database = data_dir / "sevis-mock.db"
    with open(_schema_template[0], "rb") as source:
        descriptor = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(descriptor, "wb") as target:
            shutil.copyfileobj(source, target)
    return database


@pytest.fixture(scope="session")
def mock_server(tmp_path_factory):
    """One server for the session: processing at once, 2 workers (serve's default: the session's batches are
    uploaded, processed and downloaded by whichever worker a connection or a processor lands on)."""
    server = start_server(tmp_path_factory.mktemp("mock"), "--processing-delay", "0", "--workers", "2")
    yield server
    server.stop(wait=False)


@pytest.fixture
def server_factory(tmp_path):
    started: list[RunningServer] = []

    def start(*extra: str, data_dir: Path | None = None) -> RunningServer:
        server = start_server(data_dir or tmp_path / f"mock{len(started)}", *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(wait=False)


_counter = [0]


def new_batch_id(prefix: str = "T") -> str:
    """A fresh 14-character batch ID."""
    _counter[0] += 1
    stamp = f"{os.getpid() % 10000:04d}{int(time.time() * 1000) % 10**5:05d}{_counter[0]:04d}"
    return (prefix + stamp)[:14].ljust(14, "0")


def with_batch_id(xml: bytes, batch_id: str, fresh_people: bool = True) -> bytes:
    """``xml`` with a new header BatchID and, unless told otherwise, new last names for every person
    in it, so that uploading a fixture again is not a duplicate student (S1004)."""
    doc = etree.fromstring(xml)
    doc.find("BatchHeader/BatchID").text = batch_id
    if fresh_people:
        _counter[0] += 1
        suffix = letters(_counter[0] * 7919 + os.getpid())
        for last in doc.iter("LastName"):
            last.text = f"{last.text} {suffix}"[:40]
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def open_store(server: "RunningServer"):
    """The server's own database (its --database, else SQLite's file in its data dir), for arranging states the
    control API does not reach yet."""
    from sevis_mock.server.store import Store

    return Store(server.database_url)


# --- an invariant over the whole run: no server answered with an unhandled exception -----------------------

UNHANDLED = "Traceback (most recent call last)"


def servers_with_unhandled_errors(base: Path) -> list[tuple[Path, str]]:
    """Every serve.log under ``base`` holding a traceback, with the lines around the first one."""
    found = []
    for log in sorted(base.rglob("serve.log")):
        if "basetemp" in log.relative_to(base).parts:  # a pytester run inside this one: judged by its own session
            continue
        text = log.read_text(errors="replace")
        at = text.find(UNHANDLED)
        if at >= 0:
            start = text.rfind("\n", 0, max(0, at - 300)) + 1
            found.append((log, text[start : at + 2500]))
    return found


def pytest_sessionfinish(session, exitstatus):
    """Bad input must never crash the server: a traceback in any test server's log fails the run, even
    when the test that provoked it passed (the client may have accepted a 500 or given up waiting)."""
    wait_for_stopping_servers()  # their logs are complete once they have exited
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = getattr(factory, "_basetemp", None) if factory is not None else None
    if base is None or not Path(base).is_dir():
        return
    found = servers_with_unhandled_errors(Path(base))
    if not found:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.section("servers that logged an unhandled exception", sep="=", red=True, bold=True)
        for log, excerpt in found:
            reporter.write_line(f"{log}:\n{excerpt}\n")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
