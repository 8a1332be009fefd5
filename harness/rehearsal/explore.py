"""`sevis-mock rehearse --explore N`: random walks through the fifteen-step procedure, every step done
right or wrong (:mod:`sevis_mock.harness.procedure_machine`), against an embedded or a running mock.

Hypothesis draws the walks (no shrinking: a walk against a real server costs seconds); a failing walk is
then shortened here by replaying it without chunks of steps (greedy delta debugging) while it still
fails at the same action, and written as a Python script that replays it::

    python sevis-explore-failure.py                      # against a fresh embedded mock
    python sevis-explore-failure.py --connection FILE    # against a running mock (it is RESET)
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from sevis_mock.harness.connection import Connection, connection_path, load_connection
from sevis_mock.harness.procedure_machine import (
    ProcedureMachine,
    ProcedureMismatch,
    procedure_machine,
    replay,
    translog_schema,
)

STEPS_PER_WALK = 25
PROCESSING_DELAY = "86400"  # the embedded mock processes only when the walk says so (process-now)
SHRINK_BUDGET = 120.0  # seconds of replays spent shortening a failing walk


@dataclass
class Failure:
    message: str
    action: str  # the action that failed (or "invariants" after it)
    steps: list[tuple[str, dict]]
    found_length: int  # steps of the walk Hypothesis found


@dataclass
class Exploration:
    walks: int
    steps_per_walk: int
    seconds: float
    failure: Failure | None = None
    stats: Counter = field(default_factory=Counter)


def _failing_action(machine: ProcedureMachine) -> str:
    return machine.trace[-1][0] if machine.trace else "start"


def describe_failure(exc: BaseException) -> str:
    """What went wrong, never empty: a mismatch's own message (it says what SEVIS should have answered), else
    the exception's type and text."""
    text = str(exc).strip()
    if isinstance(exc, ProcedureMismatch) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (raised without a message): {exc!r}"


def _first_failure(exc: BaseException) -> BaseException:
    """The failure itself, out of the exception groups Hypothesis wraps it in (e.g. ``FlakyFailure`` when its
    replay of the failing walk passed)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _fails(machine_class, steps, invariants: bool = True) -> tuple[str, str, int] | None:
    """(action, message, steps run) when replaying ``steps`` fails, else None."""
    try:
        replay(machine_class, steps, invariants)
    except Exception as exc:  # noqa: BLE001 -- any failure counts; its action must match the original's
        machine = machine_class.last[0]
        return _failing_action(machine), describe_failure(exc), len(machine.trace)
    return None


def shorten(machine_class, steps: list, action: str, budget: float = SHRINK_BUDGET) -> tuple[list, str]:
    """A shorter walk that still fails at ``action`` (greedy removal of chunks, then single steps).

    A walk that failed in a step's own answer (not in the invariants checked between steps) is shortened first
    with replays that check only the steps' answers, about three times cheaper; the result counts once a replay
    with every invariant checked fails at the same action too. Otherwise (or when it does not), every replay
    checks the invariants."""
    deadline = time.monotonic() + budget
    first = _fails(machine_class, steps, invariants=False)
    if first is not None and first[0] == action:
        short, _ = _greedy(machine_class, steps[: first[2]], action, deadline, invariants=False)
        confirmed = _fails(machine_class, short)
        if confirmed is not None and confirmed[0] == action:
            return short[: confirmed[2]], confirmed[1]
    return _greedy(machine_class, steps, action, deadline, invariants=True)


def _greedy(machine_class, steps: list, action: str, deadline: float, invariants: bool) -> tuple[list, str]:
    best, message = list(steps), ""
    chunk = max(1, len(best) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        i, removed = 0, False
        while i < len(best) - 1 and time.monotonic() < deadline:  # the failing step itself stays
            candidate = best[:i] + best[i + chunk :]
            outcome = _fails(machine_class, candidate, invariants)
            if outcome is not None and outcome[0] == action:
                best, message, removed = candidate[: outcome[2]], outcome[1], True
            else:
                i += chunk
        if not removed:
            chunk //= 2
    if not message:
        outcome = _fails(machine_class, best, invariants)
        message = outcome[1] if outcome else ""
    return best, message


def explore(
    machine_class,
    walks: int,
    steps: int = STEPS_PER_WALK,
    *,
    derandomize: bool = False,
    shrink_budget: float = SHRINK_BUDGET,
) -> Exploration:
    started = time.monotonic()
    chosen = settings(
        max_examples=walks,
        stateful_step_count=steps,
        deadline=None,
        derandomize=derandomize,
        phases=[Phase.explicit, Phase.generate],
        database=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    result = Exploration(walks, steps, 0.0, stats=machine_class.stats)
    failing = getattr(machine_class, "failing", None)
    if failing is not None:
        failing.clear()
    try:
        run_state_machine_as_test(machine_class, settings=chosen)
    except Exception as exc:  # a mismatch, or an error the walk provoked (e.g. the mock stopped answering)
        # the machine that failed, not a later replay of its walk by Hypothesis
        machine = (getattr(machine_class, "failing", None) or machine_class.last)[0]
        found = list(machine.trace)
        action = _failing_action(machine)
        original = describe_failure(_first_failure(exc))
        short, message = shorten(machine_class, found, action, shrink_budget)
        if not message:  # replaying the walk did not fail again: report the first failure as it was
            short, message = (
                found,
                (
                    f"{original}\n(replaying this walk did not fail again: the failure depends on timing or on "
                    "state outside the walk)"
                ),
            )
        result.failure = Failure(message, action, short, len(found))
    result.seconds = time.monotonic() - started
    return result


# --- the replay script -----------------------------------------------------------------------------------------

SCRIPT = '''#!/usr/bin/env python3
"""A walk through the SEVIS beta-testing procedure on which the mock did not answer as SEVIS would.

