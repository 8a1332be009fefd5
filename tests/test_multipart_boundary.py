"""The batch request parses multipart bodies with Werkzeug's parser, its boundary found without compiling an
expression per boundary (mockserver/batch/multipart.py): the same matches, fields, files and errors as Werkzeug's
own decoder, for every body, however the body is read."""

from __future__ import annotations

import io
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.formparser import MultiPartParser
from werkzeug.sansio.multipart import MultipartDecoder
from werkzeug.test import EnvironBuilder

from sevis_mock.server.batch import multipart
from sevis_mock.server.batch.multipart import BatchRequest, BoundaryMultiPartParser, BoundarySearch

# boundaries as a Content-Type header carries them (ASCII), dashes and expression syntax included
boundaries = st.one_of(
    st.sampled_from(["AaB03x", "-", "--", "a-", "-a-", "x", ".*", "(a|b)", "a b", "----WebKitFormBoundary7MA4YWxk"]),
    st.text(alphabet=string.ascii_letters + string.digits + "'()+_,-./:=? *[]\\|$^", min_size=1, max_size=12),
).map(lambda b: b.encode("ascii"))


def _pieces(boundary: bytes) -> st.SearchStrategy[bytes]:
    """What a body around its delimiters is made of: line breaks of every kind, the white space Werkzeug allows
    after a delimiter and the kinds it does not, dashes, the boundary, its delimiters."""
    delimiter = b"--" + boundary
    return st.sampled_from(
        [b"\r", b"\n", b"\r\n", b"-", b"--", b" ", b"\t", b"\x0b", b"\x0c", b"x", b"\x00", boundary, delimiter]
        + [b"\r\n" + delimiter, b"\n" + delimiter, delimiter + b"--", delimiter + b"\r\n", delimiter + b" \x0c\r"]
    )


@st.composite
def bodies(draw, boundary: bytes) -> bytes:
    return b"".join(draw(st.lists(_pieces(boundary), max_size=40)))


def _as_tuple(found):
    return None if found is None else (found.start(), found.end(), found.group(1), found.group(0))


class _Impatient(BoundarySearch):
    MAX_MISSES = 1  # hands over to Werkzeug's expression after the second miss


@settings(max_examples=200)
@given(data=st.data(), boundary=boundaries)
def test_the_boundary_is_found_where_werkzeugs_expressions_find_it(data, boundary):
    stock = MultipartDecoder(boundary)
    ours = {True: BoundarySearch(boundary, opening=True), False: BoundarySearch(boundary, opening=False)}
    impatient = {True: _Impatient(boundary, opening=True), False: _Impatient(boundary, opening=False)}
    for _ in range(3):  # searches of one decoder follow each other: a miss counted before must change nothing
        body = data.draw(bodies(boundary))
        near = [at + d for at in range(len(body)) if body.startswith(b"--" + boundary, at) for d in (-2, -1, 0, 1)]
        pos = data.draw(st.integers(0, len(body)) | st.sampled_from([p for p in near if 0 <= p <= len(body)] or [0]))
        buffer = bytearray(body)  # the decoder searches its bytearray buffer
        for opening, expression in ((True, stock.preamble_re), (False, stock.boundary_re)):
            expected = _as_tuple(expression.search(buffer, pos))
            assert _as_tuple(ours[opening].search(buffer, pos)) == expected, (opening, body, pos)
            assert _as_tuple(impatient[opening].search(buffer, pos)) == expected, (opening, body, pos)


@pytest.mark.parametrize(
    "boundary, body, pos",
    [
        (b"B", b"\r\n--B\r\n", 1),  # the search starts inside the line break: its LF is the one before the delimiter
        (b"B", b"\r\n--B\r\n", 2),  # after it: only the preamble's expression, whose line break is optional, matches
        (b"-", b"x\n----\r\n", 0),  # delimiters that overlap: the second one, after its own dashes, is the match
        (b"-", b"x---x\n-----x", 0),
        (b"B", b"\n--B--\x0b\x0c \t\r\n", 0),  # any white space but line breaks after the closing dashes
        (b"B", b"\n--B \x0b\r\r\n", 0),  # a CR alone ends the line
        (b".*", b"\n--xx\r\n\n--.*\n", 0),  # the boundary is text, not an expression
    ],
)
def test_the_edges_of_werkzeugs_expressions(boundary, body, pos):
    stock = MultipartDecoder(boundary)
    for opening, expression in ((True, stock.preamble_re), (False, stock.boundary_re)):
        expected = _as_tuple(expression.search(bytearray(body), pos))
        assert _as_tuple(BoundarySearch(boundary, opening=opening).search(bytearray(body), pos)) == expected


