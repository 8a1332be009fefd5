"""Operating the mock: health and readiness, `sevis-mock wait`, every flag as a SEVIS_MOCK_* variable, set-up
errors as one paragraph with exit code 2, `sevis-mock reset`, JSON control-API errors, and the CLI printing the
server's own explanation before its hint."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys

import click
import pytest
import requests

from sevis_mock.fixtures import read_fixture
from sevis_mock.harness.pytest_plugin import MockServer
from sevis_mock.cli import LAZY_COMMANDS, main
from tests.support.server import ROOT, RunningServer, new_batch_id, with_batch_id
from tests.support.server import sevis_mock_cli as sevis_mock

SERVE_ENV = {  # the module's server is configured through environment variables only
    "SEVIS_MOCK_HOST": "127.0.0.1",
    "SEVIS_MOCK_PORT": "0",
    "SEVIS_MOCK_PROFILE": "beta",  # 20 minutes: nothing is processed unless process-now
    "SEVIS_MOCK_WORKERS": "1",
    "SEVIS_MOCK_FAST_PASSWORDS": "true",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("operations") / "data"
    data_dir.mkdir()
    env = {**os.environ, **SERVE_ENV, "SEVIS_MOCK_DATA_DIR": str(data_dir)}
    with open(data_dir / "serve.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sevis_mock.server", "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp_path_factory.mktemp("cwd"),  # the default ./.sevis-mock would land here: it must not be used
            env=env,
        )
    server = None
    try:
        for _ in range(18):  # `sevis-mock wait`, as a CI script would run it, while the server lives
            waited = sevis_mock("wait", "--timeout", "5", env={"SEVIS_MOCK_DATA_DIR": str(data_dir)})
            if waited.returncode == 0 or proc.poll() is not None:
                break
        assert waited.returncode == 0, waited.stdout + waited.stderr + (data_dir / "serve.log").read_text()
        info = json.loads((data_dir / "connection.json").read_text())
        server = MockServer(data_dir, proc, info)
        yield server
    finally:
        if server is not None:
            RunningServer(server).stop(wait=False)  # the session waits for its exit before reading its log
        else:
            from sevis_mock.harness import launch

            launch.stop(proc)


def plain(server: MockServer) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = server.ca_cert
    return s


# --- 5. health and readiness, `sevis-mock wait` ---------------------------------------------------------------


def test_healthz_and_readyz_answer_json_without_a_certificate(served):
    with plain(served) as s:
        health = s.get(f"{served.base_url}/healthz", timeout=30)
        ready = s.get(f"{served.base_url}/readyz", timeout=30)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    checks = {name: check["ok"] for name, check in body["checks"].items()}
    assert all(checks.values()) and {"database", "worker", "schemas"} <= set(checks), body


def test_readyz_says_which_check_fails(tmp_path):
    from sevis_mock.server.app import create_app
    from sevis_mock.server.config import Settings

    app = create_app(Settings(data_dir=tmp_path))  # no gunicorn: nobody started this process's processor
    reply = app.test_client().get("/readyz")
    assert reply.status_code == 503
    assert reply.json["status"] == "not ready"
    assert not reply.json["checks"]["worker"]["ok"] and "not running" in reply.json["checks"]["worker"]["detail"]
    assert reply.json["checks"]["database"]["ok"] and reply.json["checks"]["schemas"]["ok"]


def test_wait_gives_up_with_the_reason_and_exit_1(tmp_path):
    result = sevis_mock("wait", "--data-dir", str(tmp_path), "--timeout", "0.5", "--interval", "0.1")
    assert result.returncode == 1
    assert "not ready after 0.5 s" in result.stderr and "connection.json does not exist yet" in result.stderr


# --- 6. every flag has a SEVIS_MOCK_* variable, listed in --help and README ------------------------------------


def _commands(group: click.Group, ctx: click.Context):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        sub = click.Context(command, parent=ctx, info_name=name)
        yield name, command, sub
        if isinstance(command, click.Group):
            yield from _commands(command, sub)


def test_every_option_of_every_command_lists_its_environment_variable():
    root = click.Context(main, info_name="sevis-mock", auto_envvar_prefix="SEVIS_MOCK")
    seen = 0
    for name, command, ctx in _commands(main, root):
        for param in command.params:
            if isinstance(param, click.Option) and param.expose_value:
                record = param.get_help_record(ctx)
                assert record and "env var: SEVIS_MOCK_" in record[1], (name, param.name, record)
                seen += 1
    assert seen > 60


def test_serve_variables_are_in_readme_and_were_used(served):
    readme = (ROOT / "README.md").read_text()
    serve = main.get_command(click.Context(main), "serve")
    for param in serve.params:
        if isinstance(param, click.Option) and param.expose_value:
            assert param.envvar.startswith("SEVIS_MOCK_") and param.envvar in readme, param.name
    # the module's server got its data dir, port and profile from the environment alone
    banner = (served.data_dir / "serve.log").read_text()
    assert "profile beta" in banner and "about 20 minutes after upload" in banner
    assert served.base_url.rsplit(":", 1)[1] != "8443"


def test_lazy_commands_say_what_the_commands_say():
    ctx = click.Context(main)
    for name, (_, _, first_sentence) in LAZY_COMMANDS.items():
        command = main.get_command(ctx, name)
        assert first_sentence == command.get_short_help_str(200)


def test_version_and_help_do_not_import_the_server():
    probe = (
        "import sys; from sevis_mock.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('flask', 'sqlalchemy', 'lxml', 'requests', 'cryptography') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


# --- 7. set-up errors: one paragraph, exit code 2 --------------------------------------------------------------


def assert_one_paragraph(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    text = result.stderr.strip()
    assert "Traceback" not in text and "\n\n" not in text and len(text.splitlines()) <= 8, text
    assert text.startswith("sevis-mock: "), text
    for word in words:
        assert word in " ".join(text.split()), (word, text)


@pytest.mark.server
def test_unwritable_data_dir(tmp_path):
    (tmp_path / "a-file").write_text("")
    result = sevis_mock("serve", "--data-dir", str(tmp_path / "a-file" / "d"), "--port", "0")
    assert_one_paragraph(result, "cannot write to the data dir", "--data-dir DIR")
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            result = sevis_mock("serve", "--data-dir", str(locked / "d"), "--port", "0")
        finally:
            locked.chmod(0o700)
        assert_one_paragraph(result, "cannot write to the data dir", "Permission denied")


@pytest.mark.server
def test_port_in_use_suggests_port_0(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = sevis_mock("serve", "--data-dir", str(tmp_path / "d"), "--port", str(port))
    assert_one_paragraph(result, f"port {port} on 127.0.0.1 is in use", "--port 0")


@pytest.mark.server
def test_bad_trust_certificate(tmp_path):
    bogus = tmp_path / "college-ca.pem"
    bogus.write_text("not a certificate\n")
    result = sevis_mock("serve", "--data-dir", str(tmp_path / "d"), "--port", "0", "--trust", str(bogus))
    assert_one_paragraph(result, str(bogus), "cannot be used", "PEM")


@pytest.mark.server
def test_garbled_ca_in_the_data_dir(tmp_path):
    certs = tmp_path / "d" / "certs"
    certs.mkdir(parents=True)
    (certs / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    (certs / "ca.key.pem").write_text("garbage\n")
    result = sevis_mock("serve", "--data-dir", str(tmp_path / "d"), "--port", "0")
    assert_one_paragraph(result, "cannot be read", f"delete {certs}")


@pytest.mark.server
def test_data_dir_of_another_format(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "sevis-mock-data.json").write_text('{"format": 99}')
    result = sevis_mock("serve", "--data-dir", str(tmp_path / "d"), "--port", "0")
    assert_one_paragraph(result, "data format 99", "reads format 1", "new data dir")


@pytest.mark.server
def test_data_dir_whose_database_an_older_version_made(tmp_path):
    (tmp_path / "d").mkdir()
    with sqlite3.connect(tmp_path / "d" / "sevis-mock.db") as db:
        db.execute("CREATE TABLE batches (id INTEGER PRIMARY KEY)")
    result = sevis_mock("serve", "--data-dir", str(tmp_path / "d"), "--port", "0")
    assert_one_paragraph(result, "made by another sevis-mock version", "batches.")


# --- 13. control API errors are JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/control/clock", 403),
        ("GET", "/control/records", 403),
        ("GET", "/control/journal", 403),
        ("POST", "/control/reset", 403),
        ("GET", "/control/no-such-thing", 404),
        ("DELETE", "/healthz", 405),
    ],
)
def test_control_errors_without_a_certificate_are_json(served, method, path, status):
    with plain(served) as s:
        reply = s.request(method, served.base_url + path, timeout=30)
    assert reply.status_code == status
    assert reply.headers["Content-Type"].startswith("application/json"), reply.text
    assert reply.json()["error"]


def test_control_errors_with_a_certificate_are_json(served):
    with plain(served) as s:
        s.cert = served.org("F/M").cert
        wrong_token = s.get(f"{served.base_url}/control/records", headers={"Authorization": "Bearer nope"}, timeout=30)
        s.headers["Authorization"] = f"Bearer {served.info['control']['token']}"
        unknown = s.get(f"{served.base_url}/control/records/N0000000000", timeout=30)
        wrong_method = s.put(f"{served.base_url}/control/clock", timeout=30)
    assert wrong_token.status_code == 401 and "control.token" in wrong_token.json()["error"]
    assert unknown.status_code == 404 and "N0000000000" in unknown.json()["error"]
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]


# --- 10. sevis-mock reset ------------------------------------------------------------------------------------------


def upload_and_process(server: MockServer, xml: bytes):
    org = server.org("F/M")
    with server.client(org) as client:
        up = client.upload(xml, org_id=org.org_id, user_id=org.user_id)
        assert up.code == "S0000", up.explanation
        server.process_now()
        return client.download(org_id=org.org_id, user_id=org.user_id, batch_id=up.batch_id)


@pytest.mark.slow
def test_reset_forgets_batches_and_records_but_keeps_organizations(served):
    served.reset()
    extra = served.seed("F/M")
    document = read_fixture("fm/create-with-dependent.xml")
    first = upload_and_process(served, with_batch_id(document, new_batch_id("RS"), fresh_people=False))
    assert first.log.process.code == "S0000"
    again = upload_and_process(served, with_batch_id(document, new_batch_id("RS"), fresh_people=False))
    assert {r.error_code for r in again.log.records} == {"S1004"}  # the student is already stored

    result = sevis_mock("reset", "--data-dir", str(served.data_dir))
    assert result.returncode == 0, result.stderr
    assert "batches" in result.stdout and "records" in result.stdout and "kept" in result.stdout
    assert served.records() == [] and served.journal() == []
    assert extra.org_id in {
        o["org_id"] for o in json.loads((served.data_dir / "connection.json").read_text())["organizations"]
    }
    fresh = upload_and_process(served, with_batch_id(document, new_batch_id("RS"), fresh_people=False))
    assert fresh.log.process.code == "S0000"  # the same student is new again; the extra school still exists
    with served.client(extra) as client:
        up = client.upload(
            with_batch_id(document.replace(b"MCK214F00001000", extra.org_id.encode()), new_batch_id("RS")),
            org_id=extra.org_id,
            user_id=extra.user_id,
        )
    assert up.code not in ("S0002", "S0003"), up.explanation  # its organization, official and certificate were kept

    everything = sevis_mock("reset", "--all", "--data-dir", str(served.data_dir))
    assert everything.returncode == 0, everything.stderr
    orgs = {o["org_id"] for o in json.loads((served.data_dir / "connection.json").read_text())["organizations"]}
    assert extra.org_id not in orgs and "MCK214F00001000" in orgs
    assert served.records() == []


def test_reset_of_a_folder_without_a_mock(tmp_path):
    result = sevis_mock("reset", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "holds no sevis-mock database" in " ".join(result.stderr.split())


def test_control_reset_can_keep_the_organizations(served):
    served.reset()
    extra = served.seed("J")
    kept = served.control("POST", "reset", json={"keep_organizations": True})
    assert "organizations" not in kept["deleted_rows"]
    assert extra.org_id in {o.org_id for o in served.orgs} or extra.org_id in kept["organizations"]


# --- 9. the CLI prints the server's explanation, then its hint --------------------------------------------------


def cli(server: MockServer, *args: str) -> subprocess.CompletedProcess:
    return sevis_mock(*args, env={"SEVIS_MOCK_CONNECTION": str(server.data_dir / "connection.json")})


def test_upload_prints_the_servers_explanation_before_the_hint(served):
    served.reset()
    result = cli(served, "upload", "fixtures/bad/schema-invalid-fm.xml", "--batch-id", new_batch_id("EX"))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    said = next(i for i, line in enumerate(lines) if line.startswith("The server says: "))
    hint = next(i for i, line in enumerate(lines) if line.startswith("What to do: "))
    assert said < hint and "S0013" in result.stdout
    explanation = lines[said].removeprefix("The server says: ")
    bad = read_fixture("bad/schema-invalid-fm.xml")
    with plain(served) as s:  # the same words the server sends in its X-Sevis-Mock-Detail header
        s.cert = served.org("F/M").cert
        raw = s.post(
            f"{served.base_url}/sbtsevisbatch/action/batchUpload",
            data={"orgid": "MCK214F00001000", "userid": "MCKPDSO001", "batchid": "SCHEMAINVALID1"},
            files={"xml": ("b.xml", with_batch_id(bad, "SCHEMAINVALID1", fresh_people=False), "text/xml")},
            timeout=60,
        )
    header = raw.headers["X-Sevis-Mock-Detail"]  # the same fault (the CLI's copy has another BatchID line count)
    assert explanation.split(": ", 1)[1] == header.split(": ", 1)[1] and "Gender" in explanation

    as_json = cli(served, "upload", "--json", "fixtures/bad/schema-invalid-fm.xml", "--batch-id", new_batch_id("EX"))
    upload = json.loads(as_json.stdout)["upload"]
    assert upload["code"] == "S0013"
    assert upload["explanation"] == explanation and upload["hint"].startswith("The document does not comply")


def test_download_of_an_unknown_batch_prints_the_explanation(served, tmp_path):
    result = cli(
        served, "download", "--batch-id", "NOSUCHBATCH001", "--org", "MCK214F00001000", "--out", str(tmp_path), "--json"
    )
    assert result.stdout, result.stderr
    data = json.loads(result.stdout)
    assert result.returncode == 1 and data["code"] == "S0031"
    assert "NOSUCHBATCH001" in data["explanation"] and data["hint"].startswith("SEVIS knows no such batch")


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    result = sevis_mock("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"sevis-mock, version {version('sevis-mock')}"


@pytest.mark.slow
def test_the_other_commands_read_their_variables_too():
    plain_table = sevis_mock("codes")
    as_json = sevis_mock("codes", env={"SEVIS_MOCK_CODES_JSON": "true"})
    assert plain_table.stdout.startswith("code") and json.loads(as_json.stdout)
