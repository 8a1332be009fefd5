"""Benchmark: several `serve` instances on one PostgreSQL database behave as one SEVIS, and how fast.

    python benchmarks/instances.py [--database URL] [--instances 1 3] [--clients 16] [--batches 200] [--races 10]

For each ``--instances`` N: a new database (on ``--database``, a superuser's URL, or ``SEVIS_MOCK_TEST_DATABASE_URL``,
else a throwaway cluster of Debian's postgresql package), N instances (`serve --workers 1 --processing-delay 0`)
sharing it and one data dir. ``--clients`` threads, client i talking to instance i mod N, first race ``--races``
batch IDs (all clients send the same one at once: exactly one S0000 is right), then upload ``--batches`` 1-record
batches between them. It then waits until every batch is processed and checks in the database: no batch lost or
doubled, every record created once, SEVIS IDs unique, every batch S0000. Printed per N: uploads/s (accept),
batches/s (upload to processed), the checks; the last line holds the 3-instance/1-instance ratios. Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import PROJECT, batch_id, fm_org, make_batch, session, upload

from sevis_mock.harness import launch


def database_server(given: str | None) -> str:
    from tests.support import postgres

    if given:
        os.environ[postgres.URL_VARIABLE] = given
    url = postgres.server_url()
    if url is None:
        raise SystemExit(postgres.NOT_INSTALLED)
    return url


def start_instances(count: int, data_dir: Path, database: str) -> list[tuple]:
    started = []
    for _ in range(count):  # one after another: each writes connection.json with its own port
        proc, info = launch.launch(
            data_dir,
            "--database",
            database,
            "--workers",
            "1",
            "--processing-delay",
            "0",
            "--fast-passwords",
            cwd=PROJECT,
            timeout=120,
        )
        started.append((proc, info))
    return started


def run(count: int, clients: int, batches: int, races: int) -> dict:
    from sqlalchemy import func, select

    from sevis_mock.server.store import Batch, Record, RecordEvent, Store
    from tests.support.postgres import new_database

    database = new_database()
    with tempfile.TemporaryDirectory(prefix="sevis-instances-") as tmp:
        instances = start_instances(count, Path(tmp) / "mock", database)
        try:
            infos = [info for _, info in instances]
            org = fm_org(infos[0])
            sessions = [session(infos[i % count], org) for i in range(clients)]
            outcome: dict = {"instances": count, "races_won": [], "errors": 0}
            lock = threading.Lock()

            def send(i: int, bid: str, xml: bytes) -> str:
                try:
                    return upload(sessions[i], infos[i % count], org, bid, xml)
                except Exception as exc:  # noqa: BLE001 -- counted, the run goes on
                    with lock:
                        outcome["errors"] += 1
                    return f"error {exc!r}"[:80]

            with ThreadPoolExecutor(clients) as pool:
                for r in range(races):
                    bid = batch_id("R")
                    xml = make_batch(1, bid, org["org_id"], print_form=False, salt=900_000 + r)
                    codes = list(pool.map(lambda i: send(i, bid, xml), range(clients)))
                    outcome["races_won"].append(codes.count("S0000"))
                    outcome.setdefault("race_codes", set()).update(codes)
                jobs = [(n % clients, batch_id("T"), n) for n in range(batches)]
                docs = {bid: make_batch(1, bid, org["org_id"], print_form=False, salt=n) for _, bid, n in jobs}
                started = time.monotonic()
                codes = list(pool.map(lambda job: send(job[0], job[1], docs[job[1]]), jobs))
                uploaded = time.monotonic() - started
            outcome["accepted"] = codes.count("S0000")
            store = Store(database)
            try:
                deadline = time.monotonic() + 600
                while True:
                    with store.session() as s:
                        waiting = s.scalar(select(func.count()).select_from(Batch).where(Batch.state != "processed"))
                    if not waiting or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                processed = time.monotonic() - started
                with store.session() as s:
                    stored = s.scalars(select(Batch.batch_id)).all()
                    results = [json.loads(r) for r in s.scalars(select(Batch.results)) if r]
                    creates = s.scalar(
                        select(func.count()).select_from(RecordEvent).where(RecordEvent.event == "Create")
                    )
                    records = s.scalar(select(func.count()).select_from(Record))
                    ids = [r.get("sevis_id") for res in results for r in res.get("records", []) if r.get("sevis_id")]
            finally:
                store.engine.dispose()
            expected = races + batches
            outcome.update(
                upload_seconds=uploaded,
                uploads_per_second=batches / uploaded,
                processed_seconds=processed,
                batches_per_second=batches / processed,
                stored=len(stored),
                lost=expected - len(set(stored)),
                doubled=len(stored) - len(set(stored)),
                creates=creates,
                records=records,
                duplicate_sevis_ids=len(ids) - len(set(ids)),
                not_s0000=sum(1 for r in results if r.get("code") != "S0000"),
                still_waiting=waiting,
            )
            outcome["race_codes"] = sorted(outcome.get("race_codes", set()))
            return outcome
        finally:
            for proc, _ in instances:
                launch.stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="a PostgreSQL superuser's URL (default: a throwaway cluster)")
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--races", type=int, default=10)
    args = parser.parse_args()
    database_server(args.database)
    load = os.getloadavg()[0]
    found = {}
    for count in args.instances:
        out = run(count, args.clients, args.batches, args.races)
        found[count] = out
        print(
            f"{count} instance(s), {args.clients} clients (load {load:.1f}): {out['uploads_per_second']:.1f} uploads/s, "
            f"{out['batches_per_second']:.1f} batches/s upload->processed; races: {out['races_won']} S0000 each "
            f"({out['race_codes']}); stored {out['stored']} lost {out['lost']} doubled {out['doubled']}; records "
            f"{out['records']} creates {out['creates']}; duplicate SEVIS IDs {out['duplicate_sevis_ids']}; "
            f"batches not S0000 {out['not_s0000']}; errors {out['errors']}",
            flush=True,
        )
        load = os.getloadavg()[0]
    if 1 in found and len(found) > 1:
        most = max(found)
        print(
            f"ratios {most}/1 instances: uploads/s {found[most]['uploads_per_second'] / found[1]['uploads_per_second']:.2f}, "
            f"batches/s {found[most]['batches_per_second'] / found[1]['batches_per_second']:.2f}"
        )


if __name__ == "__main__":
    main()
