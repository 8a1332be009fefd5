"""Benchmark: 16 concurrent mTLS clients uploading small batches, against a floor app started by the script.

    python benchmarks/concurrency.py [--seconds 30] [--runs 3] [--workers 1 2] [--clients 16]

For each ``--workers`` N: the floor (benchmarks/floor_app.py: Flask under gunicorn, same TLS and certificates,
parses the multipart and answers a fixed log) and `sevis-mock serve --workers N` (processing at once) each take
``--clients`` clients (4 processes of 4 threads, one keep-alive session each) uploading 1-record batches as
fast as they are answered for ``--seconds``; then the mock again while 250-form batches are processed one after
another the whole time. Uploads/s, p50/p99 latency, errors (anything but HTTP 200 with S0000) and the servers'
memory (RSS of the whole process group) are printed per run; medians of ``--runs``; the last line holds the
ratios. Targets: 0 errors, mock/floor throughput >= 0.5, p99 <= 250 ms, p99 with the batch <= 1.5x without.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import PROJECT, batch_id, fm_org, load, make_batch, median, running_mock, session, upload

PROCESSES = 4


def rss_mb(pgid: int) -> float:
    """Resident memory of every process in the group, in MB."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 of stat: the process group
                continue
            for line in (stat.parent / "status").read_text().splitlines():
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


def client_process(url, ca, cert, org_id, user_id, template, threads, start_at, seconds, tag, out) -> None:
    import requests

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
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

    pool = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((latencies, errors))


def _letters(bid: str) -> bytes:
    return "".join(chr(ord("A") + int(c)) if c.isdigit() else "Z" for c in bid).encode()


def measure(url, ca, cert, org_id, user_id, clients, seconds, tag) -> dict:
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
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = [e for _, errs in results for e in errs]
    return {
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
        f"errors {r['errors']}, memory {r.get('rss', 0):.0f} MB" + (f" ({r['first_error']})" if r["errors"] else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    summary = []
    for workers in args.workers:
        runs: dict[str, list[dict]] = {"floor": [], "mock": [], "batch": []}
        with running_mock(workers=workers) as info:
            org = fm_org(info)
            data_dir = Path(info["ca_cert"]).parents[1]
            cert = (org["client_cert"], org["client_key"])
            mock_url = f"{info['base_url']}/sbtsevisbatch/action/batchUpload"
            pgid = server_pgid(info)
            floor, port = floor_server(data_dir, workers)
            floor_url = f"https://127.0.0.1:{port}/sbtsevisbatch/action/batchUpload"
            try:
                for run in range(args.runs):
                    common = (info["ca_cert"], cert, org["org_id"], org["user_id"])
                    r = measure(floor_url, *common, args.clients, args.seconds, f"F{run}")
                    r["rss"] = rss_mb(floor.pid)
                    runs["floor"].append(r)
                    print(f"workers {workers} run {run + 1} " + show("floor", r), flush=True)
                    r = measure(mock_url, *common, args.clients, args.seconds, f"M{run}")
                    r["rss"] = rss_mb(pgid) if pgid else 0
                    runs["mock"].append(r)
                    print(f"workers {workers} run {run + 1} " + show("mock", r), flush=True)
                    meanwhile = BatchesMeanwhile(info, org)
                    meanwhile.start()
                    time.sleep(1)  # the first batch is uploaded and being processed
                    r = measure(mock_url, *common, args.clients, args.seconds, f"B{run}")
                    meanwhile.stop.set()
                    r["rss"] = rss_mb(pgid) if pgid else 0
                    runs["batch"].append(r)
                    print(
                        f"workers {workers} run {run + 1} "
                        + show(f"mock with 250-form batches processing ({meanwhile.done} finished)", r),
                        flush=True,
                    )
                    meanwhile.join(timeout=120)
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
            f"memory mock/floor {med['mock']['rss']:.0f}/{med['floor']['rss']:.0f} MB"
        )
    print(
        f"concurrency ({args.clients} clients, {args.seconds:g} s, medians of {args.runs}, {load()}): "
        + "; ".join(summary)
    )


if __name__ == "__main__":
    main()
