"""J rules on update events that need remarks or companion data (reprint, end status, termination, infraction)."""

from __future__ import annotations

from lxml import etree

from . import RuleContext, Violation, rule, text
from .j_common import first_child, sub_event

# Reason codes that mean "other" and need OtherRemarks. [i] Reprint reason 05 is "Other" in SEVIS's table;
# dependent end-status and termination reason 09 is "Other" (SEVISTable documentation).
OTHER_REASONS = {"Reprint": "05", "EndStatus": "09", "Terminate": "09"}


def _needs_other_remarks(element: etree._Element | None, reason_code: str) -> bool:
    return element is not None and text(element, "Reason") == reason_code and not text(element, "OtherRemarks")


@rule("S2130", "j.Reprint", "j.Dependent")
def other_reason_has_remarks(ctx: RuleContext) -> Violation | None:
    """A reprint, dependent end status or dependent termination gives reason 'Other' without OtherRemarks."""
    element = ctx.event_element if ctx.event == "Reprint" else sub_event(ctx, "Dependent")
    if element is not None and _needs_other_remarks(element, OTHER_REASONS.get(element.tag, "")):
        return Violation.of("S2130")
    return None


@rule("S2222", "j.Status")
def termination_other_has_remarks(ctx: RuleContext) -> Violation | None:
    """A termination gives reason OTHER without OtherRemarks."""
    terminate = first_child(ctx.event_element)
    if terminate is not None and terminate.tag == "Terminate" and _needs_other_remarks(terminate, "OTHER"):
        return Violation.of("S2222")
    return None


def _infraction(ctx: RuleContext) -> etree._Element | None:
    child = first_child(ctx.event_element)
    return child if child is not None and child.tag == "CorrectInfraction" else None


@rule("S2127", "j.Status")
def infraction_has_remarks(ctx: RuleContext) -> Violation | None:
    """A correction of a minor or technical infraction has no Remarks. [i] every infraction type is minor/technical"""
    infraction = _infraction(ctx)
    if infraction is not None and not text(infraction, "Remarks"):
        return Violation.of("S2127")
    return None


@rule("S2009", "j.Status")
def extension_infraction_has_new_end(ctx: RuleContext) -> Violation | None:
    """A correction of an infraction of type EXT (program extension) has no NewEndDate. [i]"""
    infraction = _infraction(ctx)
    if infraction is not None and text(infraction, "InfractionType") == "EXT" and not text(infraction, "NewEndDate"):
        return Violation.of("S2009", custom_message="NewEndDate is required to correct an EXT infraction")
    return None
