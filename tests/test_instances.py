"""Several instances as one SEVIS: the data-dir lock (one SQLite `serve` per data dir), the instances that
connection.json lists, and the concurrency of instances on one store."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from lxml import etree
from sqlalchemy import func, select

from sevis_mock.harness.batches import students_batch
from sevis_mock.server.config import Settings, parse_public_url
from sevis_mock.server.datadir import DataDir
from sevis_mock.server.store import Batch, BatchProgress, Record, Store
from sevis_mock.server.instances import DataDirLock, Instance, live_instances, updated
from sevis_mock.server.tls import load_certificate
from tests.support.server import RunningServer, new_batch_id, start_server
from tests.support.server import sevis_mock_cli as sevis_mock


# --- the registry of instances (no server) -------------------------------------------------------------------


@pytest.fixture
def sleeper():
    """A live process of this host that is not this one, and a pid that is gone."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    yield proc.pid, gone.pid
    proc.kill()
    proc.wait()


def instance(pid: int, port: int, host: str | None = None) -> Instance:
    return Instance(
        url=f"https://127.0.0.1:{port}",
        pid=pid,
        host=host or socket.gethostname(),
        started_at="2026-01-01T00:00:00+00:00",
        backend="postgresql",
    )


def test_an_entry_whose_process_is_gone_is_dropped_and_the_first_live_one_is_the_top_level(sleeper):
    alive, gone = sleeper
    listed = [instance(gone, 1001), instance(alive, 1002)]
    assert [i.pid for i in updated(listed)] == [alive]
    me = instance(os.getpid(), 1003)
    assert [i.pid for i in updated(listed, joining=me)] == [alive, os.getpid()]
    assert [i.pid for i in updated([*listed, me], leaving=me)] == [alive]
    reused = Instance(**{**instance(alive, 1004).to_json(), "pid_started": 1})  # the pid, another process
    assert updated([reused]) == []


def test_an_entry_of_another_host_is_kept_while_its_port_answers():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        elsewhere = instance(999_999, port, host="another-host.example")
        assert updated([elsewhere]) == [elsewhere]
    assert updated([elsewhere]) == []


def test_connection_json_lists_every_instance_and_each_leaves_on_its_own(tmp_path, sleeper):
    alive, gone = sleeper
    settings = Settings(data_dir=tmp_path / "d", host="127.0.0.1")
    d = DataDir(settings)
    store = d.prepare()
    try:
        assert d.write_connection(store) is None  # no instance runs: nothing to refresh
        assert not d.connection_file.exists()
        first, second, dead = instance(alive, 2001), instance(os.getpid(), 2002), instance(gone, 2003)
        d.write_connection(store, joining=dead)
        d.write_connection(store, joining=first)
        info = d.write_connection(store, joining=second)
        assert json.loads(d.connection_file.read_text()) == info
        assert [i["url"] for i in info["instances"]] == [first.url, second.url]  # the dead one pruned
        assert info["base_url"] == first.url and info["control"]["url"] == first.url + "/control"
        assert {o["kind"] for o in info["organizations"]} == {"F/M", "J"}
        assert oct(d.connection_file.stat().st_mode & 0o777) == "0o600"
        info = d.write_connection(store, leaving=first)  # the top-level keys move to the next instance
        assert info["base_url"] == second.url and [i["pid"] for i in info["instances"]] == [second.pid]
        assert live_instances(d.connection_file) == [second]
        info = d.write_connection(store, leaving=second)
        assert info["instances"] == [] and info["base_url"] == second.url  # the last one: keys kept, list empty
        assert d.write_connection(store) is None
    finally:
        store.engine.dispose()


@pytest.mark.parametrize(
    "given, kept",
    [("https://sevis.example.edu", "https://sevis.example.edu"), ("https://10.0.0.5:8443/", "https://10.0.0.5:8443")],
)
def test_a_public_url_is_https_host_and_port(given, kept):
    assert parse_public_url(given) == kept


