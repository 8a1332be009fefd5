"""Login timing: does the time of a refused RTI login tell whether the user ID exists?

Runs ``sevis_mock.server.rti.accounts.login`` against a throwaway SQLite store with the default (scrypt) hashes:
a wrong password for a known user, an unknown user ID, and a known user without a password yet,
interleaved, medians. The ratio unknown/known should be close to 1 (target 0.8-1.25): an unknown user ID
costs a dummy hash check. Not a test; it prints, it asserts nothing.

    python benchmarks/login_timing.py [--runs N] [--fast]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask  # noqa: E402

from sevis_mock.server.store import Store  # noqa: E402
from sevis_mock.server.rti import accounts  # noqa: E402
from sevis_mock.server.store import RtiAccount  # noqa: E402


class _Settings:
    def __init__(self, fast: bool) -> None:
        self.fast_passwords = fast


class _Mock:
    def __init__(self, fast: bool) -> None:
        self.settings = _Settings(fast)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--fast", action="store_true", help="PBKDF2 at 1,000 rounds, as serve --fast-passwords")
    args = parser.parse_args()
    app = Flask("login-timing")
    app.extensions["sevis_mock"] = _Mock(args.fast)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp, app.app_context():
        store = Store(f"sqlite:///{Path(tmp) / 'db.sqlite'}")
        store.create_all()
        with store.write() as s:
            s.add(
                RtiAccount(
                    user_id="KNOWNUSER1",
                    environment="beta",
                    role="TEMP",
                    email="k@example.edu",
                    created_at=now,
                    password_hash=accounts.hash_password("Right#Pass1"),
                )
            )
            s.add(
                RtiAccount(user_id="NOPASSWORD", environment="beta", role="TEMP", email="n@example.edu", created_at=now)
            )
        cases = {"wrong password": "KNOWNUSER1", "unknown user": "NOSUCHUSER", "no password yet": "NOPASSWORD"}
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, user_id in cases.items():
                with store.write() as s:
                    started = time.perf_counter()
                    accounts.login(s, user_id, "Wrong#Pass1", "beta", now)
                    times[name].append(time.perf_counter() - started)
                    s.get(RtiAccount, "KNOWNUSER1").failed_logins = 0  # never lock during the run
    floor = statistics.median(times["wrong password"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:16} median {median * 1000:7.2f} ms   ratio to a wrong password {median / floor:5.2f}")


if __name__ == "__main__":
    main()
