"""Slow and half-open connections cannot starve anyone (issue: 16 of them stopped the whole server).

Against a real ``serve`` over TLS: 64 slow connections held open (a partial ClientHello without any
certificate, a request head trickled a byte at a time, a request body trickled a byte at a time) while
normal uploads go through; then, on a server with short ceilings, each kind is cut off by its own timeout
and one client address is held to its connection cap.
"""

from __future__ import annotations

import copy
import select
import socket
import ssl
import threading
import time

import pytest
from lxml import etree

from sevis_mock.fixtures import read_fixture
from sevis_mock.harness.lifecycle import letters
from tests.support.server import new_batch_id, start_server, with_batch_id

PARTIAL_CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01"  # 8 bytes of a TLS record, then nothing


def host_port(server) -> tuple[str, int]:
    rest = server.base_url.split("://", 1)[1]
    host, port = rest.rsplit(":", 1)
    return host.strip("[]"), int(port)


def tls_socket(server, cert: tuple[str, str] | None = None) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=server.ca)
    if cert:
        ctx.load_cert_chain(*cert)
    raw = socket.create_connection(host_port(server), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


class Trickler:
    """Slow connections of three kinds, fed one byte every ``interval`` seconds by one thread."""

    def __init__(self, server, count: int, interval: float = 0.5) -> None:
        self.server = server
        self.interval = interval
        self.conns: list[tuple[str, socket.socket, bytes]] = []
        org = server.org("F/M")
        cert = (org["client_cert"], org["client_key"])
        path = "/sbtsevisbatch/action/batchUpload"
        head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        for n in range(count):
            kind = ("hello", "head", "body")[n % 3]
            if kind == "hello":
                sock = socket.create_connection(host_port(server), timeout=10)
                sock.sendall(PARTIAL_CLIENT_HELLO)
                rest = b""
            elif kind == "head":
                sock = tls_socket(server, cert)
                sock.sendall(head.encode()[:20])
                rest = head.encode()[20:] + b"X-Slow: " + b"a" * 10_000
            else:
                sock = tls_socket(server, cert)
                sock.sendall((head + "Content-Length: 100000\r\n\r\n").encode())
                rest = b"--x\r\n" + b"b" * 99_990
            self.conns.append((kind, sock, rest))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._feed, daemon=True)

    def _feed(self) -> None:
        offset = 0
        while not self.stop.wait(self.interval):
            for kind, sock, rest in self.conns:
                if offset < len(rest):
                    try:
                        sock.send(rest[offset : offset + 1])
                    except OSError:
                        pass
            offset += 1

    def __enter__(self) -> "Trickler":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)
        for _, sock, _ in self.conns:
            sock.close()

    def still_open(self) -> int:
        """How many of the slow connections the server has not closed."""
        open_ = 0
        for _, sock, _ in self.conns:
            try:
                sock.setblocking(False)
                data = sock.recv(1) if not isinstance(sock, ssl.SSLSocket) else sock.recv(1)
                open_ += data != b""
            except (BlockingIOError, ssl.SSLWantReadError):
                open_ += 1
            except OSError:
                pass
            finally:
                sock.setblocking(True)
        return open_


