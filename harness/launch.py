"""Start and stop `sevis-mock serve` as a subprocess: one place for the test support, the pytest plugin
and the rehearsal's embedded mock.

``serve`` writes ``connection.json`` into its data dir once the listener is bound (so ``--port 0``
works); :func:`launch` waits for that file and returns the running process with its contents.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["ServeDidNotStart", "launch", "stop", "serve_log_tail"]


class ServeDidNotStart(RuntimeError):
    """``serve`` exited or did not write connection.json in time; the message holds its log's tail."""


def serve_log_tail(data_dir: Path, chars: int = 3000) -> str:
    log = Path(data_dir) / "serve.log"
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def launch(data_dir: Path, *args: str, timeout: float = 60, cwd: Path | None = None) -> tuple[subprocess.Popen, dict]:
    """Run ``python -m sevis_mock.server serve --data-dir DATA_DIR --port 0 ARGS...`` (its output appended to
    DATA_DIR/serve.log) and wait until connection.json lists it among the running instances; returns the process
    and that file, its URLs those of this instance (with PostgreSQL several instances share a data dir, and the
    file's top-level keys describe the first of them)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    connection = data_dir / "connection.json"
    command = [sys.executable, "-m", "sevis_mock.server", "serve", "--data-dir", str(data_dir), "--port", "0", *args]
    with open(data_dir / "serve.log", "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)
    deadline = time.monotonic() + timeout
    while (info := _listing(connection, proc.pid)) is None:  # a file from an earlier run does not list this pid
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc, grace=0)
            raise ServeDidNotStart(f"sevis-mock serve did not start ({' '.join(command)}):\n{serve_log_tail(data_dir)}")
        time.sleep(0.05)
    return proc, info


def _listing(connection: Path, pid: int) -> dict | None:
    """connection.json as instance ``pid`` would describe itself, once it lists that instance."""
    try:
        info = json.loads(connection.read_text())
        mine = next(i["url"] for i in info["instances"] if i["pid"] == pid)
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None
    rest = {key: value for key, value in info.items() if key != "instances"}
    if mine != info["base_url"]:  # every URL of the other keys begins with the first instance's
        rest = json.loads(json.dumps(rest).replace(json.dumps(info["base_url"])[1:-1], json.dumps(mine)[1:-1]))
    return {**rest, "instances": info["instances"]}


def stop(proc: subprocess.Popen | None, grace: float = 20) -> None:
    """Stop ``serve`` and its gunicorn workers (the whole process group): SIGTERM, then SIGKILL after ``grace`` s."""
    if proc is None or proc.poll() is not None:
        return
    if grace > 0:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            pass
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
