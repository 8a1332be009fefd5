"""F/M dependent rules: spouse uniqueness, child age, visa type, dependent status and identity."""

from __future__ import annotations

from lxml import etree

from ..codetables import code_for
from . import RuleContext, StoredRecord, Violation, action, add_months, amount, as_date, rule, student, text
from .fm_facts import ACTIVE_STATES, CHILD, DEPENDENT_VISA, SPOUSE, mmddyyyy, visa_type

EVENTS = ("fm.create", "fm.Dependent")
OTHER_TERMINATION = code_for("DependentTerminationReasonType", "OTHER")


def _new_dependents(ctx: RuleContext) -> list[etree._Element]:
    """Dependents this record adds: a create's CreateDependent list or a Dependent/Add."""
    if ctx.record is None:
        return ctx.element.findall("CreateDependent/Dependent")
    added = action(ctx, "Add")
    return [] if added is None else [added]


def _names(dep: etree._Element) -> dict:
    return {"last_name": text(dep, "FullName/LastName") or "", "first_name": text(dep, "FullName/FirstName") or ""}


def _named_dependent(ctx: RuleContext) -> tuple[etree._Element | None, StoredRecord | None]:
    """(action element, stored dependent or None) for actions that name a dependentSevisID."""
    act = action(ctx, "Cancel", "Edit", "Reactivate", "Reprint", "Terminate")
    if act is None:
        return None, None
    wanted = act.get("dependentSevisID", "")
    return act, next((d for d in ctx.dependents if d.sevis_id == wanted), None)


@rule("S1113", "fm.Dependent")
def dependent_sevis_id_known(ctx: RuleContext) -> Violation | None:
    """The dependentSevisID is not a dependent of this student."""
    act, dependent = _named_dependent(ctx)
    if act is not None and dependent is None:
        return Violation.of("S1113")
    return None


@rule("S1093", "fm.Dependent")
def cancel_initial_dependent(ctx: RuleContext) -> Violation | None:
    """Dependent Cancel names a dependent whose status is not Initial."""
    act, dependent = _named_dependent(ctx)
    if act is not None and act.tag == "Cancel" and dependent is not None and dependent.status != "Initial":
        return Violation.of("S1093")
    return None


@rule("S1107", "fm.Dependent")
def dependent_initial_or_active(ctx: RuleContext) -> Violation | None:
    """Dependent Edit, Reprint or Terminate names a dependent whose status is not Initial or Active."""
    act, dependent = _named_dependent(ctx)
    if (
        act is not None
        and act.tag in ("Edit", "Reprint", "Terminate")
        and dependent is not None
        and dependent.status not in ACTIVE_STATES
    ):
        return Violation.of("S1107")
    return None


@rule("S1105", "fm.create")
def one_spouse_per_create(ctx: RuleContext) -> Violation | None:
    """A create lists more than one spouse among its dependents."""
    spouses = [d for d in _new_dependents(ctx) if text(d, "Relationship") == SPOUSE]
    if len(spouses) > 1:
        return Violation.of("S1105")
    return None


@rule("S1006", "fm.Dependent")
def spouse_not_already_active(ctx: RuleContext) -> Violation | None:
    """Dependent Add or Reactivate of a spouse while the student has another spouse in Initial or Active status. [i: Reactivate]"""
    act, named = _named_dependent(ctx)
    if act is not None and act.tag == "Reactivate" and named is not None and named.relationship_code == SPOUSE:
        other = named.sevis_id
    elif any(text(d, "Relationship") == SPOUSE for d in _new_dependents(ctx)):
        other = None
    else:
        return None
    if any(d.relationship_code == SPOUSE and d.status in ACTIVE_STATES and d.sevis_id != other for d in ctx.dependents):
        return Violation.of("S1006")
    return None


@rule("S1014", *EVENTS)
def child_under_twenty_one(ctx: RuleContext) -> Violation | None:
    """A child dependent (create or Add) was born before today minus 21 years."""
    limit = add_months(ctx.today, -12 * 21)
    for dep in _new_dependents(ctx):
        born = as_date(text(dep, "BirthDate"))
        if text(dep, "Relationship") == CHILD and born and born < limit:
            return Violation.of("S1014", current_date_21_years=mmddyyyy(limit), **_names(dep))
    return None


@rule("S1033", *EVENTS)
def dependent_visa_matches_student(ctx: RuleContext) -> Violation | None:
    """A dependent's visa type (create or Add) is not the student's: F-2 for F-1, M-2 for M-1."""
    wanted = DEPENDENT_VISA.get(visa_type(ctx))
    for dep in _new_dependents(ctx):
        if wanted and text(dep, "VisaType") != wanted:
            return Violation.of("S1033", **_names(dep))
    return None


@rule("S1108", *EVENTS)
def dependent_expense_given(ctx: RuleContext) -> Violation | None:
    """Dependents are added (create or Add) while the student's financial information has no dependent expense [i]."""
    if _new_dependents(ctx) and amount(student(ctx), "FinancialInfo/Expense/DependentExp") <= 0:
        return Violation.of("S1108")
    return None


@rule("S1034", "fm.Dependent")
def other_termination_reason_explained(ctx: RuleContext) -> Violation | None:
    """A dependent's Terminate gives reason 09 (OTHER, table 3) without OtherRemarks."""
    terminate = action(ctx, "Terminate")
    if terminate is not None and text(terminate, "Reason") == OTHER_TERMINATION and not text(terminate, "OtherRemarks"):
        return Violation.of("S1034")
    return None
