"""Stateful properties of the whole exchange (sevis_mock.harness.lifecycle) against a real mock over mutual TLS."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from sevis_mock.harness.lifecycle import MAX_ADVANCE_DAYS, lifecycle_machine, summary
from sevis_mock.harness.pytest_plugin import start_mock
from tests.support.server import RunningServer, official_translog_schema

MIN_STEPS = 200
# Few walks against the server: the model's predictions and every document are tested without one
# (tests/test_lifecycle_model.py); the walks show the mock agrees with the model, and reach every disposition
EXAMPLES, STEPS = 7, 40
pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def queued_server(tmp_path_factory):
    """Processing only on process-now, so the machine decides when batches are processed (the delay
    outlasts every move of the clock the machine makes)."""
    server = start_mock(tmp_path_factory.mktemp("lifecycle"), processing_delay=100 * MAX_ADVANCE_DAYS * 86400)
    yield server
    RunningServer(server).stop(wait=False)


def test_random_batch_sequences_keep_every_invariant(queued_server):
    steps = [0]

    def count() -> None:
        steps[0] += 1

    machine = lifecycle_machine(queued_server, official_translog_schema(), on_step=count)
    try:
        run_state_machine_as_test(
            machine, settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None)
        )
    finally:
        for client in machine.clients.values():
            client.close()
    seen = machine.stats
    print(f"\nlifecycle: {steps[0]} steps without a failure\n{summary(seen)}")
    assert steps[0] >= MIN_STEPS, f"only {steps[0]} steps ran"
    if not settings.default.derandomize:
        return  # what a random walk reaches varies; the CI profile's fixed walks are held to reach it all
    # The walks reached what the invariants are about, not only the happy path.
    for disposition in ("upload S0010", "download S0030", "download S0031", "download again", "days passed"):
        assert seen[disposition], disposition

    def outcomes(kind: str, action: str) -> set:
        return {key[2] for key in seen if isinstance(key, tuple) and key[:2] == (kind, action)}

    # Records are activated and then completed, terminated or shown as no-shows.
    for kind, action in [
        ("F/M", "Registration"),
        ("J", "Validate"),
        ("F/M", "Status/Complete"),
        ("F/M", "Status/Terminate"),
        ("J", "Status/Terminate"),
        ("J", "Status/NoShow"),
        ("F/M", "Dependent/Add"),
        ("J", "Dependent/Add"),
    ]:
        assert "ok" in outcomes(kind, action), f"{kind} {action} never applied"
    # Refusals by their exact code: the status tables and the dependent and date rules.
    refused = {key[2] for key in seen if isinstance(key, tuple) and key[2] != "ok"}
    for code in ("S1004", "S1054", "S1057", "S1106", "S2124"):
        assert code in refused, f"no refusal {code}"
    assert refused & {"S1113", "S1093", "S1107", "S2232", "S2230"}, "no dependent event refused"
    assert refused & {"S1032", "S1085", "S1116", "S1068", "S1103", "S1086", "S1063"}, "no registration date refused"
