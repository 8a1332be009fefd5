"""Multipart bodies as SEVIS read them: parts separated by a closing delimiter (PROTOCOL §3a).

A client that puts ``--B--`` (the delimiter that ends a body) between its parts instead of ``--B`` got, from
SEVIS's beta site, HTTP 200 with ``Upload resultCode="S0001"``, ``status="false"``, an empty BatchID, the
mis-split rest of the body in OrgID and no FileName [c]. Werkzeug's parser stops cleanly at the first closing
delimiter and drops the rest as the epilogue, so the upload would look like one with missing fields. The
request class here watches the body as the parser reads it: it keeps its first bytes and what follows the
first closing delimiter, so the batch view can tell a body cut short by a closing delimiter from one that
really lacks a field, and echo what SEVIS echoed.

The same request class parses multipart bodies with Werkzeug's own parser, less one cost: Werkzeug's decoder compiles
two regular expressions for each boundary, a third of the parse (every client sends a fresh random boundary, so no
cache helps). `BoundarySearch` finds what those expressions find, by a plain search for the delimiter.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from typing import Any, Callable

from flask import Request
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.sansio.multipart import MultipartDecoder

KEEP = 64 * 1024  # bytes of the body (and of what follows its first closing delimiter) kept for the reply
ECHO_MAX = 1000  # [i] at most this much of the mis-split value is echoed in OrgID


class DelimiterWatch:
    """A read-through wrapper of a multipart request stream: keeps the first ``KEEP`` bytes of the body and the
    first ``KEEP`` bytes after the first closing delimiter ``--boundary--``."""

    def __init__(self, stream, boundary: bytes) -> None:
        self._stream = stream
        self.boundary = boundary
        self._close = b"--" + boundary + b"--"
        self.head = bytearray()
        self.after: bytearray | None = None  # None until a closing delimiter was read
        self._tail = b""

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data:
            self._see(data)
        return data

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def _see(self, data: bytes) -> None:
        if len(self.head) < KEEP:
            self.head += data[: KEEP - len(self.head)]
        if self.after is not None:
            if len(self.after) < KEEP:
                self.after += data[: KEEP - len(self.after)]
            return
        window = self._tail + data
        at = window.find(self._close)
        if at >= 0:
            rest = window[at + len(self._close) :]
            self.after = bytearray(rest[:KEEP])
        else:
            self._tail = window[-len(self._close) :]

    def parts_after_close(self) -> bool:
        """Whether another part follows the first closing delimiter (its delimiter or its headers)."""
        if self.after is None:
            return False
        after = bytes(self.after).lower()
        return b"--" + self.boundary.lower() in after or b"content-disposition" in after


#: What may follow a delimiter ``--B`` in Werkzeug's expressions (``sansio/multipart.py``): the closing ``--``,
#: white space other than line breaks and an optional line break; or that white space and a line break.
_AFTER_DELIMITER = re.compile(rb"(--[^\S\n\r]*(?:\r\n|\n|\r)?|[^\S\n\r]*(?:\r\n|\n|\r))")
_CR, _LF = 13, 10


class _Found:
    """A match as Werkzeug's decoder reads one: ``start()``, ``end()``, ``group(1)`` (what followed ``--B``)."""

    __slots__ = ("_data", "_start", "_end", "_after")

    def __init__(self, data: bytes | bytearray, start: int, end: int, after: int) -> None:
        self._data, self._start, self._end, self._after = data, start, end, after

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def group(self, index: int = 0) -> bytes:
        if index not in (0, 1):
            raise IndexError("no such group")
        return bytes(self._data[self._start if index == 0 else self._after : self._end])


class BoundarySearch:
    """``search(data, pos)`` as Werkzeug's per-boundary expression answers it, without compiling one: its delimiter
    ``--B`` found by ``bytes.find``, then what precedes it (a line break: CRLF, LF or CR, in that order; optional in
    the preamble's expression) and what follows it (``_AFTER_DELIMITER``). The earliest match wins, as in the
    expression: every start is at most two bytes before its delimiter, and those two bytes, being line breaks, are
    never part of an earlier delimiter's dashes. A body with many delimiters that match nothing (a hostile one)
    would keep this loop in Python: past ``MAX_MISSES`` the search hands over to Werkzeug's own expression."""

    MAX_MISSES = 16

    def __init__(self, boundary: bytes, *, opening: bool) -> None:
        self._delimiter = b"--" + boundary
        self._boundary = boundary
        self._opening = opening  # the preamble's expression: the line break before the first delimiter is optional
        self._misses = 0
        self._expression: re.Pattern[bytes] | None = None

    def search(self, data: bytes | bytearray, pos: int = 0) -> Any:
        if self._expression is not None:
            return self._expression.search(data, pos)
        delimiter = self._delimiter
        at = data.find(delimiter, pos)
        while at != -1:
            after = at + len(delimiter)
            found = _AFTER_DELIMITER.match(data, after)
            if found is not None:
                if at - 2 >= pos and data[at - 2] == _CR and data[at - 1] == _LF:
                    return _Found(data, at - 2, found.end(), after)
                if at - 1 >= pos and data[at - 1] in (_CR, _LF):
                    return _Found(data, at - 1, found.end(), after)
                if self._opening:
                    return _Found(data, at, found.end(), after)
            self._misses += 1
            if self._misses > self.MAX_MISSES:
                stock = MultipartDecoder(self._boundary)
                self._expression = stock.preamble_re if self._opening else stock.boundary_re
                return self._expression.search(data, pos)
            at = data.find(delimiter, at + 1)
        return None


