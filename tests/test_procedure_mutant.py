"""A mock with a planted fault (the certificate-to-org check removed, in a subprocess only) fails a short walk
of the fifteen-step procedure's state machine, and the script written for that walk replays the failure.

Apart from tests/test_procedure_machine.py (the walks against a faithful mock) so that the two long files run
side by side under ``--dist loadfile``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from sevis_mock.harness.procedure_machine import procedure_machine, translog_schema
from sevis_mock.harness.pytest_plugin import start_mock
from sevis_mock.harness.rehearsal.explore import explore, write_script
from tests.support.server import ROOT, TRANSLOG_XSD

pytestmark = [pytest.mark.server, pytest.mark.slow]

SEARCH_WALKS = 100  # at most, looking for the broken mock's fault
SHRINK_BUDGET = 240  # seconds at most for shortening it: room to finish on a loaded machine (it stops when done)
LONG_STEPS = 40  # walks that go on after a batch registration: where a certificate can be shown to another org
PROCESSING_DELAY = "86400"  # batches wait for process-now (or for a 45-day jump, processed before it)


BROKEN = '''
"""Test-only fault: the batch endpoints forget to compare the certificate's registered org with orgid."""
import inspect
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, {root!r})  # site runs before `-m` puts the working folder on sys.path
import sevis_mock.server.batch.intake as intake

source = textwrap.dedent(inspect.getsource(intake.check_identity))
assert "if registration.org_id != org_id:" in source
exec(compile(source.replace("if registration.org_id != org_id:", "if False:"), intake.__file__, "exec"),
     intake.__dict__)
'''


def test_a_mock_without_the_certificate_to_org_check_is_caught(tmp_path, monkeypatch):
    """A mock that accepts a certificate registered to another org fails a short walk, and the written
    script replays the failure against that mock."""
    site = tmp_path / "fault"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        textwrap.dedent(BROKEN).replace("{root!r}", repr(str(ROOT))) + f"Path({str(site / 'injected')!r}).touch()\n"
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    broken = start_mock(
        tmp_path / "broken", processing_delay=float(PROCESSING_DELAY), workers=1, extra=("--fast-passwords",)
    )
    try:
        assert (site / "injected").exists(), (
            "the fault was not injected into the server: "
            + (broken.data_dir / "serve.log").read_text(errors="replace")[-2000:]
        )
        cls = procedure_machine(broken.connection, translog_schema(TRANSLOG_XSD), tmp_path / "pool")
        try:
            result = explore(cls, SEARCH_WALKS, LONG_STEPS, derandomize=True, shrink_budget=SHRINK_BUDGET)
        finally:
            cls.close()
        failure = result.failure
        assert failure is not None, "the broken mock passed every walk"
        print(
            f"\nfound with {failure.found_length} steps, shortened to {len(failure.steps)}:",
            *failure.steps,
            failure.message,
            sep="\n  ",
        )
        assert "SEVIS should answer S0002" in failure.message, failure.message
        assert failure.action == "upload" and len(failure.steps) <= 16, failure.steps
        script = write_script(failure, tmp_path / "replay.py", SEARCH_WALKS)
        monkeypatch.delenv("PYTHONPATH")
        run = subprocess.run(
            [sys.executable, str(script), "--connection", str(broken.data_dir / "connection.json")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert run.returncode == 1, run.stdout + run.stderr
        assert "SEVIS should answer S0002" in run.stdout, run.stdout + run.stderr
    finally:
        broken.stop()
