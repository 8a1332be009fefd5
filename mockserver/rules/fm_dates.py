"""F/M date rules: program dates, extensions and shortenings, registration session dates."""

from __future__ import annotations

from datetime import date, timedelta

from lxml import etree

from . import RuleContext, Violation, action, add_months, as_date, rule, student, text
from .fm_facts import M1, program_dates, visa_type


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "y")


def _new_end(ctx: RuleContext, *actions: str) -> date | None:
    return as_date(text(action(ctx, *actions), "NewPrgEndDate"))


# --- program dates ------------------------------------------------------------------------------


@rule("S1010", "fm.create", "fm.Program")
def program_start_not_past(ctx: RuleContext) -> Violation | None:
    """Program start date (create, or ManageSessionDates' new start) is before today [i: both events]."""
    if ctx.record is None:
        start = as_date(text(ctx.element, "EducationalInfo/PrgStartDate"))
    else:
        start = as_date(text(action(ctx, "ManageSessionDates"), "NewPrgStartDate"))
    if start and start < ctx.today:
        return Violation.of("S1010")
    return None


@rule("S1096", "fm.Program")
def extension_before_program_ends(ctx: RuleContext) -> Violation | None:
    """Program Extension is requested after the current program end date has passed [i]."""
    _, end = program_dates(ctx)
    if action(ctx, "Extension") is not None and end and end < ctx.today:
        return Violation.of("S1096")
    return None


@rule("S1100", "fm.Program")
def extension_moves_end_later(ctx: RuleContext) -> Violation | None:
    """Program Extension's new program end date is not after the current program end date."""
    new_end, (_, end) = _new_end(ctx, "Extension"), program_dates(ctx)
    if new_end and end and new_end <= end:
        return Violation.of("S1100")
    return None


@rule("S1089", "fm.Program")
def shorten_moves_end_earlier(ctx: RuleContext) -> Violation | None:
    """Program Shorten's new program end date is after the current program end date."""
    new_end, (_, end) = _new_end(ctx, "Shorten"), program_dates(ctx)
    if new_end and end and new_end > end:
        return Violation.of("S1089")
    return None


@rule("S1043", "fm.Program")
def shorten_not_before_start(ctx: RuleContext) -> Violation | None:
    """Program Shorten's new program end date is before the current program start date."""
    new_end, (start, _) = _new_end(ctx, "Shorten"), program_dates(ctx)
    if new_end and start and new_end < start:
        return Violation.of("S1043")
    return None


@rule("S1042", "fm.Program")
def m1_extension_window(ctx: RuleContext) -> Violation | None:
    """M-1 Program Extension sent when today is not between 60 and 15 days before the current program end date."""
    _, end = program_dates(ctx)
    if visa_type(ctx) == M1 and action(ctx, "Extension") is not None and end:
        if not end - timedelta(days=60) <= ctx.today <= end - timedelta(days=15):
            return Violation.of("S1042")
    return None


@rule("S1016", "fm.Program")
def m1_extension_within_twelve_months(ctx: RuleContext) -> Violation | None:
    """M-1 Program Extension's new end date is more than 12 months after the current program end date [i: current end stands for the original]."""
    new_end, (_, end) = _new_end(ctx, "Extension"), program_dates(ctx)
    if visa_type(ctx) == M1 and new_end and end and new_end > add_months(end, 12):
        return Violation.of("S1016")
    return None


@rule("S1041", "fm.create", "fm.Program")
def m1_program_within_three_years(ctx: RuleContext) -> Violation | None:
    """M-1 program end date (create or Extension) is more than three years after the program start date."""
    start, end = program_dates(ctx)
    if ctx.record is not None:
        end = _new_end(ctx, "Extension")
    if visa_type(ctx) == M1 and start and end and end > add_months(start, 36):
        return Violation.of("S1041")
    return None


# --- registration (session dates) -----------------------------------------------------------------


def _registration(ctx: RuleContext) -> etree._Element | None:
    return ctx.event_element if ctx.event_element is not None and ctx.event_element.tag == "Registration" else None


def _session(ctx: RuleContext, name: str) -> date | None:
    return as_date(text(_registration(ctx), name))


@rule("S1032", "fm.Registration")
def session_end_not_past(ctx: RuleContext) -> Violation | None:
    """Registration's current session end date is before today."""
    end = _session(ctx, "CurrentSessionEndDate")
    if end and end < ctx.today:
        return Violation.of("S1032")
    return None


@rule("S1085", "fm.Registration")
def session_end_after_session_start(ctx: RuleContext) -> Violation | None:
    """Registration's current session end date is not after its current session start date [i]."""
    start, end = _session(ctx, "CurrentSessionStartDate"), _session(ctx, "CurrentSessionEndDate")
    if start and end and end <= start:
        return Violation.of("S1085")
    return None


@rule("S1115", "fm.Registration")
def session_end_after_program_start(ctx: RuleContext) -> Violation | None:
    """Registration's current session end date is before the program start date."""
    end, (start, _) = _session(ctx, "CurrentSessionEndDate"), program_dates(ctx)
    if end and start and end < start:
        return Violation.of("S1115")
    return None


@rule("S1116", "fm.Registration")
def session_end_within_program(ctx: RuleContext) -> Violation | None:
    """Registration's current session end date is after the program end date."""
    end, (_, program_end) = _session(ctx, "CurrentSessionEndDate"), program_dates(ctx)
    if end and program_end and end > program_end:
        return Violation.of("S1116")
    return None


@rule("S1068", "fm.Registration")
def next_session_matches_last_session(ctx: RuleContext) -> Violation | None:
    """Registration gives no next session start date with LastSession false, or gives one with LastSession true."""
    registration = _registration(ctx)
    if registration is None:
        return None
    has_next = bool(text(registration, "NextSessionStartDate"))
    if _is_true(text(registration, "LastSession")) == has_next:
        return Violation.of("S1068")
    return None


@rule("S1114", "fm.Registration")
def next_session_not_past(ctx: RuleContext) -> Violation | None:
    """Registration's next session start date is before today."""
    start = _session(ctx, "NextSessionStartDate")
    if start and start < ctx.today:
        return Violation.of("S1114")
    return None


@rule("S1103", "fm.Registration")
def next_session_after_current(ctx: RuleContext) -> Violation | None:
    """Registration's next session start date is before the current session end date."""
    nxt, end = _session(ctx, "NextSessionStartDate"), _session(ctx, "CurrentSessionEndDate")
    if nxt and end and nxt < end:
        return Violation.of("S1103")
    return None


@rule("S1086", "fm.Registration")
def next_session_within_program(ctx: RuleContext) -> Violation | None:
    """Registration's next session start date is after the program end date [i]."""
    nxt, (_, end) = _session(ctx, "NextSessionStartDate"), program_dates(ctx)
    if nxt and end and nxt > end:
        return Violation.of("S1086")
    return None


@rule("S1063", "fm.Registration")
def registration_has_us_address(ctx: RuleContext) -> Violation | None:
    """Registration sends no U.S. address and the record holds none [i]."""
    registration = _registration(ctx)
    if registration is None:
        return None
    sent = registration.find("USAddress")
    if sent is None and student(ctx).find("USAddress") is None:
        return Violation.of("S1063")
    return None
