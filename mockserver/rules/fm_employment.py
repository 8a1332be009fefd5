"""F/M employment rules: CPT, OPT (and its employers) and off-campus employment."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Callable

from lxml import etree

from . import RuleContext, Violation, action, add_months, as_date, history_actions, rule, text
from .fm_facts import (
    FULL_TIME,
    K12_LEVELS,
    LANGUAGE_TRAINING,
    M1,
    PART_TIME,
    POST_COMPLETION,
    PRE_COMPLETION,
    dates_of,
    edu_level,
    live_segments,
    overlaps,
    program_dates,
    visa_type,
)

CPT, OPT, OFF_CAMPUS, EMPLOYER = "fm.CPTEmployment", "fm.OPTEmployment", "fm.OffCampusEmployment", "fm.OPTEmployer"
EMPLOYMENT = (CPT, OPT, OFF_CAMPUS)
# How a Cancel/Edit names the segment it acts on (the fields both carry).
KEYS = {
    "CPTEmployment": ("StartDate", "EndDate", "FullPartTimeIndicator", "EmployerName"),
    "OPTEmployment": ("StartDate", "EndDate"),
    "OffCampusEmployment": ("StartDate", "EndDate", "EmploymentType"),
}
NO_EMPLOYMENT_LEVELS = K12_LEVELS | {LANGUAGE_TRAINING}  # [i] levels without CPT/OPT eligibility
SEEKING = ("SEEKING", "UNEMPLOYED", "LOOKING FOR", "JOB SEARCH")  # [i] words that mean "no employer yet"


def _tag(ctx: RuleContext) -> str:
    return "" if ctx.event_element is None else ctx.event_element.tag


def _key_of(tag: str) -> Callable[[etree._Element], tuple]:
    fields = KEYS[tag]

    def key(element: etree._Element) -> tuple:
        return tuple((text(element, f) or "").upper() for f in fields)

    return key


def _segments(ctx: RuleContext, tag: str) -> list[etree._Element]:
    return live_segments(ctx, tag, key=_key_of(tag))


def _named_segment(ctx: RuleContext) -> tuple[etree._Element | None, etree._Element | None]:
    """(action, matching live segment or None) for actions that name an existing segment."""
    tag = _tag(ctx)
    if tag == "OPTEmployer":
        act = action(ctx, "Add", "Edit")
        ident = None if act is None else act.find("EmploymentIdentifier")
        if ident is None:
            return None, None
        key = _key_of("OPTEmployment")
        return act, next((s for s in _segments(ctx, "OPTEmployment") if key(s) == key(ident)), None)
    act = action(ctx, "Cancel", "Edit", "ReportParticipation")
    if act is None or tag not in KEYS:
        return None, None
    key = _key_of(tag)
    return act, next((s for s in _segments(ctx, tag) if key(s) == key(act)), None)


def _added(ctx: RuleContext, *tags: str) -> etree._Element | None:
    return action(ctx, "Add") if _tag(ctx) in tags else None


def _days(n: int) -> timedelta:
    return timedelta(days=n)


# --- who may ask ------------------------------------------------------------------------------------


@rule("S1056", CPT, OFF_CAMPUS, OPT)
def visa_type_may_work(ctx: RuleContext) -> Violation | None:
    """An M-1 student is sent CPT, off-campus employment or an OPT extension (STEM) [i]."""
    if visa_type(ctx) == M1 and (_tag(ctx) != "OPTEmployment" or action(ctx, "Extend") is not None):
        return Violation.of("S1056")
    return None


@rule("S1031", CPT)
def cpt_education_level(ctx: RuleContext) -> Violation | None:
    """CPT Add for a student at primary, secondary, high school or language training level [i]."""
    if _added(ctx, "CPTEmployment") is not None and edu_level(ctx) in NO_EMPLOYMENT_LEVELS:
        return Violation.of("S1031")
    return None


@rule("S1036", OPT)
def opt_education_level(ctx: RuleContext) -> Violation | None:
    """OPT Add for a student at primary, secondary, high school or language training level [i]."""
    if _added(ctx, "OPTEmployment") is not None and edu_level(ctx) in NO_EMPLOYMENT_LEVELS:
        return Violation.of("S1036")
    return None


# --- the segment named -----------------------------------------------------------------------------


@rule("S1069", *EMPLOYMENT, EMPLOYER)
def named_segment_exists(ctx: RuleContext) -> Violation | None:
    """A Cancel, Edit, ReportParticipation or OPTEmployer action names no employment of the record."""
    act, segment = _named_segment(ctx)
    if act is not None and segment is None:
        return Violation.of("S1069")
    return None


@rule("S1095", *EMPLOYMENT)
def cancel_before_start(ctx: RuleContext) -> Violation | None:
    """A Cancel names employment whose start date has passed."""
    start, _ = dates_of(action(ctx, "Cancel"))
    if start and start < ctx.today:
        return Violation.of("S1095")
    return None


@rule("S1123", OPT, OFF_CAMPUS, EMPLOYER)
def update_before_end(ctx: RuleContext) -> Violation | None:
    """An Edit (of OPT, off-campus employment or an OPT employer) names employment whose end date has passed."""
    act, segment = _named_segment(ctx)
    if act is None or act.tag != "Edit" or segment is None:
        return None
    _, end = dates_of(segment)
    if end and end < ctx.today:
        return Violation.of("S1123")
    return None


# --- new segments ------------------------------------------------------------------------------------


def _new_dates(ctx: RuleContext) -> tuple[date | None, date | None]:
    act = action(ctx, "Add", "Edit", "Extend") if _tag(ctx) in KEYS else None
    if act is None or (act.tag == "Edit" and _tag(ctx) != "OffCampusEmployment"):
        return None, None
    start, end = dates_of(act)
    if act.tag == "Edit":
        start = as_date(text(act, "NewStartDate")) or start
        end = as_date(text(act, "NewEndDate")) or end
    return start, end


@rule("S1071", *EMPLOYMENT)
def not_a_duplicate_request(ctx: RuleContext) -> Violation | None:
    """An Add repeats an employment the record already has (same identifying fields)."""
    added = _added(ctx, *KEYS)
    if added is not None:
        key = _key_of(_tag(ctx))
        if any(key(s) == key(added) for s in _segments(ctx, _tag(ctx))):
            return Violation.of("S1071")
    return None


@rule("S1039", *EMPLOYMENT)
def employment_start_before_end(ctx: RuleContext) -> Violation | None:
    """Employment start date (Add, Extend, or an off-campus Edit's new dates) is not before its end date."""
    start, end = _new_dates(ctx)
    if start and end and start >= end:
        return Violation.of("S1039")
    return None


@rule("S1044", *EMPLOYMENT)
def no_overlapping_employment(ctx: RuleContext) -> Violation | None:
    """New employment dates overlap an existing segment: CPT and OPT against CPT and OPT, off-campus against off-campus [i]."""
    added = _added(ctx, *KEYS)
    start, end = _new_dates(ctx)
    if added is None or not (start and end):
        return None
    families = ("OffCampusEmployment",) if _tag(ctx) == "OffCampusEmployment" else ("CPTEmployment", "OPTEmployment")
    for family in families:
        if any(all(dates_of(s)) and overlaps((start, end), dates_of(s)) for s in _segments(ctx, family)):
            return Violation.of("S1044")
    return None


@rule("S1029", CPT)
def cpt_at_most_one_year(ctx: RuleContext) -> Violation | None:
    """CPT Add ends more than one year after it starts."""
    start, end = dates_of(_added(ctx, "CPTEmployment"))
    if start and end and end > add_months(start, 12):
        return Violation.of("S1029")
    return None


@rule("S1136", CPT)
def cpt_not_before_program(ctx: RuleContext) -> Violation | None:
    """CPT Add starts before the program start date."""
    start, _ = dates_of(_added(ctx, "CPTEmployment"))
    program_start, _ = program_dates(ctx)
    if start and program_start and start < program_start:
        return Violation.of("S1136")
    return None


@rule("S1050", CPT, OFF_CAMPUS)
def employment_within_program(ctx: RuleContext) -> Violation | None:
    """CPT or off-campus employment (Add, or an off-campus Edit) ends after the program end date."""
    _, end = _new_dates(ctx)
    _, program_end = program_dates(ctx)
    if end and program_end and end > program_end:
        return Violation.of("S1050")
    return None


# --- OPT ---------------------------------------------------------------------------------------------


def _opt_added(ctx: RuleContext) -> tuple[date | None, date | None]:
    return dates_of(_added(ctx, "OPTEmployment"))


@rule("S1137", OPT)
def opt_not_before_program(ctx: RuleContext) -> Violation | None:
    """OPT Add starts before the program start date."""
    start, _ = _opt_added(ctx)
    program_start, _ = program_dates(ctx)
    if start and program_start and start < program_start:
        return Violation.of("S1137")
    return None


@rule("S1047", OPT)
def m1_opt_after_program(ctx: RuleContext) -> Violation | None:
    """M-1 practical training (OPT Add) starts on or before the program end date."""
    start, _ = _opt_added(ctx)
    _, program_end = program_dates(ctx)
    if visa_type(ctx) == M1 and start and program_end and start <= program_end:
        return Violation.of("S1047")
    return None


def _completion_type(ctx: RuleContext) -> str | None:
    return text(_added(ctx, "OPTEmployment"), "CompletionType")


@rule("S1128", OPT)
def pre_completion_opt_within_program(ctx: RuleContext) -> Violation | None:
    """Pre-completion OPT (CompletionType 01, table 9) ends after the program end date."""
    _, end = _opt_added(ctx)
    _, program_end = program_dates(ctx)
    if _completion_type(ctx) == PRE_COMPLETION and end and program_end and end > program_end:
        return Violation.of("S1128")
    return None


@rule("S1129", OPT)
def post_completion_opt_after_program(ctx: RuleContext) -> Violation | None:
    """Post-completion OPT (CompletionType 02, table 9) starts before the program end date."""
    start, _ = _opt_added(ctx)
    _, program_end = program_dates(ctx)
    if _completion_type(ctx) == POST_COMPLETION and start and program_end and start < program_end:
        return Violation.of("S1129")
    return None


@rule("S1121", OPT)
def opt_start_within_61_days(ctx: RuleContext) -> Violation | None:
    """OPT Add starts more than 61 days after the program end date."""
    start, _ = _opt_added(ctx)
    _, program_end = program_dates(ctx)
    if start and program_end and start > program_end + _days(61):
        return Violation.of("S1121")
    return None


@rule("S1020", OPT)
def opt_within_fourteen_months(ctx: RuleContext) -> Violation | None:
    """OPT Add ends more than fourteen months after the program end date."""
    _, end = _opt_added(ctx)
    _, program_end = program_dates(ctx)
    if end and program_end and end > add_months(program_end, 14):
        return Violation.of("S1020")
    return None


@rule("S1046", OPT)
def opt_request_not_too_early(ctx: RuleContext) -> Violation | None:
    """OPT Add is sent more than ninety days before the program end date [i: for pre- and post-completion alike]."""
    _, program_end = program_dates(ctx)
    if _added(ctx, "OPTEmployment") is not None and program_end and ctx.today < program_end - _days(90):
        return Violation.of("S1046")
    return None


@rule("S1038", OPT)
def opt_request_not_too_late(ctx: RuleContext) -> Violation | None:
    """OPT Add is sent more than sixty days after the program end date."""
    _, program_end = program_dates(ctx)
    if _added(ctx, "OPTEmployment") is not None and program_end and ctx.today > program_end + _days(60):
        return Violation.of("S1038")
    return None


@rule("S1126", OPT)
def one_opt_extension(ctx: RuleContext) -> Violation | None:
    """OPT Extend when the record already has an OPT extension."""
    if action(ctx, "Extend") is not None and any(s.tag == "Extend" for s in _segments(ctx, "OPTEmployment")):
        return Violation.of("S1126")
    return None


@rule("S1141", OPT)
def extension_after_opt_started(ctx: RuleContext) -> Violation | None:
    """OPT Extend is sent before the start date of the student's current OPT [i: the latest OPT Add]."""
    if action(ctx, "Extend") is None:
        return None
    starts = [dates_of(s)[0] for s in _segments(ctx, "OPTEmployment") if s.tag == "Add"]
    if starts and starts[-1] and ctx.today < starts[-1]:
        return Violation.of("S1141")
    return None


# --- OPT employers -----------------------------------------------------------------------------------


def _employer_list(
    ctx: RuleContext,
) -> tuple[list[etree._Element], date | None, date | None, str | None]:
    """(employers sent, OPT start, OPT end, OPT full/part-time) for OPT Add/Extend and OPTEmployer Add/Edit."""
    tag = _tag(ctx)
    if tag == "OPTEmployment":
        act = action(ctx, "Add", "Extend")
        if act is None:
            return [], None, None, None
        return act.findall("Employer"), *dates_of(act), text(act, "FullPartTimeIndicator")
    if tag == "OPTEmployer":
        act, segment = _named_segment(ctx)
        if act is None:
            return [], None, None, None
        start, end = dates_of(act.find("EmploymentIdentifier"))
        full_part = text(segment, "FullPartTimeIndicator") if segment is not None else None
        return act.findall("Employer"), start, end, full_part
    return [], None, None, None


def _employer_key(employer: etree._Element | None) -> tuple[str, str]:
    return ((text(employer, "EmployerName") or "").upper(), text(employer, "StartDate") or "")


def _recorded_employers(ctx: RuleContext, opt_start: date | None, opt_end: date | None) -> list[tuple]:
    """(name, start) of the employers recorded for the OPT with these dates, edits applied [i]."""
    found: list[tuple] = []
    for act in history_actions(ctx, "OPTEmployment"):
        if act.tag in ("Add", "Extend") and dates_of(act) == (opt_start, opt_end):
            found.extend(_employer_key(e) for e in act.findall("Employer"))
    for act in history_actions(ctx, "OPTEmployer"):
        if dates_of(act.find("EmploymentIdentifier")) != (opt_start, opt_end):
            continue
        if act.tag == "Add":
            found.extend(_employer_key(e) for e in act.findall("Employer"))
        elif act.tag == "Edit":
            old = _employer_key(act.find("EmployerIdentifier"))
            new = act.find("Employer")
            if old in found and new is not None:
                name = (text(new, "EmployerName") or old[0]).upper()
                found[found.index(old)] = (name, text(new, "StartDate") or old[1])
    return found


@rule("S1162", EMPLOYER)
def edited_employer_exists(ctx: RuleContext) -> Violation | None:
    """OPTEmployer Edit names (employer name, start date) of no employer recorded for that OPT."""
    edit = action(ctx, "Edit")
    if edit is None or edit.find("EmployerIdentifier") is None:
        return None
    opt_start, opt_end = dates_of(edit.find("EmploymentIdentifier"))
    if _employer_key(edit.find("EmployerIdentifier")) not in _recorded_employers(ctx, opt_start, opt_end):
        return Violation.of("S1162")
    return None


@rule("S1168", EMPLOYER)
def employer_added_in_time(ctx: RuleContext) -> Violation | None:
    """OPTEmployer Add is sent more than 60 days after the OPT end date."""
    add = action(ctx, "Add")
    _, opt_end = dates_of(None if add is None else add.find("EmploymentIdentifier"))
    if opt_end and ctx.today > opt_end + _days(60):
        return Violation.of("S1168")
    return None


@rule("S1161", OPT, EMPLOYER)
def employer_named(ctx: RuleContext) -> Violation | None:
    """An employer is sent without an employer name and is not marked self-employed [i]."""
    employers, *_ = _employer_list(ctx)
    if any(not text(e, "EmployerName") and text(e, "SelfEmployed") != "Y" for e in employers):
        return Violation.of("S1161")
    return None


@rule("S1157", OPT, EMPLOYER)
def employer_not_job_search(ctx: RuleContext) -> Violation | None:
    """An employer name says the student is seeking employment (seeking, unemployed, looking for, job search) [i]."""
    employers, *_ = _employer_list(ctx)
    edit = action(ctx, "Edit") if _tag(ctx) == "OPTEmployer" else None
    new_employer = edit.find("Employer") if edit is not None else None
    if new_employer is not None:
        employers = [*employers, new_employer]
    for employer in employers:
        name = (text(employer, "EmployerName") or "").upper()
        if any(word in name for word in SEEKING):
            return Violation.of("S1157")
    return None


def _employer_dates_check(
    ctx: RuleContext, code: str, breaks: Callable[[date | None, date | None, date, date], bool]
) -> Violation | None:
    employers, opt_start, opt_end, _ = _employer_list(ctx)
    if not (opt_start and opt_end):
        return None
    for employer in employers:
        start, end = dates_of(employer)
        if breaks(start, end, opt_start, opt_end):
            return Violation.of(code)
    return None


@rule("S1149", OPT, EMPLOYER)
def employer_starts_in_opt(ctx: RuleContext) -> Violation | None:
    """An employer's start date is before the OPT start date."""
    return _employer_dates_check(ctx, "S1149", lambda s, e, os, oe: s is not None and s < os)


@rule("S1150", OPT, EMPLOYER)
def employer_starts_before_opt_end(ctx: RuleContext) -> Violation | None:
    """An employer's start date is on or after the OPT end date."""
    return _employer_dates_check(ctx, "S1150", lambda s, e, os, oe: s is not None and s >= oe)


@rule("S1151", OPT, EMPLOYER)
def employer_ends_after_opt_start(ctx: RuleContext) -> Violation | None:
    """An employer's end date is before the OPT start date."""
    return _employer_dates_check(ctx, "S1151", lambda s, e, os, oe: e is not None and e < os)


@rule("S1152", OPT, EMPLOYER)
def employer_ends_in_opt(ctx: RuleContext) -> Violation | None:
    """An employer's end date is after the OPT end date."""
    return _employer_dates_check(ctx, "S1152", lambda s, e, os, oe: e is not None and e > oe)


@rule("S1159", OPT, EMPLOYER)
def employer_start_before_end(ctx: RuleContext) -> Violation | None:
    """An employer's start date is not before its end date."""
    employers, *_ = _employer_list(ctx)
    for employer in employers:
        start, end = dates_of(employer)
        if start and end and start >= end:
            return Violation.of("S1159")
    return None


@rule("S1153", OPT, EMPLOYER)
def employer_not_repeated(ctx: RuleContext) -> Violation | None:
    """The same employer (name and start date) is sent twice, or again for an OPT that already records it."""
    employers, opt_start, opt_end, _ = _employer_list(ctx)
    keys = [_employer_key(e) for e in employers]
    recorded = _recorded_employers(ctx, opt_start, opt_end) if _tag(ctx) == "OPTEmployer" else []
    edit = action(ctx, "Edit") if _tag(ctx) == "OPTEmployer" else None
    if edit is not None and edit.find("EmployerIdentifier") is not None:
        # An edit keeps the employer it names: compare its new (name, start) with the OTHER employers only.
        old = _employer_key(edit.find("EmployerIdentifier"))
        if old in recorded:
            recorded.remove(old)
        keys = [((text(e, "EmployerName") or old[0]).upper(), text(e, "StartDate") or old[1]) for e in employers]
    if len(set(keys)) < len(keys) or any(k in recorded for k in keys):
        return Violation.of("S1153")
    return None


@rule("S1158", OPT, EMPLOYER)
def part_time_opt_part_time_employers(ctx: RuleContext) -> Violation | None:
    """Part-time OPT has an employer sent as full time [i: 01 full time, 02 part time]."""
    employers, _, _, opt_full_part = _employer_list(ctx)
    if opt_full_part == PART_TIME and any(text(e, "FullPartTimeIndicator") == FULL_TIME for e in employers):
        return Violation.of("S1158")
    return None
