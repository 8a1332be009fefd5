"""One settings object for the mock; `SEVIS_MOCK_*` environment variables fill what flags leave out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from .clock import parse_iso


def parse_public_url(value: str) -> str:
    """``https://HOST`` or ``https://HOST:PORT`` (the address of a proxy in front of the instances), without a
    trailing slash; ValueError saying what is wrong otherwise."""
    try:
        parts = urlsplit(value.strip())
        parts.port  # a port that is not a number in range raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(
            f"{value[:200]!r} is not an address clients can use: give https://HOST or https://HOST:PORT (the name or "
            "address of the proxy in front of the instances, no path)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value[:200]!r}: give https://HOST[:PORT] alone, without user, query or fragment")
    return f"https://{parts.netloc}"


# Processing latency by profile (PROTOCOL §1: alpha seconds, beta about 20 minutes, production overnight).
PROFILES = ("alpha", "beta", "production")
ALPHA_DELAY = timedelta(seconds=5)  # a real alpha log shows process ~6 s after upload
BETA_DELAY = timedelta(minutes=20)
PRODUCTION_HOUR = 3  # [i] production results are ready the next morning; the mock runs the "night job" at 03:00

ENVIRONMENTS = {  # name -> (path prefix, transaction-log system value)
    "production": ("sevisbatch", "PROD"),
    "beta": ("sbtsevisbatch", "PROD-SBT"),
    "alpha": ("alphasevisbatch", "PROD-ALPHA"),
}
RTI_ROOTS = {"beta": "sbtsevis", "alpha": "alphasevis", "production": "sevis"}  # where RTI lives (RTI-API.md)

DEFAULT_MAX_BODY = 16 * 1024 * 1024  # [i] SEVIS publishes no limit; 250 records stay far below this


@dataclass
class Settings:
    data_dir: Path = Path(".sevis-mock")
    host: str = "127.0.0.1"
    port: int = 8443
    profile: str = "alpha"
    processing_delay: float | None = None  # seconds; overrides the profile; 0 = at once
    clock: datetime | None = None
    trust: list[Path] = field(default_factory=list)
    schemas: list[Path] = field(default_factory=list)
    workers: int = 2
    max_body_bytes: int = DEFAULT_MAX_BODY
    database_url: str | None = None
    worker_poll_seconds: float = 0.5
    run_worker: bool = True
    auto_approve: float | None = None  # seconds of mock-clock time before SEVP approves a submitted I-17
    smtp: str | None = None  # HOST:PORT that also receives every e-mail of the outbox
    replay: Path | None = None  # a recording (`sevis-mock proxy --record`) whose requests get the recorded replies
    fast_passwords: bool = False  # RTI passwords hashed with cheap PBKDF2 instead of scrypt (throwaway test servers)
    max_worker_memory_mb: float = 512  # a worker over this resident memory is recycled after its request (0 = never)
    open_outbox: bool = False  # the outbox readable without the control token or a SEVP console login
    public_url: str | None = None  # the address clients use (a proxy in front of the instances), https://HOST[:PORT]
    processing_lease: float = 15.0  # real seconds a processor holds a batch between steps before another may go on

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        if self.public_url is not None:
            self.public_url = parse_public_url(self.public_url)
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")

    @property
    def public_host(self) -> str | None:
        """The host name or address of ``public_url``, which the server certificate must name too."""
        return urlsplit(self.public_url).hostname if self.public_url else None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'sevis-mock.db'}"

    def due_time(self, uploaded: datetime) -> datetime:
        """When a batch uploaded at ``uploaded`` (mock clock) is processed."""
        if self.processing_delay is not None:
            return uploaded + timedelta(seconds=self.processing_delay)
        if self.profile == "alpha":
            return uploaded + ALPHA_DELAY
        if self.profile == "beta":
            return uploaded + BETA_DELAY
        night = uploaded.replace(hour=PRODUCTION_HOUR, minute=0, second=0, microsecond=0)
        return night if night > uploaded else night + timedelta(days=1)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values: dict = {}
        if "SEVIS_MOCK_DATA_DIR" in env:
            values["data_dir"] = Path(env["SEVIS_MOCK_DATA_DIR"])
        if "SEVIS_MOCK_PROFILE" in env:
            values["profile"] = env["SEVIS_MOCK_PROFILE"]
        if "SEVIS_MOCK_PROCESSING_DELAY" in env:
            values["processing_delay"] = float(env["SEVIS_MOCK_PROCESSING_DELAY"])
        if "SEVIS_MOCK_CLOCK" in env:
            values["clock"] = parse_iso(env["SEVIS_MOCK_CLOCK"])
        if env.get("SEVIS_MOCK_FAST_PASSWORDS", "").lower() in ("1", "true", "yes"):
            values["fast_passwords"] = True
        if "SEVIS_MOCK_MAX_WORKER_MEMORY" in env:
            values["max_worker_memory_mb"] = float(env["SEVIS_MOCK_MAX_WORKER_MEMORY"])
        if env.get("SEVIS_MOCK_OPEN_OUTBOX", "").lower() in ("1", "true", "yes"):
            values["open_outbox"] = True
        if "SEVIS_MOCK_PUBLIC_URL" in env:
            values["public_url"] = env["SEVIS_MOCK_PUBLIC_URL"]
        if "SEVIS_MOCK_PROCESSING_LEASE" in env:
            values["processing_lease"] = float(env["SEVIS_MOCK_PROCESSING_LEASE"])
        if "SEVIS_MOCK_DATABASE_URL" in env:
            values["database_url"] = env["SEVIS_MOCK_DATABASE_URL"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
