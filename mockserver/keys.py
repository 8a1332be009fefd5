"""Secrets kept in the data dir: the session-signing key and the SEVP operator's credentials.

Created once (the first process to get there wins, O_EXCL), readable only by the owner, and reused by
every worker process and every restart.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from .config import RTI_ROOTS

SESSION_KEY_FILE = "session-secret"
OPERATOR_FILE = "sevp-operator.json"
OPERATOR_USER = "SEVPADMIN1"  # [i] one operator account per mock; 10 characters like an RTI user ID


def _create_once(path: Path, make) -> str:
    """The file's text, writing ``make()`` into it first if it does not exist (atomically: a complete
    temporary file is hard-linked into place, so a concurrent reader never sees a half-written one)."""
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(make())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process won; use its file
    finally:
        tmp.unlink()
    return path.read_text()


def session_secret(data_dir: Path) -> str:
    return _create_once(Path(data_dir) / SESSION_KEY_FILE, lambda: secrets.token_urlsafe(48)).strip()


def operator_credentials(data_dir: Path) -> dict:
    """``{"user", "password"}`` of the SEVP operator console."""

    def make() -> str:
        return json.dumps({"user": OPERATOR_USER, "password": secrets.token_urlsafe(15)}) + "\n"

    return json.loads(_create_once(Path(data_dir) / OPERATOR_FILE, make))


def connection_info(data_dir: Path, base_url: str) -> dict:
    """The connection.json entries of the web side (RTI-API.md)."""
    creds = operator_credentials(data_dir)
    return {
        "rti": {env: f"{base_url}/{root}" for env, root in RTI_ROOTS.items()},
        "sevp": {"url": f"{base_url}/sevp", "user": creds["user"], "password": creds["password"]},
        "dos": {"url": f"{base_url}/dos", "user": creds["user"], "password": creds["password"]},
        "outbox": f"{base_url}/outbox",
    }
