"""J rules on dates: plausibility, ordering, program length and age limits, the validation window."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Iterator

from ..xmlsafe import XML_SPACE
from . import RuleContext, Violation, as_date, rule, sent, text
from .j_common import (
    J_ALL_EVENTS,
    add_duration,
    age_on,
    category_facts,
    persons,
    program_dates,
    sub_event,
    us_date,
)

EARLIEST = date(1900, 1, 2)
VALIDATION_WINDOW = timedelta(days=30)
UPDATE_WINDOW = timedelta(days=120)


def _dates(ctx: RuleContext) -> Iterator[tuple[str, date | None]]:
    scope = sent(ctx)
    for el in scope.iter():
        if isinstance(el.tag, str) and "Date" in el.tag and el.text and el.text.strip(XML_SPACE):
            yield el.tag, as_date(el.text.strip(XML_SPACE))


@rule("S2271", *J_ALL_EVENTS)
def dates_after_1900(ctx: RuleContext) -> Violation | None:
    """A date in the request is on or before 01/01/1900."""
    for tag, day in _dates(ctx):
        if day is not None and day < EARLIEST:
            return Violation.of("S2271", element=tag)
    return None


@rule("S2133", "j.create", "j.Biographical", "j.Dependent")
def birth_date_not_future(ctx: RuleContext) -> Violation | None:
    """A birth date (of the exchange visitor or a dependent) is after today."""
    for person in persons(ctx):
        born = as_date(text(person, "BirthDate"))
        if born is not None and born > ctx.today:
            return Violation.of("S2133")
    return None


@rule("S2011", "j.create", "j.Program")
def program_end_not_past(ctx: RuleContext) -> Violation | None:
    """The program end date sent (create or amend) is before today. [i]"""
    if ctx.event == "create":
        end = as_date(text(ctx.element, "PrgEndDate"))
    else:
        amend = sub_event(ctx, "Program")
        end = as_date(text(amend, "PrgEndDate")) if amend is not None and amend.tag == "Amend" else None
    if end is not None and end < ctx.today:
        return Violation.of("S2011", program_date="Program End Date")
    return None


@rule("S2004", "j.Program")
def amended_start_not_after_end(ctx: RuleContext) -> Violation | None:
    """An amended program start date is after the amended program end date."""
    amend = sub_event(ctx, "Program")
    if amend is None or amend.tag != "Amend":
        return None
    start, end = as_date(text(amend, "PrgStartDate")), as_date(text(amend, "PrgEndDate"))
    if start and end and start > end:
        return Violation.of("S2004")
    return None


@rule("S2128", "j.Program")
def program_update_within_120_days(ctx: RuleContext) -> Violation | None:
    """A program update arrives more than 120 days after the program end date. [i]"""
    _, end = program_dates(ctx)
    if end is not None and ctx.today > end + UPDATE_WINDOW:
        return Violation.of("S2128")
    return None


def _new_end(ctx: RuleContext, tag: str) -> date | None:
    child = sub_event(ctx, "Program")
    if child is None or child.tag != tag:
        return None
    return as_date(text(child, "NewPrgEndDate"))


@rule("S2236", "j.Program")
def extension_after_current_end(ctx: RuleContext) -> Violation | None:
    """An extension's new program end date is not later than the current program end date."""
    new_end, (_, end) = _new_end(ctx, "Extension"), program_dates(ctx)
    if new_end and end and new_end <= end:
        return Violation.of("S2236")
    return None


@rule("S2229", "j.Program")
def matriculation_after_current_end(ctx: RuleContext) -> Violation | None:
    """A matriculation's new program end date is not after the current program end date."""
    new_end, (_, end) = _new_end(ctx, "Matriculate"), program_dates(ctx)
    if new_end and end and new_end <= end:
        return Violation.of("S2229")
    return None


@rule("S2233", "j.Program")
def shorten_not_before_start(ctx: RuleContext) -> Violation | None:
    """A shortened program end date is before the current program start date."""
    new_end, (start, _) = _new_end(ctx, "Shorten"), program_dates(ctx)
    if new_end and start and new_end < start:
        return Violation.of("S2233")
    return None


@rule("S2234", "j.Program")
def shorten_not_after_end(ctx: RuleContext) -> Violation | None:
    """A shortened program end date is after the current program end date."""
    new_end, (_, end) = _new_end(ctx, "Shorten"), program_dates(ctx)
    if new_end and end and new_end > end:
        return Violation.of("S2234")
    return None


@rule("S2283", "j.Program")
def shorten_before_end(ctx: RuleContext) -> Violation | None:
    """A shortened program end date equals the current program end date (it must be before it). [i]"""
    new_end, (_, end) = _new_end(ctx, "Shorten"), program_dates(ctx)
    if new_end and end and new_end == end:
        return Violation.of("S2283")
    return None


