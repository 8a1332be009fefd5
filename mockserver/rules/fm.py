"""F/M (student) rules."""
from __future__ import annotations

from . import RuleContext, Violation, amount, as_date, event_name, rule, text

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


FM_UPDATE_EVENTS = (
    "fm.AuthDropBelowFC", "fm.CPTEmployment", "fm.Dependent", "fm.DisciplinaryAction", "fm.EducationLevel",
    "fm.FinancialInfo", "fm.OffCampusEmployment", "fm.OPTEmployment", "fm.OPTEmployer", "fm.PersonalInfo",
    "fm.Program", "fm.Registration", "fm.Reprint", "fm.Request", "fm.Status",
)


@rule("S1106", *FM_UPDATE_EVENTS)
def event_allowed_in_status(ctx: RuleContext) -> Violation | None:
    """The update event is not allowed in the student's current status (S1054/S1057/S1106 by event)."""
    allowed, code = STATUS_ONLY.get(event_name(ctx.event_element, ctx.event), DEFAULT_ALLOWED)
    if ctx.record is not None and ctx.record.status not in allowed:
        return Violation.of(code)
    return None


@rule("S1009", "fm.create")
def program_start_before_end(ctx: RuleContext) -> Violation | None:
    """Program start date is not before the program end date."""
    start = as_date(text(ctx.element, "EducationalInfo/PrgStartDate"))
    end = as_date(text(ctx.element, "EducationalInfo/PrgEndDate"))
    if start and end and start >= end:
        return Violation.of("S1009")
    return None


def duplicate_key(student) -> tuple:
    return (
        (text(student, "PersonalInfo/FullName/LastName") or "").upper(),
        (text(student, "PersonalInfo/FullName/FirstName") or "").upper(),
        text(student, "PersonalInfo/BirthDate") or "",
        text(student, "PersonalInfo/BirthCountryCode") or "",
        text(student, "PersonalInfo/Gender") or "",
    )


@rule("S1004", "fm.create")
def not_a_duplicate_student(ctx: RuleContext) -> Violation | None:
    """The same student (name, birth date, birth country, gender) is already in this batch or in Initial/Active status at the school."""
    key = duplicate_key(ctx.element)
    if key in ctx.duplicate_keys_seen or ctx.existing_duplicate(key):
        return Violation.of("S1004")
    return None


def _expenses(fin) -> int:
    return sum(amount(fin, p) for p in ("Expense/Tuition", "Expense/LivingExpense", "Expense/DependentExp", "Expense/Other/Amount"))


def _funding(fin) -> int:
    return sum(amount(fin, p) for p in ("Funding/Personal", "Funding/School/Amount", "Funding/Other/Amount", "Funding/Employment"))


@rule("S1024", "fm.create")
def expenses_within_funding(ctx: RuleContext) -> Violation | None:
    """Total expenses (tuition, living, dependents, other) exceed total funding (personal, school, other, employment)."""
    fin = ctx.element.find("FinancialInfo")
    if fin is not None and _expenses(fin) > _funding(fin):
        return Violation.of("S1024")
    return None
