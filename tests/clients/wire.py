"""HTTP/1.1 over TLS 1.2 on a raw socket, the way the clients of 2016-2019 spoke to SEVIS (PROTOCOL §3a).

No HTTP library: the emulated clients build their bytes by hand, as the real ones did, so the mock meets
exactly those bytes. ``Expect: 100-continue`` is honoured as the real clients expect: the headers go first,
the body only after the server's interim ``100 Continue`` (which is recorded, so a test can insist on it).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CONTINUE_WAIT = 10.0  # seconds a client waits for "100 Continue" before sending the body anyway (curl waits 1 s)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    interim: list[int] = field(default_factory=list)  # 1xx statuses received before the final reply


def tls12_context(ca: str, cert: str, key: str) -> ssl.SSLContext:
    """A client context pinned to TLS 1.2, verifying the mock's CA and presenting the client certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    return ctx


class Connection:
    """One TLS connection to the mock; ``request`` may be called several times (keep-alive)."""

    def __init__(self, base_url: str, context: ssl.SSLContext) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname, url.port or 443
        raw = socket.create_connection((self.host, self.port), timeout=60)
        self.sock = context.wrap_socket(raw, server_hostname=self.host)
        self.tls_version = self.sock.version()
        self._buffer = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"", expect_continue=False
    ) -> Reply:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        if expect_continue:
            lines.append("Expect: 100-continue")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        interim: list[int] = []
        if expect_continue:
            self.sock.settimeout(CONTINUE_WAIT)
            try:
                status, reply_headers = self._read_head()
            except TimeoutError:
                status, reply_headers = None, {}
            finally:
                self.sock.settimeout(60)
            if status is not None and status >= 200:  # refused before the body: a final answer
                return Reply(status, reply_headers, self._read_body(reply_headers), interim)
            if status is not None:
                interim.append(status)
        self.sock.sendall(body)
        while True:
            status, reply_headers = self._read_head()
            if status >= 200:
                return Reply(status, reply_headers, self._read_body(reply_headers), interim)
            interim.append(status)

    # --- reading ----------------------------------------------------------------------------------------
    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self._buffer += chunk

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        found, self._buffer = self._buffer.split(marker, 1)
        return found

    def _read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill()
        found, self._buffer = self._buffer[:n], self._buffer[n:]
        return found

    def _read_head(self) -> tuple[int, dict[str, str]]:
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        status_line, *header_lines = head.split("\r\n")
        version, status, *_ = status_line.split(" ", 2)
        assert version == "HTTP/1.1", status_line
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status), headers

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    return body
                body += self._read_exactly(size)
                self._read_exactly(2)
        if "content-length" in headers:
            return self._read_exactly(int(headers["content-length"]))
        while True:  # until the server closes
            try:
                self._fill()
            except ConnectionError:
                body, self._buffer = self._buffer, b""
                return body


def multipart(boundary: str, parts: list[tuple[str, bytes, str | None]], *, closing_between: bool = False) -> bytes:
    """A multipart/form-data body built by hand: (name, value, file name or None) per part, no per-part
    Content-Type (as the .NET and Ruby clients sent them). ``closing_between`` separates the parts with the
    closing delimiter ``--B--`` instead of ``--B``, as one real client did by mistake."""
    out = b""
    for n, (name, value, filename) in enumerate(parts):
        delimiter = f"--{boundary}" if n == 0 or not closing_between else f"--{boundary}--"
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"{delimiter}\r\n{disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()
