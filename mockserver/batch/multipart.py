"""Multipart bodies as SEVIS read them: parts separated by a closing delimiter (PROTOCOL §3a).

A client that puts ``--B--`` (the delimiter that ends a body) between its parts instead of ``--B`` got, from
SEVIS's beta site, HTTP 200 with ``Upload resultCode="S0001"``, ``status="false"``, an empty BatchID, the
mis-split rest of the body in OrgID and no FileName [c]. Werkzeug's parser stops cleanly at the first closing
delimiter and drops the rest as the epilogue, so the upload would look like one with missing fields. The
request class here watches the body as the parser reads it: it keeps its first bytes and what follows the
first closing delimiter, so the batch view can tell a body cut short by a closing delimiter from one that
really lacks a field, and echo what SEVIS echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Request

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


class BatchRequest(Request):
    """Flask's request, with a ``DelimiterWatch`` on every multipart body it parses (``multipart_watch``)."""

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
