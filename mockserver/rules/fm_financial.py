"""F/M financial rules for the FinancialInfo update: amounts and their remarks go together."""

from __future__ import annotations

from typing import Iterator

from ..xmlsafe import XML_SPACE
from . import RuleContext, Violation, rule, student, text

# (path under FinancialInfo, the name SEVIS's message gives it) [i: names follow the I-20's wording]
PAIRS = (("Expense/Other", "Other expense"), ("Funding/School", "School funding"), ("Funding/Other", "Other funding"))


def _pairs(ctx: RuleContext) -> Iterator[tuple[str, str, str]]:
    """(label, amount, remarks) for each amount/remarks pair the update sends, unsent halves as stored."""
    sent = ctx.event_element
    if sent is None or sent.tag != "FinancialInfo":
        return
    stored = student(ctx).find("FinancialInfo")
    for path, label in PAIRS:
        pair = sent.find(path)
        if pair is None:
            continue
        values = []
        for part in ("Amount", "Remarks"):
            element = pair.find(part)
            values.append(
                (element.text or "").strip(XML_SPACE) if element is not None else text(stored, f"{path}/{part}") or ""
            )
        amount, remarks = values
        yield label, amount, remarks


@rule("S1111", "fm.FinancialInfo")
def remarks_with_amount(ctx: RuleContext) -> Violation | None:
    """An other-expense, school-funding or other-funding amount above zero is left without remarks."""
    for label, amount, remarks in _pairs(ctx):
        if amount.isdigit() and int(amount) > 0 and not remarks:
            return Violation.of("S1111", expense_funding_type=label)
    return None


@rule("S1112", "fm.FinancialInfo")
def amount_with_remarks(ctx: RuleContext) -> Violation | None:
    """Remarks are given for an other-expense, school-funding or other-funding amount that is empty."""
    for label, amount, remarks in _pairs(ctx):
        if remarks and not amount:
            return Violation.of("S1112", expense_funding_type=label)
    return None
