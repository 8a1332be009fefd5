"""The control API: reset, seed and the request journal, through a real server over mutual TLS."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from lxml import etree

from sevis_mock.fixtures import read_fixture
from sevis_mock.harness.client import replace_batch_id
from sevis_mock.harness.pytest_plugin import MockControlError, assert_record_ok
from sevis_mock.server.control.reset import clear_all
from sevis_mock.server.store.cache import GENERATION_KEY
from sevis_mock.server.store import Base, Organization, Store

FM_FIXTURE = "fm/create-three-students.xml"


@pytest.fixture(scope="module")
def sevis_mock_server(tmp_path_factory, module_backend):
    """The plugin's server, once per backend (SQLite, PostgreSQL): the control API's state lives in the database. It
    processes only when told to (process-now), so downloads can come before processing."""
    from sevis_mock import running

    data_dir = tmp_path_factory.mktemp("control")
    with running(data_dir=data_dir, processing_delay=86400, extra=tuple(module_backend.serve_args(data_dir))) as server:
        yield server


def with_org(xml: bytes, org_id: str, user_id: str) -> bytes:
    doc = etree.fromstring(xml)
    doc.find("BatchHeader/OrgID").text = org_id
    for el in doc.iter():
        if el.get("userID") is not None:
            el.set("userID", user_id)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def upload_and_process(mock, org, xml: bytes):
    with mock.client(org) as client:
        up = client.upload(xml, org_id=org.org_id, user_id=org.user_id)
        assert up.code == "S0000", up.log
        mock.process_now()
        return client.wait_for_processing(
            org_id=org.org_id, user_id=org.user_id, batch_id=up.batch_id, timeout=30, interval=0.1
        )


# --- token -----------------------------------------------------------------------------------------


def test_every_control_endpoint_requires_the_token(sevis_mock):
    school = sevis_mock.org("F/M")
    with requests.Session() as s:
        s.trust_env = False
        for method, path in (("POST", "reset"), ("POST", "seed"), ("GET", "journal"), ("GET", "clock")):
            r = s.request(
                method,
                f"{sevis_mock.base_url}/control/{path}",
                verify=sevis_mock.ca_cert,
                cert=school.cert,
                headers={"Authorization": "Bearer wrong"},
                timeout=30,
            )
            assert r.status_code == 401, path
            assert "control.token" in r.json()["error"]
    assert sevis_mock.org("F/M").org_id == "MCK214F00001000"  # nothing was reset by the refused call


# --- reset -----------------------------------------------------------------------------------------


def test_reset_forgets_batches_and_records_and_keeps_the_seeded_orgs(sevis_mock):
    school = sevis_mock.org("F/M")
    first = upload_and_process(sevis_mock, school, read_fixture(FM_FIXTURE))
    assert_record_ok(first, "FM3-0001")
    with sevis_mock.client(school) as client:
        again = client.upload(read_fixture(FM_FIXTURE), org_id=school.org_id, user_id=school.user_id)
        assert again.code == "S0010"

    answer = sevis_mock.reset()
    assert answer["deleted_rows"]["batches"] == 1 and answer["deleted_rows"]["records"] == 3
    assert answer["organizations"] == ["MCK214F00001000", "P-1-12345"]

    # The same batch ID is new again, the same certificate files still work, SEVIS IDs start over.
    second = upload_and_process(sevis_mock, school, read_fixture(FM_FIXTURE))
    assert [r.sevis_id for r in second.log.records] == [r.sevis_id for r in first.log.records]
    assert sevis_mock.journal(batch="FMCREATE3STU01", action="upload")[0]["disposition"] == "S0000"
    assert len(sevis_mock.journal(batch="FMCREATE3STU01", action="upload")) == 1


def test_reset_puts_the_clock_back_unless_told_to_keep_it(sevis_mock):
    sevis_mock.set_clock("2030-01-15T09:00:00")
    kept = sevis_mock.reset(keep_clock=True)
    assert kept["clock"]["now"].startswith("2030-01-15")
    back = sevis_mock.reset()
    assert back["clock"]["offset_seconds"] == 0
    assert abs(datetime.fromisoformat(back["clock"]["now"]) - datetime.now(UTC)) < timedelta(minutes=5)


def test_reset_refuses_a_body_it_does_not_understand(sevis_mock):
    with pytest.raises(MockControlError, match="keep_clock"):
        sevis_mock.control("POST", "reset", json={"keep_clock": "yes"})


def test_clear_all_empties_every_table_of_the_metadata(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.create_all()
    now = datetime.now(UTC)
    with store.write() as s:
        s.add(Organization(org_id="ABC214F00000001", kind="F/M", name="x", created_at=now))
    store.set_setting("clock_offset_seconds", "3600.0")
    store.set_setting("next_sevis_number", "1000042")
    counts = clear_all(store, keep_clock=True)
    assert set(counts) == {t.name for t in Base.metadata.sorted_tables}
    assert counts["organizations"] == 1
    assert store.get_setting("clock_offset_seconds") == "3600.0"
    assert store.get_setting("next_sevis_number") is None
    clear_all(store, keep_clock=False)
    with store.session() as s:
        for table in Base.metadata.sorted_tables:
            rows = s.execute(table.select()).all()
            if table.name == "settings":  # only a new cache generation, so every worker drops what it cached
                assert [row.key for row in rows] == [GENERATION_KEY]
                continue
            assert rows == [], table.name


# --- seed ------------------------------------------------------------------------------------------


def test_seeded_school_can_upload_with_its_new_certificate(sevis_mock):
    school = sevis_mock.seed("F/M")
    assert re.fullmatch(r"[A-Z]{3}214F\d{8}", school.org_id) and len(school.user_id) == 10
    xml = with_org(read_fixture(FM_FIXTURE), school.org_id, school.user_id)
    result = upload_and_process(sevis_mock, school, xml)
    assert_record_ok(result, "FM3-0002")
    assert {r["org_id"] for r in sevis_mock.journal(org=school.org_id)} == {school.org_id}
    # The default school's certificate is not this school's.
    with sevis_mock.client(sevis_mock.org("F/M")) as other:
        refused = other.upload(replace_batch_id(xml, "SEEDOTHER00001"), org_id=school.org_id, user_id=school.user_id)
    assert refused.code == "S0002"


def test_seed_with_chosen_ids_and_two_officials(sevis_mock):
    made = sevis_mock.control(
        "POST",
        "seed",
        json={
            "kind": "J",
            "org_id": "P-3-00042",
            "name": "Test Sponsor",
            "officials": [{"user_id": "TESTRO0001"}, {"user_id": "TESTARO001", "role": "ARO"}],
        },
    )
    assert made["org_id"] == "P-3-00042" and made["name"] == "Test Sponsor"
    assert [(o["user_id"], o["role"]) for o in made["officials"]] == [("TESTRO0001", "RO"), ("TESTARO001", "ARO")]
    for official in made["officials"]:
        assert official["cert_pem"].startswith("-----BEGIN CERTIFICATE-----")
        assert "PRIVATE KEY" in official["key_pem"]
    with pytest.raises(MockControlError, match="409.*already exists"):
        sevis_mock.control("POST", "seed", json={"kind": "J", "org_id": "P-3-00042"})
    # After a reset only the defaults remain.
    assert sevis_mock.reset()["organizations"] == ["MCK214F00001000", "P-1-12345"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "kind must be"),
        ({"kind": "M"}, "kind must be"),
        ({"kind": "F/M", "org_id": "P-1-12345"}, "school code"),
        ({"kind": "J", "org_id": "MCK214F00001000"}, "program number"),
        ({"kind": "F/M", "officials": [{"user_id": "SHORT"}]}, "exactly 10"),
        ({"kind": "F/M", "officials": [{"role": "RO"}]}, "PDSO, DSO"),
        ({"kind": "F/M", "officials": []}, "list of 1"),
        ({"kind": "F/M", "officials": [{"user_id": "MCKPDSO001"}]}, "already exists"),
    ],
)
def test_seed_says_what_is_wrong(sevis_mock, body, message):
    with pytest.raises(MockControlError, match=message):
        sevis_mock.control("POST", "seed", json=body)


# --- journal ---------------------------------------------------------------------------------------


def test_journal_records_every_batch_request(sevis_mock):
    school = sevis_mock.org("F/M")
    before = sevis_mock.clock()["now"]
    with sevis_mock.client(school) as client:
        client.upload(read_fixture(FM_FIXTURE), org_id=school.org_id, user_id=school.user_id, filename="mine.xml")
        client.upload(read_fixture(FM_FIXTURE), org_id=school.org_id, user_id=school.user_id)  # S0010
        client.upload(read_fixture("fm/create-with-dependent.xml"), org_id=school.org_id, user_id="NOSUCHUSER")
        client.download(org_id=school.org_id, user_id=school.user_id, batch_id="FMCREATE3STU01")
        sevis_mock.process_now()
        client.download(org_id=school.org_id, user_id=school.user_id, batch_id="FMCREATE3STU01", method="POST")
        client.download(org_id=school.org_id, user_id=school.user_id, batch_id="NEVERSENT00001")

    entries = sevis_mock.journal(org=school.org_id)
    assert [(e["action"], e["batch_id"], e["disposition"]) for e in entries] == [
        ("upload", "FMCREATE3STU01", "S0000"),
        ("upload", "FMCREATE3STU01", "S0010"),
        ("upload", "FMCREATEDEP001", "S0003"),
        ("download", "FMCREATE3STU01", "S0030"),
        ("download", "FMCREATE3STU01", "S0000"),
        ("download", "NEVERSENT00001", "S0031"),
    ]
    first = entries[0]
    assert first["file_name"] == "mine.xml" and first["size"] == len(read_fixture(FM_FIXTURE))
    assert first["user_id"] == "MCKPDSO001" and first["environment"] == "beta" and first["method"] == "POST"
    assert "CN=MCKPDSO001" in first["client_subject"] and first["at"] >= before[:19]
    assert entries[4]["process_code"] == "S0000" and entries[3]["process_code"] is None
    assert "NOSUCHUSER" in entries[2]["detail"]

    assert [e["user_id"] for e in sevis_mock.journal(user="NOSUCHUSER")] == ["NOSUCHUSER"]
    assert len(sevis_mock.journal(batch="FMCREATE3STU01")) == 4
    assert len(sevis_mock.journal(batch="FMCREATE3STU01", action="download")) == 2
    assert len(sevis_mock.journal(org=school.org_id, limit="2")) == 2
    assert sevis_mock.journal(org="P-1-12345") == []


def test_journal_since_is_on_the_mock_clock(sevis_mock):
    school = sevis_mock.org("F/M")
    with sevis_mock.client(school) as client:
        client.download(org_id=school.org_id, user_id=school.user_id, batch_id="EARLYBATCH0001")
        sevis_mock.advance_clock(3 * 86400)
        later = sevis_mock.clock()["now"]
        client.download(org_id=school.org_id, user_id=school.user_id, batch_id="LATERBATCH0001")
    assert [e["batch_id"] for e in sevis_mock.journal(since=later[:10])] == ["LATERBATCH0001"]
    assert len(sevis_mock.journal(since="2000-01-01")) == 2


@pytest.mark.parametrize(
    "query, message",
    [
        ({"since": "yesterday"}, "ISO-8601"),
        ({"limit": "0"}, "limit must be"),
        ({"limit": "many"}, "limit must be"),
    ],
)
def test_journal_filters_say_what_is_wrong(sevis_mock, query, message):
    with pytest.raises(MockControlError, match=message):
        sevis_mock.journal(**query)


def test_journal_notes_an_unknown_environment(sevis_mock):
    school = sevis_mock.org("F/M")
    with requests.Session() as s:
        s.trust_env = False
        r = s.get(
            f"{sevis_mock.base_url}/nosuchenv/action/batchDownload",
            verify=sevis_mock.ca_cert,
            cert=school.cert,
            params={"orgid": school.org_id, "userid": school.user_id, "batchid": "X"},
            timeout=30,
        )
    assert r.status_code == 404
    [entry] = sevis_mock.journal(batch="X")
    assert entry["disposition"] == "HTTP 404" and entry["environment"] == "nosuchenv"


def test_reseeding_keeps_client_certificates_of_this_ca_only(tmp_path):
    from sevis_mock.server.config import Settings
    from sevis_mock.server.datadir import DataDir
    from sevis_mock.server.tls import CertificateAuthority

    data_dir = DataDir(Settings(data_dir=tmp_path))
    ca = CertificateAuthority.load_or_create(tmp_path / "certs")
    first = data_dir.client_certificate(ca, "MCK214F00001000", "MCKPDSO001")
    assert data_dir.client_certificate(ca, "MCK214F00001000", "MCKPDSO001") == first
    other_ca = CertificateAuthority.load_or_create(tmp_path / "other")  # same name, another key
    assert other_ca.cert.subject == ca.cert.subject
    replaced = data_dir.client_certificate(other_ca, "MCK214F00001000", "MCKPDSO001")
    assert replaced != first
    replaced.verify_directly_issued_by(other_ca.cert)


def test_seeded_orgs_join_connection_json_until_reset(sevis_mock):
    import json as _json

    school = sevis_mock.seed("F/M")
    listed = _json.loads((sevis_mock.data_dir / "connection.json").read_text())
    entry = next(o for o in listed["organizations"] if o["org_id"] == school.org_id)
    assert (entry["user_id"], entry["client_cert"]) == (school.user_id, school.client_cert)
    assert listed["base_url"] == sevis_mock.base_url
    sevis_mock.reset()
    listed = _json.loads((sevis_mock.data_dir / "connection.json").read_text())
    assert [o["org_id"] for o in listed["organizations"]] == ["MCK214F00001000", "P-1-12345"]