@rule("S2284", "j.Validate")
def validation_window(ctx: RuleContext) -> Violation | None:
    """Validation is requested more than 30 days before the program begin date."""
    start, _ = program_dates(ctx)
    if start is not None and ctx.today < start - VALIDATION_WINDOW:
        return Violation.of("S2284")
    return None


# --- age and duration limits by category ---------------------------------------------------------


def _age_on_begin_date(ctx: RuleContext) -> tuple[float, date] | None:
    start = as_date(text(ctx.element, "PrgStartDate"))
    born = as_date(text(ctx.element, "Biographical/BirthDate"))
    if start is None or born is None:
        return None
    return age_on(born, start), start


def _too_young(ctx: RuleContext, code: str, limit: float) -> Violation | None:
    """``code`` when the category's minimum age (SEVIS table 21) is ``limit`` and the visitor is younger."""
    facts, found = category_facts(ctx), _age_on_begin_date(ctx)
    if facts and found and facts.minimum_age == limit and found[0] < limit:
        return Violation.of(code, program_begin_date=us_date(found[1]))
    return None


def _too_old(ctx: RuleContext, code: str, limit: float, over: float) -> Violation | None:
    """``code`` when the category's maximum age is ``limit`` and the visitor's age is ``over`` or more."""
    facts, found = category_facts(ctx), _age_on_begin_date(ctx)
    if facts and found and facts.maximum_age == limit and found[0] >= over:
        return Violation.of(code, program_begin_date=us_date(found[1]))
    return None


# Age limits on the program begin date, SEVIS table 21: Au Pair 18 to 26, Camp Counselor at least 18,
# Secondary School Student 15 to 18 1/2 (mockserver/data/j_categories.csv).
@rule("S2111", "j.create")
def at_least_18(ctx: RuleContext) -> Violation | None:
    """An Au Pair or Camp Counselor is under 18 on the program begin date (table 21)."""
    return _too_young(ctx, "S2111", 18)


@rule("S2112", "j.create")
def au_pair_at_most_26(ctx: RuleContext) -> Violation | None:
    """An Au Pair is over 26 (has turned 27) on the program begin date (table 21)."""
    return _too_old(ctx, "S2112", 26, over=27)


@rule("S2113", "j.create")
def secondary_student_at_least_15(ctx: RuleContext) -> Violation | None:
    """A Secondary School Student is under 15 on the program begin date (table 21)."""
    return _too_young(ctx, "S2113", 15)


@rule("S2114", "j.create")
def secondary_student_at_most_18_and_half(ctx: RuleContext) -> Violation | None:
    """A Secondary School Student is over 18 years and 6 months on the program begin date (table 21)."""
    facts, found = category_facts(ctx), _age_on_begin_date(ctx)
    if facts and found and facts.maximum_age == 18.5 and found[0] > 18.5:
        return Violation.of("S2114", program_begin_date=us_date(found[1]))
    return None


def _duration(ctx: RuleContext) -> tuple[date | None, date | None]:
    if ctx.event == "create":
        return program_dates(ctx)
    start, _ = program_dates(ctx)
    child = sub_event(ctx, "Program")
    if child is None:
        return None, None
    if child.tag == "Extension":
        return start, as_date(text(child, "NewPrgEndDate"))
    if child.tag == "Amend":
        return as_date(text(child, "PrgStartDate")), as_date(text(child, "PrgEndDate"))
    return None, None


# Durations of participation, SEVIS table 17 (Department of State rules), counted in calendar weeks,
# months and years from the program begin date; a program's last day counts (a 1-year program may end
# on the day before the anniversary or on it).
@rule("S2115", "j.create", "j.Program")
def minimum_duration(ctx: RuleContext) -> Violation | None:
    """The program (create, amend or extension) is shorter than its category's minimum in table 17."""
    facts = category_facts(ctx)
    start, end = _duration(ctx)
    if facts and facts.minimum and start and end and end > start:
        if end < add_duration(start, facts.minimum) - timedelta(days=1):
            return Violation.of("S2115", minimum_duration=facts.minimum)
    return None


@rule("S2116", "j.create", "j.Program")
def maximum_duration(ctx: RuleContext) -> Violation | None:
    """The program (create, amend or extension) is longer than its category's maximum in table 17."""
    facts = category_facts(ctx)
    start, end = _duration(ctx)
    if facts and facts.maximum and start and end and end > add_duration(start, facts.maximum):
        return Violation.of("S2116", maximum_duration=facts.maximum)
    return None
