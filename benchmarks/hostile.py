"""Benchmark: a normal upload's latency while the mock is under hostile load, against the quiet latency
measured in the same run.

    python benchmarks/hostile.py [--uploads 100] [--workers 2]

Three phases on one `sevis-mock serve` (2 workers, processing deferred so that only the upload path is
measured), each timing ``--uploads`` sequential uploads of a small valid F/M batch over one keep-alive
mutual-TLS session:

1. quiet (then 20 50,000-attribute uploads one at a time, each timed);
2. while 4 client threads upload 50,000-attribute documents back to back (each also timed);
3. while 64 slow connections are held: a third send 8 bytes of a TLS ClientHello and stop, a third trickle
   a request head and a third a request body, one byte every 0.5 s.

Prints p50 / p99 / max of each phase and the ratios of the loaded p99s to the quiet p99 (targets: the loaded
p99s stay under 1 s, and a 50,000-attribute upload alone is answered in under 1 s).
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import ssl
import statistics
import threading
import time

from common import batch_id, fm_org, load, running_mock, session
from lxml import etree

from sevis_mock.fixtures import read_fixture

UPLOAD = "sbtsevisbatch/action/batchUpload"


def document(bid: str, org: dict, flood: int = 0) -> bytes:
    doc = etree.fromstring(read_fixture("fm/create-with-dependent.xml"))
    doc.find("BatchHeader/BatchID").text = bid
    doc.find("BatchHeader/OrgID").text = org["org_id"]
    for el in doc.iter():
        if el.get("userID") is not None:
            el.set("userID", org["user_id"])
    for last in doc.iter("LastName"):
        last.text = f"{last.text} {''.join(chr(65 + ord(c) % 26) for c in bid[-8:])}"
    data = etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
    if flood:
        at = data.index(b"<SEVISBatchCreateUpdateStudent") + len(b"<SEVISBatchCreateUpdateStudent")
        data = data[:at] + "".join(f' bogus{n}="v"' for n in range(flood)).encode() + data[at:]
    return data


def timed_upload(s, info, org, data: bytes, bid: str) -> tuple[float, str]:
    started = time.perf_counter()
    r = s.post(
        f"{info['base_url']}/{UPLOAD}",
        data={"orgid": org["org_id"], "userid": org["user_id"], "batchid": bid},
        files={"xml": ("batch.xml", data, "text/xml")},
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    code = etree.fromstring(r.content).find("BatchDetail/Upload").get("resultCode") if r.ok else f"HTTP {r.status_code}"
    return elapsed, code


def phase(info, org, uploads: int) -> list[float]:
    times = []
    with session(info, org) as s:
        for _ in range(uploads):
            bid = batch_id("Q")
            elapsed, code = timed_upload(s, info, org, document(bid, org), bid)
            if code != "S0000":
                raise RuntimeError(f"a normal upload answered {code}")
            times.append(elapsed)
    return times


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:34} p50 {statistics.median(values) * 1000:7.1f} ms  p99 {p99(values) * 1000:7.1f} ms  "
        f"max {max(values) * 1000:7.1f} ms  (n={len(values)})"
    )


def flood_alone(info, org, count: int) -> list[float]:
    """``count`` 50,000-attribute uploads one after the other, nothing else running: each one's reply time."""
    template = document("F" * 14, org, 50_000)
    times = []
    with session(info, org) as s:
        for _ in range(count):
            bid = batch_id("F")
            data = template.replace(b"<BatchID>" + b"F" * 14, b"<BatchID>" + bid.encode(), 1)
            elapsed, code = timed_upload(s, info, org, data, bid)
            if code != "S0013":
                raise RuntimeError(f"a 50,000-attribute upload answered {code}")
            times.append(elapsed)
    return times


