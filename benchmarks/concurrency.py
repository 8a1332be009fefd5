"""Benchmark: 16 concurrent mTLS clients uploading small batches, against a floor app started by the script.

    python benchmarks/concurrency.py [--seconds 30] [--runs 3] [--workers 1 2] [--clients 16]

For each ``--workers`` N: the floor (benchmarks/floor_app.py: Flask under gunicorn, same TLS and certificates,
parses the multipart and answers a fixed log) and `sevis-mock serve --workers N` (processing at once) each take
``--clients`` clients (4 processes of 4 threads, one keep-alive session each) uploading 1-record batches as
fast as they are answered for ``--seconds``; then the mock again while 250-form batches are processed one after
another the whole time. Uploads/s, p50/p99 latency, errors (anything but HTTP 200 with S0000), the servers'
memory (RSS of the whole process group) and the CPU time per answered upload while the clients ran (the server's
request processes, its processors and form helpers, and the clients) are printed per run; medians of ``--runs``;
the last line holds the ratios. Targets: 0 errors, mock/floor throughput >= 0.5, p99 <= 250 ms, p99 with the
batch <= 1.5x without.
Uploads come first: under this load the mock processes fewer batches than it accepts, so after each of its runs
the batches left to process are counted and waited for (the time is printed), and the next run starts on an idle
machine.

    python benchmarks/concurrency.py --database postgresql+psycopg://USER@HOST:PORT/DB [--instances 1 3]

With ``--database``, several instances as one SEVIS instead: for each ``--instances`` N, N `serve --workers 1`
processes on one PostgreSQL database (a database of its own for each N, created beside DB and dropped after) and
one data dir take the ``--clients`` clients, spread round-robin over the instances; uploads/s, p50/p99 and errors,
then once every accepted batch is processed: lost batches (accepted, not processed or missing), duplicated ones
(more records than accepted students), duplicate SEVIS IDs, and a race of the clients on one batch ID on each of
10 IDs (exactly one S0000 each). The last line holds the throughput with N instances over 1. Targets: 0 errors,
0 lost, 0 duplicated, 0 duplicate SEVIS IDs, one S0000 per raced ID.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from common import PROJECT, batch_id, fm_org, launch, load, make_batch, median, running_mock, session, upload

PROCESSES = 4


def group_stats(pgid: int):
    """Each process of the group as (its /proc folder, the fields of its stat from the third on: state, ppid, pgrp,
    ...); a process gone meanwhile is skipped."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # field 5 of stat: the process group
                yield stat.parent, fields
        except (OSError, ValueError, IndexError):
            continue


def rss_mb(pgid: int) -> float:
    """Resident memory of every process in the group, in MB."""
    total = 0
    for proc, _ in group_stats(pgid):
        try:
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024


def server_pgid(info: dict) -> int | None:
    """The process group of the server that listens on info's port (`serve` runs in a session of its own)."""
    port = int(info["base_url"].rsplit(":", 1)[1])
    try:
        out = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
        pid = int(out.split("pid=")[1].split(",")[0])
        return os.getpgid(pid)
    except (OSError, IndexError, ValueError, subprocess.SubprocessError):
        return None


def client_process(urls, ca, cert, org_id, user_id, template, threads, start_at, seconds, tag, out) -> None:
    import requests

    urls = [urls] if isinstance(urls, str) else urls

    latencies: list[float] = []
    errors: list[str] = []
    accepted: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        url = urls[(int(tag[-1]) * threads + n) % len(urls)]  # this process's n-th client: spread over the instances
        s = requests.Session()
        s.trust_env = False
        s.verify, s.cert = ca, cert
        sent = 0
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        while time.time() < end:
            sent += 1
            bid = f"{tag}{n:02d}{sent:07d}"[:14].ljust(14, "0")
            body = template.replace(b"BATCHIDPLACEHD", bid.encode()).replace(b"NAMEPLACEHOLDER", _letters(bid))
            began = time.perf_counter()
            try:
                r = s.post(
                    url,
                    data={"orgid": org_id, "userid": user_id, "batchid": bid},
                    files={"xml": ("batch.xml", body, "text/xml")},
                    timeout=60,
                )
                ok = r.status_code == 200 and b'resultCode="S0000"' in r.content
                problem = None if ok else f"HTTP {r.status_code} {r.content[:200]!r}"
            except Exception as exc:  # a refused or dropped connection is an error of the run
                problem = repr(exc)
            took = time.perf_counter() - began
            with lock:
                latencies.append(took)
                if problem:
                    errors.append(problem)
                else:
                    accepted.append(bid)

    pool = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    while time.time() < start_at:
        time.sleep(0.001)
    cpu = time.process_time()  # this process's CPU while its clients upload (their threads included)
    for t in pool:
        t.join()
    out.put((latencies, errors, accepted, time.process_time() - cpu))


