"""`sevis-mock rehearse --explore N` and the replay scripts it writes (harness/rehearsal/explore.py)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sevis_mock.harness.rehearsal.cli import rehearse_command
from sevis_mock.harness.rehearsal.explore import Failure, shorten, write_script
from tests.support.server import ROOT, RunningServer

HAPPY = [
    ("register_account", {}),
    ("set_password", {"user": 101, "newest": True, "strong": True}),
    ("set_password", {"user": 101, "newest": True, "strong": True}),  # the link again: 410
    ("login", {"user": 101, "right": True}),
    ("fill_i17", {"owner": 101, "category": "F", "campuses": 1, "officials": 1, "fault": "no-pdso", "revise": False}),
    ("submit_i17", {"owner": 101}),  # 400 naming the PDSO
    ("fill_i17", {"owner": 101, "category": "F", "campuses": 1, "officials": 1, "fault": "none", "revise": False}),
    ("submit_i17", {"owner": 101}),
    ("sevp_decide", {"petition": 0, "approve": True}),
    ("sevp_decide", {"petition": 0, "approve": True}),  # 409: already approved
]


def run_script(path, *args):
    return subprocess.run(
        [sys.executable, str(path), *args],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_the_script_holds_the_steps_as_plain_data(tmp_path):
    failure = Failure("upload ... answered S0003; SEVIS should answer S0002", "upload", HAPPY, 31)
    script = write_script(failure, tmp_path / "walk.py", 7)
    text = script.read_text()
    tree = ast.parse(text)
    steps = next(node.value for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "STEPS")
    assert ast.literal_eval(steps) == HAPPY
    assert "SEVIS should answer S0002" in text and "found with 31 steps" in text and os.access(script, os.X_OK)


@pytest.mark.slow
@pytest.mark.server
def test_a_written_script_replays_against_an_embedded_mock(tmp_path):
    """A walk that passes (every refusal in it is the one SEVIS gives) replays with exit code 0."""
    script = write_script(Failure("(none)", "sevp_decide", HAPPY, len(HAPPY)), tmp_path / "walk.py", 1)
    run = run_script(script)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"passed: the mock answered all {len(HAPPY)} steps" in run.stdout
    assert "sevp_decide" in run.stdout


def test_shorten_keeps_only_what_the_failure_needs(monkeypatch):
    """Greedy delta debugging over recorded steps, with a fake replay: the failure needs steps b and d."""
    calls = []

    class Fake:
        last = []

        def __init__(self):
            self.trace = []
            Fake.last[:] = [self]

    import sevis_mock.harness.rehearsal.explore as explore_module

    def fake_replay(cls, steps, invariants=True):
        machine = cls()
        seen = set()
        for name, args in steps:
            machine.trace.append((name, args))
            seen.add(name)
            if name == "e" and {"b", "d"} <= seen:
                from sevis_mock.harness.procedure_machine import ProcedureMismatch

                raise ProcedureMismatch("e failed")
        calls.append(len(steps))
        return machine

    monkeypatch.setattr(explore_module, "replay", fake_replay)
    short, message = shorten(Fake, [(n, {}) for n in "abcde"], "e")
    assert [n for n, _ in short] == ["b", "d", "e"] and message == "e failed"


@pytest.mark.slow
@pytest.mark.server
def test_explore_option_runs_walks_against_an_embedded_mock(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(rehearse_command, ["--explore", "2"])
    assert result.exit_code == 0, result.output
    assert "2 walks of up to 25 steps" in result.output
    assert "every answer was the one SEVIS would give" in result.output
    refusals = result.output.split("refusals exercised: ", 1)[1].splitlines()[0].split(", ")
    assert all(r == "none" or r.isdigit() or (r.startswith("S") and r[1:].isdigit()) for r in refusals), refusals
    assert not (tmp_path / "sevis-explore-failure.py").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--explore", "1", "--server", "https://127.0.0.1:9", "--data-dir", "x"], "--data-dir configures"),
        (["--explore", "1", "--server", "https://127.0.0.1:9"], "needs the mock's connection.json"),
        (["--explore", "0"], "0 is not in the range"),
    ],
)
def test_explore_option_usage_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(rehearse_command, args)
    assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.slow
def test_explore_option_runs_walks_against_a_running_server(tmp_path, monkeypatch):
    """--server with --connection: the walks reset a running mock (which processes batches on its own,
    here at once) and issue certificates from its CA; the mock is still answering afterwards."""
    from sevis_mock.harness.pytest_plugin import start_mock

    server = start_mock(tmp_path / "running", processing_delay=0, extra=("--fast-passwords",))
    try:
        monkeypatch.chdir(tmp_path)
        connection = server.data_dir / "connection.json"
        result = CliRunner().invoke(
            rehearse_command, ["--explore", "3", "--server", server.info["base_url"], "--connection", str(connection)]
        )
        assert result.exit_code == 0, result.output
        assert f"exploring the running mock {server.info['base_url']}" in result.output
        assert (
            "3 walks of up to 25 steps" in result.output
            and "every answer was the one SEVIS would give" in result.output
        )
        assert server.alive() and server.clock()
    finally:
        RunningServer(server).stop(wait=False)
