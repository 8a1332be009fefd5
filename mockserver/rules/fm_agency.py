"""F/M rules that read what other agencies and other schools recorded about the student (history entries
``Agency/...`` added through ``POST /control/records/<sevis_id>/agency-events``; see ``mockserver/agency.py``)
and the school's own standing with SEVP (its profile's ``withdrawal`` and ``stem_programs``).
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from . import RuleContext, Violation, action, rule, student, text
from .fm_facts import FM_UPDATE_EVENTS, live_segments

COS_ON_FILE = ("filed", "approved")
NO_APPEAL = ("none", "dismissed", "not received")


def _latest(events: list[etree._Element]) -> etree._Element | None:
    return events[-1] if events else None


def _arrived(ctx: RuleContext, sevis_id: str | None = None) -> bool:
    return bool(ctx.agency_events("CBPAdmission", sevis_id))


def _transfer(ctx: RuleContext, direction: str) -> bool:
    return any(e.findtext("Direction") == direction for e in ctx.agency_events("TransferRelease"))


def _defers(ctx: RuleContext) -> bool:
    """Program ManageSessionDates: how a batch defers an Initial student's attendance to a later session."""
    return ctx.event == "Program" and action(ctx, "ManageSessionDates") is not None


# --- arrival (CBP admission) ------------------------------------------------------------------------


@rule("S1092", "fm.Status")
def cancel_before_arrival(ctx: RuleContext) -> Violation | None:
    """Status Cancel of a student CBP has admitted to the U.S. (agency event CBPAdmission)."""
    if action(ctx, "Cancel") is not None and _arrived(ctx):
        return Violation.of("S1092")
    return None


@rule("S1094", "fm.Dependent")
def cancel_dependent_before_arrival(ctx: RuleContext) -> Violation | None:
    """Dependent Cancel of a dependent CBP has admitted to the U.S. (agency event CBPAdmission on the dependent)."""
    cancel = action(ctx, "Cancel")
    if cancel is not None and cancel.get("dependentSevisID") and _arrived(ctx, cancel.get("dependentSevisID")):
        return Violation.of("S1094")
    return None


@rule("S1120", "fm.Program")
def defer_before_arrival(ctx: RuleContext) -> Violation | None:
    """ManageSessionDates (defer attendance) of a student CBP has admitted to the U.S. (agency event CBPAdmission)."""
    if _defers(ctx) and _arrived(ctx):
        return Violation.of("S1120")
    return None


# --- transfers ------------------------------------------------------------------------------------


@rule("S1090", "fm.Status")
def transfer_in_not_cancelled(ctx: RuleContext) -> Violation | None:
    """Status Cancel of a transfer-in record (agency event TransferRelease, direction in)."""
    if action(ctx, "Cancel") is not None and _transfer(ctx, "in"):
        return Violation.of("S1090")
    return None


@rule("S1118", "fm.Program")
def transfer_in_not_deferred(ctx: RuleContext) -> Violation | None:
    """ManageSessionDates (defer attendance) of a transfer-in record (agency event TransferRelease, direction in)."""
    if _defers(ctx) and _transfer(ctx, "in"):
        return Violation.of("S1118")
    return None


@rule("S1098", "fm.EducationLevel")
def no_level_change_during_transfer(ctx: RuleContext) -> Violation | None:
    """EducationLevel Change while the school has released the student to another school (agency event TransferRelease, direction out)."""
    if action(ctx, "Change") is not None and _transfer(ctx, "out"):
        return Violation.of("S1098")
    return None


# --- the student's other records ----------------------------------------------------------------------


def _other_live_records(ctx: RuleContext) -> list[etree._Element]:
    """The latest word on each other record of the person (agency event OtherRecord) that is Initial or Active."""
    latest: dict[str, etree._Element] = {}
    for e in ctx.agency_events("OtherRecord"):
        latest[e.findtext("SevisID") or ""] = e
    return [e for e in latest.values() if e.findtext("Status") in ("Initial", "Active")]


@rule("S1102", "fm.Registration")
def previous_level_record_closed(ctx: RuleContext) -> Violation | None:
    """Registration while the student's record at a previous education level at this school (agency event OtherRecord with this school's code) is still Initial or Active."""
    if any(e.findtext("School") == ctx.org_id for e in _other_live_records(ctx)):
        return Violation.of("S1102")
    return None


@rule("S1082", "fm.Registration")
def one_live_record(ctx: RuleContext) -> Violation | None:
    """Registration while the student has another record in Initial or Active status at another school (agency event OtherRecord)."""
    if any(e.findtext("School") != ctx.org_id for e in _other_live_records(ctx)):
        return Violation.of("S1082")
    return None


# --- USCIS: extensions, OPT, change of status ---------------------------------------------------------