class Floods:
    """``processes`` clients (separate processes, so that their own work does not slow the client being timed)
    uploading 50,000-attribute documents back to back until stopped; each reply's time and code are kept."""

    def __init__(self, info, org, processes: int = 4, attributes: int = 50_000) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.results = context.Queue()
        self.procs = [
            context.Process(target=_flood, args=(info, org, attributes, self.stop, self.results), daemon=True)
            for _ in range(processes)
        ]
        self.times: list[float] = []
        self.codes: set[str] = set()

    def __enter__(self):
        for p in self.procs:
            p.start()
        time.sleep(3.0)  # every process started and uploading
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for p in self.procs:
            p.join(120)
        while not self.results.empty():
            elapsed, code = self.results.get()
            self.times.append(elapsed)
            self.codes.add(code)


def _flood(info, org, attributes, stop, results) -> None:
    template = document("F" * 14, org, attributes)
    with session(info, org) as s:
        while not stop.is_set():
            bid = batch_id("F")
            data = template.replace(b"<BatchID>" + b"F" * 14, b"<BatchID>" + bid.encode(), 1)
            results.put(timed_upload(s, info, org, data, bid))


class SlowConnections:
    """``count`` slow connections: partial ClientHellos, trickled heads, trickled bodies."""

    def __init__(self, info, org, count: int = 64) -> None:
        rest = info["base_url"].split("://", 1)[1]
        host, port = rest.rsplit(":", 1)
        self.address = (host.strip("[]"), int(port))
        ctx = ssl.create_default_context(cafile=info["ca_cert"])
        ctx.load_cert_chain(org["client_cert"], org["client_key"])
        head = (
            f"POST /{UPLOAD} HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        ).encode()
        self.conns = []
        for n in range(count):
            raw = socket.create_connection(self.address, timeout=30)
            if n % 3 == 0:
                raw.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01")
                self.conns.append((raw, b""))
                continue
            sock = ctx.wrap_socket(raw, server_hostname="localhost")
            if n % 3 == 1:
                sock.sendall(head[:20])
                self.conns.append((sock, head[20:] + b"X-Slow: " + b"a" * 100_000))
            else:
                sock.sendall(head + b"Content-Length: 1000000\r\n\r\n")
                self.conns.append((sock, b"--x\r\n" + b"b" * 999_990))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._feed, daemon=True)

    def _feed(self) -> None:
        offset = 0
        while not self.stop.wait(0.5):
            for sock, rest in self.conns:
                if offset < len(rest):
                    try:
                        sock.send(rest[offset : offset + 1])
                    except OSError:
                        pass
            offset += 1

    def __enter__(self):
        self.thread.start()
        time.sleep(1.0)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        for sock, _ in self.conns:
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with running_mock("--processing-delay", "3600", workers=args.workers) as info:
        org = fm_org(info)
        phase(info, org, 10)  # warm-up: connections, caches, the first schema explanation of each worker
        with Floods(info, org, processes=2):
            time.sleep(2)
        quiet = phase(info, org, args.uploads)
        alone = flood_alone(info, org, 20)
        with Floods(info, org) as floods:
            flooded = phase(info, org, args.uploads)
        with SlowConnections(info, org):
            slowed = phase(info, org, args.uploads)
    print(f"hostile: normal upload latency, {args.workers} workers, {load()}")
    print(summary("quiet", quiet))
    print(summary("with 4 parallel 50,000-attr uploads", flooded))
    print(summary("with 64 slow connections", slowed))
    print(summary("one 50,000-attr upload at a time", alone))
    print(summary("the 4 parallel 50,000-attr uploads", floods.times) + f"  codes {sorted(floods.codes)}")
    base = p99(quiet)
    print(
        f"ratios to the quiet p99: floods {p99(flooded) / base:.2f}, slow connections {p99(slowed) / base:.2f}  "
        f"(targets: loaded p99s < 1 s: {'yes' if max(p99(flooded), p99(slowed)) < 1 else 'NO'}; "
        f"a 50,000-attribute upload alone answered < 1 s: {'yes' if max(alone) < 1 else 'NO'})"
    )


if __name__ == "__main__":
    main()
