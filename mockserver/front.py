"""The serving front of ``sevis-mock serve``: a gunicorn worker that keeps every connection in one asyncio
loop and hands the application only complete requests.

Why not gunicorn's own gthread worker: it runs the TLS handshake and reads the request head and body on
one of its pool threads, with no timeout once a byte has arrived, so 16 slow or half-open connections
(2 workers x 8 threads: a trickled header, a trickled body, 8 bytes of a ClientHello) stopped every other
request. Here the handshake, the head and the body are read by the event loop, each with a deadline, and
a pool thread only ever runs the Flask application on a request that is already complete; a connection
that is slow costs a socket and a buffer, never a thread. gunicorn still manages the processes (``--workers``,
the bound listener, ``when_ready``), and the client certificate verified in the handshake reaches the
application as DER bytes in the WSGI environ (``sevis_mock.peer_cert``, read by ``tls.peer_certificate``).

Ceilings (:class:`FrontLimits`; ``SEVIS_MOCK_FRONT_<NAME>`` overrides one, for tests):
- the TLS handshake must finish within ``handshake_seconds``;
- a request head within ``header_seconds`` of its first byte (or of the handshake), at most
  ``max_header_bytes``; an idle kept-alive connection is closed after gunicorn's ``keepalive``;
- a stopping worker closes its connections with a TLS close_notify and, once every byte of theirs is handed to
  the socket, waits at most ``close_linger_seconds`` for the client's own close (its close_notify or end of
  file) before dropping the connection: a client holding a pooled connection it does not read (a
  ``requests.Session`` left open) would otherwise keep the worker, and the stop, for the whole graceful timeout;
- a request body may pause at most ``body_idle_seconds`` and must arrive within ``body_seconds`` plus one
  second per ``body_min_rate`` bytes; a body is spooled to disk past 1 MiB, and one over the application's
  ``MAX_CONTENT_LENGTH`` is not read at all (the application answers it with 413);
- at most ``connections_per_ip`` connections of one client address per worker, ``connections`` in all;
- a request whose thread uses more than ``request_cpu_seconds`` of CPU time is answered 503 and the worker
  is recycled (it stops accepting, lets the other requests finish, and exits; gunicorn starts a fresh one).
  Accepted batches are committed before their reply is sent, and processing is transactional, so nothing
  is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from datetime import datetime
from urllib.parse import unquote_to_bytes

import h11
from gunicorn import sock as gunicorn_sock
from gunicorn.workers.base import Worker

from .faults.transport import DROP as DROP_CONNECTION, drop_connection

PEER_CERT = "sevis_mock.peer_cert"  # environ key: the verified client certificate, DER bytes (absent: none)
SPOOL_BYTES = 1 << 20
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FrontLimits:
    handshake_seconds: float = 10.0
    header_seconds: float = 10.0
    max_header_bytes: int = 64 * 1024
    body_idle_seconds: float = 15.0
    body_seconds: float = 60.0
    body_min_rate: int = 32 * 1024  # bytes per second added to body_seconds
    write_seconds: float = 60.0
    keepalive_seconds: float = 75.0
    close_linger_seconds: float = 1.0
    connections_per_ip: int = 256
    connections: int = 1000
    request_cpu_seconds: float = 30.0
    max_body_bytes: int = 64 * 1024 * 1024  # when the application declares no MAX_CONTENT_LENGTH

    @classmethod
    def from_env(cls, **defaults) -> "FrontLimits":
        limits = replace(cls(), **defaults)
        for f in fields(cls):
            raw = os.environ.get(f"SEVIS_MOCK_FRONT_{f.name.upper()}")
            if raw:
                limits = replace(limits, **{f.name: type(getattr(limits, f.name))(float(raw))})
        return limits


class _Closed(Exception):
    """The connection is over (peer gone, timed out, or answered and closed)."""


class _Refused(Exception):
    """Answer with this status and close."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class FrontWorker(Worker):
    """gunicorn worker: one asyncio loop for the sockets, a pool of ``threads`` for the application."""

    def init_process(self) -> None:
        self.limits = FrontLimits.from_env(
            keepalive_seconds=float(self.cfg.keepalive or 0) or 5.0, connections=self.cfg.worker_connections
        )
        self.per_ip: Counter[str] = Counter()
        self.open_connections = 0
        self.running: dict[int, tuple[int, float, asyncio.Future, dict]] = {}  # thread -> clock, start, answer
        self.running_lock = threading.Lock()
        self.in_flight = 0  # requests handed to the pool and not answered yet (loop thread only)
        self.stuck = 0  # requests answered 503 for overrunning their CPU budget, still running
        # kept-alive connections waiting for their next request's first byte: a winding-down worker closes these
        # at once (nothing of theirs is in flight) and lets every other connection finish the request it is on
        self.idle: dict[asyncio.Task, asyncio.StreamWriter] = {}
        # connections this worker has begun to close (close_notify on its way), with when the close began
        self.closing: dict[asyncio.StreamWriter, float] = {}
        self.recycling = False
        super().init_process()

    # gunicorn's handlers call sys.exit inside the signal handler; here the loop winds down instead
    def handle_quit(self, sig, frame) -> None:
        self.alive = False
        self._wake_main()

    def handle_exit(self, sig, frame) -> None:
        self.alive = False
        self._wake_main()

    def _wake_main(self) -> None:
        """The main loop sees a stop at once, not at its next tick (a stop used to wait up to 0.2 s for it)."""
        loop, woken = getattr(self, "loop", None), getattr(self, "_woken", None)
        if loop is not None and woken is not None:
            try:
                loop.call_soon_threadsafe(woken.set)
            except RuntimeError:  # the loop has closed: nothing waits on it
                pass

    def run(self) -> None:
        self.ssl_context = gunicorn_sock.ssl_context(self.cfg) if self.cfg.is_ssl else None
        self.pool = ThreadPoolExecutor(max_workers=max(1, self.cfg.threads), thread_name_prefix="sevis-mock-app")
        # the application's own limit (it answers 413 with what to do), else the front's
        declared = int(getattr(self.wsgi, "config", {}).get("MAX_CONTENT_LENGTH") or 0)
        self.max_body = declared or self.limits.max_body_bytes
        try:
            asyncio.run(self._main())
        finally:
            self.pool.shutdown(wait=not self.recycling, cancel_futures=True)
        if self.recycling:
            try:  # what a clean stop does (the processor and the form helpers finish), then leave the stuck thread
                self.cfg.worker_exit(None, self)
            except Exception:
                self.log.exception("front: stopping the recycled worker's helpers failed")
            os._exit(0)

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()  # set by a stop signal (`_wake_main`)
        self.loop = loop
        tasks: set[asyncio.Task] = set()
        # gunicorn's listeners wrap the socket (.sock); its stubs type them as plain sockets
        accepting = [asyncio.create_task(self._accept(listener.sock, tasks)) for listener in self.sockets]  # type: ignore[attr-defined]
        try:
            while self.alive:
                self.notify()
                self._check_cpu()
                try:
                    await asyncio.wait_for(self._woken.wait(), 0.2)
                except asyncio.TimeoutError:
                    pass
        finally:
            for task in accepting:
                task.cancel()
            self._close_idle()
            # let requests in flight finish (a stuck one is not waited for when recycling)
            deadline = loop.time() + self.cfg.graceful_timeout
            while self.in_flight > self.stuck and loop.time() < deadline:
                self.notify()
                await asyncio.sleep(0.1)
            # then every accepted connection gets its request answered within the graceful timeout: one in its
            # handshake or sending its head or body is not reset (a client cannot tell that from a lost upload),
            # and a reply already answered reaches its client (cancelling first would cut it mid-reply). Each such
            # connection closes itself after that request, the worker being no longer alive.
            while (pending := [task for task in tasks if not task.done()]) and loop.time() < deadline:
                self._close_idle()
                self._drop_lingering()
                self.notify()
                await asyncio.wait(pending, timeout=min(0.5, max(0.0, deadline - loop.time())))
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _close_idle(self) -> None:
        """Close, gracefully (TLS close_notify, then FIN), the kept-alive connections waiting between requests."""
        for writer in list(self.idle.values()):
            if not writer.transport.is_closing():
                self._begin_close(writer)  # their read gets end-of-file and the connection ends as a client's would

    def _begin_close(self, writer: asyncio.StreamWriter) -> None:
        """Flush what is buffered and send close_notify; the close completes when the client closes too."""
        self.closing.setdefault(writer, asyncio.get_running_loop().time())
        writer.close()

    def _drop_lingering(self) -> None:
        """While stopping: drop the connections whose close began ``close_linger_seconds`` ago with nothing of
        theirs left to send, whose client has not closed its side (it holds the connection without reading it)."""
        now = asyncio.get_running_loop().time()
        for writer, since in list(self.closing.items()):
            transport = writer.transport
            if now - since >= self.limits.close_linger_seconds and transport.get_write_buffer_size() == 0:
                transport.abort()  # a FIN: the client has sent nothing unread, so no reset

    async def _accept(self, listener: socket.socket, tasks: set) -> None:
        loop = asyncio.get_running_loop()
        listener.setblocking(False)
        while True:
            try:
                client, address = await loop.sock_accept(listener)
            except asyncio.CancelledError:
                raise
            except OSError:
                await asyncio.sleep(0.05)
                continue
            ip = address[0] if isinstance(address, tuple) else str(address)
            if self.per_ip[ip] >= self.limits.connections_per_ip or self.open_connections >= self.limits.connections:
                _close_quietly(client)  # over the cap: refused before any TLS work
                continue
            self.per_ip[ip] += 1
            self.open_connections += 1
            task = asyncio.create_task(self._connection(client, address, ip))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _connection(self, client: socket.socket, address, ip: str) -> None:
        loop = asyncio.get_running_loop()
        writer = None
        try:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = asyncio.StreamReader(limit=READ_CHUNK)
            protocol = asyncio.StreamReaderProtocol(reader)
            try:
                transport, _ = await loop.connect_accepted_socket(
                    lambda: protocol,
                    client,
                    ssl=self.ssl_context,
                    ssl_handshake_timeout=self.limits.handshake_seconds if self.ssl_context else None,
                )
            except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError):
                _close_quietly(client)
                return
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            ssl_object = transport.get_extra_info("ssl_object")
            peer_cert = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            await self._serve(reader, writer, address, peer_cert)
            # a graceful close sends what is still buffered (the end of a large reply, a 408) before closing;
            # abort() in ``finally`` would drop it
            self._begin_close(writer)
            await asyncio.wait_for(writer.wait_closed(), self.limits.write_seconds)
        except (_Closed, ConnectionError, OSError, asyncio.TimeoutError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:  # never let one connection's trouble reach the others
            self.log.exception("front: connection from %s failed", ip)
        finally:
            if writer is not None:
                self.closing.pop(writer, None)
            self.per_ip[ip] -= 1
            if self.per_ip[ip] <= 0:
                del self.per_ip[ip]
            self.open_connections -= 1
            if writer is not None and not writer.transport.is_closing():
                writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address, peer_cert) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes)
        first = True
        while self.alive or first:
            try:
                request = await self._read_head(conn, reader, first, writer)
                if request is None:
                    return
                first = False
                body, too_large = await self._read_body(conn, reader, writer, request)
            except _Refused as refused:
                await self._send_plain(writer, refused.status, refused.text)
                return
            environ = self._environ(request, body, address, peer_cert, writer)
            started = time.monotonic()
            status, headers, chunks = await self._call_app(environ)
            if environ.get(DROP_CONNECTION):  # a fault asked for a reset or a cut body (mockserver/faults)
                await drop_connection(environ[DROP_CONNECTION], conn, writer, request, status, headers, chunks)
                return
            if too_large or not self.alive:
                headers = [(k, v) for k, v in headers if k.lower() != b"connection"] + [(b"Connection", b"close")]
            sent = await self._send(conn, writer, request, status, headers, chunks)
            self._access(environ, status[0] if isinstance(status, tuple) else status, sent, time.monotonic() - started)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is not h11.DONE:
                return
            try:
                conn.start_next_cycle()
            except h11.ProtocolError:
                return

    # -- reading ---------------------------------------------------------------------------------------

    async def _receive(self, conn: h11.Connection, reader: asyncio.StreamReader, timeout: float) -> None:
        data = await asyncio.wait_for(reader.read(READ_CHUNK), max(timeout, 0.001))
        conn.receive_data(data)

    async def _read_head(self, conn: h11.Connection, reader: asyncio.StreamReader, first: bool, writer=None):
        loop = asyncio.get_running_loop()
        # wait for the first byte of a request: the head deadline for a new connection, keepalive after
        if not conn.trailing_data[0]:
            wait = self.limits.header_seconds if first else self.limits.keepalive_seconds
            task = asyncio.current_task()
            if not first and task is not None and writer is not None:
                if not self.alive:
                    return None  # winding down: a kept-alive connection ends between requests
                self.idle[task] = writer
            try:
                await self._receive(conn, reader, wait)
            except asyncio.TimeoutError:
                raise _Closed() from None
            finally:
                if task is not None:
                    self.idle.pop(task, None)
        deadline = loop.time() + self.limits.header_seconds
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise _Refused(exc.error_status_hint or 400, f"malformed HTTP request: {exc}") from None
            if event is h11.NEED_DATA:
                try:
                    await self._receive(conn, reader, deadline - loop.time())
                except asyncio.TimeoutError:
                    raise _Refused(408, "the request head did not arrive in time") from None
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.Request):
                return event
            raise _Refused(400, "malformed HTTP request")

    async def _read_body(self, conn, reader, writer, request: h11.Request):
        length = _content_length(request.headers)
        if length is not None and length > self.max_body:
            return io.BytesIO(), True  # not read: the application answers 413 from the declared length
        if conn.they_are_waiting_for_100_continue:
            await self._write(
                writer, conn.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue"))
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_seconds + (length or 0) / self.limits.body_min_rate
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        total = 0
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                spool.close()
                raise _Refused(400, f"malformed request body: {exc}") from None
            if event is h11.NEED_DATA:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    spool.close()
                    raise _Refused(408, "the request body did not arrive in time")
                try:
                    await self._receive(conn, reader, min(remaining, self.limits.body_idle_seconds))
                except asyncio.TimeoutError:
                    spool.close()
                    raise _Refused(408, "the request body stalled") from None
                continue
            if isinstance(event, h11.Data):
                total += len(event.data)
                if total > self.max_body:
                    spool.close()
                    raise _Refused(413, f"request body over {self.max_body} bytes refused")
                spool.write(event.data)
                continue
            if isinstance(event, h11.EndOfMessage):
                spool.seek(0)
                return spool, False
            if isinstance(event, h11.ConnectionClosed):
                spool.close()
                raise _Closed()

    def _environ(self, request: h11.Request, body, address, peer_cert, writer) -> dict:
        target = request.target
        path, _, query = target.partition(b"?")
        local = writer.get_extra_info("sockname")
        host, port = (local[0], local[1]) if isinstance(local, tuple) else ("", 0)
        environ = {
            "REQUEST_METHOD": request.method.decode("latin-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "RAW_URI": target.decode("latin-1"),
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("latin-1"),
            "REMOTE_ADDR": address[0] if isinstance(address, tuple) else "",
            "REMOTE_PORT": str(address[1]) if isinstance(address, tuple) else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.ssl_context else "http",
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": self.cfg.workers > 1,
            "wsgi.run_once": False,
        }
        if peer_cert:
            environ[PEER_CERT] = peer_cert
        for name, value in request.headers:
            key = name.decode("latin-1").upper().replace("-", "_")
            text = value.decode("latin-1")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = text
            elif key == "CONTENT_LENGTH":
                environ["CONTENT_LENGTH"] = text
            elif key == "TRANSFER_ENCODING":
                continue  # the body handed on is already de-chunked
            else:
                key = "HTTP_" + key
                environ[key] = f"{environ[key]},{text}" if key in environ else text
        if "CONTENT_LENGTH" not in environ and hasattr(body, "seek"):
            size = body.seek(0, io.SEEK_END)
            body.seek(0)
            environ["CONTENT_LENGTH"] = str(size)
        return environ

    # -- the application ---------------------------------------------------------------------------------

    async def _call_app(self, environ: dict):
        loop = asyncio.get_running_loop()
        answer: asyncio.Future = loop.create_future()
        job = self.pool.submit(self._run_app, environ, answer)
        job.add_done_callback(lambda _: _close_input(environ))
        self.in_flight += 1
        try:
            return await answer
        finally:
            self.in_flight -= 1

    def _run_app(self, environ: dict, answer: asyncio.Future):
        ident = threading.get_ident()
        with self.running_lock:
            self.running[ident] = (time.pthread_getcpuclockid(ident), time.thread_time(), answer, environ)
        try:
            result = self._app_response(environ)
        except Exception:
            self.log.exception("front: the application failed on %s", environ.get("PATH_INFO"))
            result = (500, [(b"Content-Type", b"text/plain")], [b"internal error\n"])
        finally:
            with self.running_lock:
                self.running.pop(ident, None)
        self.loop.call_soon_threadsafe(_settle, answer, result)
        try:  # gunicorn's post_request hook, as its own workers call it (serve's recycles a worker over its memory)
            self.cfg.post_request(self, None, environ, None)
        except Exception:
            self.log.exception("front: the post_request hook failed")

    def _app_response(self, environ: dict):
        captured: dict = {}

        def start_response(status, headers, exc_info=None):
            if exc_info and captured.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: captured.setdefault("early", []).append(data)

        iterable = self.wsgi(environ, start_response)
        try:
            chunks = [*captured.get("early", []), *(bytes(chunk) for chunk in iterable)]
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        code, _, reason = captured["status"].partition(" ")
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in captured["headers"]]
        return (int(code), reason.encode("latin-1")), headers, chunks

    def _check_cpu(self) -> None:
        """A request whose thread has used more than its CPU budget is answered 503 and this worker recycled."""
        if self.recycling:
            return
        with self.running_lock:
            entries = list(self.running.values())
        for clock, start, answer, environ in entries:
            try:
                used = time.clock_gettime(clock) - start
            except OSError:
                continue
            if used > self.limits.request_cpu_seconds and not answer.done():
                self.log.error(
                    "front: %s %s used more than %g s of CPU time; answered 503, this worker is recycled",
                    environ.get("REQUEST_METHOD"),
                    environ.get("PATH_INFO"),
                    self.limits.request_cpu_seconds,
                )
                text = (
                    f"the request used more than {self.limits.request_cpu_seconds:g} s of CPU time and was stopped; "
                    "nothing it sent was kept: send a smaller or simpler document\n"
                )
                answer.set_result((503, [(b"Content-Type", b"text/plain; charset=utf-8")], [text.encode()]))
                self.stuck += 1
                self.recycling = True
                self.alive = False
                return

    # -- writing ---------------------------------------------------------------------------------------

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if data:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), self.limits.write_seconds)

    async def _send(self, conn, writer, request: h11.Request, status: int, headers, chunks) -> int:
        size = sum(len(c) for c in chunks)
        if not any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in headers):
            headers = [*headers, (b"Content-Length", str(size).encode())]
        headers = (
            [*headers, (b"Server", b"sevis-mock")] if not any(k.lower() == b"server" for k, _ in headers) else headers
        )
        try:
            code, reason = status if isinstance(status, tuple) else (status, _REASONS.get(status, "").encode())
            out = [conn.send(h11.Response(status_code=code, headers=headers, reason=reason))]
            if request.method != b"HEAD":
                out += [conn.send(h11.Data(data=c)) for c in chunks if c]
            out.append(conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError as exc:
            self.log.error("front: the application's response could not be sent: %s", exc)
            await self._send_plain(writer, 500, "the response could not be framed")
            raise _Closed() from None
        await self._write(writer, b"".join(out))
        return size

    async def _send_plain(self, writer, status: int, text: str) -> None:
        body = (text.rstrip("\n") + "\n").encode("utf-8", "replace")
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with contextlib.suppress(Exception):
            await self._write(writer, head + body)

    def _access(self, environ: dict, status: int, size: int, seconds: float) -> None:
        if not self.cfg.accesslog:
            return
        stamp = datetime.now().astimezone().strftime("[%d/%b/%Y:%H:%M:%S %z]")
        line = (
            f'{environ.get("REMOTE_ADDR", "-")} - - {stamp} "{environ["REQUEST_METHOD"]} '
            f'{environ.get("RAW_URI", "")} {environ["SERVER_PROTOCOL"]}" {status} {size} {seconds:.3f}'
        )
        self.log.access_log.info(line)


_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _settle(answer: asyncio.Future, result) -> None:
    if not answer.done():
        answer.set_result(result)


def _close_input(environ: dict) -> None:
    with contextlib.suppress(Exception):
        environ["wsgi.input"].close()


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _content_length(headers) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