@rule("S1110", "fm.Program")
def no_second_extension_request(ctx: RuleContext) -> Violation | None:
    """Program Extension while USCIS holds a pending extension request (latest agency event ExtensionRequest is pending)."""
    latest = _latest(ctx.agency_events("ExtensionRequest"))
    if action(ctx, "Extension") is not None and latest is not None and latest.findtext("Status") == "pending":
        return Violation.of("S1110")
    return None


@rule("S1124", "fm.OPTEmployment")
def stem_extension_needs_approved_opt(ctx: RuleContext) -> Violation | None:
    """OPT Extend (STEM) while USCIS has approved no post-completion OPT for the student (agency event OPTApproved)."""
    if action(ctx, "Extend") is not None and not ctx.agency_events("OPTApproved"):
        return Violation.of("S1124")
    return None


@rule("S1139", "fm.OPTEmployment")
def stem_extension_needs_stem_major(ctx: RuleContext) -> Violation | None:
    """OPT Extend (STEM) for a student whose majors are not among the programs the school marked STEM (profile stem_programs; silent when none are marked)."""
    stem = None if ctx.profile is None else ctx.profile.get("stem_programs")
    if action(ctx, "Extend") is None or not stem:
        return None
    info = student(ctx)
    majors = {text(info, "EducationalInfo/MajorCode1"), text(info, "EducationalInfo/MajorCode2")}
    if not majors & set(stem):
        return Violation.of("S1139")
    return None


def _segment_named(ctx: RuleContext, ident: etree._Element | None) -> etree._Element | None:
    """The live OPT segment (an Add, or an Extend for a STEM extension) whose dates ``ident`` gives."""
    if ident is None:
        return None
    key = (text(ident, "StartDate"), text(ident, "EndDate"))
    return next(
        (s for s in live_segments(ctx, "OPTEmployment") if (text(s, "StartDate"), text(s, "EndDate")) == key), None
    )


@rule("S1131", "fm.OPTEmployment")
def six_month_reporting_needs_stem_approval(ctx: RuleContext) -> Violation | None:
    """ReportParticipation (six-month reporting, which STEM OPT requires) while USCIS has approved no STEM OPT extension (agency event STEMOPTApproved)."""
    if action(ctx, "ReportParticipation") is not None and not ctx.agency_events("STEMOPTApproved"):
        return Violation.of("S1131")
    return None


@rule("S1130", "fm.OPTEmployer")
def stem_employer_needs_approval(ctx: RuleContext) -> Violation | None:
    """OPTEmployer Add or Edit for a STEM extension period (an Extend) USCIS has not approved (agency event STEMOPTApproved)."""
    act = action(ctx, "Add", "Edit")
    segment = _segment_named(ctx, None if act is None else act.find("EmploymentIdentifier"))
    if segment is not None and segment.tag == "Extend" and not ctx.agency_events("STEMOPTApproved"):
        return Violation.of("S1130")
    return None


@rule("S1169", "fm.OPTEmployment")
def approved_opt_not_edited(ctx: RuleContext) -> Violation | None:
    """OPT Edit of an OPT period USCIS approved (agency event OPTApproved, or STEMOPTApproved for an Extend) [i]."""
    edit = action(ctx, "Edit")
    segment = _segment_named(ctx, edit)
    approved = "STEMOPTApproved" if segment is not None and segment.tag == "Extend" else "OPTApproved"
    if segment is not None and ctx.agency_events(approved):
        return Violation.of("S1169")
    return None


@rule("S1140", "fm.Request")
def cap_gap_needs_h1b_petition(ctx: RuleContext) -> Violation | None:
    """Request CapGapExtension while no change of status to H-1B is filed or approved for the student (latest agency event ChangeOfStatus to H-1B) [i]."""
    if action(ctx, "CapGapExtension") is None:
        return None
    latest = _latest([e for e in ctx.agency_events("ChangeOfStatus") if e.findtext("To") == "H-1B"])
    if latest is None or latest.findtext("Status") not in COS_ON_FILE:
        return Violation.of("S1140")
    return None


# --- the school ---------------------------------------------------------------------------------------


@rule("S1109", "fm.create", *FM_UPDATE_EVENTS)
def school_not_withdrawn(ctx: RuleContext) -> Violation | None:
    """The school is withdrawn (profile withdrawal) with no appeal rights, a dismissed or not-received appeal, or an access termination date that has passed."""
    withdrawal = None if ctx.profile is None else ctx.profile.get("withdrawal")
    if withdrawal is None:
        return None
    ends = withdrawal.get("access_termination_date")
    if withdrawal["appeal"] in NO_APPEAL or (ends and date.fromisoformat(ends) < ctx.today):
        return Violation.of("S1109")
    return None
