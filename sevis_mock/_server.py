"""A running sevis-mock and the ways to reach it: the connection, a batch client and the control API.

:func:`sevis_mock.running` starts one; the pytest plugin (``sevis_mock.harness.pytest_plugin``) uses the same.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sevis_mock.harness import launch
from sevis_mock.harness.api import MockApi, MockControlError
from sevis_mock.harness.connection import Connection, SevisOrg

if TYPE_CHECKING:
    from sevis_mock.harness.client import SevisClient

__all__ = ["MockControlError", "MockServer", "SevisOrg", "launch_mock", "start_mock"]


class FaultHandle:
    """A fault added through :meth:`MockServer.fault`: its ``id``, the rule, and its live ``hits`` count."""

    def __init__(self, server: "MockServer", made: dict) -> None:
        self.server = server
        self.id: int = made["id"]
        self.rule = made

    @property
    def hits(self) -> int:
        return self.server.control("GET", f"faults/{self.id}")["hits"]

    def __repr__(self) -> str:
        return f"FaultHandle(id={self.id}, kind={self.rule.get('kind')!r})"


class MockServer:
    """A `sevis-mock serve` subprocess and the ways to reach it: its :class:`Connection`, a batch client, the
    JSON client of its web side and control API (:attr:`api`)."""

    def __init__(self, data_dir: Path, proc: subprocess.Popen, info: dict | Connection) -> None:
        self.data_dir = Path(data_dir)
        self.proc = proc
        connection = info if isinstance(info, Connection) else Connection.from_dict(info, source="connection.json")
        self._connection = connection
        self.info: dict = connection.raw
        self._api: MockApi | None = None

    # --- where things are ------------------------------------------------------------------------
    @property
    def connection(self) -> Connection:
        """``DATA_DIR/connection.json``, typed (``connection["base_url"]`` reads the JSON as written)."""
        return self._connection

    @property
    def base_url(self) -> str:
        return self._connection.base_url

    @property
    def ca_cert(self) -> str:
        return self._connection.ca_cert or ""

    @property
    def orgs(self) -> list[SevisOrg]:
        return list(self._connection.organizations)

    def org(self, kind: str = "F/M") -> SevisOrg:
        """The seeded school (``"F/M"``) or sponsor (``"J"``)."""
        return self._connection.org(kind)

    def client(self, org: SevisOrg | None = None, *, environment: str = "sbtsevisbatch") -> SevisClient:
        """A :class:`sevis_mock.harness.client.SevisClient` acting as ``org`` (the seeded school by default); close it (or use
        it in a ``with``) when done."""
        from sevis_mock.harness.client import SevisClient

        return SevisClient.for_org(self._connection, org or self.org("F/M"), environment=environment)

    @property
    def api(self) -> MockApi:
        """The JSON client of RTI, the consoles, the outbox and the control API (made on first use)."""
        if self._api is None:
            # the control API answers over the same mutual-TLS listener; a certificate of its own, registered to no
            # organization, keeps it reachable when a fault refuses the organizations' certificates
            # process-now works through every due batch before it answers: a long wait, which only a hang reaches
            self._api = MockApi.for_connection(
                self._connection, control_cert=control_certificate(self.data_dir), timeout=300
            )
        return self._api

    # --- control API -----------------------------------------------------------------------------
    def control(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """A control API call (``path`` relative to /control/); the decoded JSON, or :class:`MockControlError`."""
        return self.api.control(method, path, json=json, params=params)

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
            self._connection.ca_cert,
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

    def agency_event(self, sevis_id: str, event: str, **fields: Any) -> dict:
        """Another agency's event on a record, e.g. ``agency_event(sid, "CBPAdmission", date="2027-01-10",
        port_of_entry="NYC", class_of_admission="F-1")``; returns the record's status and agency events."""
        return self.control("POST", f"records/{sevis_id}/agency-events", json={"event": event, **fields})

    def clock(self) -> dict:
        return self.control("GET", "clock")

    def set_clock(self, now: str) -> dict:
        return self.control("POST", "clock", json={"now": now})

    def advance_clock(self, seconds: float) -> dict:
        return self.control("POST", "clock", json={"advance_seconds": seconds})

    def journal(self, **filters: str) -> list[dict]:
        """Requests to the batch endpoints; filters ``org``, ``batch``, ``user``, ``action``, ``since``."""
        return self.control("GET", "journal", params=filters)["entries"]

    # --- faults and outages (see sevis_mock.server.faults) ----------------------------------------------
    def add_fault(self, respond: dict, match: dict | None = None, *, times: int | None = None, **more: Any) -> dict:
        """Add a fault rule (``POST /control/faults``); returns it with its ``id``. Stays until deleted."""
        rule: dict[str, Any] = {"respond": respond, **more}
        if match:
            rule["match"] = match
        if times is not None:
            rule["times"] = times
        return self.control("POST", "faults", json=rule)

    @contextlib.contextmanager
    def fault(
        self, respond: dict, match: dict | None = None, *, times: int | None = None, **more: Any
    ) -> Iterator["FaultHandle"]:
        """A fault for the ``with`` block: yields a :class:`FaultHandle` (``.id``, ``.hits``), removed afterwards.

        ``with sevis_mock.fault({"http_status": 503}, {"endpoint": "upload"}, times=1) as f: ...``"""
        made = self.add_fault(respond, match, times=times, **more)
        try:
            yield FaultHandle(self, made)
        finally:
            self.delete_fault(made["id"], missing_ok=True)

    @contextlib.contextmanager
    def scenario(self, name: str | None = None, *, yaml: str | None = None) -> Iterator[list["FaultHandle"]]:
        """A shipped scenario (by name) or your own (YAML text) for the ``with`` block; yields its faults."""
        made = self.load_scenario(name, yaml=yaml)
        try:
            yield [FaultHandle(self, f) for f in made]
        finally:
            for f in made:
                self.delete_fault(f["id"], missing_ok=True)

    def load_scenario(self, name: str | None = None, *, yaml: str | None = None) -> list[dict]:
        """Put a scenario's faults in force until deleted; returns them."""
        if (name is None) == (yaml is None):
            raise ValueError("give a shipped scenario's name or yaml=<scenario text>")
        body = {"name": name} if name is not None else {"yaml": yaml}
        return self.control("POST", "scenarios", json=body)["faults"]

    def faults(self) -> list[dict]:
        """Every fault with its ``hits``."""
        return self.control("GET", "faults")["faults"]

    def delete_fault(self, fault_id: int, *, missing_ok: bool = False) -> None:
        try:
            self.control("DELETE", f"faults/{fault_id}")
        except MockControlError:
            if not missing_ok:
                raise

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def records(self, **filters: str) -> list[dict]:
        return self.control("GET", "records", params=filters)["records"]

    def record(self, sevis_id: str) -> dict:
        return self.control("GET", f"records/{sevis_id}")

    # --- lifetime --------------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self._api is not None:
            self._api.close()
        launch.stop(self.proc)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of ``DATA_DIR/serve.log``."""
        return launch.serve_log_tail(self.data_dir, chars)

    def __enter__(self) -> "MockServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def control_certificate(data_dir: Path) -> tuple[str, str] | None:
    """A client certificate from the mock's development CA for the control API (made once per data dir)."""
    from sevis_mock.server.tls import CertificateAuthority

    certs, out = Path(data_dir) / "certs", Path(data_dir) / "control-client"
    cert, key = out / "control-CONTROL000.pem", out / "control-CONTROL000.key.pem"
    if not (certs / "ca.key.pem").exists():
        return None
    if not (cert.exists() and key.exists()):
        CertificateAuthority.load_or_create(certs).issue_client(out, org_id="control", user_id="CONTROL000")
    return str(cert), str(key)


