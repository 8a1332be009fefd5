"""F/M authority rules: who may act (S1001, S1002) and on which record (S1003)."""

from __future__ import annotations

from . import RuleContext, Violation, acting_official, may_not_act, rule
from .fm_facts import FM_UPDATE_EVENTS

FM_EVENTS = ("fm.create", *FM_UPDATE_EVENTS)
SCHOOL_ROLES = {"PDSO", "DSO"}


@rule("S1001", *FM_EVENTS)
def user_id_known(ctx: RuleContext) -> Violation | None:
    """The record's userID is not the user ID of any SEVIS official."""
    return Violation.of("S1001") if acting_official(ctx) is None else None


@rule("S1002", *FM_EVENTS)
def user_may_act_for_school(ctx: RuleContext) -> Violation | None:
    """The record's userID belongs to an official who is not a PDSO/DSO of the batch's school."""
    return Violation.of("S1002") if may_not_act(ctx, SCHOOL_ROLES) else None


@rule("S1003", *FM_UPDATE_EVENTS)
def sevis_id_of_this_school(ctx: RuleContext) -> Violation | None:
    """The update's sevisID names no student record of this school in this environment (the processor answers this before any other rule)."""
    if ctx.record is None:
        return Violation.of("S1003")
    return None
