"""What a college's tests of its own retry logic look like with sevis-mock's faults.

README quotes this file. ``upload_with_retries`` and ``download_when_processed`` stand for the college's
client: retry after S0001/S0003, an HTTP error page or a dropped connection (with a cooldown, honouring
Retry-After), cancel the batch on S0002/S0010-S0013, keep polling through S0030, and never upload a batch ID
again once SEVIS accepted it. Three shipped scenarios test it, plus one fault of its own.
"""

from __future__ import annotations

import time

import pytest

from sevis_mock.fixtures import read_fixture
from sevis_mock.harness.client import SevisConnectionError, SevisHTTPError, SevisProtocolError, TransactionLog

COOLDOWN = 0.2  # seconds; a real client waits minutes (SEVIS's advice: "retry in 15 minutes")


class BatchCancelled(Exception):
    """SEVIS will never accept this batch as sent."""


def upload_with_retries(sevis_mock, org, xml: bytes, tries: int = 8) -> TransactionLog:
    client = sevis_mock.client(org)
    try:
        for _ in range(tries):
            try:
                reply = client.upload(xml, org_id=org.org_id, user_id=org.user_id)
            except SevisHTTPError as exc:  # a gateway page: 403, 500, 502, 503, maintenance
                time.sleep(min(exc.retry_after or COOLDOWN, 1.0))
                continue
            except SevisConnectionError:  # reset, cut off, handshake refused
                time.sleep(COOLDOWN)
                continue
            if reply.code == "S0000":
                return reply.log
            if reply.code in ("S0001", "S0003"):
                time.sleep(COOLDOWN)
                continue
            raise BatchCancelled(f"{reply.code}: {reply.meaning}")
        raise AssertionError(f"no upload accepted in {tries} tries")
    finally:
        client.close()


def download_when_processed(sevis_mock, org, batch_id: str, timeout: float = 30) -> TransactionLog:
    client = sevis_mock.client(org)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                result = client.download(org_id=org.org_id, user_id=org.user_id, batch_id=batch_id)
            except (SevisHTTPError, SevisConnectionError, SevisProtocolError):  # broken zip, cut body, ...
                time.sleep(COOLDOWN)
                continue
            if result.code == "S0000" and result.log.process is not None:
                return result.log
            time.sleep(COOLDOWN)  # S0030: not yet processed; or a log without its Download part
        raise AssertionError(f"batch {batch_id} not downloaded within {timeout} s")
    finally:
        client.close()


def fresh_batch() -> bytes:
    return read_fixture("fm/create-with-dependent.xml")


@pytest.mark.parametrize("scenario", ["sevis-bad-day", "gateway-trouble", "broken-downloads"])
def test_the_client_recovers(sevis_mock, sevis_org, scenario):
    with sevis_mock.scenario(scenario) as faults:
        log = upload_with_retries(sevis_mock, sevis_org, fresh_batch())
        result = download_when_processed(sevis_mock, sevis_org, log.batch_id)
        assert sum(f.hits for f in faults) >= 3  # the bad day did happen
    assert result.process.code == "S0000"
    uploads = sevis_mock.journal(org=sevis_org.org_id, action="upload")
    assert [e["disposition"] for e in uploads].count("S0000") == 1  # accepted once, never sent again


def test_a_503_then_an_accepted_upload(sevis_mock, sevis_org):
    with sevis_mock.fault({"http_status": 503, "retry_after": 1}, {"endpoint": "upload"}, times=1) as fault:
        log = upload_with_retries(sevis_mock, sevis_org, fresh_batch())
        assert log.upload.code == "S0000" and fault.hits == 1


@pytest.mark.sevis_fault(respond={"disposition": "S0002"}, match={"endpoint": "upload"})
def test_an_invalid_organization_cancels_the_batch(sevis_mock, sevis_org):
    with pytest.raises(BatchCancelled, match="S0002"):
        upload_with_retries(sevis_mock, sevis_org, fresh_batch())
    assert len(sevis_mock.journal(action="upload")) == 1  # not retried: S0002 will not go away
