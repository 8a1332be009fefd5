"""One real `sevis-mock serve` over TLS for the client emulations, and what every client checks in a log."""

from __future__ import annotations

from datetime import datetime

import pytest
from lxml import etree

from tests.support.server import assert_valid_log, start_server

# What a strict client parses a SEVIS timestamp with (PROTOCOL §3a: 2019-05-21T11:55:36.234-04:00).
STRICT = "%Y-%m-%dT%H:%M:%S.%f%z"


@pytest.fixture(scope="package")
def serve(tmp_path_factory):
    """Batches wait until a test processes them (`control(serve, "POST", "process-now")`): polls meet S0030 first."""
    server = start_server(tmp_path_factory.mktemp("clients"), "--processing-delay", "3600")
    yield server
    server.stop(wait=False)


def read_log(xml: bytes) -> etree._Element:
    """The log as a client checks it: valid against the TransLog XSD, every timestamp strictly parsed."""
    log = assert_valid_log(xml)
    for stamped in log.iterfind("BatchDetail/*[@dateTimeStamp]"):
        datetime.strptime(stamped.get("dateTimeStamp"), STRICT)
    for date in log.iterfind("BatchDetail/Process/Record/ProcessDate"):
        datetime.strptime(date.text, STRICT)
    return log


def control(server, method: str, path: str, **kw):
    """The mock's control API (here: process the queued batches when the test says so)."""
    return server.mock.control(method, path, **kw)
