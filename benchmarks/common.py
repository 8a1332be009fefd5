"""What the server benchmarks share: batches of N students, a mock started through `sevis-mock serve`
(``sevis_mock.harness.launch``, so the benchmarks follow whatever serving stack ``serve`` uses), mTLS sessions, medians.

Not a test module: the benchmarks print ratios against floors measured in the same run; nothing here asserts
a time.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

import requests  # noqa: E402
from lxml import etree  # noqa: E402

from sevis_mock.harness import launch  # noqa: E402
from sevis_mock.harness.batches import students_batch as make_batch  # noqa: E402,F401  (the benchmarks' batches)

UPLOAD = "sbtsevisbatch/action/batchUpload"
DOWNLOAD = "sbtsevisbatch/action/batchDownload"
_batch_counter = [0]


def batch_id(prefix: str = "B") -> str:
    """A fresh 14-character batch ID."""
    _batch_counter[0] += 1
    stamp = f"{os.getpid() % 1000:03d}{int(time.time() * 1000) % 10**6:06d}{_batch_counter[0]:05d}"
    return (prefix + stamp)[:14].ljust(14, "0")


@contextmanager
def running_mock(*args: str, workers: int = 1):
    """`sevis-mock serve` on a fresh data dir (processing at once, cheap RTI passwords), stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="sevis-bench-") as tmp:
        proc, info = launch.launch(
            Path(tmp) / "mock",
            "--processing-delay",
            "0",
            "--workers",
            str(workers),
            "--fast-passwords",
            *args,
            cwd=PROJECT,
        )
        try:
            yield info
        finally:
            launch.stop(proc)


def fm_org(info: dict) -> dict:
    return next(o for o in info["organizations"] if o["kind"] == "F/M")


def session(info: dict, org: dict) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # the machine's REQUESTS_CA_BUNDLE must not override the mock's CA
    s.verify = info["ca_cert"]
    s.cert = (org["client_cert"], org["client_key"])
    return s


def control(info: dict) -> requests.Session:
    s = session(info, fm_org(info))
    s.headers["Authorization"] = f"Bearer {info['control']['token']}"
    return s


def upload(s: requests.Session, info: dict, org: dict, bid: str, xml: bytes) -> str:
    r = s.post(
        f"{info['base_url']}/{UPLOAD}",
        data={"orgid": org["org_id"], "userid": org["user_id"], "batchid": bid},
        files={"xml": ("batch.xml", xml, "text/xml")},
        timeout=120,
    )
    r.raise_for_status()
    return etree.fromstring(r.content).find("BatchDetail/Upload").get("resultCode")


def download(s: requests.Session, info: dict, org: dict, bid: str) -> tuple[str, zipfile.ZipFile]:
    r = s.get(
        f"{info['base_url']}/{DOWNLOAD}",
        params={"orgid": org["org_id"], "userid": org["user_id"], "batchid": bid},
        timeout=120,
    )
    r.raise_for_status()
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    log = etree.fromstring(zf.read("sevis_transaction_log.xml"))
    return log.find("BatchDetail/Download").get("resultCode"), zf


def turnaround(s: requests.Session, info: dict, org: dict, xml: bytes, bid: str, poll: float = 0.005) -> float:
    """Seconds from the upload's first byte to the processed zip downloaded (polling every ``poll`` s)."""
    start = time.perf_counter()
    code = upload(s, info, org, bid, xml)
    if code != "S0000":
        raise RuntimeError(f"upload of {bid} answered {code}")
    while True:
        code, zf = download(s, info, org, bid)
        if code != "S0030":
            break
        time.sleep(poll)
    elapsed = time.perf_counter() - start
    if code != "S0000":
        raise RuntimeError(f"download of {bid} answered {code}")
    zf.close()
    return elapsed


def median(values) -> float:
    return statistics.median(values)


def load() -> str:
    """The machine's load averages, to print beside the figures (the machine may be shared)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load unknown"
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
