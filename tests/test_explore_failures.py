"""An exploration's failure always says which action failed and what was expected, even when replaying the walk
does not fail again (a failure that depends on timing once came out as an empty message)."""

from __future__ import annotations

from collections import Counter

import pytest

from hypothesis.stateful import RuleBasedStateMachine, rule

from sevis_mock.harness.procedure_machine import ProcedureMismatch
from sevis_mock.harness.rehearsal.explore import describe_failure, explore, shorten


class OnceOnly(RuleBasedStateMachine):
    """Fails at its third advance_clock the first time only, as a timing-dependent failure does."""

    last: list = []
    failing: list = []
    stats: Counter = Counter()
    failures_left = [1]

    def __init__(self) -> None:
        super().__init__()
        type(self).last[:] = [self]
        self.trace: list[tuple[str, dict]] = []
        self.failed = False

    def do(self, name: str, args: dict | None = None) -> None:
        self.trace.append((name, args or {}))
        if len(self.trace) >= 3 and self.failures_left[0]:
            self.failures_left[0] -= 1
            if not self.failing:
                self.failing[:] = [self]
            raise ProcedureMismatch("process-now processed 0 batches; 1 were queued")

    def check_all(self) -> None:
        pass

    @rule()
    def advance_clock(self) -> None:
        self.do("advance_clock")


def test_a_failure_that_does_not_come_back_keeps_its_message():
    result = explore(OnceOnly, walks=5, steps=5, derandomize=True, shrink_budget=5)
    failure = result.failure
    assert failure is not None and failure.action == "advance_clock"
    assert failure.message.startswith("process-now processed 0 batches; 1 were queued")
    assert "did not fail again" in failure.message
    assert [name for name, _ in failure.steps] == ["advance_clock"] * 3


def test_every_failure_has_words():
    assert describe_failure(ProcedureMismatch("login: HTTP 200; SEVIS should answer 401")).startswith("login:")
    assert describe_failure(AssertionError()) == "AssertionError (raised without a message): AssertionError()"
    assert describe_failure(KeyError("token")) == "KeyError: 'token'"


class Walk:
    """A stand-in machine for shortening: an upload fails once a registration happened (in the upload's own answer,
    or, with ``between=True``, in the invariants checked after it); every other step is noise."""

    last: list = []
    between = False
    replays: Counter = Counter()

    def __init__(self) -> None:
        type(self).last[:] = [self]
        self.trace: list[tuple[str, dict]] = []
        self.registered = self.uploaded = False
        self.checked = False

    def do(self, name: str, args: dict | None = None) -> None:
        self.trace.append((name, args or {}))
        self.registered |= name == "register"
        if name == "upload" and self.registered:
            self.uploaded = True
            if not self.between:
                raise ProcedureMismatch("upload answered S0003; SEVIS should answer S0002")

    def check_all(self) -> None:
        self.checked = True
        if self.between and self.uploaded:
            raise ProcedureMismatch("records per organization differ")

    def teardown(self) -> None:
        type(self).replays["with invariants" if self.checked else "steps only"] += 1


WALK = [("noise", {"n": i}) for i in range(10)] + [("register", {})] + [("noise", {"n": i}) for i in range(10, 15)]
WALK += [("upload", {})]


@pytest.mark.parametrize(
    "between, message, cheap, checked",
    [
        # a step's own answer: shortened with replays of the steps only, then confirmed once with the invariants
        (False, "upload answered S0003; SEVIS should answer S0002", "many", 1),
        # the invariants after the step: one cheap replay shows it does not fail that way, then every replay checks
        (True, "records per organization differ", 1, "many"),
    ],
    ids=["step", "invariants"],
)
def test_a_failing_walk_is_shortened_with_the_cheapest_replays_that_show_it(between, message, cheap, checked):
    Walk.between, Walk.replays = between, Counter()
    steps, said = shorten(Walk, WALK, "upload", budget=60)
    assert steps == [("register", {}), ("upload", {})] and said == message
    counts = {"steps only": cheap, "with invariants": checked}
    for kind, expected in counts.items():
        got = Walk.replays[kind]
        assert got > 5 if expected == "many" else got == expected, Walk.replays
