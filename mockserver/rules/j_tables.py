"""J rules where SEVIS's lookup tables refuse a code the 6.27 schema still admits (S2003, "contains invalid data").

- Table 28 lists position code 531 as "CODE DELETED - SEE 213": a create or a Biographical update that
  sends it names ``PositionCode``.
- Table 36 says gender U (UNKNOWN) is "not for an EV": the Biographical update's Gender uses the F/M gender
  table, which admits U, so an exchange visitor's update that sends U names ``Gender``.
"""

from __future__ import annotations

from ..codetables import meaning
from . import RuleContext, Violation, rule, sent, text

UNKNOWN_GENDER = "U"


def _sent(ctx: RuleContext, tag: str) -> str | None:
    scope = sent(ctx)
    return text(scope, tag)


def _deleted_position(code: str | None) -> bool:
    return bool(code) and meaning("EVPositionCodeType", code, "J").startswith("CODE DELETED")


@rule("S2003", "j.create", "j.Biographical")
def position_code_not_deleted(ctx: RuleContext) -> Violation | None:
    """PositionCode is one SEVIS table 28 marks deleted (531, "CODE DELETED - SEE 213")."""
    if _deleted_position(_sent(ctx, "PositionCode")):
        return Violation.of("S2003", invalid_element="PositionCode")
    return None


@rule("S2003", "j.Biographical")
def exchange_visitor_gender_known(ctx: RuleContext) -> Violation | None:
    """A Biographical update gives the exchange visitor gender U (UNKNOWN, which table 36 says is not for an EV)."""
    if _sent(ctx, "Gender") == UNKNOWN_GENDER:
        return Violation.of("S2003", invalid_element="Gender")
    return None
