"""Storage trouble answered, not crashed (finding 6): with the database on a small tmpfs filled to the last
byte, an upload gets S0001 saying the disk is full, RTI and the control API HTTP 503 JSON, the RTI pages a
503 page, the error reaches stderr; once space is back, uploads are accepted and processed again and every
batch accepted before is still there. Plus the same answers with a write failure injected in-process, for
machines where mounting a tmpfs is not allowed."""

from __future__ import annotations

import os
import subprocess

import pytest
from sqlalchemy.exc import OperationalError

from sevis_mock.fixtures import read_fixture
from tests.support.server import new_batch_id, start_server, with_batch_id
from tests.test_rti import api, web

FM = "fm/create-with-dependent.xml"


@pytest.fixture(scope="module")
def tiny_disk(tmp_path_factory):
    mount_point = tmp_path_factory.mktemp("tiny-disk")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture(scope="module")
def server(tiny_disk, tmp_path_factory):
    """serve with its data dir on the normal disk (serve.log stays readable) and its database on the tmpfs."""
    saved = os.environ.get("SEVIS_MOCK_DATABASE_URL")
    os.environ["SEVIS_MOCK_DATABASE_URL"] = f"sqlite:///{tiny_disk / 'sevis-mock.db'}"
    try:
        srv = start_server(tmp_path_factory.mktemp("full-disk"), "--processing-delay", "0", "--workers", "1")
    finally:
        if saved is None:
            os.environ.pop("SEVIS_MOCK_DATABASE_URL")
        else:
            os.environ["SEVIS_MOCK_DATABASE_URL"] = saved
    yield srv
    srv.stop()