def _letters(bid: str) -> bytes:
    return "".join(chr(ord("A") + int(c)) if c.isdigit() else "Z" for c in bid).encode()


def cpu_ticks(pgid: int) -> dict[int, tuple[int, int]]:
    """Each process of the group: its parent's pid and the CPU time it has used (user + system, clock ticks)."""
    return {int(proc.name): (int(fields[1]), int(fields[11]) + int(fields[12])) for proc, fields in group_stats(pgid)}


def cpu_by_depth(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> dict[int, float]:
    """CPU seconds each level of the process tree used between the two `cpu_ticks`: 1 the request processes (the
    children of `serve` or gunicorn), 2 and deeper the processors and their form helpers (the tree's root, 0, waits
    on its children). A process started in between counts from its start."""

    def depth(pid: int) -> int:
        level = 0
        while pid in after and after[pid][0] in after:
            pid, level = after[pid][0], level + 1
        return level

    tick = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    for pid, (_, ticks) in after.items():
        level = min(depth(pid), 2)
        used[level] = used.get(level, 0.0) + (ticks - before.get(pid, (0, 0))[1]) / tick
    return used


class _CpuWindow(threading.Thread):
    """The server group's CPU by level over the clients' window (from ``start_at`` for ``seconds``), taken at its
    edges: the processing that goes on after the clients stop is not counted."""

    def __init__(self, pgid: int, start_at: float, seconds: float) -> None:
        super().__init__(daemon=True)
        self.pgid, self.start_at, self.seconds = pgid, start_at, seconds
        self.used: dict[int, float] = {}

    def run(self) -> None:
        time.sleep(max(0.0, self.start_at - time.time()))
        before = cpu_ticks(self.pgid)
        time.sleep(max(0.0, self.start_at + self.seconds - time.time()))
        self.used = cpu_by_depth(before, cpu_ticks(self.pgid))


def measure(url, ca, cert, org_id, user_id, clients, seconds, tag, pgid: int | None = None) -> dict:
    template = make_batch(1, "BATCHIDPLACEHD", org_id, print_form=False)
    template = template.replace(b"BENCH A", b"BENCH NAMEPLACEHOLDER", 1)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3
    per = clients // PROCESSES
    procs = [
        ctx.Process(
            target=client_process,
            args=(url, ca, cert, org_id, user_id, template, per, start_at, seconds, f"{tag}{p}", out),
        )
        for p in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    window = _CpuWindow(pgid, start_at, seconds) if pgid else None
    if window is not None:
        window.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    if window is not None:
        window.join(timeout=30)
    latencies = sorted(x for lat, _, _, _ in results for x in lat)
    errors = [e for _, errs, _, _ in results for e in errs]
    answered = max(1, len(latencies))
    return {
        # CPU milliseconds per answered upload: the benchmark's clients, and by level the server's processes
        "cpu": {"clients": sum(cpu for *_, cpu in results) * 1000 / answered}
        | ({level: used * 1000 / answered for level, used in window.used.items()} if window is not None else {}),
        "accepted": [bid for _, _, ok, _ in results for bid in ok],
        "rate": len(latencies) / seconds,
        "p50": latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


class BatchesMeanwhile(threading.Thread):
    """Uploads 250-form batches one after another (each once the previous one's zip is ready) until stopped."""

    def __init__(self, info: dict, org: dict) -> None:
        super().__init__(daemon=True)
        self.info, self.org = info, org
        self.stop = threading.Event()
        self.done = 0

    def run(self) -> None:
        from common import download

        s = session(self.info, self.org)
        n = 0
        while not self.stop.is_set():
            n += 1
            bid = batch_id("H")
            upload(s, self.info, self.org, bid, make_batch(250, bid, self.org["org_id"], salt=5000 + n))
            while not self.stop.is_set() and download(s, self.info, self.org, bid)[0] == "S0030":
                time.sleep(0.2)
            self.done += 1


def floor_server(data_dir: Path, workers: int):
    port_file = data_dir / "floor-port"
    port_file.unlink(missing_ok=True)
    log = open(data_dir / "floor.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, str(PROJECT / "benchmarks" / "floor_app.py"), str(data_dir), str(port_file), str(workers)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the floor app did not start; see floor.log")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


def stop(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def show(name: str, r: dict) -> str:
    return (
        f"{name}: {r['rate']:.0f} uploads/s, p50 {r['p50'] * 1000:.0f} ms, p99 {r['p99'] * 1000:.0f} ms, "
        f"errors {r['errors']}"
        + (f", memory {r['rss']:.0f} MB" if "rss" in r else "")
        + (
            f", {r['backlog']} batches left to process at the end, processed {r['drained']:.1f} s later"
            if "backlog" in r
            else ""
        )
        + (f", CPU per upload: {cpu_text(r['cpu'])}" if "cpu" in r else "")
        + (f" ({r['first_error']})" if r["errors"] else "")
    )


def server_cpu(cpu: dict) -> float:
    """The server's CPU milliseconds per upload, all its processes."""
    return sum(v for k, v in cpu.items() if k != "clients")


def cpu_text(cpu: dict) -> str:
    if len(cpu) == 1:  # the server's processes were not followed (several instances)
        return f"clients {cpu['clients']:.1f} ms"
    levels = [f"request processes {cpu.get(0, 0.0) + cpu.get(1, 0.0):.1f} ms"]
    if 2 in cpu:
        levels.append(f"processors and form helpers {cpu[2]:.1f} ms")
    return f"server {server_cpu(cpu):.1f} ms ({', '.join(levels)}), clients {cpu['clients']:.1f} ms"


def unprocessed(database: Path) -> int:
    """How many batches of the mock's SQLite store are still queued, being processed or printed (a read)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(
            "SELECT count(*) FROM batches WHERE state IN ('queued', 'processing', 'printing')"
        ).fetchone()[0]
    finally:
        conn.close()


def drain(database: Path, r: dict, timeout: float = 900) -> None:
    """Note in ``r`` how many batches were left to process when the clients stopped, then wait until the mock has
    processed them (the next measurement, the floor's too, must not share the machine with that work)."""
    began = time.monotonic()
    r["backlog"] = left = unprocessed(database)
    while left and time.monotonic() - began < timeout:
        time.sleep(0.2)
        left = unprocessed(database)
    r["drained"] = time.monotonic() - began


@contextmanager
def database_of_its_own(url: str, name: str):
    """A new empty database ``name`` on the PostgreSQL server of ``url``, dropped afterwards; yields its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def instances_on(database: str, count: int):
    """``count`` `serve --workers 1` processes on ``database`` sharing one fresh data dir; yields each one's
    connection.json (its own URLs) and the process groups."""
    with tempfile.TemporaryDirectory(prefix="sevis-bench-") as tmp:
        started = []
        try:
            for _ in range(count):
                started.append(
                    launch.launch(
                        Path(tmp) / "mock",
                        "--database",
                        database,
                        "--workers",
                        "1",
                        "--processing-delay",
                        "0",
                        "--fast-passwords",
                        cwd=PROJECT,
                    )
                )
            yield [info for _, info in started], [proc.pid for proc, _ in started]
        finally:
            for proc, _ in started:
                launch.stop(proc)


def race(infos: list[dict], org: dict, clients: int, ids: int = 10) -> int:
    """``clients`` clients over the instances upload the same batch ID at once, for ``ids`` IDs; returns how many IDs
    did not get exactly one S0000 (and S0010 for the others)."""
    from concurrent.futures import ThreadPoolExecutor

    wrong = 0
    sessions = [session(infos[n % len(infos)], org) for n in range(clients)]
    for i in range(ids):
        bid = batch_id("Z")
        xml = make_batch(1, bid, org["org_id"], print_form=False, salt=900_000 + i)
        gate = threading.Barrier(clients)

        def one(n: int) -> str:
            gate.wait()
            return upload(sessions[n], infos[n % len(infos)], org, bid, xml)

        with ThreadPoolExecutor(clients) as pool:
            codes = sorted(pool.map(one, range(clients)))
        wrong += codes != ["S0000"] + ["S0010"] * (clients - 1)
    return wrong


def audit(database: str, accepted: list[str], timeout: float = 600) -> dict:
    """Once every accepted batch is processed (or ``timeout`` s): lost, duplicated, duplicate SEVIS IDs."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                waiting = conn.execute(text("SELECT count(*) FROM batches WHERE state <> 'processed'")).scalar()
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        with engine.connect() as conn:
            processed = set(conn.execute(text("SELECT batch_id FROM batches WHERE state = 'processed'")).scalars())
            records = conn.execute(text("SELECT count(*) FROM records WHERE principal_sevis_id IS NULL")).scalar()
            distinct = conn.execute(text("SELECT count(DISTINCT sevis_id) FROM records")).scalar()
            per_batch = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT request_id, surname FROM records WHERE principal_sevis_id IS NULL "
                    "GROUP BY 1, 2 HAVING count(*) > 1) d"
                )
            ).scalar()
    finally:
        engine.dispose()
    return {
        "lost": len(set(accepted) - processed),
        "duplicated": max(0, records - len(processed)) + per_batch,
        "duplicate_ids": records - distinct,
    }


def instances_main(args) -> None:
    runs: dict[int, list[dict]] = {}
    for count in args.instances:
        runs[count] = []
        for run in range(args.runs):
            name = f"sevis_bench_{os.getpid()}_{count}_{run}"
            with database_of_its_own(args.database, name) as database, instances_on(database, count) as (infos, _):
                org = fm_org(infos[0])
                urls = [f"{info['base_url']}/sbtsevisbatch/action/batchUpload" for info in infos]
                cert = (org["client_cert"], org["client_key"])
                r = measure(urls, infos[0]["ca_cert"], cert, org["org_id"], org["user_id"], args.clients,
                            args.seconds, f"I{count}{run}")  # fmt: skip
                r.update(audit(database, r["accepted"]))
                r["race"] = race(infos, org, args.clients)
                runs[count].append(r)
                print(
                    f"instances {count} run {run + 1} " + show("mock", r) + f", {len(r['accepted'])} accepted, "
                    f"lost {r['lost']}, duplicated {r['duplicated']}, duplicate SEVIS IDs {r['duplicate_ids']}, "
                    f"raced IDs without exactly one S0000 {r['race']}",
                    flush=True,
                )
    med = {n: {m: median([r[m] for r in v]) for m in ("rate", "p50", "p99")} for n, v in runs.items()}
    totals = {
        m: sum(r[m] for v in runs.values() for r in v)
        for m in ("errors", "lost", "duplicated", "duplicate_ids", "race")
    }
    base = med[min(med)]["rate"]
    print(
        f"instances on PostgreSQL ({args.clients} clients, {args.seconds:g} s, medians of {args.runs}, {load()}): "
        + "; ".join(
            f"{n}: {m['rate']:.0f} uploads/s ({m['rate'] / base:.2f}x), p50 {m['p50'] * 1000:.0f} ms, "
            f"p99 {m['p99'] * 1000:.0f} ms"
            for n, m in med.items()
        )
        + f"; errors {totals['errors']}, lost {totals['lost']}, duplicated {totals['duplicated']}, "
        f"duplicate SEVIS IDs {totals['duplicate_ids']}, raced IDs without exactly one S0000 {totals['race']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--database", help="PostgreSQL URL: measure several instances on it instead (--instances)")
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    if args.database:
        instances_main(args)
        return
    summary = []
    for workers in args.workers:
        runs: dict[str, list[dict]] = {"floor": [], "mock": [], "batch": []}
        with running_mock(workers=workers) as info:
            org = fm_org(info)
            data_dir = Path(info["ca_cert"]).parents[1]
            database = next(
                p / "sevis-mock.db" for p in Path(info["ca_cert"]).parents if (p / "sevis-mock.db").exists()
            )
            cert = (org["client_cert"], org["client_key"])
            mock_url = f"{info['base_url']}/sbtsevisbatch/action/batchUpload"
            pgid = server_pgid(info)
            floor, port = floor_server(data_dir, workers)
            floor_url = f"https://127.0.0.1:{port}/sbtsevisbatch/action/batchUpload"
            try:
                for run in range(args.runs):
                    common = (info["ca_cert"], cert, org["org_id"], org["user_id"])
                    r = measure(floor_url, *common, args.clients, args.seconds, f"F{run}", pgid=floor.pid)
                    r["rss"] = rss_mb(floor.pid)
                    runs["floor"].append(r)
                    print(f"workers {workers} run {run + 1} " + show("floor", r), flush=True)
                    r = measure(mock_url, *common, args.clients, args.seconds, f"M{run}", pgid=pgid)
                    r["rss"] = rss_mb(pgid) if pgid else 0
                    drain(database, r)
                    runs["mock"].append(r)
                    print(f"workers {workers} run {run + 1} " + show("mock", r), flush=True)
                    meanwhile = BatchesMeanwhile(info, org)
                    meanwhile.start()
                    time.sleep(1)  # the first batch is uploaded and being processed
                    r = measure(mock_url, *common, args.clients, args.seconds, f"B{run}", pgid=pgid)
                    meanwhile.stop.set()
                    r["rss"] = rss_mb(pgid) if pgid else 0
                    meanwhile.join(timeout=120)
                    drain(database, r)
                    runs["batch"].append(r)
                    print(
                        f"workers {workers} run {run + 1} "
                        + show(f"mock with 250-form batches processing ({meanwhile.done} finished)", r),
                        flush=True,
                    )
            finally:
                stop(floor)
        med = {
            k: {m: median([r[m] for r in v]) for m in ("rate", "p50", "p99", "errors", "rss")} for k, v in runs.items()
        }
        summary.append(
            f"workers {workers}: throughput mock/floor {med['mock']['rate'] / med['floor']['rate']:.2f} "
            f"({med['mock']['rate']:.0f}/{med['floor']['rate']:.0f} uploads/s), "
            f"p99 {med['mock']['p99'] * 1000:.0f} ms (floor {med['floor']['p99'] * 1000:.0f}), "
            f"p99 with batch/without {med['batch']['p99'] / med['mock']['p99']:.2f}, "
            f"errors {sum(r['errors'] for v in runs.values() for r in v)}, "
            f"memory mock/floor {med['mock']['rss']:.0f}/{med['floor']['rss']:.0f} MB, "
            f"server CPU per upload mock/floor {median([server_cpu(r['cpu']) for r in runs['mock']]):.1f}/"
            f"{median([server_cpu(r['cpu']) for r in runs['floor']]):.1f} ms, "
            f"left to process after a mock run {median([r['backlog'] for r in runs['mock']]):.0f} batches "
            f"(processed {median([r['drained'] for r in runs['mock']]):.1f} s later)"
        )
    print(
        f"concurrency ({args.clients} clients, {args.seconds:g} s, medians of {args.runs}, {load()}): "
        + "; ".join(summary)
    )


if __name__ == "__main__":
    main()
