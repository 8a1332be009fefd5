"""``connection.json`` read in one place: :class:`Connection` types it and says what is wrong with a bad one."""

from __future__ import annotations

import json

import pytest

from sevis_mock.harness.connection import (
    Connection,
    ConnectionFileError,
    SevisOrg,
    connection_path,
    load_connection,
)

SERVED = {
    "base_url": "https://127.0.0.1:8443/",
    "ca_cert": "/data/certs/ca.pem",
    "environments": {"production": "sevisbatch", "beta": "sbtsevisbatch", "alpha": "alphasevisbatch"},
    "organizations": [
        {
            "org_id": "MCK214F00001000",
            "kind": "F/M",
            "name": "Mock University",
            "user_id": "MCKPDSO001",
            "client_cert": "/data/clients/a.pem",
            "client_key": "/data/clients/a.key.pem",
        },
        {"org_id": "P-1-12345", "kind": "J", "name": "Mock Exchange", "user_id": "MCKRO00001", "client_p12": "/j.p12"},
    ],
    "control": {"url": "https://127.0.0.1:8443/control", "token": "t0k"},
    "rti": {"beta": "https://127.0.0.1:8443/sbtsevis/", "alpha": "https://127.0.0.1:8443/alphasevis"},
    "sevp": {"url": "https://127.0.0.1:8443/sevp", "user": "sevp", "password": "pw"},
    "outbox": "https://127.0.0.1:8443/outbox",
}


def test_what_serve_writes_is_typed():
    c = Connection.from_dict(SERVED)
    assert c.base_url == "https://127.0.0.1:8443"
    assert c.org("F/M") == SevisOrg(
        "MCK214F00001000",
        "F/M",
        "Mock University",
        "MCKPDSO001",
        "/data/clients/a.pem",
        "/data/clients/a.key.pem",
        "/data/certs/ca.pem",
    )
    assert c.org("F/M").cert == ("/data/clients/a.pem", "/data/clients/a.key.pem")
    assert c.org("J").cert is None and c.org("J").client_p12 == "/j.p12"
    assert c.find_org("P-1-12345").kind == "J" and c.find_org("NOPE") is None
    assert c.rti_url("beta") == "https://127.0.0.1:8443/sbtsevis"
    assert c.batch_prefix("alpha") == "alphasevisbatch" and c.batch_prefix("sbtsevisbatch") == "sbtsevisbatch"
    assert (c.control_url, c.control_token, c.outbox_url) == ("https://127.0.0.1:8443/control", "t0k", SERVED["outbox"])
    # [i] the Department of State's console: /dos with the operator's login when the file does not list it
    assert (c.dos_url, c.dos_user, c.dos_password) == ("https://127.0.0.1:8443/dos", "sevp", "pw")
    assert c["base_url"] == SERVED["base_url"] and c.get("missing", 1) == 1
    assert c.require("rti", "sevp", "outbox", "control", "organizations", "ca_cert") is c


def test_a_hand_written_file_needs_only_the_server():
    c = Connection.from_dict({"base_url": "https://egov.ice.gov"})
    assert c.organizations == () and c.ca_cert is None and c.batch_prefix("production") == "sevisbatch"
    with pytest.raises(ConnectionFileError, match="has no rti, control"):
        c.require("rti", "control")
    with pytest.raises(LookupError, match="no organization of kind 'J'"):
        c.org("J")
    with pytest.raises(ConnectionFileError, match="no RTI for 'beta'"):
        c.rti_url("beta")


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ([], "must hold a JSON object, not list"),
        ({}, "has no `base_url`"),
        ({"base_url": 8443}, "`base_url` must be a string, not int"),
        ({"base_url": "https://x", "organizations": {"a": 1}}, "`organizations` must be a list"),
        ({"base_url": "https://x", "organizations": ["MCK"]}, r"organizations\[0\] must be an object"),
        ({"base_url": "https://x", "organizations": [{"kind": "F/M"}]}, r"organizations\[0\] has no `org_id`"),
        ({"base_url": "https://x", "control": "tok"}, "`control` must be an object"),
        ({"base_url": "https://x", "control": {"token": 5}}, "control: `token` must be a string"),
        ({"base_url": "https://x", "rti": {"beta": None}}, "`rti` must map environment names to strings"),
    ],
)
def test_a_bad_connection_says_what_to_fix(info, message):
    with pytest.raises(ConnectionFileError, match=message):
        Connection.from_dict(info, source="connection file c.json")


def test_load_names_the_file(tmp_path):
    path = tmp_path / "connection.json"
    with pytest.raises(ConnectionFileError, match="not found: `sevis-mock serve` writes it"):
        load_connection(path)
    path.write_text("{not json")
    with pytest.raises(ConnectionFileError, match=f"connection file {path} is not JSON"):
        load_connection(path)
    path.write_text(json.dumps(SERVED))
    loaded = load_connection(path)
    assert loaded == Connection.from_dict(SERVED) and str(path) in loaded.source


def test_which_file(monkeypatch, tmp_path):
    monkeypatch.delenv("SEVIS_MOCK_CONNECTION", raising=False)
    assert connection_path(None) == (tmp_path.__class__(".sevis-mock/connection.json"), False)
    monkeypatch.setenv("SEVIS_MOCK_CONNECTION", str(tmp_path / "env.json"))
    assert connection_path(None) == (tmp_path / "env.json", True)
    assert connection_path(tmp_path / "given.json") == (tmp_path / "given.json", True)


def test_a_mock_known_by_its_url():
    c = Connection.for_server("https://mock.example:8443/", ca_cert="ca.pem")
    assert c.rti_url("production") == "https://mock.example:8443/sevis"
    assert c.require("rti", "sevp", "outbox").sevp_url == "https://mock.example:8443/sevp"
    assert c.ca_cert == "ca.pem"


def test_the_batch_client_for_an_organization_of_the_connection(tmp_path):
    from sevis_mock.harness.client import SevisClient, SevisError

    files = {name: tmp_path / name for name in ("ca.pem", "a.pem", "a.key.pem")}
    for path in files.values():
        path.write_text("-")
    info = dict(SERVED, ca_cert=str(files["ca.pem"]))
    info["organizations"] = [
        dict(SERVED["organizations"][0], client_cert=str(files["a.pem"]), client_key=str(files["a.key.pem"]))
    ]
    c = Connection.from_dict(info)
    with SevisClient.for_org(c, "MCK214F00001000", environment="alpha") as client:
        assert client.url("batchUpload") == "https://127.0.0.1:8443/alphasevisbatch/action/batchUpload"
        assert client.cert == (str(files["a.pem"]), str(files["a.key.pem"])) and client.verify == str(files["ca.pem"])
    with SevisClient.for_org(c) as client:
        assert client.environment == "sbtsevisbatch"
    with pytest.raises(SevisError, match=r"lists no organization P-1-12345 \(listed: MCK214F00001000\)"):
        SevisClient.for_org(c, "P-1-12345")
