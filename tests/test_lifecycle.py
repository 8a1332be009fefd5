"""Stateful properties of the whole exchange (harness.lifecycle) against a real mock over mutual TLS."""
from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from harness.lifecycle import lifecycle_machine
from harness.pytest_plugin import start_mock
from tests.support.server import official_translog_schema

MIN_STEPS = 200


@pytest.fixture(scope="module")
def queued_server(tmp_path_factory):
    """Processing only on process-now, so the machine decides when batches are processed."""
    server = start_mock(tmp_path_factory.mktemp("lifecycle"), processing_delay=86400)
    yield server
    server.stop()


def test_random_batch_sequences_keep_every_invariant(queued_server):
    steps = [0]

    def count() -> None:
        steps[0] += 1

    machine = lifecycle_machine(queued_server, official_translog_schema(), on_step=count)
    try:
        run_state_machine_as_test(machine, settings=settings(max_examples=8, stateful_step_count=30,
                                                             deadline=None))
    finally:
        for client in machine.clients.values():
            client.close()
    assert steps[0] >= MIN_STEPS, f"only {steps[0]} steps ran"
    seen = machine.stats
    print(f"\nlifecycle: {steps[0]} steps without a failure; exercised {dict(seen)}")
    # The walks reached what the invariants are about, not only the happy path.
    for disposition in ("upload S0010", "download S0030", "download S0031", "download again"):
        assert seen[disposition], disposition
    outcomes = {key[2] for key in seen if isinstance(key, tuple) and key[1] != "create"}
    assert "ok" in outcomes and outcomes - {"ok"}, outcomes  # events applied and events refused
    assert seen[("F/M", "create", "S1004")], "no duplicate student was refused"