_ANY_BOUNDARY = b"sevis-mock-boundary"  # Werkzeug compiles its expressions for this one once (re's cache)


class BoundaryDecoder(MultipartDecoder):
    """Werkzeug's multipart decoder, searching for its boundary with `BoundarySearch`."""

    def __init__(self, boundary: bytes, max_form_memory_size: int | None = None, *, max_parts: int | None = None):
        super().__init__(_ANY_BOUNDARY, max_form_memory_size, max_parts=max_parts)
        self.boundary = boundary
        self.preamble_re = BoundarySearch(boundary, opening=True)  # type: ignore[assignment]
        self.boundary_re = BoundarySearch(boundary, opening=False)  # type: ignore[assignment]


def _naming(function: Callable, **names: Any) -> Any:
    """Werkzeug's ``function`` as it is, but with ``names`` of its module bound to other objects: its own code runs,
    in whatever version is installed, with the decoder above."""
    rebound = types.FunctionType(
        function.__code__,
        {**function.__globals__, **names},
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    rebound.__kwdefaults__ = function.__kwdefaults__
    rebound.__qualname__ = function.__qualname__
    return rebound


class BoundaryMultiPartParser(MultiPartParser):
    parse = _naming(MultiPartParser.parse, MultipartDecoder=BoundaryDecoder)


class BoundaryFormDataParser(FormDataParser):
    _parse_multipart = _naming(FormDataParser._parse_multipart, MultiPartParser=BoundaryMultiPartParser)


class BatchRequest(Request):
    """Flask's request, with a ``DelimiterWatch`` on every multipart body it parses (``multipart_watch``), parsed
    without compiling expressions for its boundary (`BoundaryDecoder`)."""

    form_data_parser_class = BoundaryFormDataParser
    multipart_watch: DelimiterWatch | None = None

    def _get_stream_for_parsing(self):
        if self.multipart_watch is not None:  # parsed again after a refusal (413): keep what the first read saw
            return self.multipart_watch
        stream = super()._get_stream_for_parsing()
        boundary = self.mimetype_params.get("boundary")
        if self.mimetype == "multipart/form-data" and boundary:
            self.multipart_watch = DelimiterWatch(stream, boundary.encode("latin-1", "replace"))
            return self.multipart_watch
        return stream


@dataclass(frozen=True)
class Misread:
    """What SEVIS made of a body whose parts are separated by closing delimiters."""

    batch_id: str
    org_id: str
    boundary: str


def closing_delimiters_between_parts(request: Request) -> Misread | None:
    """The fields as SEVIS misread them when ``request``'s multipart body has a part after a closing delimiter,
    else None. Call after the form was parsed."""
    watch = getattr(request, "multipart_watch", None)
    if watch is None or not watch.parts_after_close():
        return None
    fields = misread_fields(bytes(watch.head), watch.boundary)
    return Misread(
        batch_id=fields.get("batchid", "")[:ECHO_MAX],
        org_id=fields.get("orgid", "")[:ECHO_MAX],
        boundary=watch.boundary.decode("latin-1"),
    )


def misread_fields(body: bytes, boundary: bytes) -> dict[str, str]:
    """The text fields as a parser that knows only opening delimiters (``--B`` and a line break) reads ``body``:
    a closing delimiter does not end a part, so the part before it runs on through the rest of the body
    (the mis-split value SEVIS echoed in OrgID). [i] how SEVIS split the body: inferred from what it echoed.
    File parts are left out; the first part of a name wins."""
    opening = re.compile(rb"(?:\r?\n)?--" + re.escape(boundary) + rb"[ \t]*\r?\n")
    end = re.compile(rb"(?:\r?\n)?--" + re.escape(boundary) + rb"--\s*\Z")
    fields: dict[str, str] = {}
    for part in opening.split(body)[1:]:
        head, _, value = _split(part)
        disposition = re.search(rb'(?im)^content-disposition:.*?\bname="([^"]*)".*$', head)
        if disposition is None or b"filename=" in disposition.group(0).lower():
            continue
        name = disposition.group(1).decode("utf-8", "replace")
        fields.setdefault(name, end.sub(b"", value).decode("utf-8", "replace").strip())
    return fields


def _split(part: bytes) -> tuple[bytes, bytes, bytes]:
    """(headers, separator, value) of one part: the headers end at the first blank line."""
    match = re.search(rb"\r?\n\r?\n", part)
    if match is None:
        return part, b"", b""
    return part[: match.start()], match.group(), part[match.end() :]
