"""Run the procedure's steps in order: each step's check, its evidence, and pass / fail / skip / wait."""

from __future__ import annotations

import time
import traceback
from datetime import UTC, datetime
from typing import Callable

from .checks import CHECKS, StepFailed, StepSkipped, StepWaiting
from .context import Context
from .model import FAIL, PASS, SKIP, WAIT, Evidence, Rehearsal, StepResult
from .procedure import Step
from ..api import ApiError

Listener = Callable[[StepResult], None]


def unknown_checks(steps: list[Step]) -> list[str]:
    return [f"{s.id}: {s.check}" for s in steps if s.check not in CHECKS]


def run_steps(
    ctx: Context,
    steps: list[Step],
    rehearsal: Rehearsal,
    *,
    on_start: Listener | None = None,
    on_done: Listener | None = None,
) -> Rehearsal:
    """Run `steps` against `ctx`, appending a StepResult per step to `rehearsal`."""
    status: dict[str, str] = {}
    for step in steps:
        result = StepResult(
            id=step.id,
            number=step.number,
            title=step.title,
            college=step.college,
            mock=step.mock,
            check=step.check,
            required=step.required,
        )
        rehearsal.steps.append(result)
        ctx.evidence = result.evidence = Evidence()
        if on_start:
            on_start(result)
        blocked = [need for need in step.needs if status.get(need) != PASS]
        started = time.monotonic()
        if blocked:
            result.status, result.summary = SKIP, f"skipped: {', '.join(blocked)} did not pass"
        elif step.check not in CHECKS:
            result.status, result.summary = FAIL, f"the procedure names check {step.check!r}, which does not exist"
        else:
            result.status, result.summary = _run_one(ctx, step)
            if result.status == FAIL and ctx.server_log is not None:
                result.evidence.log_excerpts.append("the mock's log (last lines):\n" + ctx.server_log())
        result.seconds = time.monotonic() - started
        status[step.id] = result.status
        if on_done:
            on_done(result)
    rehearsal.records = ctx.records
    rehearsal.batches = ctx.batches
    rehearsal.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    return rehearsal


def _run_one(ctx: Context, step: Step) -> tuple[str, str]:
    try:
        return PASS, CHECKS[step.check](ctx)
    except StepFailed as exc:
        return FAIL, str(exc)
    except StepWaiting as exc:
        return WAIT, str(exc)
    except StepSkipped as exc:
        return SKIP, f"skipped: {exc}"
    except ApiError as exc:
        return FAIL, str(exc)
    except Exception as exc:  # a check must never end the rehearsal; the report keeps what happened
        ctx.evidence.log_excerpts.append(traceback.format_exc(limit=6))
        return FAIL, f"unexpected {type(exc).__name__}: {exc}"
