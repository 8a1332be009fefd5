"""A running sevis-mock and the ways to reach it: the connection, a batch client and the control API.

:func:`sevis_mock.running` starts one; the pytest plugin (``harness.pytest_plugin``) uses the same.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from harness import launch

if TYPE_CHECKING:
    from harness.client import SevisClient

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
        """A :class:`harness.client.SevisClient` acting as ``org`` (the seeded school by default); close it (or use
        it in a ``with``) when done."""
        from harness.client import SevisClient

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
