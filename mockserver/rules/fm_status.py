"""F/M Status and Request event rules (beyond the status table in ``fm``): termination remarks, cap-gap."""

from __future__ import annotations

from . import RuleContext, Violation, action, history_actions, rule, text
from .fm_facts import OTHERWISE_FAILING


@rule("S1059", "fm.Status")
def otherwise_failing_needs_other_remarks(ctx: RuleContext) -> Violation | None:
    """Terminate with reason 16 (otherwise failing to maintain status) has no OtherRemarks."""
    terminate = action(ctx, "Terminate")
    if terminate is not None and text(terminate, "Reason") == OTHERWISE_FAILING and not text(terminate, "OtherRemarks"):
        return Violation.of("S1059")
    return None


@rule("S1104", "fm.Status")
def other_remarks_only_when_otherwise_failing(ctx: RuleContext) -> Violation | None:
    """Terminate gives OtherRemarks with a reason other than 16 (otherwise failing to maintain status)."""
    terminate = action(ctx, "Terminate")
    if terminate is not None and text(terminate, "OtherRemarks") and text(terminate, "Reason") != OTHERWISE_FAILING:
        return Violation.of("S1104")
    return None


@rule("S1134", "fm.Request")
def cap_gap_status_once(ctx: RuleContext) -> Violation | None:
    """Request CapGapExtension names a status (C, F or T) already requested for the student."""
    wanted = text(action(ctx, "CapGapExtension"), "Status")
    if wanted and any(
        act.tag == "CapGapExtension" and text(act, "Status") == wanted for act in history_actions(ctx, "Request")
    ):
        return Violation.of("S1134", c_f_or_t=wanted)
    return None
