"""A running sevis-mock and the ways to reach it: the connection, a batch client and the control API.

:func:`sevis_mock.running` starts one; the pytest plugin (``sevis_mock.harness.pytest_plugin``) uses the same.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from sevis_mock.harness import launch

if TYPE_CHECKING:
    from sevis_mock.harness.client import SevisClient

__all__ = ["MockControlError", "MockServer", "SevisOrg", "start_mock"]


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
    """A `sevis-mock serve` subprocess and the ways to reach it (batch client, control API)."""

    def __init__(self, data_dir: Path, proc: subprocess.Popen, info: dict) -> None:
        self.data_dir = data_dir
        self.proc = proc
        self.info = info
        self._http = requests.Session()
        self._http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=
        self._http.verify = self.ca_cert
        # the control API answers over the same mutual-TLS listener; a certificate of its own, registered to no
        # organization, keeps it reachable when a fault refuses the organizations' certificates
        self._http.cert = control_certificate(data_dir) or self.orgs[0].cert
        self._http.headers["Authorization"] = f"Bearer {info['control']['token']}"

    # --- where things are ------------------------------------------------------------------------
    @property
    def connection(self) -> dict:
        """The contents of ``DATA_DIR/connection.json``: base URL, CA, organizations, control API, RTI, SEVP."""
        return self.info

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

    def client(self, org: SevisOrg | None = None, *, environment: str = "sbtsevisbatch") -> SevisClient:
        """A :class:`sevis_mock.harness.client.SevisClient` acting as ``org`` (the seeded school by default); close it (or use
        it in a ``with``) when done."""
        from sevis_mock.harness.client import SevisClient

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
        self._http.close()
        launch.stop(self.proc)

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