def fill(directory) -> object:
    """Fill the file system of ``directory`` to its last byte; returns the filler file's path."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (65536, 512, 1):
            try:
                while f.write(b"\0" * size):
                    pass
            except OSError:
                pass
    return filler


def test_a_full_disk_is_answered_and_nothing_accepted_is_lost(server, tiny_disk):
    org = server.org("F/M")
    before = new_batch_id("DF")
    assert server.upload(with_batch_id(read_fixture(FM), before), org=org, batch_id=before).upload_code == "S0000"
    assert server.wait_processed(org=org, batch_id=before).process_code == "S0000"

    filler = fill(tiny_disk)
    try:
        refused = new_batch_id("DF")
        reply = server.upload(with_batch_id(read_fixture(FM), refused), org=org, batch_id=refused)
        assert reply.upload_code == "S0001", reply.raw.decode()
        assert "full" in reply.detail and "send it again later" in reply.detail, reply.detail

        r = api(
            server,
            "POST",
            "accounts",
            json={
                "first_name": "A",
                "last_name": "B",
                "email": "full@example.edu",
                "phone": "1",
                "purpose": "certification",
            },
        )
        assert r.status_code == 503, r.text
        assert "full" in r.json()["error"] and r.headers["Retry-After"]

        with server.session((org["client_cert"], org["client_key"])) as s:
            r = s.post(
                f"{server.base_url}/control/seed",
                json={"kind": "F/M"},
                headers={"Authorization": f"Bearer {server.info['control']['token']}"},
                timeout=60,
            )
        assert r.status_code == 503 and "full" in r.json()["error"], r.text

        with web(server) as page:
            form = page.get(f"{server.info['rti']['beta']}/register", timeout=60)
            token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            r = page.post(
                f"{server.info['rti']['beta']}/register",
                data={
                    "first_name": "A",
                    "last_name": "B",
                    "email": "f@example.edu",
                    "phone": "1",
                    "purpose": "certification",
                    "csrf_token": token,
                },
                timeout=60,
            )
        assert r.status_code == 503 and "full" in r.text, r.text[:500]

        # the accepted batch stays downloadable while the disk is full
        assert server.download(org=org, batch_id=before).process_code == "S0000"

        with web(server) as s:
            r = s.get(f"{server.base_url}/readyz", timeout=60)
        assert r.status_code == 503, r.text
        assert not r.json()["checks"]["storage"]["ok"] and "free" in r.json()["checks"]["storage"]["detail"]
    finally:
        filler.unlink()
    with web(server) as s:
        r = s.get(f"{server.base_url}/readyz", timeout=60)
    assert r.status_code == 200 and r.json()["checks"]["storage"]["ok"], r.text

    log = (server.data_dir / "serve.log").read_text()
    assert "storage trouble during POST /sbtsevisbatch/action/batchUpload" in log
    after = new_batch_id("DF")
    assert server.upload(with_batch_id(read_fixture(FM), after), org=org, batch_id=after).upload_code == "S0000"
    assert server.wait_processed(org=org, batch_id=after).process_code == "S0000"
    assert server.download(org=org, batch_id=refused).download_code == "S0031"  # refused, so never accepted


# --- the same with an injected write failure (no tmpfs needed) --------------------------------------------


@pytest.fixture
def app(tmp_path, monkeypatch):
    from sevis_mock.server import create_app
    from sevis_mock.server.config import Settings
    from sevis_mock.server.datadir import DataDir

    settings = Settings(data_dir=tmp_path / "data", run_worker=False, fast_passwords=True)
    DataDir(settings).prepare()
    application = create_app(settings)
    application.testing = False  # errors take the production path through the error handlers
    return application


@pytest.fixture
def failing_writes(monkeypatch):
    from contextlib import contextmanager

    from sevis_mock.server.store import Store

    def fail(reason: str):
        @contextmanager
        def write(self, *args, **kwargs):  # whatever the caller asks (exclusive, durable): the disk refuses
            raise OperationalError("INSERT ...", {}, Exception(reason))
            yield  # pragma: no cover

        monkeypatch.setattr(Store, "write", write)
        monkeypatch.setattr(Store, "write_connection", write)  # an accepted upload's INSERTs (the group writer)

    return fail


@pytest.mark.parametrize(
    "reason,says",
    [
        ("database or disk is full", "full"),
        ("attempt to write a readonly database", "read-only"),
        ("database is locked", "locked"),
    ],
)
def test_each_kind_of_write_failure_is_answered_with_its_reason(app, failing_writes, capfd, reason, says):
    settings = app.extensions["sevis_mock"].settings
    cert = (settings.data_dir / "clients" / "MCK214F00001000-MCKPDSO001.pem").read_text()
    client = app.test_client()
    environ = {"SSL_CLIENT_CERT": cert, "wsgi.url_scheme": "https"}
    failing_writes(reason)
    batch_id = new_batch_id("INJ")
    r = client.post(
        "/sbtsevisbatch/action/batchUpload",
        data={
            "orgid": "MCK214F00001000",
            "userid": "MCKPDSO001",
            "batchid": batch_id,
            "xml": (__import__("io").BytesIO(with_batch_id(read_fixture(FM), batch_id)), "batch.xml"),
        },
        environ_base=environ,
    )
    assert r.status_code == 200 and b'resultCode="S0001"' in r.data, r.data[:500]
    assert says in r.headers["X-Sevis-Mock-Detail"]
    r = client.post(
        "/sbtsevis/api/accounts",
        json={"first_name": "A"}
        | {"last_name": "B", "email": "x@example.edu", "phone": "1", "purpose": "certification"},
        environ_base=environ,
    )
    assert r.status_code == 503 and says in r.get_json()["error"], r.data
    token = app.extensions["sevis_mock"].control_token
    r = client.post(
        "/control/clock",
        json={"advance_seconds": 60},
        headers={"Authorization": f"Bearer {token}"},
        environ_base=environ,
    )
    assert r.status_code == 503 and says in r.get_json()["error"], r.data
    assert "storage trouble during POST /sbtsevisbatch/action/batchUpload" in capfd.readouterr().err


def test_other_database_errors_are_not_taken_for_storage_trouble():
    from sqlalchemy.exc import IntegrityError

    from sevis_mock.server.storage import storage_trouble

    assert storage_trouble(IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))) is None
    assert storage_trouble(ValueError("x")) is None
    assert storage_trouble(OSError(28, "No space left on device")) is not None
