"""Long fuzz of hostile uploads against a real `sevis-mock serve` over mutual TLS.

    python benchmarks/fuzz.py [--n 10000] [--seed 0] [--clients 4] [--workers 2]

Upload ``i`` is ``sevis_mock.harness.hostile.Fuzzer.upload(random.Random(seed + i))`` (the same generator as
tests/hostile/test_fuzz.py): schema mutants, byte-level damage, NUL and control characters, comments and
PIs inside values, DOCTYPE bombs, attribute floods, deep nesting, encoding lies, hostile and oversized form
fields, missing fields, raw malformed multipart bodies and hostile download requests. Every reply must be a
SEVIS code in a schema-valid TransactionLog or a clean HTTP 400/408/413; no 5xx; and the server's log must
hold no traceback at the end. Prints the counts by kind and by code, and every bad reply with its seed
(replay one with ``--seed S --n 1``). Exit code 1 when anything went wrong.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import PROJECT, fm_org, load, running_mock, session

from sevis_mock.harness.hostile import KINDS, BadReply, Fuzzer, judge, translog_schema


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clients", type=int, default=4, help="parallel client threads")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with running_mock("--processing-delay", "3600", workers=args.workers) as info:
        org = fm_org(info)
        fuzzer = Fuzzer(org["org_id"], org["user_id"])
        fuzzer.mutations  # noqa: B018  (computed once, before the clock starts)
        local = threading.local()
        schemas = threading.local()
        by_code: Counter = Counter()
        by_kind: Counter = Counter()
        bad: list[str] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            if not hasattr(local, "session"):
                local.session = session(info, org)
                schemas.translog = translog_schema()
            seed = args.seed + i
            upload = fuzzer.upload(random.Random(seed))
            try:
                response = upload.send(local.session, info["base_url"])
                code = judge(upload, response, schemas.translog)
            except BadReply as exc:
                code = "BAD"
                with lock:
                    bad.append(f"seed {seed} ({upload.kind}): {exc}")
            except Exception as exc:  # the connection itself failed: as bad as a 5xx
                code = "BAD"
                with lock:
                    bad.append(f"seed {seed} ({upload.kind}): {type(exc).__name__}: {exc}")
            with lock:
                by_code[code] += 1
                by_kind[(upload.kind, code)] += 1

        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            for done, _ in enumerate(pool.map(one, range(args.n)), 1):
                if done % 1000 == 0:
                    print(f"  {done} uploads, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        elapsed = time.perf_counter() - started
        serve_log = Path(info["ca_cert"]).parents[1] / "serve.log"
        text = serve_log.read_text(errors="replace") if serve_log.exists() else ""
        tracebacks = text.count("Traceback (most recent call last)")

    fivexx = sum(1 for line in bad if "HTTP 5" in line)
    print(f"fuzz: {args.n} hostile uploads (seeds {args.seed}..{args.seed + args.n - 1}) in {elapsed:.0f} s, {load()}")
    print("by code: " + ", ".join(f"{code} {n}" for code, n in sorted(by_code.items())))
    for kind in KINDS:
        row = {code: n for (k, code), n in by_kind.items() if k == kind}
        print(f"  {kind:18} " + ", ".join(f"{code} {n}" for code, n in sorted(row.items())))
    print(f"HTTP 5xx: {fivexx}; other bad replies: {len(bad) - fivexx}; tracebacks in serve.log: {tracebacks}")
    for line in bad[:20]:
        print("  " + line)
    return 1 if bad or tracebacks else 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
