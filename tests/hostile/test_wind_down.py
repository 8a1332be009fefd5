"""A stopping server ends kept-alive connections between requests and answers every request it has accepted.

Against a real ``serve`` over TLS, stopped with SIGTERM (what a service manager, a CI job's cleanup or a recycled
worker does): a kept-alive connection waiting for its next request is closed cleanly at once, and a connection that
has sent only half of its request head when the stop begins still gets its answer (before, it was reset after 2 s,
which a client cannot tell from a lost upload).
"""

from __future__ import annotations

import signal
import socket
import ssl
import time

import pytest

from tests.support.server import start_server

pytestmark = [pytest.mark.server]


def host_port(server) -> tuple[str, int]:
    host, port = server.base_url.split("://", 1)[1].rsplit(":", 1)
    return host.strip("[]"), int(port)


def tls(server, org: dict) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.load_cert_chain(org["client_cert"], org["client_key"])
    return ctx.wrap_socket(socket.create_connection(host_port(server), timeout=20), server_hostname="localhost")


def read_reply(sock: ssl.SSLSocket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_stop_closes_idle_connections_and_answers_a_half_sent_request(tmp_path):
    server = start_server(tmp_path, "--processing-delay", "0", "--workers", "1")
    try:
        org = server.org("F/M")
        query = f"orgid={org['org_id']}&userid={org['user_id']}&batchid=NOSUCHBATCH01"
        request = f"GET /sbtsevisbatch/action/batchDownload?{query} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
        idle = tls(server, org)
        idle.sendall(request)
        assert read_reply(idle).startswith(b"HTTP/1.1 200"), "the kept-alive connection's first request"
        half = tls(server, org)
        half.sendall(request[:30])
        time.sleep(0.5)  # the server has read the first half
        server.proc.send_signal(signal.SIGTERM)
        # the idle connection is closed cleanly (end of file, not a reset), without a request of its own
        idle.settimeout(15)
        assert idle.recv(1) == b""
        time.sleep(3)  # longer than the 2 s the front used to wait before resetting what was left
        half.sendall(request[30:])
        reply = read_reply(half)
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        assert b"connection: close" in reply.lower(), "a stopping worker closes the connection after its answer"
        server.proc.wait(timeout=60)
    finally:
        if server.proc.poll() is None:
            server.stop()
