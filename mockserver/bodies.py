"""A request body the server cannot read (malformed chunked transfer coding, a connection cut mid-body)
answers HTTP 400 saying so, whatever the HTTP server underneath raises while the application reads it."""

from __future__ import annotations

from werkzeug.exceptions import BadRequest


class MalformedBody(BadRequest):
    """The request body could not be read as sent."""


class _GuardedInput:
    """``wsgi.input`` whose read errors become :class:`MalformedBody` (gunicorn raises its own
    ``ChunkMissingTerminator`` / ``InvalidChunkSize`` / ``NoMoreData``, other servers other exceptions)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def _guard(self, method: str, *args):
        try:
            return getattr(self._stream, method)(*args)
        except MalformedBody:
            raise
        except Exception as exc:  # noqa: BLE001 -- any failure to read the body is the client's malformed body
            raise MalformedBody(
                f"the request body could not be read ({type(exc).__name__}: {str(exc)[:200]}); with "
                "Transfer-Encoding: chunked each chunk is its size in hex, CRLF, the data, CRLF, and a last "
                "chunk of size 0; or send Content-Length instead"
            ) from None

    def read(self, *args):
        return self._guard("read", *args)

    def readline(self, *args):
        return self._guard("readline", *args)

    def readlines(self, *args):
        return self._guard("readlines", *args)

    def __iter__(self):
        return iter(self.readline, b"")

    def __getattr__(self, name):
        return getattr(self._stream, name)


class GuardBody:
    """WSGI middleware: wrap every request's ``wsgi.input`` in :class:`_GuardedInput`."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = _GuardedInput(stream)
        return self.app(environ, start_response)
