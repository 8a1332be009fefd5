"""Each server process applies its batches in a processor process of its own (sevis_mock.server.processor): forked
ahead and started with the first batch, at a lower CPU priority, replaced when it dies, gone with its server
process."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
import requests

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.processor import PROCESSOR_NICENESS
from tests.support.server import new_batch_id, with_batch_id

pytestmark = pytest.mark.server

FM_DOC = "fm/create-three-students.xml"


def worker_detail(server) -> str:
    s = requests.Session()
    s.trust_env = False
    reply = s.get(f"{server.base_url}/readyz", verify=server.ca, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()["checks"]["worker"]["detail"]


def processor_pid(server, timeout: float = 30) -> int | None:
    """The processor process's, once it has started (None: none was started)."""
    deadline = time.monotonic() + timeout
    while "starting" in (detail := worker_detail(server)) and time.monotonic() < deadline:
        time.sleep(0.1)
    found = re.search(r"process (\d+)\)", detail)
    return int(found.group(1)) if found else None


def stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    try:
        return stat(pid)[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def listening_inodes(port: int) -> set[str]:
    """The socket inodes listening on ``port`` (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # state 0A: LISTEN
                found.add(fields[9])
    return found


def socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[len("socket:[") : -1])
    return found


def processed(server, org: dict) -> str:
    batch_id = new_batch_id("Y")
    assert (
        server.upload(with_batch_id(read_fixture(FM_DOC), batch_id), org=org, batch_id=batch_id).upload_code == "S0000"
    )
    return server.wait_processed(org=org, batch_id=batch_id, timeout=60).process_code


def test_the_processor_runs_in_a_process_of_its_own_and_a_killed_one_is_replaced(server_factory):
    server = server_factory("--processing-delay", "0", "--workers", "1")
    fm = server.org("F/M")
    assert processor_pid(server) is None  # no batch yet: no processor process started
    assert processed(server, fm) == "S0000"
    pid = processor_pid(server)
    assert pid is not None and alive(pid)
    worker = int(stat(pid)[1])  # its parent: the server's worker process, a child of the server's own
    assert int(stat(worker)[1]) == server.proc.pid
    assert int(stat(pid)[16]) - int(stat(worker)[16]) == PROCESSOR_NICENESS  # field 19 of stat: the nice value
    # the first one was forked by the worker before it started a thread (it shares the worker's loaded code), and
    # let go of the listening socket it inherited: it never holds the server's port
    assert cmdline(pid) == cmdline(worker)
    port = int(server.base_url.rsplit(":", 1)[1])
    assert listening_inodes(port) & socket_inodes(worker)
    assert not listening_inodes(port) & socket_inodes(pid)
    os.kill(pid, signal.SIGKILL)
    assert gone_within(pid, 10)
    assert processed(server, fm) == "S0000"  # a new processor took over
    replacement = processor_pid(server)
    assert replacement not in (None, pid)
    assert "multiprocessing.spawn" in cmdline(replacement)  # the worker runs threads now: a fresh interpreter
    server.stop()
    assert gone_within(replacement, 10)
    assert (
        "the batch processor process exited (status -9); starting a new one"
        in (server.data_dir / "serve.log").read_text()
    )


def test_a_processor_dies_with_its_worker_process(server_factory):
    server = server_factory("--processing-delay", "0", "--workers", "1")
    assert processed(server, server.org("F/M")) == "S0000"
    pid = processor_pid(server)
    assert pid is not None
    worker = int(stat(pid)[1])
    os.kill(worker, signal.SIGKILL)  # no clean stop: the kernel ends the processor with it (PR_SET_PDEATHSIG)
    assert gone_within(pid, 5)
