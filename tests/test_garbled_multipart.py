"""Parts separated by closing delimiters (PROTOCOL §3a): seen however the body arrives, misread as SEVIS did."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from sevis_mock.server.batch.multipart import DelimiterWatch, misread_fields
from tests.clients.wire import multipart

PARTS = [("orgid", b"P-1-12345", None), ("userid", b"MCKRO00001", None), ("batchid", b"----kynEn47azQ", None)]
PARTS_AND_FILE = [*PARTS, ("xml", b"<SEVISBatchCreateUpdateEV/>", "batchfile3.xml")]


def watched(body: bytes, chunk: int) -> DelimiterWatch:
    watch = DelimiterWatch(io.BytesIO(body), b"AaB03x")
    while watch.read(chunk):
        pass
    return watch


@given(chunk=st.integers(1, 400))
def test_a_part_after_a_closing_delimiter_is_seen_whatever_the_reads(chunk):
    assert watched(multipart("AaB03x", PARTS_AND_FILE, closing_between=True), chunk).parts_after_close()
    assert not watched(multipart("AaB03x", PARTS_AND_FILE), chunk).parts_after_close()
    assert not watched(multipart("AaB03x", PARTS_AND_FILE) + b"\r\nan epilogue\r\n", chunk).parts_after_close()


def test_the_first_part_runs_on_through_the_rest_of_the_body():
    fields = misread_fields(multipart("AaB03x", PARTS_AND_FILE, closing_between=True), b"AaB03x")
    assert set(fields) == {"orgid"}  # the other parts never start: no BatchID, no file
    assert fields["orgid"].startswith('P-1-12345\r\n--AaB03x--\r\nContent-Disposition: form-data; name="userid"')
    assert fields["orgid"].endswith("<SEVISBatchCreateUpdateEV/>")  # the final delimiter is not part of it


def test_a_well_formed_body_is_read_as_sent():
    fields = misread_fields(multipart("AaB03x", PARTS_AND_FILE), b"AaB03x")
    assert fields == {"orgid": "P-1-12345", "userid": "MCKRO00001", "batchid": "----kynEn47azQ"}