Written by `sevis-mock rehearse --explore` on {when} ({walks} walks; this one, found with {found} steps,
shortened to {count}). The mock answered:

{message}

Replay it (from the sevis-mock project folder, or with sevis-mock installed):
    python {name}                                   # a fresh embedded mock
    python {name} --connection .sevis-mock/connection.json   # a running mock: it is RESET first
Exit code 0: the walk passes now; 1: the mock still answers otherwise than SEVIS would.
"""
STEPS = {steps}

if __name__ == "__main__":
    from sevis_mock.harness.rehearsal.explore import replay_main

    raise SystemExit(replay_main(STEPS))
'''


def write_script(failure: Failure, path: Path, walks: int) -> Path:
    steps = "[\n" + "".join(f"    ({name!r}, {args!r}),\n" for name, args in failure.steps) + "]"
    message = "\n".join("    " + line for line in failure.message.replace('"""', "'''").splitlines()[:20])
    path.write_text(
        SCRIPT.format(
            when=datetime.now(UTC).isoformat(timespec="seconds"),
            walks=walks,
            found=failure.found_length,
            count=len(failure.steps),
            message=message,
            name=path.name,
            steps=steps,
        )
    )
    path.chmod(0o755)
    return path


# --- running against a mock --------------------------------------------------------------------------------------


class MockUnavailable(RuntimeError):
    """The mock cannot be explored (not started, or its connection details lack what the walks need)."""


def target_from_connection(connection: Path) -> Connection:
    try:
        target = load_connection(connection).require("rti", "sevp", "outbox", "control", "organizations", "ca_cert")
    except (ValueError, KeyError, LookupError, StopIteration) as exc:
        raise MockUnavailable(
            f"{connection}: not the connection.json of a sevis-mock with RTI, SEVP and the control API ({exc!r})"
        ) from exc
    if not (target.ca_dir / "ca.key.pem").is_file():
        raise MockUnavailable(
            f"the mock's CA key ({target.ca_dir / 'ca.key.pem'}) is not readable here: the walks "
            "issue certificates from it; run the exploration on the mock's host"
        )
    return target


def embedded(data_dir: Path | None = None):
    from .embedded import EmbeddedMock

    # a throwaway server: cheap password hashing keeps the walks fast (scrypt would be most of their time)
    return EmbeddedMock(data_dir, environment_args=["--processing-delay", PROCESSING_DELAY, "--fast-passwords"])


