"""An embedded mock for the rehearsal: `sevis-mock serve` on a free port, fresh data dir, processing at once."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 60.0


class EmbeddedMockError(RuntimeError):
    """The embedded mock did not start; the message holds its log."""


class EmbeddedMock:
    """A `sevis-mock serve` subprocess; `info` is its connection.json. Use as a context manager."""

    def __init__(self, data_dir: Path | None = None, *, trust: list[Path] = (), environment_args: list[str] = ()):
        self.keep = data_dir is not None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="sevis-rehearsal-"))
        self.trust = [Path(t) for t in trust]
        self.extra = list(environment_args)
        self.proc: subprocess.Popen | None = None
        self.info: dict = {}

    @property
    def log_path(self) -> Path:
        return self.data_dir / "serve.log"

    def start(self) -> dict:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        connection = self.data_dir / "connection.json"
        if connection.exists():
            connection.unlink()
        args = [sys.executable, "-m", "mockserver", "serve", "--data-dir", str(self.data_dir), "--port", "0",
                "--processing-delay", "0", "--workers", "1"]
        for ca in self.trust:
            args += ["--trust", str(ca)]
        args += self.extra
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not connection.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmbeddedMockError(f"the embedded mock did not start:\n{self.log_excerpt()}")
            time.sleep(0.05)
        self.info = json.loads(connection.read_text())
        return self.info

    def log_excerpt(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def cleanup(self) -> None:
        self.stop()
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "EmbeddedMock":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
