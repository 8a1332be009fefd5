"""The pytest plugin: registered once, declared as a pytest11 entry point, usable by another project."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest

import sevis_mock.harness.pytest_plugin as plugin
from sevis_mock.harness.client import parse_transaction_log
from sevis_mock.harness.pytest_plugin import assert_record_failed, assert_record_ok

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "examples" / "test_downstream_example.py"

pytest_plugins = ["pytester"]


def test_the_plugin_is_registered_exactly_once(pytestconfig):
    manager = pytestconfig.pluginmanager
    assert manager.is_registered(plugin)
    assert [p for p in manager.get_plugins() if p is plugin] == [plugin]
    assert manager.get_plugin("sevis_mock") is plugin or manager.get_name(plugin) is not None


def test_pyproject_declares_the_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"sevis_mock": "sevis_mock.harness.pytest_plugin"}


@pytest.mark.slow
@pytest.mark.server
def test_another_project_gets_the_fixtures(pytester, monkeypatch):
    """The README's example, copied into a project of its own (no conftest of ours), passes."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # this checkout, installed or not
    pytester.makepyfile(test_college=EXAMPLE.read_text())
    installed = any(e.name == "sevis_mock" for e in importlib.metadata.entry_points(group="pytest11"))
    args = [] if installed else ["-p", "sevis_mock.harness.pytest_plugin"]
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_sevis_mock_is_reset_for_each_test_first(sevis_mock, sevis_client, sevis_org):
    """Together with the next test: what one test uploads, the next one does not see."""
    sevis_client.upload(
        ROOT / "fixtures" / "fm" / "create-three-students.xml", org_id=sevis_org.org_id, user_id=sevis_org.user_id
    )
    assert len(sevis_mock.journal()) == 1


def test_sevis_mock_is_reset_for_each_test_second(sevis_mock, sevis_client, sevis_org):
    assert sevis_mock.journal() == []
    again = sevis_client.upload(
        ROOT / "fixtures" / "fm" / "create-three-students.xml", org_id=sevis_org.org_id, user_id=sevis_org.user_id
    )
    assert again.code == "S0000"  # the batch ID is new again


@pytest.mark.sevis_org("J")
def test_sevis_org_marker_selects_the_sponsor(sevis_org, sevis_client):
    assert (sevis_org.kind, sevis_org.org_id, sevis_org.user_id) == ("J", "P-1-12345", "MCKRO00001")
    assert Path(sevis_org.client_cert).is_file() and Path(sevis_org.client_key).is_file()
    assert sevis_client.cert == sevis_org.cert


def _log() -> bytes:
    """A processed log as the server writes it: A-1 created, A-2 failed with S1009."""
    import json
    from datetime import UTC, datetime

    from sevis_mock.server.batch import translog
    from sevis_mock.server.batch.outcome import ProcessOutcome

    now = datetime(2027, 1, 20, 9, tzinfo=UTC)
    common = {"user_id": "MCKPDSO001", "user_defined_a": None, "user_defined_b": None}
    outcome = {
        "code": "S0020",
        "at": "2027-01-20T09:00:05",
        "records": [
            {**common, "request_id": "A-1", "ok": True, "sevis_id": "N0001000001", "dependents": []},
            {
                **common,
                "request_id": "A-2",
                "ok": False,
                "error_code": "S1009",
                "error_message": "Program start date must be prior to program end date",
            },
        ],
    }
    return translog.build(
        batch_id="FMRULES1009001",
        org_id="MCK214F00001000",
        system="PROD-SBT",
        upload=translog.UploadPart("S0000", now, "batch.xml"),
        process=ProcessOutcome.from_json(json.dumps(outcome)),
        download_code="S0000",
    )


def test_assert_helpers_pass_and_fail_with_the_reason():
    raw = _log()
    log = parse_transaction_log(raw)
    assert assert_record_ok(log, "A-1").sevis_id == "N0001000001"
    assert assert_record_failed(raw, "A-2", code="S1009").error_code == "S1009"
    with pytest.raises(AssertionError, match="A-2 failed with S1009"):
        assert_record_ok(log, "A-2")
    with pytest.raises(AssertionError, match="succeeded"):
        assert_record_failed(log, "A-1")
    with pytest.raises(AssertionError, match="not S1024"):
        assert_record_failed(log, "A-2", code="S1024")
    with pytest.raises(AssertionError, match="no Record with requestID 'A-3'.*A-1, A-2"):
        assert_record_ok(log, "A-3")


def test_readme_quotes_the_example_as_it_is():
    readme = (ROOT / "README.md").read_text()
    assert f"```python\n{EXAMPLE.read_text()}```" in readme