# ceilings far above the test's length, so that every slow connection is still held while uploads run
PATIENT = {
    "SEVIS_MOCK_FRONT_HANDSHAKE_SECONDS": "300",
    "SEVIS_MOCK_FRONT_HEADER_SECONDS": "300",
    "SEVIS_MOCK_FRONT_BODY_SECONDS": "300",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        for key, value in PATIENT.items():
            patch.setenv(key, value)
        # one worker: all 64 slow connections and the normal uploads meet the same process
        server = start_server(tmp_path_factory.mktemp("slow"), "--processing-delay", "0")
    yield server
    server.stop(wait=False)


@pytest.mark.slow
def test_64_slow_connections_do_not_stop_normal_uploads(server):
    org = server.org("F/M")
    fixture = read_fixture("fm/create-with-dependent.xml")
    with Trickler(server, 64) as slow:
        time.sleep(1.0)  # every slow connection is established and stalled in its phase
        codes = []
        for _ in range(12):
            batch_id = new_batch_id("S")
            codes.append(server.upload(with_batch_id(fixture, batch_id), org=org, batch_id=batch_id).upload_code)
        assert codes == ["S0000"] * 12
        # the uploads did not need the slow connections to go away first
        assert slow.still_open() == 64


# --- each kind of slowness meets its own ceiling ------------------------------------------------------

SHORT = {
    "SEVIS_MOCK_FRONT_HANDSHAKE_SECONDS": "3",
    "SEVIS_MOCK_FRONT_HEADER_SECONDS": "1",
    "SEVIS_MOCK_FRONT_BODY_SECONDS": "1",
    "SEVIS_MOCK_FRONT_BODY_IDLE_SECONDS": "1",
    "SEVIS_MOCK_FRONT_CONNECTIONS_PER_IP": "8",
}


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        for key, value in SHORT.items():
            patch.setenv(key, value)
        server = start_server(tmp_path_factory.mktemp("strict"), "--processing-delay", "0", "--workers", "1")
    yield server
    server.stop(wait=False)


def closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing ``sock`` within ``seconds`` (None: still open then)."""
    sock.settimeout(seconds)
    received = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return received
            received += chunk
    except (TimeoutError, socket.timeout):
        return None
    except (ssl.SSLError, ConnectionError, OSError):
        return received


def test_a_partial_client_hello_is_dropped_after_the_handshake_timeout(strict):
    sock = socket.create_connection(host_port(strict), timeout=10)
    sock.sendall(PARTIAL_CLIENT_HELLO)
    assert closed_within(sock, 8) is not None
    sock.close()


def test_a_trickled_head_gets_408(strict):
    sock = tls_socket(strict)
    sock.sendall(b"GET /outbox HTTP/1.1\r\nHost: localhost\r\n")
    reply = closed_within(sock, 8)
    sock.close()
    assert reply is not None and reply.startswith(b"HTTP/1.1 408"), reply


def test_a_stalled_body_gets_408(strict):
    org = strict.org("F/M")
    sock = tls_socket(strict, (org["client_cert"], org["client_key"]))
    sock.sendall(
        b"POST /sbtsevisbatch/action/batchUpload HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 5000\r\n\r\n--x\r\n"
    )
    reply = closed_within(sock, 8)
    sock.close()
    assert reply is not None and reply.startswith(b"HTTP/1.1 408"), reply


def test_one_address_is_held_to_its_connection_cap(strict):
    cap = int(SHORT["SEVIS_MOCK_FRONT_CONNECTIONS_PER_IP"])
    socks = [socket.create_connection(host_port(strict), timeout=10) for _ in range(cap + 4)]
    try:
        time.sleep(0.3)  # well within the 3 s handshake timeout: only the refused ones are closed yet
        readable, _, _ = select.select(socks, [], [], 0)
        refused = [s for s in readable if s.recv(1) == b""]
        # never more than the cap held (a connection of an earlier test may still count against it)
        assert len(socks) - len(refused) <= cap and len(refused) >= 4
    finally:
        for s in socks:
            s.close()
    # once they are gone, the address is served again
    time.sleep(0.3)
    org = strict.org("F/M")
    batch_id = new_batch_id("C")
    reply = strict.upload(
        with_batch_id(read_fixture("fm/create-with-dependent.xml"), batch_id), org=org, batch_id=batch_id
    )
    assert reply.upload_code == "S0000"


def test_a_limit_is_overridden_from_the_environment(monkeypatch):
    from sevis_mock.server.front import FrontLimits

    monkeypatch.setenv("SEVIS_MOCK_FRONT_HEADER_SECONDS", "2.5")
    monkeypatch.setenv("SEVIS_MOCK_FRONT_CONNECTIONS_PER_IP", "7")
    limits = FrontLimits.from_env()
    assert (limits.header_seconds, limits.connections_per_ip) == (2.5, 7)
    assert FrontLimits.from_env(keepalive_seconds=5.0).keepalive_seconds == 5.0


def test_a_large_reply_on_a_closing_connection_arrives_whole(server):
    """The front closes a connection gracefully: the end of a reply still buffered is sent, not dropped."""
    org = server.org("F/M")
    batch_id = new_batch_id("L")
    assert server.upload(students(30, batch_id), org=org, batch_id=batch_id).upload_code == "S0000"
    assert server.wait_processed(org=org, batch_id=batch_id, timeout=120).download_code == "S0000"
    # a client that reads slowly through a small receive buffer: the reply's end waits in the server's buffers
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(30)
    raw.connect(host_port(server))
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.load_cert_chain(org["client_cert"], org["client_key"])
    sock = ctx.wrap_socket(raw, server_hostname="localhost")
    query = f"orgid={org['org_id']}&userid={org['user_id']}&batchid={batch_id}"
    sock.sendall(
        f"GET /sbtsevisbatch/action/batchDownload?{query} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
    )
    time.sleep(1.0)
    data = b""
    while chunk := sock.recv(1 << 16):
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(v for k, _, v in (line.partition(b": ") for line in head.split(b"\r\n")) if k.lower() == b"content-length")
    )
    assert length > 100 * 1024 and len(body) == length  # more than the transport buffers before pausing


def students(count: int, batch_id: str) -> bytes:
    """An F/M batch of ``count`` new students, each with a printed I-20 (a download of some size)."""
    doc = etree.fromstring(with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id))
    create = doc.find("CreateStudent")
    template = create.find("Student")
    for student in create.findall("Student"):
        create.remove(student)
    for n in range(count):
        student = copy.deepcopy(template)
        student.set("requestID", f"L{n:04d}")
        student.set("printForm", "true")
        last = student.find("PersonalInfo/FullName/LastName")
        last.text = f"{last.text} {letters(n + 1)}"[:40]
        create.append(student)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