@pytest.mark.parametrize(
    "given",
    ["http://sevis.example.edu", "sevis.example.edu:8443", "https://h:99999", "https://h/sbtsevisbatch", "https://u@h"],
)
def test_anything_else_is_refused_saying_what_to_give(given):
    with pytest.raises(ValueError, match=r"https://HOST"):
        parse_public_url(given)


def test_behind_a_proxy_connection_json_gives_the_public_url_and_the_certificate_names_it(tmp_path):
    from cryptography import x509

    settings = Settings(data_dir=tmp_path / "d", host="0.0.0.0", public_url="https://sevis.example.edu:8443")
    d = DataDir(settings)
    store = d.prepare()
    try:
        names = load_certificate(d.server_cert.read_bytes()).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        assert "sevis.example.edu" in names.value.get_values_for_type(x509.DNSName)
        me = Instance.this_process("https://127.0.0.1:40001", "postgresql", settings.public_url)
        info = d.write_connection(store, joining=me)
        assert info["base_url"] == "https://sevis.example.edu:8443"
        assert info["control"]["url"] == "https://sevis.example.edu:8443/control"
        assert [i["url"] for i in info["instances"]] == ["https://127.0.0.1:40001"]
        before = d.server_cert.read_bytes()
        DataDir(settings).prepare().engine.dispose()
        assert d.server_cert.read_bytes() == before  # the same names: the same certificate
    finally:
        store.engine.dispose()
    with pytest.raises(ValueError, match="https://HOST"):
        Settings(data_dir=tmp_path / "d", public_url="http://sevis.example.edu")
    refused = sevis_mock("serve", "--data-dir", str(tmp_path / "e"), "--public-url", "sevis.example.edu")
    assert refused.returncode == 2 and "--public-url" in refused.stderr and "https://HOST" in refused.stderr


# --- certs export / import: the data dir's shared files for hosts without shared storage -------------------------


