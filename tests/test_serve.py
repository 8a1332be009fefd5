"""`sevis-mock serve`: flags, connection.json, the clock, the control API, schema folders."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC

import pytest

from sevis_mock.fixtures import read_fixture
from sevis_mock.schemas import schema_for_root
from tests.support.server import ROOT, new_batch_id, sevis_time, with_batch_id

pytest_plugins = ["pytester"]


def control(server, method, path, body=None, token=None):
    fm = server.org("F/M")
    with server.session((fm["client_cert"], fm["client_key"])) as s:
        headers = {"Authorization": f"Bearer {token or server.info['control']['token']}"}
        r = s.request(method, f"{server.info['control']['url']}{path}", json=body, headers=headers)
    return r


def test_connection_json_describes_everything_needed(mock_server):
    server = mock_server  # the session's server: any serve describes itself so
    info = server.info
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", info["base_url"])
    assert info["environments"] == {"production": "sevisbatch", "beta": "sbtsevisbatch", "alpha": "alphasevisbatch"}
    kinds = {o["kind"]: o for o in info["organizations"]}
    assert re.fullmatch(r"[A-Z]{3}214F\d{8}", kinds["F/M"]["org_id"])
    assert re.fullmatch(r"P-1-\d{5}", kinds["J"]["org_id"])
    for org in info["organizations"]:
        assert len(org["user_id"]) == 10
        assert org["client_cert"].startswith("/") and org["client_key"].startswith("/")
    log = (server.data_dir / "serve.log").read_text()
    assert "sevis-mock is ready at " + info["base_url"] in log
    assert kinds["F/M"]["client_cert"] in log and "curl" in log


def test_clock_flag_and_control_api(server_factory):
    # 2 workers: the clock moved through one worker's control API is the clock of every worker's processor
    server = server_factory("--processing-delay", "3600", "--clock", "2027-03-01T10:00:00", "--workers", "2")
    state = control(server, "GET", "/clock").json()
    assert state["now"].startswith("2027-03-01T10:0")
    assert control(server, "GET", "/clock", token="wrong").status_code == 401
    fm = server.org("F/M")
    batch_id = new_batch_id("K")
    up = server.upload(with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id), org=fm, batch_id=batch_id)
    uploaded = up.log.find("BatchDetail/Upload").get("dateTimeStamp")
    assert uploaded.startswith("2027-03-01T05:0") and uploaded.endswith("-05:00")  # SEVIS's Eastern time (EST)
    assert sevis_time(uploaded).astimezone(UTC).isoformat().startswith("2027-03-01T10:0")
    assert server.download(org=fm, batch_id=batch_id).download_code == "S0030"
    moved = control(server, "POST", "/clock", {"advance_seconds": 3600}).json()
    assert moved["now"].startswith("2027-03-01T11:0")
    done = server.wait_processed(org=fm, batch_id=batch_id, timeout=20)
    assert done.process_code == "S0000"
    assert done.log.find("BatchDetail/Process").get("dateTimeStamp").startswith("2027-03-01T06:0")
    assert control(server, "POST", "/clock", {"now": "not a date"}).status_code == 400


def test_process_now(server_factory):
    # 2 workers: process-now counts the batch whichever worker's processor took it
    server = server_factory("--profile", "production", "--workers", "2")
    fm = server.org("F/M")
    batch_id = new_batch_id("N")
    server.upload(with_batch_id(read_fixture("fm/create-three-students.xml"), batch_id), org=fm, batch_id=batch_id)
    assert server.download(org=fm, batch_id=batch_id).download_code == "S0030"
    assert control(server, "POST", "/process-now").json()["processed"] == 1
    assert server.download(org=fm, batch_id=batch_id).process_code == "S0000"


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "sevis_mock", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


@pytest.mark.server
def test_broken_schema_folder_is_named_not_a_traceback(tmp_path):
    (tmp_path / "Create-UpdateStudent.xsd").write_text(
        schema_for_root("SEVISBatchCreateUpdateStudent").read_text()
    )  # its imports are missing here
    result = run_cli("serve", "--data-dir", str(tmp_path / "d"), "--port", "0", "--schemas", str(tmp_path))
    assert result.returncode != 0
    assert "Create-UpdateStudent.xsd" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.server
def test_schema_file_name_case_mismatch_is_named(tmp_path):
    (tmp_path / "create-updatestudent.xsd").write_text("<x/>")
    result = run_cli("serve", "--data-dir", str(tmp_path / "d"), "--port", "0", "--schemas", str(tmp_path))
    assert result.returncode != 0 and "must be spelled Create-UpdateStudent.xsd" in result.stderr


@pytest.mark.server
def test_bad_clock_is_a_usage_error(tmp_path):
    result = run_cli("serve", "--data-dir", str(tmp_path), "--clock", "tomorrow")
    assert result.returncode == 2 and "ISO-8601" in result.stderr


def test_a_server_traceback_fails_the_run_even_if_every_test_passed(pytester):
    """The session-end invariant of tests/support/server.py: any serve.log holding a traceback fails the run."""
    pytester.syspathinsert(str(ROOT))
    pytester.makeconftest('pytest_plugins = ["tests.support.server"]')
    pytester.makepyfile(
        test_logs="""
def test_clean(tmp_path):
    (tmp_path / "serve.log").write_text("127.0.0.1 - - GET /ping 200\\n")

def test_crashed(tmp_path):
    (tmp_path / "serve.log").write_text("ERROR in app\\nTraceback (most recent call last):\\n  boom\\n")
"""
    )
    result = pytester.runpytest("-p", "no:sevis_mock", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*servers that logged an unhandled exception*", "*test_crashed*serve.log:*"])
