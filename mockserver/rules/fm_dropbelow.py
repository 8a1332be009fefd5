"""F/M rules for AuthDropBelowFC (authorization to drop below a full course of study)."""

from __future__ import annotations

from datetime import date

from lxml import etree

from ..codetables import code_for, codes_valid_for
from . import RuleContext, Violation, action, add_months, as_date, rule, student, text
from .fm_facts import F1, M1, VISA_CLASS, dates_of, live_segments, overlaps, program_dates, visa_type
from .fm_personal import COMMUTER_COUNTRIES

EVENT = "fm.AuthDropBelowFC"
COMMUTER_REASON = code_for("DropBlwfullType", "PART-TIME COMMUTER STUDENT")


def _key(segment: etree._Element) -> tuple:
    return (text(segment, "Reason"), *dates_of(segment))


def _segments(ctx: RuleContext) -> list[etree._Element]:
    return live_segments(ctx, "AuthDropBelowFC", key=_key)


def _proposed(ctx: RuleContext) -> tuple[date | None, date | None]:
    """The dates an Add asks for, or an Edit's dates after its changes."""
    act = action(ctx, "Add", "Edit")
    if act is None:
        return None, None
    start, end = dates_of(act)
    if act.tag == "Edit":
        start = as_date(text(act, "NewStartDate")) or start
        end = as_date(text(act, "NewEndDate")) or end
    return start, end


@rule("S1081", EVENT)
def edit_changes_something(ctx: RuleContext) -> Violation | None:
    """An Edit gives none of new start date, new end date, new reason."""
    act = action(ctx, "Edit")
    if act is not None and not any(text(act, n) for n in ("NewStartDate", "NewEndDate", "NewReason")):
        return Violation.of("S1081")
    return None


@rule("S1070", EVENT)
def segment_exists(ctx: RuleContext) -> Violation | None:
    """A Cancel or Edit names (reason, start, end) of no authorization in the record."""
    act = action(ctx, "Cancel", "Edit")
    if act is not None and not any(_key(s) == _key(act) for s in _segments(ctx)):
        return Violation.of("S1070")
    return None


@rule("S1079", EVENT)
def edit_before_end_passed(ctx: RuleContext) -> Violation | None:
    """An Edit names an authorization whose end date has passed."""
    _, end = dates_of(action(ctx, "Edit"))
    if end and end < ctx.today:
        return Violation.of("S1079")
    return None


@rule("S1078", EVENT)
def start_edit_before_start_passed(ctx: RuleContext) -> Violation | None:
    """An Edit changes the start date of an authorization whose start date has passed."""
    act = action(ctx, "Edit")
    start, _ = dates_of(act)
    if act is not None and text(act, "NewStartDate") and start and start < ctx.today:
        return Violation.of("S1078")
    return None


@rule("S1080", EVENT)
def cancel_before_start_passed(ctx: RuleContext) -> Violation | None:
    """A Cancel names an authorization whose start date has passed."""
    start, _ = dates_of(action(ctx, "Cancel"))
    if start and start < ctx.today:
        return Violation.of("S1080")
    return None


@rule("S1066", EVENT)
def start_before_end(ctx: RuleContext) -> Violation | None:
    """The authorization's start date (after an Edit's changes) is not before its end date."""
    start, end = _proposed(ctx)
    if start and end and start >= end:
        return Violation.of("S1066")
    return None


@rule("S1051", EVENT)
def start_before_program_end(ctx: RuleContext) -> Violation | None:
    """The authorization's start date is not before the current program end date."""
    start, _ = _proposed(ctx)
    _, program_end = program_dates(ctx)
    if start and program_end and start >= program_end:
        return Violation.of("S1051")
    return None


@rule("S1075", EVENT)
def start_within_program(ctx: RuleContext) -> Violation | None:
    """The authorization's start date is before the current program start date."""
    start, _ = _proposed(ctx)
    program_start, _ = program_dates(ctx)
    if start and program_start and start < program_start:
        return Violation.of("S1075")
    return None


@rule("S1076", EVENT)
def end_within_program(ctx: RuleContext) -> Violation | None:
    """The authorization's end date is after the current program end date."""
    _, end = _proposed(ctx)
    _, program_end = program_dates(ctx)
    if end and program_end and end > program_end:
        return Violation.of("S1076")
    return None


@rule("S1077", EVENT)
def end_not_past(ctx: RuleContext) -> Violation | None:
    """The authorization's end date (Add, or after an Edit's changes) is before today."""
    _, end = _proposed(ctx)
    if end and end < ctx.today:
        return Violation.of("S1077")
    return None


@rule("S1073", EVENT)
def f1_at_most_twelve_months(ctx: RuleContext) -> Violation | None:
    """F-1: the authorization ends more than twelve months after it starts [i: 12 months is the F-1 medical limit]."""
    start, end = _proposed(ctx)
    if visa_type(ctx) == F1 and start and end and end > add_months(start, 12):
        return Violation.of("S1073")
    return None


@rule("S1074", EVENT)
def m1_at_most_five_months(ctx: RuleContext) -> Violation | None:
    """M-1: the authorization ends more than five months after it starts."""
    start, end = _proposed(ctx)
    if visa_type(ctx) == M1 and start and end and end > add_months(start, 5):
        return Violation.of("S1074")
    return None


@rule("S1072", EVENT)
def no_overlapping_segments(ctx: RuleContext) -> Violation | None:
    """The authorization's dates overlap another authorization of the record."""
    act = action(ctx, "Add", "Edit")
    start, end = _proposed(ctx)
    if act is None or not (start and end):
        return None
    others = [s for s in _segments(ctx) if act.tag == "Add" or _key(s) != _key(act)]
    if any(overlaps((start, end), dates_of(s)) for s in others if all(dates_of(s))):
        return Violation.of("S1072")
    return None


def _reason_sent(ctx: RuleContext) -> str | None:
    """The reason an Add gives, or the new reason an Edit gives."""
    act = action(ctx, "Add", "Edit")
    if act is None:
        return None
    return text(act, "NewReason") if act.tag == "Edit" else text(act, "Reason")


@rule("S1055", EVENT)
def reason_valid_for_visa_type(ctx: RuleContext) -> Violation | None:
    """The drop-below reason (Add, or an Edit's NewReason) is not one SEVIS table 4 allows for the student's visa type: for M-1 only 01 (illness or medical condition) and 07 (part-time commuter student)."""
    reason, visa = _reason_sent(ctx), VISA_CLASS.get(visa_type(ctx))
    if reason and visa and reason not in codes_valid_for("DropBlwfullType", visa):
        return Violation.of("S1055")
    return None


@rule("S1087", EVENT)
def commuter_reason_needs_border_citizenship(ctx: RuleContext) -> Violation | None:
    """The drop-below reason is 07 (part-time commuter student, table 4) for a student whose country of citizenship is neither Canada nor Mexico (border commuters, 8 CFR 214.2(f)(18))."""
    reason = _reason_sent(ctx)
    citizenship = text(student(ctx), "PersonalInfo/CitizenshipCountryCode")
    if reason == COMMUTER_REASON and citizenship and citizenship not in COMMUTER_COUNTRIES:
        return Violation.of("S1087")
    return None