def test_certs_export_then_import_gives_another_host_the_same_ca_and_secrets(tmp_path):
    from click.testing import CliRunner

    from sevis_mock.cli import main

    source = DataDir(Settings(data_dir=tmp_path / "a"))
    source.prepare().engine.dispose()
    (tmp_path / "a" / "session-secret").write_text("the session key\n")
    bundle, target = tmp_path / "bundle.tar.gz", tmp_path / "b"
    runner = CliRunner()
    exported = runner.invoke(main, ["certs", "export", str(bundle), "--data-dir", str(tmp_path / "a")])
    assert exported.exit_code == 0, exported.output
    assert oct(bundle.stat().st_mode & 0o777) == "0o600"
    imported = runner.invoke(main, ["certs", "import", str(bundle), "--data-dir", str(target)])
    assert imported.exit_code == 0, imported.output
    names = ["certs/ca.pem", "certs/ca.key.pem", "certs/server.pem", "certs/server.key.pem", "control-token",
             "session-secret", "clients/MCK214F00001000-MCKPDSO001.pem", "clients/MCK214F00001000-MCKPDSO001.key.pem"]  # fmt: skip
    for name in names:
        assert (target / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name
        assert oct((target / name).stat().st_mode & 0o777) == "0o600", name
    assert oct(target.stat().st_mode & 0o777) == "0o700"
    assert not (target / "sevis-mock.db").exists() and not (target / "connection.json").exists()

    other = DataDir(Settings(data_dir=tmp_path / "c"))
    other.prepare().engine.dispose()
    theirs = (tmp_path / "c" / "certs" / "ca.pem").read_bytes()
    refused = runner.invoke(main, ["certs", "import", str(bundle), "--data-dir", str(tmp_path / "c")])
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "already has another development CA" in said and "--replace" in said
    assert (tmp_path / "c" / "certs" / "ca.pem").read_bytes() == theirs
    held = DataDirLock(tmp_path / "c", exclusive=True)
    held.acquire()  # a serve runs there
    try:
        busy = runner.invoke(main, ["certs", "import", str(bundle), "--data-dir", str(tmp_path / "c"), "--replace"])
        assert busy.exit_code == 2 and "Stop it before importing" in " ".join(busy.output.split())
    finally:
        held.release()
    taken = runner.invoke(main, ["certs", "import", str(bundle), "--data-dir", str(tmp_path / "c"), "--replace"])
    assert taken.exit_code == 0 and (tmp_path / "c" / "certs" / "ca.pem").read_bytes() != theirs


@pytest.mark.parametrize("name, kind", [("../escape", tarfile.REGTYPE), ("certs/ca.pem", tarfile.SYMTYPE),
                                        ("sevis-mock.db", tarfile.REGTYPE), ("/etc/cron.d/x", tarfile.REGTYPE)])  # fmt: skip
def test_a_bundle_with_anything_else_is_refused_and_nothing_written(tmp_path, name, kind):
    from sevis_mock.server.sharing import SharingProblem, import_bundle

    bundle = tmp_path / "evil.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for member, content in (("certs/ca.pem", b"CA"), ("certs/ca.key.pem", b"KEY"), (name, b"x")):
            info = tarfile.TarInfo(member)
            info.type, info.size = (
                (kind, 0) if member == name and kind == tarfile.SYMTYPE else (tarfile.REGTYPE, len(content))
            )
            info.linkname = "/etc/passwd" if info.type == tarfile.SYMTYPE else ""
            tar.addfile(info, io.BytesIO(content) if info.type == tarfile.REGTYPE else None)
    with pytest.raises(SharingProblem, match="not a file `sevis-mock certs export` writes"):
        import_bundle(tmp_path / "d", bundle)
    assert not (tmp_path / "d").exists()
    (tmp_path / "garbage.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(SharingProblem, match="not a bundle"):
        import_bundle(tmp_path / "d", tmp_path / "garbage.tar.gz")


# --- the data-dir lock (real servers) ------------------------------------------------------------------------


@pytest.mark.server
@pytest.mark.slow
def test_a_second_serve_on_a_sqlite_data_dir_exits_2_naming_the_running_one(tmp_path):
    data_dir = tmp_path / "d"
    first = start_server(data_dir, "--workers", "1", "--processing-delay", "0")
    try:
        before = (data_dir / "connection.json").read_text()
        assert [i["pid"] for i in first.info["instances"]] == [first.proc.pid]
        assert first.info["instances"][0]["url"] == first.base_url

        second = sevis_mock("serve", "--data-dir", str(data_dir), "--port", "0")
        assert second.returncode == 2, second.stderr
        message = " ".join(second.stderr.split())
        assert "Traceback" not in second.stderr and second.stdout == ""
        assert message.startswith(f"sevis-mock: the data dir {data_dir} is in use by another sevis-mock serve")
        assert f"pid {first.proc.pid}" in message and first.base_url in message
        assert "--data-dir DIR" in message and "PostgreSQL" in message
        assert (data_dir / "connection.json").read_text() == before  # untouched: clients still reach the first

        # commands that do not serve keep working beside it
        assert sevis_mock("reset", "--data-dir", str(data_dir)).returncode == 0
        issued = sevis_mock("certs", "issue", "--org", "MCK214F00001000", "--user", "MCKDSO0002", "--out",
                            str(tmp_path / "c"), "--data-dir", str(data_dir), "--no-register")  # fmt: skip
        assert issued.returncode == 0, issued.stderr
        assert first.control("GET", "clock")["now"]
    finally:
        first.stop()
    assert json.loads((data_dir / "connection.json").read_text())["instances"] == []  # a clean stop leaves

    # kill -9: the operating system releases the lock; the next serve starts and drops the dead entry
    again = start_server(data_dir, "--workers", "1")
    os.killpg(again.proc.pid, signal.SIGKILL)
    again.proc.wait()
    third = start_server(data_dir, "--workers", "1")
    try:
        assert [i["pid"] for i in third.info["instances"]] == [third.proc.pid]
    finally:
        third.stop()


def test_the_lock_file_names_its_holder_for_the_refusal(tmp_path):
    from sevis_mock.server.instances import DataDirBusy, DataDirLock

    held = DataDirLock(tmp_path, exclusive=True)
    held.acquire()
    try:
        held.announce("https://127.0.0.1:8443")
        with pytest.raises(DataDirBusy, match=rf"pid {os.getpid()} on .*https://127\.0\.0\.1:8443"):
            DataDirLock(tmp_path, exclusive=True).acquire()  # another open file: flock refuses it in-process too
        with pytest.raises(DataDirBusy, match="on SQLite"):
            DataDirLock(tmp_path, exclusive=False).acquire()  # a PostgreSQL instance beside a SQLite serve
    finally:
        held.release()
    shared = [DataDirLock(tmp_path, exclusive=False), DataDirLock(tmp_path, exclusive=False)]
    for lock in shared:
        lock.acquire()  # PostgreSQL instances share a data dir
    # the lock file still names the SQLite server that held it before and is gone: the running instances are named
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "serve.lock").write_text(json.dumps(instance(gone.pid, 1).to_json()))
    me = instance(os.getpid(), 4443)
    (tmp_path / "connection.json").write_text(json.dumps({"base_url": me.url, "instances": [me.to_json()]}))
    with pytest.raises(DataDirBusy, match=rf"another sevis-mock serve \(pid {os.getpid()} on .*:4443\)") as refused:
        DataDirLock(tmp_path, exclusive=True).acquire()
    assert f"pid {gone.pid}" not in str(refused.value)
    for lock in shared:
        lock.release()
    alone = DataDirLock(tmp_path, exclusive=True)
    alone.acquire()
    alone.release()
    assert oct((tmp_path / "serve.lock").stat().st_mode & 0o777) == "0o600"


# --- several instances on one store, as one SEVIS ------------------------------------------------------------
#
# On SQLite the "instances" are the three worker processes of one `serve --workers 3` (the data-dir lock forbids a
# second serve on its data dir); on PostgreSQL they are three `serve` processes on one database and one data dir.

INSTANCES = 3
CLIENTS = 16


@dataclass
class Cluster:
    backend: str
    servers: list[RunningServer]
    database_url: str

    def instance(self, n: int) -> RunningServer:
        """The server client ``n`` talks to (on SQLite, the one listener whose workers share the connections), among
        those still running (a test may have killed one)."""
        running = [s for s in self.servers if s.proc.poll() is None]
        return running[n % len(running)]

    def groups(self) -> list[list[int]]:
        """The processes of each instance, to stop or kill together."""
        if self.backend == "sqlite":
            return [[pid] for pid in children(self.servers[0].proc.pid)]
        return [[-s.proc.pid] for s in self.servers]  # a negative pid: the instance's whole process group

    def store(self) -> Store:
        return Store(self.database_url)


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (gunicorn's worker processes, for a serve's main process)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


@pytest.fixture(scope="module")
def cluster(module_backend, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"instances-{module_backend.name}")
    # a 3 s lease: the instance killed mid-batch is taken over 3 s later, not 15 (a lease shorter than a step under
    # load only makes live processors hand batches over, each record still applied once)
    common = ("--processing-delay", "0", "--fast-passwords", "--processing-lease", "3")
    url = module_backend.migrated_url(data_dir)  # the schema made once, copied
    if module_backend.name == "sqlite":
        server = start_server(data_dir, "--workers", str(INSTANCES), *common)
        servers = [server]
        deadline = time.monotonic() + 30
        while len(children(server.proc.pid)) < INSTANCES and time.monotonic() < deadline:
            time.sleep(0.1)
    else:  # three serve processes on one database and one data dir
        servers = []
        for _ in range(INSTANCES):
            servers.append(start_server(data_dir, "--database", url, "--workers", "1", *common))
    cluster = Cluster(module_backend.name, servers, url)
    yield cluster
    for server in servers:
        server.stop()


def school(cluster: Cluster) -> dict:
    return cluster.servers[0].org("F/M")


def post_upload(server: RunningServer, org: dict, batch_id: str, xml: bytes) -> str:
    with server.session((org["client_cert"], org["client_key"])) as s:
        for attempt in range(3):
            try:
                r = s.post(
                    f"{server.base_url}/sbtsevisbatch/action/batchUpload",
                    data={"orgid": org["org_id"], "userid": org["user_id"], "batchid": batch_id},
                    files={"xml": ("batch.xml", xml, "text/xml")},
                    timeout=120,
                )
                break
            except requests.ConnectionError:  # an instance killed by the test a moment ago: a client sends again
                if attempt == 2:
                    raise
    assert r.status_code == 200, r.text
    return etree.fromstring(r.content).find("BatchDetail/Upload").get("resultCode")


def record_count(cluster: Cluster) -> int:
    with cluster.store().session() as s:
        return s.scalar(select(func.count()).select_from(Record))


def wait_for_records(cluster: Cluster, count: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while (found := record_count(cluster)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@pytest.mark.server
def test_connection_json_lists_each_running_instance_and_the_first_one_on_top(cluster):
    info = json.loads((cluster.servers[0].data_dir / "connection.json").read_text())
    assert [i["pid"] for i in info["instances"]] == [s.proc.pid for s in cluster.servers]
    assert [i["url"] for i in info["instances"]] == [s.base_url for s in cluster.servers]
    assert {i["backend"] for i in info["instances"]} == {cluster.backend}
    assert info["base_url"] == cluster.servers[0].base_url
    assert len({s.base_url for s in cluster.servers}) == len(cluster.servers)  # each its own port
    assert len({s.ca for s in cluster.servers}) == 1  # one CA, one data dir


@pytest.mark.server
def test_clients_racing_one_batch_id_across_instances_get_exactly_one_s0000(cluster):
    org = school(cluster)
    batch_id = new_batch_id("R")
    xml = students_batch(1, batch_id, org["org_id"], print_form=False, salt=11)
    start = threading.Barrier(CLIENTS)
    codes: list[str] = []

    def client(n: int) -> None:
        start.wait()
        codes.append(post_upload(cluster.instance(n), org, batch_id, xml))

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    assert sorted(codes) == ["S0000"] + ["S0010"] * (CLIENTS - 1)
    done = cluster.instance(1).wait_processed(org=org, batch_id=batch_id)
    assert done.process_code == "S0000" and len(done.log.findall("BatchDetail/Process/Record")) == 1


@pytest.mark.server
@pytest.mark.slow
def test_200_batches_across_instances_are_each_processed_exactly_once(cluster):
    org = school(cluster)
    before = record_count(cluster)
    batches = [new_batch_id("M") for _ in range(200)]
    assert len(set(batches)) == 200

    def client(n: int) -> list[str]:
        mine = range(n, len(batches), CLIENTS)
        return [
            post_upload(
                cluster.instance(i),
                org,
                batches[i],
                students_batch(1, batches[i], org["org_id"], print_form=False, salt=20_000 + i),
            )  # fmt: skip
            for i in mine
        ]

    with ThreadPoolExecutor(CLIENTS) as pool:
        codes = [code for codes in pool.map(client, range(CLIENTS)) for code in codes]
    assert codes == ["S0000"] * 200
    assert wait_for_records(cluster, before + 200) == before + 200

    def sevis_id(i: int) -> str:
        log = cluster.instance(i + 1).download(org=org, batch_id=batches[i]).log  # read from another instance
        assert log.find("BatchDetail/Process").get("resultCode") == "S0000", batches[i]
        records = log.findall("BatchDetail/Process/Record")
        assert len(records) == 1, etree.tostring(log)
        return records[0].get("sevisID")

    with ThreadPoolExecutor(CLIENTS) as pool:
        sevis_ids = list(pool.map(sevis_id, range(len(batches))))
    assert len(set(sevis_ids)) == 200 and all(sevis_ids)
    time.sleep(1)  # any second application would have made its records by now
    assert record_count(cluster) == before + 200


@pytest.mark.server
def test_the_clock_advanced_from_two_instances_is_seen_by_all(cluster):
    first, second = cluster.instance(0), cluster.instance(1)
    start = datetime.fromisoformat(first.control("GET", "clock")["now"])
    first.control("POST", "clock", {"advance_seconds": 86_400})
    second.control("POST", "clock", {"advance_seconds": 86_400})
    for n in range(2 * INSTANCES + 2):  # new connections: on SQLite they land on any worker
        seen = datetime.fromisoformat(cluster.instance(n).control("GET", "clock")["now"])
        assert timedelta(days=2) <= seen - start < timedelta(days=2, minutes=5), n
    first.control("POST", "clock", {"advance_seconds": -2 * 86_400})


def progress(store: Store, batch_pk: int) -> int | None:
    """How many records of a batch its processor has applied, or None once it is no longer being processed."""
    with store.session() as s:
        row = s.get(BatchProgress, batch_pk)
        return None if row is None else row.applied


def signal_group(pids: list[int], sig: int) -> None:
    for pid in pids:
        os.killpg(-pid, sig) if pid < 0 else os.kill(pid, sig)


def claimant(cluster: Cluster, store: Store, batch_pk: int) -> list[int] | None:
    """The instance applying the batch, left stopped (the others running): every instance is stopped, then each is let
    run alone for a moment, and the one whose moment advances the batch is the one. None if the batch finished."""
    groups = cluster.groups()
    for pids in groups:
        signal_group(pids, signal.SIGSTOP)
    found = None
    try:
        for window in (0.05, 0.5, 2.0):  # longer moments for a loaded machine
            for pids in groups:
                before = progress(store, batch_pk)
                signal_group(pids, signal.SIGCONT)
                time.sleep(window)
                signal_group(pids, signal.SIGSTOP)
                time.sleep(0.05)  # a step it had begun commits or not: from now on its count stands still
                after = progress(store, batch_pk)
                if before is None or after is None:
                    return None  # done: not mid-processing any more
                if after != before:
                    found = pids
                    return found
        return None
    finally:
        for pids in groups:
            if pids is not found:
                signal_group(pids, signal.SIGCONT)


@pytest.mark.server
@pytest.mark.slow
def test_kill_9_of_an_instance_mid_processing_another_finishes_its_batch_once(cluster):
    org = school(cluster)
    store = cluster.store()
    before = record_count(cluster)
    size, victim, tries = 250, None, 0
    while victim is None and tries < 6:  # a batch may be done (about 1 s, quiet) before its processor is found
        tries += 1
        batch_id, salt = new_batch_id("K"), 30_000 + tries
        xml = students_batch(size, batch_id, org["org_id"], print_form=False, salt=salt)
        assert post_upload(cluster.instance(0), org, batch_id, xml) == "S0000"
        with store.session() as s:
            batch_pk = s.scalar(select(Batch.id).where(Batch.batch_id == batch_id))
        deadline = time.monotonic() + 60
        while not progress(store, batch_pk) and time.monotonic() < deadline:
            time.sleep(0.02)
        victim = claimant(cluster, store, batch_pk)
    assert victim is not None, f"each of {tries} batches was processed before an instance could be stopped"
    halted = progress(store, batch_pk)
    assert halted is not None and 0 < halted < size
    signal_group(victim, signal.SIGKILL)

    done = cluster.instance(1).wait_processed(org=org, batch_id=batch_id, timeout=120)
    assert done.process_code == "S0000"
    records = done.log.findall("BatchDetail/Process/Record")
    assert sorted(r.get("requestID") for r in records) == sorted(f"R{salt:06d}-{i:04d}" for i in range(size))
    assert len({r.get("sevisID") for r in records}) == size
    wait_for_records(cluster, before + tries * size, timeout=60)  # the earlier tries' batches, processed as usual
    assert record_count(cluster) == before + tries * size  # the records applied before the kill were not applied again


@pytest.mark.server
def test_an_instance_stopped_cleanly_leaves_connection_json_and_the_next_one_takes_the_top(cluster):
    """The module's last test: it stops the first instance still running."""
    running = [s for s in cluster.servers if s.proc.poll() is None]
    first, rest = running[0], running[1:]
    first.stop()
    info = json.loads((first.data_dir / "connection.json").read_text())
    assert [i["pid"] for i in info["instances"]] == [s.proc.pid for s in rest]  # a killed one is gone too
    assert info["base_url"] == (rest[0].base_url if rest else first.base_url)
    if rest:
        assert rest[0].control("GET", "clock")["now"]