@st.composite
def multipart_bodies(draw) -> tuple[bytes, bytes]:
    """Bodies near a well-formed one: parts whose delimiters have any line break, white space or closing dashes,
    headers with or without a file name, contents with delimiter-like bytes, a preamble and an epilogue."""
    boundary = draw(boundaries)
    line_break = st.sampled_from([b"\r\n", b"\n", b"\r", b""])
    out = [draw(bodies(boundary))] if draw(st.booleans()) else []
    for n in range(draw(st.integers(0, 4))):
        closing = b"--" if draw(st.integers(0, 5)) == 0 else b""
        space = draw(st.sampled_from([b"", b" ", b"\t ", b"\x0b"]))
        out.append(draw(line_break) + b"--" + boundary + closing + space + draw(line_break))
        file_name = b'; filename="f%d.xml"' % n if draw(st.booleans()) else b""
        out.append(b'Content-Disposition: form-data; name="p%d"%s' % (n, file_name) + draw(line_break))
        if draw(st.booleans()):
            out.append(b"Content-Type: text/xml" + draw(line_break))
        out.append(draw(line_break))
        out.append(draw(bodies(boundary)))
    if draw(st.booleans()):
        out.append(draw(line_break) + b"--" + boundary + b"--" + draw(line_break))
    if draw(st.booleans()):
        out.append(draw(bodies(boundary)))
    return boundary, b"".join(out)


def _parsed(parser_class, boundary: bytes, body: bytes, chunk: int):
    parser = parser_class(buffer_size=chunk, max_form_memory_size=200, max_form_parts=3)
    try:
        form, files = parser.parse(io.BytesIO(body), boundary, len(body))
    except Exception as exc:  # noqa: BLE001 -- the same refusal is part of the same outcome
        return type(exc), str(exc)
    return (
        list(form.items(multi=True)),
        [(name, f.filename, f.name, f.read(), list(f.headers.items())) for name, f in files.items(multi=True)],
    )


@settings(max_examples=200)
@given(case=multipart_bodies(), chunk=st.sampled_from([1, 2, 3, 7, 16, 64, 65536]))
def test_every_body_is_parsed_as_werkzeugs_own_parser_parses_it(case, chunk):
    boundary, body = case
    assert _parsed(BoundaryMultiPartParser, boundary, body, chunk) == _parsed(MultiPartParser, boundary, body, chunk)


def test_a_batch_request_parses_its_body_without_an_expression_for_its_boundary(monkeypatch):
    searched: list[bytes] = []
    search = BoundarySearch.search

    def spy(self, data, pos=0):
        searched.append(self._delimiter)
        return search(self, data, pos)

    monkeypatch.setattr(BoundarySearch, "search", spy)
    compiled: list = []
    real_decoder = multipart.MultipartDecoder
    monkeypatch.setattr(  # the fallback is the only way to Werkzeug's own decoder and its expressions
        multipart, "MultipartDecoder", lambda *a, **kw: compiled.append(a) or real_decoder(*a, **kw)
    )
    builder = EnvironBuilder(
        method="POST",
        data={"orgid": "P-1-12345", "xml": (io.BytesIO(b"<a>--x</a>"), "batch.xml", "text/xml")},
    )
    request = BatchRequest(builder.get_environ())
    assert request.form["orgid"] == "P-1-12345"
    assert request.files["xml"].read() == b"<a>--x</a>"
    boundary = request.mimetype_params["boundary"].encode()
    assert searched and set(searched) == {b"--" + boundary}
    assert compiled == []


def test_a_body_of_many_false_delimiters_is_searched_by_werkzeugs_expression():
    """A hostile body whose delimiter recurs without the line breaks around it would keep the search in Python for
    each one: past a few, Werkzeug's compiled expression takes over, and finds the same."""
    boundary = b"AaB03x"
    body = bytearray(b"--AaB03x!" * 10_000 + b"\r\n--AaB03x--\r\n")
    search = BoundarySearch(boundary, opening=False)
    assert _as_tuple(search.search(body)) == _as_tuple(MultipartDecoder(boundary).boundary_re.search(body))
    assert search._expression is not None


@pytest.mark.parametrize("opening", [True, False])
def test_a_found_boundary_has_only_the_groups_of_werkzeugs_expression(opening):
    found = BoundarySearch(b"B", opening=opening).search(b"x\r\n--B--\r\n")
    assert (found.start(), found.end(), found.group(1)) == (1, 10, b"--\r\n")
    with pytest.raises(IndexError):
        found.group(2)
