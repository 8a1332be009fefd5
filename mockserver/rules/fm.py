"""F/M (student) rules."""

from __future__ import annotations

from datetime import date

from lxml import etree

from . import RuleContext, Violation, action, amount, as_date, event_name, rule, text
from .fm_facts import FM_UPDATE_EVENTS
from .keys import duplicate_key

__all__ = ["FM_UPDATE_EVENTS", "STATUS_ONLY", "duplicate_key"]

# Which record statuses each F/M update event may act on, and the catalogue code that refuses it.
# [i] SEVIS documents the codes (S1054 active only, S1057 initial only, S1106 initial or active);
# which event needs which status is inferred from SEVIS's help pages on each action.
STATUS_ONLY = {
    "Registration": ({"Initial", "Active"}, "S1106"),
    "Status/Cancel": ({"Initial"}, "S1057"),
    "Status/Complete": ({"Active"}, "S1054"),
    "Status/Terminate": ({"Active"}, "S1054"),
    "Status/Verify": ({"Active"}, "S1054"),
}
DEFAULT_ALLOWED = ({"Initial", "Active"}, "S1106")


def _status_refusal(ctx: RuleContext) -> str | None:
    """The code refusing this event in the record's current status, or None when the status allows it."""
    allowed, code = STATUS_ONLY.get(event_name(ctx.event_element, ctx.event), DEFAULT_ALLOWED)
    if ctx.record is not None and ctx.record.status not in allowed:
        return code
    return None


@rule("S1054", *FM_UPDATE_EVENTS)
def status_active_for_event(ctx: RuleContext) -> Violation | None:
    """Complete, Terminate or Verify is sent for a student whose status is not Active."""
    return Violation.of("S1054") if _status_refusal(ctx) == "S1054" else None


@rule("S1057", *FM_UPDATE_EVENTS)
def status_initial_for_event(ctx: RuleContext) -> Violation | None:
    """Status Cancel is sent for a student whose status is not Initial."""
    return Violation.of("S1057") if _status_refusal(ctx) == "S1057" else None


@rule("S1106", *FM_UPDATE_EVENTS)
def event_allowed_in_status(ctx: RuleContext) -> Violation | None:
    """Any other update event is sent for a student whose status is neither Initial nor Active."""
    return Violation.of("S1106") if _status_refusal(ctx) == "S1106" else None


def _program_dates_sent(ctx: RuleContext) -> tuple[date | None, date | None]:
    """Program dates a create, an EducationLevel Change or a Program ManageSessionDates sends."""
    if ctx.record is None:
        info = ctx.element.find("EducationalInfo")
        return as_date(text(info, "PrgStartDate")), as_date(text(info, "PrgEndDate"))
    change = action(ctx, "Change")
    if change is not None:
        info = change.find("EducationalInfo")
        return as_date(text(info, "PrgStartDate")), as_date(text(info, "PrgEndDate"))
    manage = action(ctx, "ManageSessionDates")
    return as_date(text(manage, "NewPrgStartDate")), as_date(text(manage, "NewPrgEndDate"))


@rule("S1009", "fm.create", "fm.EducationLevel", "fm.Program")
def program_start_before_end(ctx: RuleContext) -> Violation | None:
    """Program start date is not before the program end date (create, change of level, ManageSessionDates)."""
    start, end = _program_dates_sent(ctx)
    if start and end and start >= end:
        return Violation.of("S1009")
    return None


@rule("S1004", "fm.create")
def not_a_duplicate_student(ctx: RuleContext) -> Violation | None:
    """The same student (name, birth date, birth country, gender) is already in this batch or in Initial/Active status at the school."""
    key = duplicate_key(ctx.element)
    if key in ctx.duplicate_keys_seen or ctx.existing_duplicate(key):
        return Violation.of("S1004")
    return None


def _expenses(fin: etree._Element | None) -> int:
    return sum(
        amount(fin, p)
        for p in ("Expense/Tuition", "Expense/LivingExpense", "Expense/DependentExp", "Expense/Other/Amount")
    )


def _funding(fin: etree._Element | None) -> int:
    return sum(
        amount(fin, p)
        for p in ("Funding/Personal", "Funding/School/Amount", "Funding/Other/Amount", "Funding/Employment")
    )


@rule("S1024", "fm.create")
def expenses_within_funding(ctx: RuleContext) -> Violation | None:
    """Total expenses (tuition, living, dependents, other) exceed total funding (personal, school, other, employment)."""
    fin = ctx.element.find("FinancialInfo")
    if fin is not None and _expenses(fin) > _funding(fin):
        return Violation.of("S1024")
    return None