def launch_mock(
    data_dir: Path, *args: str, timeout: float = 90, cwd: Path | None = None, answering: bool = True
) -> MockServer:
    """Run ``sevis-mock serve --data-dir DATA_DIR --port 0 ARGS...`` and wait until it has written connection.json
    (and, with ``answering``, until a worker answers the control API); raises ``launch.ServeDidNotStart``."""
    data_dir = Path(data_dir)
    deadline = time.monotonic() + timeout
    proc, info = launch.launch(data_dir, *args, timeout=timeout, cwd=cwd)
    try:
        server = MockServer(data_dir, proc, info)
    except ValueError:
        launch.stop(proc)
        raise
    if answering:
        _wait_answering(server, deadline)
    return server


def start_mock(
    data_dir: Path, *, processing_delay: float = 0, workers: int = 1, extra: tuple[str, ...] = (), timeout: float = 90
) -> MockServer:
    """Start ``sevis-mock serve`` on a free port of 127.0.0.1 and wait until it answers."""
    return launch_mock(
        Path(data_dir),
        "--host",
        "127.0.0.1",
        "--processing-delay",
        str(processing_delay),
        "--workers",
        str(workers),
        *extra,
        timeout=timeout,
    )


def _wait_answering(server: MockServer, deadline: float) -> None:
    """connection.json is written when the listener is bound; wait until a worker answers as well."""
    while True:
        try:
            server.clock()
            return
        except MockControlError as exc:
            if not server.alive() or time.monotonic() > deadline:
                server.stop()
                raise launch.ServeDidNotStart(
                    f"sevis-mock serve does not answer ({exc}):\n{server.log_tail()}"
                ) from exc
            time.sleep(0.1)
