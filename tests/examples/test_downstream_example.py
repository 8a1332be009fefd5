"""What a college's or vendor's own test suite looks like with the sevis-mock pytest plugin.

README quotes this file. The plugin comes with `pip install sevis-mock`; nothing to import for the
fixtures (``sevis_mock``, ``sevis_org``, ``sevis_client``), only the two assertion helpers.
"""

import pytest

from sevis_mock.fixtures import read_fixture
from sevis_mock.harness.pytest_plugin import assert_record_failed, assert_record_ok


def test_new_students_get_sevis_ids(sevis_client, sevis_org):
    batch = read_fixture("fm/rule-S1009-program-end-before-start.xml")  # your integration's output
    upload = sevis_client.upload(batch, org_id=sevis_org.org_id, user_id=sevis_org.user_id)
    assert upload.code == "S0000"

    result = sevis_client.wait_for_processing(
        org_id=sevis_org.org_id, user_id=sevis_org.user_id, batch_id=upload.batch_id, timeout=30, interval=0.2
    )
    student = assert_record_ok(result, "S1009-0001")
    assert student.sevis_id.startswith("N")
    assert_record_failed(result, "S1009-0002", code="S1009")  # program end before start


@pytest.mark.sevis_org("J")
def test_sponsor_batch_and_what_the_mock_saw(sevis_mock, sevis_client, sevis_org):
    batch = read_fixture("j/create-with-dependent-and-site.xml")
    sevis_client.upload(batch, org_id=sevis_org.org_id, user_id=sevis_org.user_id)
    result = sevis_client.wait_for_processing(
        org_id=sevis_org.org_id, user_id=sevis_org.user_id, batch_id="JCREATEDEPST01", timeout=30, interval=0.2
    )
    visitor = assert_record_ok(result, "JDEP-0001")
    assert len(visitor.dependents) == 1

    # The request journal shows exactly what the integration sent.
    sent = sevis_mock.journal(org=sevis_org.org_id, action="upload")
    assert [(e["batch_id"], e["disposition"]) for e in sent] == [("JCREATEDEPST01", "S0000")]
