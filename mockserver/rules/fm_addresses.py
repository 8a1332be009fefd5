"""F/M address override rules: explanation code OO needs an explanation.

The address doctor's own verdicts (S1145/S1146 for U.S. and mailing addresses, S1154/S1155 for employer
addresses) are registered in ``rules/address.py`` with the J address rules.
"""

from __future__ import annotations

from lxml import etree

from . import RuleContext, Violation, rule, text

PERSON_EVENTS = ("fm.create", "fm.PersonalInfo", "fm.Dependent", "fm.Registration")
EMPLOYER_EVENTS = ("fm.CPTEmployment", "fm.OPTEmployment", "fm.OPTEmployer")


def _scope(ctx: RuleContext) -> etree._Element | None:
    return ctx.element if ctx.record is None else ctx.event_element


def _unexplained(ctx: RuleContext, *tags: str) -> bool:
    scope = _scope(ctx)
    found = [] if scope is None else [a for tag in tags for a in scope.iter(tag)]
    return any(text(a, "ExplanationCode") == "OO" and not text(a, "Explanation") for a in found)


@rule("S1147", *PERSON_EVENTS)
def person_address_override_explained(ctx: RuleContext) -> Violation | None:
    """A U.S. or mailing address has explanation code OO without an explanation."""
    return Violation.of("S1147") if _unexplained(ctx, "USAddress", "MailingAddress") else None


@rule("S1156", *EMPLOYER_EVENTS)
def employer_address_override_explained(ctx: RuleContext) -> Violation | None:
    """An employer address has explanation code OO without an explanation."""
    return Violation.of("S1156") if _unexplained(ctx, "EmployerAddress") else None
