"""F/M Status and Request event rules (beyond the status table in ``fm``): termination remarks, cap-gap."""

from __future__ import annotations

from ..codetables import code_for, codes_valid_for
from . import RuleContext, Violation, action, history_actions, rule, text
from .fm_facts import OTHERWISE_FAILING, VISA_CLASS, visa_type

CAP_GAP_CANCELLED = code_for("CapGapExtensionType", "CANCELLED")
CAP_GAP_FILED = code_for("CapGapExtensionType", "FILED")
CAP_GAP_WAITLISTED = code_for("CapGapExtensionType", "WAITLISTED")


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


@rule("S1060", "fm.Status")
def termination_reason_valid_for_visa_type(ctx: RuleContext) -> Violation | None:
    """Terminate gives a reason SEVIS table 13 does not allow for the student's visa type: 14 (denied transfer), 15 (extension denied) and 21 (transfer withdrawn) are M-1 reasons only."""
    terminate = action(ctx, "Terminate")
    reason, visa = text(terminate, "Reason"), VISA_CLASS.get(visa_type(ctx))
    if (
        terminate is not None
        and reason
        and visa
        and reason not in codes_valid_for("StudentTerminationReasonType", visa)
    ):
        return Violation.of("S1060")
    return None


@rule("S1135", "fm.Request")
def cap_gap_request_on_file(ctx: RuleContext) -> Violation | None:
    """Request CapGapExtension gives status C (cancelled) or T (waitlisted) while no cap-gap extension was filed (F, table 1) since the last cancellation."""
    wanted = text(action(ctx, "CapGapExtension"), "Status")
    if wanted not in (CAP_GAP_CANCELLED, CAP_GAP_WAITLISTED):
        return None
    filed = False
    for act in history_actions(ctx, "Request"):
        if act.tag == "CapGapExtension":
            status = text(act, "Status")
            filed = status != CAP_GAP_CANCELLED and (filed or status == CAP_GAP_FILED)
    return None if filed else Violation.of("S1135")
