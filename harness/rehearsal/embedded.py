"""An embedded mock for the rehearsal: `sevis-mock serve` on a free port, fresh data dir, processing at once (and,
in a throwaway data dir, ``--fast-passwords``).

The process is the product's one server handle (:class:`sevis_mock._server.MockServer`); this adds the rehearsal's
choices (arguments, a data dir removed afterwards unless given) and its log excerpts for failed steps.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sevis_mock._server import MockServer, launch_mock

from .. import launch
from ..connection import Connection

START_TIMEOUT = 60.0


class EmbeddedMockError(RuntimeError):
    """The embedded mock did not start; the message holds its log."""


class EmbeddedMock:
    """A `sevis-mock serve` subprocess; :attr:`server` is its handle once started. Use as a context manager."""

    def __init__(self, data_dir: Path | None = None, *, trust: list[Path] = (), environment_args: list[str] = ()):
        self.keep = data_dir is not None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="sevis-rehearsal-"))
        self.trust = [Path(t) for t in trust]
        self.extra = list(environment_args)
        self.server: MockServer | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "serve.log"

    @property
    def info(self) -> dict:
        """Its connection.json as written (empty before it started)."""
        return self.server.info if self.server is not None else {}

    def start(self) -> Connection:
        args = ["--processing-delay", "0", "--workers", "1"]
        # a throwaway data dir, removed afterwards: scrypt would only slow each login and password set
        if not self.keep and "--fast-passwords" not in self.extra:
            args.append("--fast-passwords")
        for ca in self.trust:
            args += ["--trust", str(ca)]
        try:
            self.server = launch_mock(self.data_dir, *args, *self.extra, timeout=START_TIMEOUT, answering=False)
        except (launch.ServeDidNotStart, ValueError):
            raise EmbeddedMockError(f"the embedded mock did not start:\n{self.log_excerpt()}") from None
        return self.server.connection

    def log_excerpt(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def cleanup(self) -> None:
        self.stop()
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "EmbeddedMock":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
