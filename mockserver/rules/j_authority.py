"""J rules on who may act: the record's userID must be a Responsible or Alternate Responsible Officer
of this sponsor. [i] "invalid" (S2154) is a user SEVIS does not know; "prohibited" (S2155) is a known
official who may not act for this sponsor (another organization's official, or not an RO/ARO)."""

from __future__ import annotations

from . import RuleContext, Violation, rule
from .j_common import J_ALL_EVENTS

OFFICIAL_ROLES = {"RO", "ARO"}


@rule("S2154", *J_ALL_EVENTS)
def user_is_known(ctx: RuleContext) -> Violation | None:
    """The record's userID is no SEVIS official at all."""
    if ctx.lookup_official(ctx.element.get("userID", "")) is None:
        return Violation.of("S2154")
    return None


@rule("S2155", *J_ALL_EVENTS)
def user_may_act(ctx: RuleContext) -> Violation | None:
    """The record's userID is an official of another organization, or of this sponsor but not an RO or ARO. [i]"""
    official = ctx.lookup_official(ctx.element.get("userID", ""))
    if official is not None and (official.org_id != ctx.org_id or official.role not in OFFICIAL_ROLES):
        return Violation.of("S2155")
    return None
