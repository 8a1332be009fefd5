"""J rules on the financial information: amounts, totals and the 'OTHER' organization names."""

from __future__ import annotations

from typing import Iterator

from lxml import etree

from ..xmlsafe import XML_SPACE
from . import RuleContext, Violation, rule, sent, text
from .j_common import is_yes

AMOUNTS = (
    "ProgramSponsorFunds",
    "OtherFunds/USGovt/Amount1",
    "OtherFunds/USGovt/Amount2",
    "OtherFunds/International/Amount1",
    "OtherFunds/International/Amount2",
    "OtherFunds/EVGovt",
    "OtherFunds/BinationalCommission",
    "OtherFunds/Other/Amount",
    "OtherFunds/Personal",
)
ORG_GROUPS = ("OtherFunds/USGovt", "OtherFunds/International")


def _financial(ctx: RuleContext) -> etree._Element | None:
    return ctx.element.find("FinancialInfo") if ctx.event == "create" else ctx.event_element


def _value(element: etree._Element | None, path: str) -> str | None:
    """The text at ``path`` ("" for an empty tag), or None when the tag is absent."""
    found = element.find(path) if element is not None else None
    return None if found is None else (found.text or "").strip(XML_SPACE)


def _number(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


@rule("S2151", "j.create", "j.FinancialInfo")
def each_fund_at_least_one_dollar(ctx: RuleContext) -> Violation | None:
    """A funding amount is given as less than 1.00 (zero)."""
    fin = _financial(ctx)
    for path in AMOUNTS:
        value = _value(fin, path)
        if value and value.isdigit() and int(value) < 1:
            return Violation.of("S2151", fund_element=path.split("/", 1)[-1])
    return None


@rule("S2152", "j.create", "j.FinancialInfo")
def total_funding_at_least_one_dollar(ctx: RuleContext) -> Violation | None:
    """The total of all funding (as sent, or stored and amended by the update) is less than 1.00."""
    fin = _financial(ctx)
    if ctx.event == "create":
        total = sum(_number(_value(fin, p)) for p in AMOUNTS)
    else:
        if not any(_value(fin, p) is not None for p in AMOUNTS):
            return None
        stored = ctx.stored.find("FinancialInfo") if ctx.stored is not None else None
        total = sum(_number(_value(fin, p) if _value(fin, p) is not None else _value(stored, p)) for p in AMOUNTS)
    return Violation.of("S2152") if total < 1 else None


@rule("S2012", "j.create")
def us_government_funding_given(ctx: RuleContext) -> Violation | None:
    """ReceivedUSGovtFunds is true but no U.S. government agency funding (OtherFunds/USGovt) is listed. [i]"""
    fin = _financial(ctx)
    if fin is not None and is_yes(text(fin, "ReceivedUSGovtFunds")) and fin.find("OtherFunds/USGovt") is None:
        return Violation.of("S2012", element="U.S. government agency funding (OtherFunds/USGovt)")
    return None


def _org_pairs(fin: etree._Element | None) -> Iterator[tuple[str | None, str | None, str | None]]:
    """(organization code, other name, amount) for each Org1/Org2 slot sent, as text or None."""
    for group in ORG_GROUPS:
        g = fin.find(group) if fin is not None else None
        if g is None:
            continue
        for n in ("1", "2"):
            yield _value(g, f"Org{n}"), _value(g, f"OtherName{n}"), _value(g, f"Amount{n}")


@rule("S2223", "j.create", "j.FinancialInfo")
def other_org_named(ctx: RuleContext) -> Violation | None:
    """An organization of type OTHER has no organization name."""
    for org, name, _ in _org_pairs(_financial(ctx)):
        if org == "OTHER" and not name:
            return Violation.of("S2223")
    return None


@rule("S2224", "j.create")
def org_name_only_for_other(ctx: RuleContext) -> Violation | None:
    """On a create, an organization name is sent for an organization whose type is not OTHER."""
    for org, name, _ in _org_pairs(_financial(ctx)):
        if org and org != "OTHER" and name is not None:
            return Violation.of("S2224")
    return None


@rule("S2225", "j.FinancialInfo")
def org_name_empty_unless_other(ctx: RuleContext) -> Violation | None:
    """On an update, an organization name has a value for an organization whose type is not OTHER."""
    for org, name, _ in _org_pairs(_financial(ctx)):
        if org and org != "OTHER" and name:
            return Violation.of("S2225")
    return None


@rule("S2226", "j.FinancialInfo")
def other_funding_complete(ctx: RuleContext) -> Violation | None:
    """'Other' funding is sent with an empty name or an empty amount (while the other of the two has a value)."""
    other = sent(ctx).find("OtherFunds/Other")  # the FinancialInfo event
    if other is None:
        return None
    name, value = _value(other, "Name"), _value(other, "Amount")
    if (name or value) and not (name and value):
        return Violation.of("S2226")
    return None


@rule("S2227", "j.create", "j.FinancialInfo")
def amount_with_org(ctx: RuleContext) -> Violation | None:
    """An organization is given without its amount."""
    for org, _, value in _org_pairs(_financial(ctx)):
        if org and not value:
            return Violation.of("S2227")
    return None


@rule("S2228", "j.create", "j.FinancialInfo")
def org_with_amount(ctx: RuleContext) -> Violation | None:
    """An amount is given without its organization."""
    for org, _, value in _org_pairs(_financial(ctx)):
        if value and not org:
            return Violation.of("S2228")
    return None