def bind(target: Connection, work: Path, processing_owned: bool):
    return procedure_machine(target, translog_schema(), work, processing_owned=processing_owned)


def run(
    walks: int, *, connection: Path | None, data_dir: Path | None, script: Path, echo=print, derandomize: bool = False
) -> int:
    """The --explore command: 0 no walk failed, 1 a failing walk was written to ``script``."""
    work = Path(tempfile.mkdtemp(prefix="sevis-explore-"))
    mock = None
    try:
        if connection is not None:
            target, owned = target_from_connection(connection), False
            echo(f"exploring the running mock {target.base_url} (it is reset before every walk)")
        else:
            mock = embedded(data_dir)
            target, owned = mock.start(), True
            echo(f"exploring an embedded mock {target.base_url}")
        machine_class = bind(target, work, owned)
        try:
            result = explore(machine_class, walks, derandomize=derandomize)
        finally:
            machine_class.close()
        refusals = sorted(
            {
                outcome
                for (_, outcome) in result.stats
                if (outcome.isdigit() and int(outcome) >= 400)
                or (re.fullmatch(r"S\d{4}", outcome) and outcome != "S0000")
            }
        )
        echo(
            f"{result.walks} walks of up to {result.steps_per_walk} steps in {result.seconds:.0f} s; "
            f"{sum(result.stats.values())} actions; refusals exercised: {', '.join(refusals) or 'none'}"
        )
        if result.failure is None:
            echo("every answer was the one SEVIS would give")
            return 0
        write_script(result.failure, script, walks)
        echo(
            f"FAILED at {result.failure.action} after {len(result.failure.steps)} steps "
            f"(found with {result.failure.found_length}):\n{result.failure.message}"
        )
        echo(f"replay script written: {script}  (python {script})")
        return 1
    finally:
        if mock is not None:
            mock.cleanup()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def replay_main(steps: list, argv: list[str] | None = None) -> int:
    """The replay script's entry point: run ``steps`` against an embedded or a running mock."""
    parser = argparse.ArgumentParser(description="Replay a procedure walk against sevis-mock.")
    parser.add_argument("--connection", type=Path, help="connection.json of a running mock (it is reset)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sevis-replay-"))
    mock = None
    try:
        if args.connection:
            target, owned = target_from_connection(args.connection), False
        else:
            mock = embedded()
            target, owned = mock.start(), True
        machine_class = bind(target, work, owned)
        try:
            replay(machine_class, steps)
        except ProcedureMismatch as exc:
            done = machine_class.last[0].trace
            for n, (name, step_args) in enumerate(done, 1):
                print(f"{n:3d}. {name} {step_args}")
            print(f"FAILED at step {len(done)}: {exc}")
            return 1
        finally:
            machine_class.close()
        for n, (name, step_args) in enumerate(steps, 1):
            print(f"{n:3d}. {name} {step_args}")
        print(f"passed: the mock answered all {len(steps)} steps as SEVIS would")
        return 0
    finally:
        if mock is not None:
            mock.cleanup()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def cli_explore(walks: int, server: str | None, connection: Path | None, data_dir: Path | None, script: Path) -> int:
    """``rehearse --explore N`` (options checked here so that rehearse's own code stays as it is)."""
    import click

    if server and data_dir:
        raise click.UsageError("--data-dir configures the embedded mock; with --server it does not apply")
    if server and connection is None:
        default, _ = connection_path(None)  # $SEVIS_MOCK_CONNECTION, else ./.sevis-mock/connection.json
        if not default.is_file():
            raise click.UsageError(
                "--explore with --server needs the mock's connection.json (--connection): the walks "
                "reset the mock through its control API and issue certificates from its CA"
            )
        connection = default
    if not script.resolve().parent.is_dir():
        raise click.UsageError(f"--explore-script {script}: the folder {script.resolve().parent} does not exist")
    try:
        return run(walks, connection=connection if server else None, data_dir=data_dir, script=script, echo=click.echo)
    except MockUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
