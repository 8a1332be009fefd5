"""Live progress on the terminal: one line per step as it finishes, then the records and the verdict."""

from __future__ import annotations

from typing import Callable

from sevis_mock.harness.client import describe_code

from ...hints import hint
from ..model import FAIL, PASS, SKIP, WAIT, Rehearsal, StepResult

LABELS = {PASS: "PASS", FAIL: "FAIL", SKIP: "SKIP", WAIT: "WAIT"}


class Terminal:
    def __init__(self, echo: Callable[[str], None], total: int, color: bool = False):
        self.echo = echo
        self.total = total
        self.color = color
        self.done = 0

    def _label(self, status: str) -> str:
        label = f"{LABELS[status]:<4}"
        if not self.color:
            return label
        code = {PASS: "32", FAIL: "31", SKIP: "33", WAIT: "36"}[status]
        return f"\x1b[{code}m{label}\x1b[0m"

    def step_done(self, step: StepResult) -> None:
        self.done += 1
        self.echo(f"[{self.done:>2}/{self.total}] {self._label(step.status)} {step.id:<8} {step.title}")
        self.echo(f"         {step.summary}  ({step.seconds:.2f} s)")

    def header(self, rehearsal: Rehearsal) -> None:
        self.echo(f"sevis-mock rehearse: {rehearsal.target} ({rehearsal.environment})")
        for note in rehearsal.notes:
            self.echo(f"  {note}")

    def summary(self, rehearsal: Rehearsal) -> None:
        for line in summary_lines(rehearsal):
            self.echo(line)


def summary_lines(rehearsal: Rehearsal) -> list[str]:
    lines = []
    for batch in rehearsal.batches:
        if batch.changes:
            lines.append(f"re-addressed {batch.source} -> BatchID {batch.batch_id}: " + "; ".join(batch.changes))
    for batch in rehearsal.batches:
        if batch.upload_code not in (None, "S0000"):
            lines.append(
                f"  REFUSED   {batch.source} (BatchID {batch.batch_id}): upload {batch.upload_code} "
                f"{describe_code(batch.upload_code)}"
            )
            lines.append(f"            fix: {hint(batch.upload_code)}")
    for record in rehearsal.records:
        if record.ok:
            lines.append(
                f"  applied   {record.request_id:<20} {record.sevis_id}  ({record.batch_file}, BatchID {record.batch_id})"
            )
        else:
            lines.append(
                f"  REJECTED  {record.request_id:<20} {record.code}: {record.message}  "
                f"({record.batch_file}, BatchID {record.batch_id})"
            )
            lines.append(f"            fix: {record.hint}")
    counts = rehearsal.counts()
    applied = sum(r.ok for r in rehearsal.records)
    verdict = "PASSED" if rehearsal.passed else "FAILED"
    lines.append(
        f"REHEARSAL {verdict}: {counts['pass']}/{len(rehearsal.steps)} steps passed"
        f" ({counts['fail']} failed, {counts['skip']} skipped, {counts['wait']} waiting); "
        f"{applied} record(s) applied, {len(rehearsal.rejected)} rejected; {rehearsal.seconds:.1f} s"
    )
    return lines
