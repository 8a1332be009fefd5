"""``sevis-mock wait``: poll ``GET /readyz`` until the mock is ready (standard library only: starts at once)."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path


def wait_ready(*, connection: Path, url: str | None, timeout: float, interval: float) -> tuple[bool, str]:
    """(ready, what happened). The connection file is read on every poll until it exists: ``serve`` writes it
    once its listener is bound, so ``sevis-mock serve & sevis-mock wait`` works."""
    deadline = time.monotonic() + timeout
    reason = f"{connection} does not exist yet (sevis-mock serve writes it once it listens)"
    while True:
        base_url, ca = url, None
        try:
            info = json.loads(connection.read_text(encoding="utf-8"))
            base_url, ca = url or info["base_url"], info.get("ca_cert")
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            reason = f"{connection} cannot be read ({exc})"
        if base_url:
            ready, reason = _probe(base_url.rstrip("/") + "/readyz", ca)
            if ready:
                return True, f"sevis-mock is ready at {base_url}"
        if time.monotonic() + interval > deadline:
            return False, f"sevis-mock is not ready after {timeout:g} s: {reason}"
        time.sleep(interval)


def _probe(readyz: str, ca: str | None) -> tuple[bool, str]:
    context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    try:
        with urllib.request.urlopen(readyz, timeout=5, context=context) as reply:
            return True, reply.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:  # 503: the body says which check fails
        try:
            checks = json.loads(exc.read())["checks"]
            failing = "; ".join(f"{name}: {c['detail']}" for name, c in checks.items() if not c["ok"])
        except (ValueError, KeyError, TypeError, AttributeError):
            failing = f"HTTP {exc.code}"
        return False, f"{readyz} answers not ready ({failing})"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{readyz} does not answer ({getattr(exc, 'reason', exc)})"
