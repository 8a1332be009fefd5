"""What the steps share: where the mock is, the school being registered, and what earlier steps produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..api import MockApi
from ..connection import Connection
from .certs import ClientCertificate, development_ca_dir
from .model import BatchFile, Evidence, RecordOutcome


@dataclass
class Target:
    """The mock under rehearsal, from its connection.json (or command-line flags)."""

    base_url: str
    ca_cert: str | bool
    rti_url: str
    sevp_url: str
    sevp_user: str | None
    sevp_password: str | None
    outbox_url: str
    environment: str  # beta | alpha | production
    ca_dir: Path | None = None  # the development CA, when readable here
    dos_url: str | None = None  # the Department of State's designation console (J)
    control_token: str | None = None  # reads the outbox (else the SEVP operator's login does)

    @classmethod
    def from_connection(
        cls, connection: Connection, environment: str, ca_cert: str | None = None, base_url: str | None = None
    ) -> "Target":
        """The rehearsal's view of a mock's :class:`Connection` (which must list RTI, SEVP and the outbox)."""
        try:
            connection.require("rti", "sevp", "outbox")
        except ValueError as exc:
            raise ValueError(f"{exc} (a mock that predates the RTI web application: update sevis-mock on the server)")
        base = (base_url or connection.base_url).rstrip("/")
        return cls(
            base_url=base,
            ca_cert=ca_cert or connection.ca_cert or True,
            rti_url=connection.rti_url(environment),
            sevp_url=connection.sevp_url or f"{base}/sevp",
            sevp_user=connection.sevp_user,
            sevp_password=connection.sevp_password,
            outbox_url=connection.outbox_url or f"{base}/outbox",
            environment=environment,
            ca_dir=development_ca_dir(connection.ca_cert),
            dos_url=connection.dos_url or f"{base}/dos",
            control_token=connection.control_token,
        )


@dataclass
class Official:
    role: str
    first_name: str
    last_name: str
    email: str
    campus: int
    user_id: str | None = None
    campus_code: str | None = None
    password: str | None = None
    token: str | None = None
    certificate: ClientCertificate | None = None


@dataclass
class State:
    temporary_user_id: str | None = None
    temporary_password: str | None = None
    temporary_token: str | None = None
    set_password_link: str | None = None
    petition_id: Any = None
    ticket: Any = None
    sevp_token: str | None = None
    school_code: str | None = None  # F/M: the school code; J: the program number
    campus_codes: list[str] = field(default_factory=list)
    designated_categories: list[str] = field(default_factory=list)  # J
    officials: list[Official] = field(default_factory=list)
    seen_emails: set = field(default_factory=set)


@dataclass
class Context:
    target: Target
    api: MockApi
    school: dict[str, Any]
    batch_sources: list[tuple[str, bytes, bool]]  # (name, xml, is_sample)
    work_dir: Path
    college_certificate: ClientCertificate | None = None
    process_timeout: float = 120.0
    poll_interval: float = 0.2
    state: State = field(default_factory=State)
    batches: list[BatchFile] = field(default_factory=list)
    records: list[RecordOutcome] = field(default_factory=list)
    evidence: Evidence = field(default_factory=Evidence)
    sleep: Callable[[float], None] = None  # type: ignore[assignment]
    server_log: Callable[[], str] | None = None  # the embedded mock's log, for failed steps' evidence
    kind: str = "F/M"  # "F/M": a school (Form I-17, SEVP); "J": an exchange-visitor sponsor (DS-3036, DoS)

    def __post_init__(self) -> None:
        if self.sleep is None:
            import time

            self.sleep = time.sleep

    def note(self, text: str) -> None:
        self.evidence.notes.append(text)

    def main_pdso(self) -> Official:
        """The official who registers the certificate and uploads: the main campus's PDSO, or the RO."""
        if self.kind == "J":
            return next(o for o in self.state.officials if o.role == "RO")
        main = next(i for i, c in enumerate(self.school["campuses"]) if c.get("main"))
        return next(o for o in self.state.officials if o.role == "PDSO" and o.campus == main)
