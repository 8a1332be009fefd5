"""Facts and small helpers shared by the F/M rule modules (nothing here registers a rule).

Codes are named by their meaning in SEVIS's lookup tables, read from the project's code tables
(``schemas/tables/fm-6.55/*.csv``, see :mod:`sevis_mock.server.codetables`): a rule asks for "the education
level that means OTHER", never for a bare ``"11"``.
"""

from __future__ import annotations

from datetime import date
from typing import Callable

from lxml import etree

from ..codetables import code_for, codes_valid_for
from . import RuleContext, action, as_date, history_actions, student, text

# StudentVisaCodeType and DependentFMVisaType carry the codes of table 41 (class of admission).
F1 = code_for("StudentVisaCodeType", "F-1")
M1 = code_for("StudentVisaCodeType", "M-1")
DEPENDENT_VISA = {F1: code_for("DependentFMVisaType", "F-2"), M1: code_for("DependentFMVisaType", "M-2")}
VISA_CLASS = {F1: "F-1", M1: "M-1"}
SPOUSE = code_for("DependentCodeType", "SPOUSE")
CHILD = code_for("DependentCodeType", "CHILD")
# Education levels, table 5: 01-07 and 11 are F-1 levels, 08 (high school), 09 (flight training) and 10
# (vocational school) M-1 levels.
K12_LEVELS = frozenset(code_for("EduLevelCodeType", m) for m in ("PRIMARY", "SECONDARY", "HIGH SCHOOL"))
LANGUAGE_TRAINING = code_for("EduLevelCodeType", "LANGUAGE TRAINING")
OTHER_LEVEL = code_for("EduLevelCodeType", "OTHER")
LEVELS_FOR = {F1: codes_valid_for("EduLevelCodeType", "F-1"), M1: codes_valid_for("EduLevelCodeType", "M-1")}
FULL_TIME = code_for("EmploymentTimeType", "FULL TIME")
PART_TIME = code_for("EmploymentTimeType", "PART TIME")
OTHERWISE_FAILING = code_for("StudentTerminationReasonType", "OTHERWISE FAILING TO MAINTAIN STATUS")
PRE_COMPLETION = code_for("OPTCompletionType", "PRE COMPLETION")
POST_COMPLETION = code_for("OPTCompletionType", "POST COMPLETION")
ACTIVE_STATES = ("Initial", "Active")
FM_UPDATE_EVENTS = (
    "fm.AuthDropBelowFC",
    "fm.CPTEmployment",
    "fm.Dependent",
    "fm.DisciplinaryAction",
    "fm.EducationLevel",
    "fm.FinancialInfo",
    "fm.OffCampusEmployment",
    "fm.OPTEmployment",
    "fm.OPTEmployer",
    "fm.PersonalInfo",
    "fm.Program",
    "fm.Registration",
    "fm.Reprint",
    "fm.Request",
    "fm.Status",
)


def visa_type(ctx: RuleContext) -> str:
    return text(student(ctx), "PersonalInfo/VisaType") or ""


def program_dates(ctx: RuleContext) -> tuple[date | None, date | None]:
    """The student's current program start and end dates."""
    info = student(ctx)
    return (as_date(text(info, "EducationalInfo/PrgStartDate")), as_date(text(info, "EducationalInfo/PrgEndDate")))


def edu_level(ctx: RuleContext) -> str:
    return text(student(ctx), "EducationalInfo/EduLevel/Level") or ""


def education_sent(ctx: RuleContext) -> etree._Element | None:
    """The education details this record sends: a create's or a change of level's EducationalInfo, or a
    Program/Edit (None for any other event)."""
    if ctx.record is None:
        return ctx.element.find("EducationalInfo")
    change = action(ctx, "Change")
    if change is not None:
        return change.find("EducationalInfo")
    return action(ctx, "Edit") if ctx.event_element is not None and ctx.event_element.tag == "Program" else None


def level_of(education: etree._Element | None) -> str:
    """The education level code of ``education_sent`` ("" when none is sent)."""
    return text(education, "EduLevel/Level") or text(education, "Level") or ""


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def dates_of(
    element: etree._Element | None, start: str = "StartDate", end: str = "EndDate"
) -> tuple[date | None, date | None]:
    if element is None:
        return None, None
    return as_date(text(element, start)), as_date(text(element, end))


def overlaps(a: tuple[date | None, date | None], b: tuple[date | None, date | None]) -> bool:
    """Whether two date ranges share a day (a range missing a date shares none)."""
    (a_start, a_end), (b_start, b_end) = a, b
    if a_start is None or a_end is None or b_start is None or b_end is None:
        return False
    return a_start <= b_end and b_start <= a_end


def live_segments(
    ctx: RuleContext, event_tag: str, key: Callable[[etree._Element], tuple] = dates_of
) -> list[etree._Element]:
    """``Add`` actions of earlier ``event_tag`` events not cancelled since, with ``Edit``s applied to their dates."""
    live: list[etree._Element] = []
    for act in history_actions(ctx, event_tag):
        if act.tag in ("Add", "Extend"):
            live.append(act)
            continue
        match = next((s for s in live if key(s) == key(act)), None)
        if match is None:
            continue
        if act.tag == "Cancel":
            live.remove(match)
        elif act.tag == "Edit":
            live[live.index(match)] = _edited(match, act)
    return live


def _edited(segment: etree._Element, edit: etree._Element) -> etree._Element:
    copy = etree.fromstring(etree.tostring(segment))
    for new, old in (
        ("NewStartDate", "StartDate"),
        ("NewEndDate", "EndDate"),
        ("NewReason", "Reason"),
        ("NewEmploymentType", "EmploymentType"),
        ("NewFullPartTimeIndicator", "FullPartTimeIndicator"),
    ):
        value = text(edit, new)
        target = copy.find(old)
        if value and target is not None:
            target.text = value
    return copy


def mmddyyyy(day: date) -> str:
    """Dates in messages as SEVIS shows them on screen [i]."""
    return day.strftime("%m/%d/%Y")
