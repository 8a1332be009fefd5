"""F/M authority rules: who may act (S1001, S1002) and on which record (S1003)."""

from __future__ import annotations

from . import RuleContext, Violation, rule
from .fm_facts import FM_UPDATE_EVENTS

FM_EVENTS = ("fm.create", *FM_UPDATE_EVENTS)
SCHOOL_ROLES = {"PDSO", "DSO"}


@rule("S1001", *FM_EVENTS)
def user_id_known(ctx: RuleContext) -> Violation | None:
    """The record's userID is not the user ID of any SEVIS official."""
    if ctx.lookup_official(ctx.element.get("userID", "")) is None:
        return Violation.of("S1001")
    return None


@rule("S1002", *FM_EVENTS)
def user_may_act_for_school(ctx: RuleContext) -> Violation | None:
    """The record's userID belongs to an official who is not a PDSO/DSO of the batch's school."""
    official = ctx.lookup_official(ctx.element.get("userID", ""))
    if official is not None and (official.org_id != ctx.org_id or official.role not in SCHOOL_ROLES):
        return Violation.of("S1002")
    return None


@rule("S1003", *FM_UPDATE_EVENTS)
def sevis_id_of_this_school(ctx: RuleContext) -> Violation | None:
    """The update's sevisID names no student record of this school in this environment (the processor answers this before any other rule)."""
    if ctx.record is None:
        return Violation.of("S1003")
    return None
