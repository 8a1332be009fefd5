"""F/M education rules: level, majors and minors by visa type, change of education level requests."""

from __future__ import annotations


from . import RuleContext, Violation, action, history_actions, rule, text
from .fm_facts import F1, LEVELS_FOR, M1, OTHER_LEVEL, education_sent, level_of, visa_type

EVENTS = ("fm.create", "fm.EducationLevel", "fm.Program")
NO_SUBJECT = "00.0000"


@rule("S1061", "fm.create", "fm.EducationLevel")
def other_level_explained(ctx: RuleContext) -> Violation | None:
    """Education level 11 (other) is sent without OtherRemarks."""
    education = education_sent(ctx)
    if level_of(education) == OTHER_LEVEL and not text(education, "EduLevel/OtherRemarks"):
        return Violation.of("S1061")
    return None


@rule("S1097", "fm.Program")
def m1_education_fixed(ctx: RuleContext) -> Violation | None:
    """Program Edit changes the education level, major or minor of an M-1 student."""
    edit = action(ctx, "Edit")
    if (
        visa_type(ctx) == M1
        and edit is not None
        and any(edit.find(tag) is not None for tag in ("Level", "MajorCode1", "MajorCode2", "Minor"))
    ):
        return Violation.of("S1097")
    return None


@rule("S1062", *EVENTS)
def level_fits_visa_type(ctx: RuleContext) -> Violation | None:
    """Education level is not one SEVIS table 5 allows for the visa type: high school (08), flight training (09) or vocational school (10) for F-1, any other level for M-1."""
    level, visa = level_of(education_sent(ctx)), visa_type(ctx)
    if level and visa in LEVELS_FOR and level not in LEVELS_FOR[visa]:
        return Violation.of("S1062")
    return None


@rule("S1037", *EVENTS)
def m1_single_subject(ctx: RuleContext) -> Violation | None:
    """An M-1 student is sent a secondary major or a minor other than 00.0000."""
    education = education_sent(ctx)
    if visa_type(ctx) == M1 and any((text(education, t) or NO_SUBJECT) != NO_SUBJECT for t in ("MajorCode2", "Minor")):
        return Violation.of("S1037")
    return None


@rule("S1138", "fm.create", "fm.EducationLevel")
def f1_secondary_subjects_sent(ctx: RuleContext) -> Violation | None:
    """An F-1 create or change of education level omits MajorCode2 or Minor (00.0000 stands for none) [i]."""
    education = education_sent(ctx)
    if (
        visa_type(ctx) == F1
        and education is not None
        and (education.find("MajorCode2") is None or education.find("Minor") is None)
    ):
        return Violation.of("S1138")
    return None


def _pending_change(ctx: RuleContext) -> bool:
    """A change of education level was requested and not cancelled since [i]."""
    pending = False
    for act in history_actions(ctx, "EducationLevel"):
        pending = act.tag == "Change"
    return pending


def _ever_changed(ctx: RuleContext) -> bool:
    return any(act.tag == "Change" for act in history_actions(ctx, "EducationLevel"))


@rule("S1083", "fm.EducationLevel")
def one_pending_change(ctx: RuleContext) -> Violation | None:
    """EducationLevel Change while an earlier change request is still pending (not cancelled) [i]."""
    if action(ctx, "Change") is not None and _pending_change(ctx):
        return Violation.of("S1083")
    return None


@rule("S1101", "fm.EducationLevel")
def cancel_needs_pending_change(ctx: RuleContext) -> Violation | None:
    """EducationLevel Cancel when no change request is pending."""
    if action(ctx, "Cancel") is not None and not _pending_change(ctx):
        return Violation.of("S1101")
    return None


@rule("S1091", "fm.Status")
def cancel_not_after_level_change(ctx: RuleContext) -> Violation | None:
    """Status Cancel of a student whose record has a change of education level [i]."""
    if action(ctx, "Cancel") is not None and _ever_changed(ctx):
        return Violation.of("S1091")
    return None


@rule("S1119", "fm.Program")
def defer_not_after_level_change(ctx: RuleContext) -> Violation | None:
    """ManageSessionDates (defer attendance) of a student whose record has a change of education level [i]."""
    if action(ctx, "ManageSessionDates") is not None and _ever_changed(ctx):
        return Violation.of("S1119")
    return None
