"""Facts and small helpers shared by the F/M rule modules (nothing here registers a rule).

The F/M code tables in the schema carry codes without names; meanings used here are marked [i], or [c] with
their public source: the NIEM immigration domain publishes some SEVIS code lists with their names
(im:StudentEducationLevelCodeSimpleType, im:StudentTerminationCodeSimpleType).
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from . import RuleContext, as_date, history_actions, student, text

F1, M1 = "01", "02"  # StudentVisaCodeType [c for the codes, i for the order F-1 then M-1]
DEPENDENT_VISA = {F1: "04", M1: "05"}  # F-2 for F-1, M-2 for M-1 [i]
SPOUSE, CHILD = "01", "02"  # DependentCodeType [i] (a vendor's SEVIS table lists 01 spouse, 02 child)
# EduLevelCodeType [c: NIEM im:StudentEducationLevelCodeSimpleType]: 01 primary, 02 secondary, 03 associate,
# 04 bachelor's, 05 master's, 06 doctorate, 07 language training, 08 high school, 09 flight training, 10 vocational, 11 other.
K12_LEVELS = {"01", "02", "08"}
LANGUAGE_TRAINING = "07"
OTHER_LEVEL = "11"
M1_ONLY_LEVELS = {"09", "10"}  # flight training and vocational school are M-1 programs [i]
FULL_TIME, PART_TIME = "01", "02"  # EmploymentTimeType [i]
OTHERWISE_FAILING = "16"  # StudentTerminationReasonType: Otherwise failing to maintain status [c: NIEM
# im:StudentTerminationCodeSimpleType, which names all 25 codes]
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


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def dates_of(
    element: etree._Element | None, start: str = "StartDate", end: str = "EndDate"
) -> tuple[date | None, date | None]:
    if element is None:
        return None, None
    return as_date(text(element, start)), as_date(text(element, end))


def overlaps(a: tuple[date, date], b: tuple[date, date]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def live_segments(ctx: RuleContext, event_tag: str, key=dates_of) -> list[etree._Element]:
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
