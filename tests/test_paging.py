"""Paging of the lists (sevis_mock.server.paging): ``?limit=&offset=`` and the ``paging`` facts of each reply."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.paging import Page, PagingError
from tests.support.server import new_batch_id, with_batch_id
from tests.test_events import control, upload_and_process


@pytest.mark.parametrize(
    "args, message",
    [
        ({"limit": "0"}, "limit must be a whole number from 1 to 50"),
        ({"limit": "51"}, "limit must be a whole number from 1 to 50"),
        ({"limit": "ten"}, "limit must be a whole number, not 'ten'"),
        ({"offset": "-1"}, "offset must be a whole number, 0 or more"),
        ({"offset": "1.5"}, "offset must be a whole number, not '1.5'"),
    ],
)
def test_bad_paging_says_what_to_send(args, message):
    with pytest.raises(PagingError, match=message):
        Page.from_args(MultiDict(args), default=10, maximum=50)


def test_a_page_tells_whether_another_follows():
    page = Page.from_args(MultiDict({"limit": "2", "offset": "4"}), default=10, maximum=50)
    assert page.cut(["a", "b", "c"]) == (["a", "b"], {"limit": 2, "offset": 4, "returned": 2, "next_offset": 6})
    assert page.cut(["a"]) == (["a"], {"limit": 2, "offset": 4, "returned": 1, "next_offset": None})


def test_control_lists_page_through_every_row_once(mock_server):
    batch_id = new_batch_id("P")
    upload_and_process(
        mock_server, "F/M", with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id), batch_id
    )
    everything = control(mock_server, "GET", "records", params={"limit": "5000"}).json()["records"]
    seen, offset = [], 0
    while offset is not None:
        body = control(mock_server, "GET", "records", params={"limit": "2", "offset": str(offset)}).json()
        assert len(body["records"]) <= 2
        seen += [r["sevis_id"] for r in body["records"]]
        offset = body["paging"]["next_offset"]
    assert seen == [r["sevis_id"] for r in everything] and len(seen) >= 3

    mine = control(mock_server, "GET", "journal", params={"batch": batch_id}).json()["entries"]
    second = control(mock_server, "GET", "journal", params={"batch": batch_id, "limit": "1", "offset": "1"}).json()
    assert second["entries"] == mine[1:2] and second["paging"]["offset"] == 1
    bad = control(mock_server, "GET", "journal", params={"offset": "back"})
    assert bad.status_code == 400 and "offset must be a whole number" in bad.json()["error"]
