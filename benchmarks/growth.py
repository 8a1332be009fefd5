"""Benchmark: does the cost of a batch and of a record list stay flat as the store grows from 0 to 10,000 records?

    python benchmarks/growth.py [--records 10000] [--runs 3] [--workers 2]

One `sevis-mock serve` (processing at once). First on an empty store: the turnaround of a 250-form batch (as in
turnaround.py), then ``GET /control/records?limit=500`` once a page's worth of records is stored (an empty list
would measure nothing). Then the store is filled to ``--records`` principal records with 250-record batches
(no forms, so filling is quick) and both are measured again. Medians of ``--runs``; the last line holds the
ratios (target: both <= 1.2).
"""

from __future__ import annotations

import argparse
import time

from common import (
    batch_id,
    control,
    download,
    fm_org,
    load,
    make_batch,
    median,
    running_mock,
    session,
    turnaround,
    upload,
)


def list_time(ctl, info: dict, runs: int) -> float:
    times = []
    for _ in range(max(runs, 5)):
        start = time.perf_counter()
        r = ctl.get(f"{info['control']['url']}/records", params={"limit": "500"}, timeout=120)
        r.raise_for_status()
        times.append(time.perf_counter() - start)
        if len(r.json()["records"]) != 500:
            raise RuntimeError(f"expected a full page of 500 records, got {len(r.json()['records'])}")
    return median(times)


def stored(ctl, info: dict) -> int:
    """Principal records stored (counted through the control API's paging)."""
    count, offset = 0, 0
    while True:
        r = ctl.get(f"{info['control']['url']}/records", params={"limit": "5000", "offset": str(offset)}, timeout=120)
        r.raise_for_status()
        body = r.json()
        count += len(body["records"])
        if body["paging"]["next_offset"] is None:
            return count
        offset = body["paging"]["next_offset"]


def fill(s, info: dict, org: dict, target: int, have: int, salt: int) -> int:
    """Upload 250-record batches without forms until ``target`` records are stored."""
    while have < target:
        n = min(250, target - have)
        bid = batch_id("G")
        if upload(s, info, org, bid, make_batch(n, bid, org["org_id"], print_form=False, salt=salt)) != "S0000":
            raise RuntimeError(f"filling batch {bid} was refused")
        while download(s, info, org, bid)[0] == "S0030":
            time.sleep(0.1)
        have += n
        salt += 1
    return have


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with running_mock(workers=args.workers) as info:
        org = fm_org(info)
        s, ctl = session(info, org), control(info)
        turnaround(s, info, org, make_batch(1, "WARMUP00000001", org["org_id"], salt=1), "WARMUP00000001")

        def turnarounds(salt: int) -> float:
            times = []
            for run in range(args.runs):
                bid = batch_id("T")
                times.append(turnaround(s, info, org, make_batch(250, bid, org["org_id"], salt=salt + run), bid))
            return median(times)

        empty_turnaround = turnarounds(10)
        have = fill(s, info, org, 500, stored(ctl, info), 100)
        small_list = list_time(ctl, info, args.runs)
        print(
            f"empty store: 250-form turnaround {empty_turnaround * 1000:.0f} ms; "
            f"list of 500 at {have} records {small_list * 1000:.1f} ms",
            flush=True,
        )
        started = time.perf_counter()
        have = fill(s, info, org, args.records, stored(ctl, info), 1000)
        print(f"filled to {have} records in {time.perf_counter() - started:.0f} s", flush=True)
        full_turnaround = turnarounds(20)
        full_list = list_time(ctl, info, args.runs)
        print(
            f"{have} records: 250-form turnaround {full_turnaround * 1000:.0f} ms; "
            f"list of 500 {full_list * 1000:.1f} ms",
            flush=True,
        )
    print(
        f"growth 0 -> {have} records: turnaround ratio {full_turnaround / empty_turnaround:.2f}, "
        f"record list ratio {full_list / small_list:.2f} (targets <= 1.2); medians of {args.runs}, "
        f"workers {args.workers}, {load()}"
    )


if __name__ == "__main__":
    main()
