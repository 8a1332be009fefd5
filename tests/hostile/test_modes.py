"""Files that hold secrets or password hashes are readable by their owner only; the data dir is 0700."""

from __future__ import annotations

import stat

import pytest

from tests.support.server import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("modes") / "data"
    data_dir.mkdir(mode=0o755)  # an older or hand-made data dir with a loose mode is tightened
    data_dir.chmod(0o755)
    # migrated=False: the database too is made by the server, as on a first start
    started = start_server(data_dir, "--processing-delay", "0", "--workers", "1", migrated=False)
    with started.session(None) as s:  # the worker has loaded the app (it writes the session key)
        assert s.get(f"{started.info['rti']['beta']}/", timeout=30).status_code == 200
    yield started
    started.stop(wait=False)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_is_private(server):
    assert mode(server.data_dir) == 0o700


@pytest.mark.parametrize(
    "name",
    [
        "connection.json",  # the control token and the SEVP operator's password
        "control-token",
        "session-secret",
        "sevp-operator.json",
        "sevis-mock.db",  # password hashes
        "sevis-mock.db-wal",
        "sevis-mock.db-shm",
        "certs/ca.key.pem",
        "certs/server.key.pem",
    ],
)
def test_secret_files_are_readable_by_their_owner_only(server, name):
    path = server.data_dir / name
    assert path.exists(), f"{name} missing from {sorted(p.name for p in server.data_dir.iterdir())}"
    assert mode(path) == 0o600, f"{name} has mode {mode(path):o}"


def test_client_keys_are_private(server):
    keys = sorted((server.data_dir / "clients").glob("*.key.pem"))
    assert keys
    assert {k.name: mode(k) for k in keys} == {k.name: 0o600 for k in keys}


def test_a_reseed_rewrites_connection_json_private(server):
    with server.session((server.org("F/M")["client_cert"], server.org("F/M")["client_key"])) as s:
        r = s.post(
            f"{server.base_url}/control/seed",
            json={"kind": "F/M"},
            headers={"Authorization": f"Bearer {server.info['control']['token']}"},
            timeout=60,
        )
    assert r.status_code in (200, 201), r.text
    assert mode(server.data_dir / "connection.json") == 0o600
