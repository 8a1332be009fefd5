"""F/M rules that read the school's Form I-17 as SEVIS holds it (the organization profile, set through
``POST /control/orgs/<id>/profile``, ``POST /control/seed`` or RTI's I-17 form; see ``mockserver/profiles.py``).

Each rule is silent when no profile is known (offline validation without a state file).
"""

from __future__ import annotations


from ..codetables import code_for
from . import RuleContext, Violation, action, rule, text
from .fm_facts import F1, FM_UPDATE_EVENTS, VISA_CLASS, education_sent, level_of, visa_type

PRIMARY = code_for("EduLevelCodeType", "PRIMARY")
VISA_LETTER = {"F-1": "F", "M-1": "M"}


@rule("S1049", "fm.create", *FM_UPDATE_EVENTS)
def school_approved_for_visa_type(ctx: RuleContext) -> Violation | None:
    """The student's visa type (F-1 or M-1) is not one SEVP approved on the school's Form I-17 (profile visa_types)."""
    letter = VISA_LETTER.get(VISA_CLASS.get(visa_type(ctx), ""))
    if ctx.profile is not None and letter and letter not in ctx.profile["visa_types"]:
        return Violation.of("S1049")
    return None


@rule("S1025", "fm.create", "fm.EducationLevel", "fm.Program")
def program_of_study_approved(ctx: RuleContext) -> Violation | None:
    """A major (MajorCode1 or MajorCode2) is not among the programs of study on the school's Form I-17 (profile programs_of_study)."""
    approved = None if ctx.profile is None else ctx.profile["programs_of_study"]
    education = education_sent(ctx)
    if approved is None or education is None:
        return None
    majors = [text(education, tag) for tag in ("MajorCode1", "MajorCode2")]
    if any(m and m != "00.0000" and m not in approved for m in majors):
        return Violation.of("S1025")
    return None


@rule("S1027", "fm.CPTEmployment")
def english_language_school_no_cpt(ctx: RuleContext) -> Violation | None:
    """CPT is added at a school whose Form I-17 says it is an English language school (profile english_language_school)."""
    if ctx.profile is not None and ctx.profile["english_language_school"] and action(ctx, "Add") is not None:
        return Violation.of("S1027")
    return None


@rule("S1035", "fm.create", "fm.EducationLevel")
def public_institution_level(ctx: RuleContext) -> Violation | None:
    """An F-1 student at education level 01 (PRIMARY) at a public institution (profile public_institution): F-1 students may not attend public elementary schools (INA 214(m))."""
    if (
        ctx.profile is not None
        and ctx.profile["public_institution"]
        and visa_type(ctx) == F1
        and level_of(education_sent(ctx)) == PRIMARY
    ):
        return Violation.of("S1035")
    return None
