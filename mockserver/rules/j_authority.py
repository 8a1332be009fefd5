"""J rules on who may act: the record's userID must be a Responsible or Alternate Responsible Officer
of this sponsor. [i] "invalid" (S2154) is a user SEVIS does not know; "prohibited" (S2155) is a known
official who may not act for this sponsor (another organization's official, or not an RO/ARO)."""

from __future__ import annotations

from . import RuleContext, Violation, acting_official, may_not_act, rule
from .j_common import J_ALL_EVENTS

OFFICIAL_ROLES = {"RO", "ARO"}


@rule("S2154", *J_ALL_EVENTS)
def user_is_known(ctx: RuleContext) -> Violation | None:
    """The record's userID is no SEVIS official at all."""
    return Violation.of("S2154") if acting_official(ctx) is None else None


@rule("S2155", *J_ALL_EVENTS)
def user_may_act(ctx: RuleContext) -> Violation | None:
    """The record's userID is an official of another organization, or of this sponsor but not an RO or ARO. [i]"""
    return Violation.of("S2155") if may_not_act(ctx, OFFICIAL_ROLES) else None
