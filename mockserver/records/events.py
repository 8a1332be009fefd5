"""Applying update events to a stored record: one small function per event and sub-action.

The stored record is the create element as sent (``Student`` / ``ExchangeVisitor``), amended in place by
every event applied since. What events add that a create cannot carry is kept in the record as repeated
elements after the create's own children, in the event's own words (read them with ``ctx.stored``):

F/M  ``AuthDropBelowFC``, ``CPTEmployment``, ``OffCampusEmployment``, ``OPTEmployment`` (with its
     ``Employer`` children) each with ``@status`` (Approved / Requested / Canceled) and the fields sent on
     Add; ``DisciplinaryAction @date``; ``Registration @date`` (the latest session reported);
     ``CapGapExtension``; ``Cancellation`` / ``Completion`` / ``Termination`` / ``Verification``;
     ``PreviousEducationLevel`` (the program a pending change of education level replaced).
J    sites of activity in ``AddSiteOfActivity/SiteOfActivity @siteId`` (the ID reported in the log);
     ``AddTIPP/TippSite`` with numeric ``SiteId`` and ``TippPhase/PhaseId`` assigned by the mock;
     ``MatriculationCode``, ``ShortenReason``, ``Termination``, ``Invalidation``, ``NoShow``,
     ``Infraction`` (corrections), ``Remarks``.

Dependents are their own records: events that name a ``dependentSevisID`` amend that record.
An event whose target (a dependent, an employment period, a site, a phase) is not on the record is
refused with the catalogue code SEVIS uses for it, so a failed lookup costs one record, never the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

from lxml import etree

from ..rules import Violation
from ..xmlsafe import XML_SPACE
from . import lifecycle
from .amend import children, copy_as, detach, ensure, is_blank, merge, place, remove, replace, set_text

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
USER_DEFINED = ("UserDefinedA", "UserDefinedB")

# Update events whose element holds a choice of sub-actions (the history names them "Event/SubAction").
WITH_SUB_ACTIONS = {
    "F/M": {
        "AuthDropBelowFC",
        "CPTEmployment",
        "Dependent",
        "EducationLevel",
        "OffCampusEmployment",
        "OPTEmployment",
        "OPTEmployer",
        "Program",
        "Request",
        "Status",
    },
    "J": {"Dependent", "Program", "SiteOfActivity", "TIPP", "Status"},
}


class Refused(Exception):
    """The event names something the record does not hold (the processor answers with ``violation``)."""

    def __init__(self, code: str, **fill: str) -> None:
        self.violation = Violation.of(code, **fill)
        super().__init__(self.violation.message)


@dataclass
class DependentRecord:
    """A dependent as an event sees it; ``sevis_id`` is None for one this event adds."""

    sevis_id: str | None
    doc: etree._Element
    status: str
    user_defined_a: str | None = None
    user_defined_b: str | None = None
    changed: bool = False
    action: str | None = None  # the event name recorded in this dependent's own history
    followed_last: bool = True  # its status came from following the principal, not from its own event


@dataclass
class Target:
    """The record an event is applied to: the principal's document and status, and its dependents."""

    kind: str
    doc: etree._Element
    status: str
    now: datetime
    dependents: list[DependentRecord] = field(default_factory=list)
    next_site_id: Callable[[], str] = lambda: "1"
    added: list[DependentRecord] = field(default_factory=list)
    sites: list[etree._Element] = field(default_factory=list)  # sites this event added or edited (for the log)
    action: str = ""

    @property
    def today(self) -> str:
        return self.now.date().isoformat()

    def dependent(self, sevis_id: str | None) -> DependentRecord:
        for dep in self.dependents:
            if dep.sevis_id == sevis_id:
                return dep
        raise Refused("S1113" if self.kind == "F/M" else "S2232")


def action_name(kind: str, event_element: etree._Element) -> str:
    """The event and, where the schema offers a choice, its sub-action: "Program/Extension"."""
    tag = event_element.tag
    if tag in WITH_SUB_ACTIONS[kind]:
        sub = sub_action(event_element)
        if sub is not None:
            return f"{tag}/{sub.tag}"
    return tag


def sub_action(event_element: etree._Element) -> etree._Element | None:
    for child in children(event_element):
        if child.tag not in USER_DEFINED:
            return child
    return None


Applier = Callable[[Target, etree._Element, etree._Element], None]  # (target, sub-action, event element)
APPLIERS: dict[tuple[str, str], Applier] = {}


def applies(kind: str, *names: str):
    def register(fn: Applier) -> Applier:
        for name in names:
            APPLIERS[(kind, name)] = fn
        return fn

    return register


def apply_event(target: Target, event_element: etree._Element) -> str:
    """Apply one update event to ``target``; returns the event name. Raises :class:`Refused`."""
    action = action_name(target.kind, event_element)
    target.action = action
    applier = APPLIERS[(target.kind, action)]
    sub = sub_action(event_element) if event_element.tag in WITH_SUB_ACTIONS[target.kind] else event_element
    before = target.status
    applier(target, event_element if sub is None else sub, event_element)  # the schema requires the sub-action
    target.status = lifecycle.principal_status(target.kind, action, target.status)
    for dep in target.dependents:
        if target.status != before and lifecycle.follows(dep.status, before, dep.followed_last):
            dep.status = target.status
            dep.changed = True
        elif action == lifecycle.ACTIVATING[target.kind] and dep.status == "Initial" and target.status == "Active":
            dep.status = "Active"
            dep.changed = True
    return action


# --- helpers --------------------------------------------------------------------------------------


def _t(element: etree._Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find(path)
    return "" if found is None else (found.text or "").strip(XML_SPACE)


def _record(
    target: Target, tag: str, sent: etree._Element, *, skip: tuple[str, ...] = (), **attrs: str
) -> etree._Element:
    """Keep a copy of ``sent`` on the record as a ``tag`` element."""
    el = copy_as(sent, tag, skip=skip, **attrs)
    target.doc.append(el)
    return el


def _remarks(target: Target, sent: etree._Element) -> None:
    """An event's Remarks become the record's remarks (the form's remarks box); empty clears them. [i]"""
    found = sent.find("Remarks")
    if found is not None:
        replace(target.doc, found)


def _matching(
    target: Target, tag: str, sent: etree._Element, keys: tuple[str, ...], code: str, *, live_only: bool = True
) -> etree._Element:
    """The stored ``tag`` entry whose ``keys`` equal the sent ones (the event's way of naming it)."""
    wanted = tuple(_t(sent, k) for k in keys)
    for entry in target.doc.findall(tag):
        if live_only and entry.get("status") == "Canceled":
            continue
        if tuple(_t(entry, k) for k in keys) == wanted:
            return entry
    raise Refused(code)


def _rename_into(entry: etree._Element, sent: etree._Element, renames: dict[str, str]) -> None:
    """Set ``entry``'s field ``new`` from the sent ``old`` element (e.g. NewEndDate -> EndDate)."""
    for sent_tag, stored_tag in renames.items():
        found = sent.find(sent_tag)
        if found is not None:
            set_text(entry, stored_tag, (found.text or "").strip(XML_SPACE))


# ================================ F/M ==============================================================

# --- AuthDropBelowFC (reduced course load) ---
DROP_KEYS = ("Reason", "StartDate", "EndDate")


@applies("F/M", "AuthDropBelowFC/Add")
def fm_drop_below_add(t: Target, sub, _event) -> None:
    _record(t, "AuthDropBelowFC", sub, status="Approved", date=t.today)


@applies("F/M", "AuthDropBelowFC/Cancel")
def fm_drop_below_cancel(t: Target, sub, _event) -> None:
    _matching(t, "AuthDropBelowFC", sub, DROP_KEYS, "S1070").set("status", "Canceled")


@applies("F/M", "AuthDropBelowFC/Edit")
def fm_drop_below_edit(t: Target, sub, _event) -> None:
    entry = _matching(t, "AuthDropBelowFC", sub, DROP_KEYS, "S1070")
    _rename_into(entry, sub, {"NewReason": "Reason", "NewStartDate": "StartDate", "NewEndDate": "EndDate"})
    remarks = sub.find("Remarks")
    if remarks is not None:
        replace(entry, remarks)


# --- CPT ---
CPT_KEYS = ("StartDate", "EndDate", "FullPartTimeIndicator", "EmployerName")


@applies("F/M", "CPTEmployment/Add")
def fm_cpt_add(t: Target, sub, _event) -> None:
    _record(t, "CPTEmployment", sub, status="Approved", date=t.today)


@applies("F/M", "CPTEmployment/Cancel")
def fm_cpt_cancel(t: Target, sub, _event) -> None:
    # [i] S1069 "No matching request found" when no such CPT period is on the record
    _matching(t, "CPTEmployment", sub, CPT_KEYS, "S1069").set("status", "Canceled")


# --- Dependents ---
def _sync_dependent(dep: DependentRecord, action: str) -> None:
    dep.changed = True
    dep.action = action


@applies("F/M", "Dependent/Add")
@applies("J", "Dependent/Add")
def dependent_add(t: Target, sub, event) -> None:
    doc = copy_as(sub, "Dependent")
    for tag in USER_DEFINED:  # echoed in the log, kept where a create's dependent keeps them
        found = event.find(tag)
        if found is not None:
            place(doc, copy_as(found, tag)).text = found.text
    dep = DependentRecord(
        None,
        doc,
        lifecycle.new_dependent_status(),
        user_defined_a=_t(event, "UserDefinedA") if event.find("UserDefinedA") is not None else None,
        user_defined_b=_t(event, "UserDefinedB") if event.find("UserDefinedB") is not None else None,
        changed=True,
        action="Dependent/Add",
    )
    t.added.append(dep)


def _dependent_status_event(t: Target, sub, tag: str) -> DependentRecord:
    dep = t.dependent(sub.get("dependentSevisID"))
    dep.status = lifecycle.dependent_status(t.kind, t.action, dep.status)
    if tag:
        remove(dep.doc, tag)
        dep.doc.append(copy_as(sub, tag, date=t.today))
    _sync_dependent(dep, t.action)
    return dep


@applies("F/M", "Dependent/Cancel")
def fm_dependent_cancel(t: Target, sub, _event) -> None:
    _dependent_status_event(t, sub, "Cancellation")


@applies("F/M", "Dependent/Terminate")
@applies("J", "Dependent/Terminate")
def dependent_terminate(t: Target, sub, _event) -> None:
    _dependent_status_event(t, sub, "Termination")


@applies("F/M", "Dependent/Reactivate")
def fm_dependent_reactivate(t: Target, sub, _event) -> None:
    dep = _dependent_status_event(t, sub, "")
    dep.status = lifecycle.reactivated_status(t.status)
    for tag in ("Cancellation", "Termination"):
        remove(dep.doc, tag)


@applies("J", "Dependent/Delete")
def j_dependent_delete(t: Target, sub, _event) -> None:
    _dependent_status_event(t, sub, "Deletion")


@applies("J", "Dependent/EndStatus")
def j_dependent_end_status(t: Target, sub, _event) -> None:
    _dependent_status_event(t, sub, "EndStatus")


@applies("F/M", "Dependent/Edit")
@applies("J", "Dependent/Edit")
def dependent_edit(t: Target, sub, _event) -> None:
    dep = t.dependent(sub.get("dependentSevisID"))
    merge(dep.doc, sub)
    _sync_dependent(dep, t.action)


@applies("F/M", "Dependent/Reprint")
@applies("J", "Dependent/Reprint")
def dependent_reprint(t: Target, sub, _event) -> None:
    dep = t.dependent(sub.get("dependentSevisID"))  # nothing changes: a new form is printed
    dep.action = t.action


# --- the rest of F/M ---
@applies("F/M", "DisciplinaryAction")
def fm_disciplinary_action(t: Target, sub, _event) -> None:
    _record(t, "DisciplinaryAction", sub, date=t.today)


@applies("F/M", "EducationLevel/Change")
def fm_education_level_change(t: Target, sub, _event) -> None:
    # [i] the program and funding are replaced; the ones replaced are kept so a Cancel can restore them
    remove(t.doc, "PreviousEducationLevel")
    previous = etree.SubElement(t.doc, "PreviousEducationLevel")
    for tag in ("EducationalInfo", "FinancialInfo"):
        old = t.doc.find(tag)
        if old is not None:
            previous.append(copy_as(old, tag))
        replace(t.doc, sub.find(tag))
    _remarks(t, sub)


@applies("F/M", "EducationLevel/Cancel")
def fm_education_level_cancel(t: Target, _sub, _event) -> None:
    previous = t.doc.find("PreviousEducationLevel")
    if previous is None:
        raise Refused("S1069")  # [i] no change of education level is pending
    for old in children(previous):
        replace(t.doc, old)
    t.doc.remove(previous)


@applies("F/M", "FinancialInfo")
def fm_financial_info(t: Target, sub, _event) -> None:
    merge(ensure(t.doc, "FinancialInfo"), sub, skip=("Remarks",))
    _remarks(t, sub)


OFF_CAMPUS_KEYS = ("StartDate", "EndDate", "EmploymentType")


@applies("F/M", "OffCampusEmployment/Add")
def fm_off_campus_add(t: Target, sub, _event) -> None:
    _record(t, "OffCampusEmployment", sub, status="Approved", date=t.today)


@applies("F/M", "OffCampusEmployment/Cancel")
def fm_off_campus_cancel(t: Target, sub, _event) -> None:
    _matching(t, "OffCampusEmployment", sub, OFF_CAMPUS_KEYS, "S1069").set("status", "Canceled")


@applies("F/M", "OffCampusEmployment/Edit")
def fm_off_campus_edit(t: Target, sub, _event) -> None:
    entry = _matching(t, "OffCampusEmployment", sub, OFF_CAMPUS_KEYS, "S1069")
    _rename_into(
        entry, sub, {"NewStartDate": "StartDate", "NewEndDate": "EndDate", "NewEmploymentType": "EmploymentType"}
    )
    found = sub.find("Recommendation")
    if found is not None:
        replace(entry, found)


OPT_KEYS = ("StartDate", "EndDate", "FullPartTimeIndicator")


@applies("F/M", "OPTEmployment/Add")
def fm_opt_add(t: Target, sub, _event) -> None:
    _record(t, "OPTEmployment", sub, status="Requested", date=t.today)  # [i] USCIS decides; SEVIS shows Requested


@applies("F/M", "OPTEmployment/Cancel")
def fm_opt_cancel(t: Target, sub, _event) -> None:
    _matching(t, "OPTEmployment", sub, OPT_KEYS, "S1069").set("status", "Canceled")


@applies("F/M", "OPTEmployment/Edit")
def fm_opt_edit(t: Target, sub, _event) -> None:
    entry = _matching(t, "OPTEmployment", sub, OPT_KEYS, "S1069")
    _rename_into(
        entry,
        sub,
        {
            "NewFullPartTimeIndicator": "FullPartTimeIndicator",
            "AcademicYearMet": "AcademicYearMet",
            "StudentRemarks": "StudentRemarks",
            "Remarks": "Remarks",
        },
    )


@applies("F/M", "OPTEmployment/Extend")
def fm_opt_extend(t: Target, sub, _event) -> None:
    # [i] the STEM extension is a new OPT period (the one sent) with its employers
    _record(t, "OPTEmployment", sub, status="Requested", date=t.today, extension="STEM")


@applies("F/M", "OPTEmployment/ReportParticipation")
def fm_opt_report_participation(t: Target, sub, _event) -> None:
    entry = _matching(t, "OPTEmployment", sub, OPT_KEYS, "S1069")
    etree.SubElement(entry, "ParticipationReported").text = t.today


def _opt_period(t: Target, sub) -> etree._Element:
    ident = sub.find("EmploymentIdentifier")
    return _matching(t, "OPTEmployment", ident, ("StartDate", "EndDate"), "S1069")


@applies("F/M", "OPTEmployer/Add")
def fm_opt_employer_add(t: Target, sub, _event) -> None:
    period = _opt_period(t, sub)
    for employer in sub.findall("Employer"):
        period.append(copy_as(employer, "Employer"))


@applies("F/M", "OPTEmployer/Edit")
def fm_opt_employer_edit(t: Target, sub, _event) -> None:
    period = _opt_period(t, sub)
    ident = sub.find("EmployerIdentifier")
    wanted = (_t(ident, "EmployerName"), _t(ident, "StartDate"))
    for employer in period.findall("Employer"):
        if (_t(employer, "EmployerName"), _t(employer, "StartDate")) == wanted:
            merge(employer, sub.find("Employer"))
            return
    raise Refused("S1069")  # [i] no such employer in that OPT period


FM_PERSONAL = (
    "FullName",
    "BirthDate",
    "Gender",
    "BirthCity",
    "BirthCountryCode",
    "CitizenshipStatus",
    "CitizenshipCountryCode",
    "Email",
    "Telephone",
    "Commuter",
)
FM_ADDRESSES = ("USAddress", "MailingAddress", "ForeignAddress")


def _fm_contact(t: Target, sub) -> None:
    personal = ensure(t.doc, "PersonalInfo")
    for child in children(sub):
        if child.tag in FM_PERSONAL:
            merge(personal, _wrap(child))
        elif child.tag in FM_ADDRESSES:
            replace(t.doc, child)


def _wrap(child: etree._Element) -> etree._Element:
    holder = etree.Element("holder")
    holder.append(copy_as(child, child.tag) if children(child) else _leaf(child))
    return holder


def _leaf(child: etree._Element) -> etree._Element:
    el = etree.Element(child.tag)
    el.text = child.text
    return el


@applies("F/M", "PersonalInfo")
def fm_personal_info(t: Target, sub, _event) -> None:
    _fm_contact(t, sub)
    _remarks(t, sub)


@applies("F/M", "Program/Extension", "Program/Shorten", "Program/CancelExtension")
def fm_program_end_date(t: Target, sub, _event) -> None:
    set_text(t.doc, "EducationalInfo/PrgEndDate", _t(sub, "NewPrgEndDate"))
    _remarks(t, sub)


@applies("F/M", "Program/ManageSessionDates")
def fm_program_session_dates(t: Target, sub, _event) -> None:
    set_text(t.doc, "EducationalInfo/IssDate", _t(sub, "IssDate"))
    set_text(t.doc, "EducationalInfo/PrgStartDate", _t(sub, "NewPrgStartDate"))
    set_text(t.doc, "EducationalInfo/PrgEndDate", _t(sub, "NewPrgEndDate"))
    _remarks(t, sub)


@applies("F/M", "Program/Edit")
def fm_program_edit(t: Target, sub, _event) -> None:
    education = ensure(t.doc, "EducationalInfo")
    level = sub.find("Level")
    if level is not None:
        replace(education, _holder("EduLevel", level))
    for tag in ("MajorCode1", "MajorCode2", "Minor", "EngProficiency"):
        found = sub.find(tag)
        if found is not None:
            replace(education, found)
    _remarks(t, sub)


def _holder(tag: str, child: etree._Element) -> etree._Element:
    holder = etree.Element(tag)
    if not is_blank(child):
        holder.append(_leaf(child))
    return holder


REGISTRATION = (
    "LastSession",
    "CurrentSessionStartDate",
    "CurrentSessionEndDate",
    "NextSessionStartDate",
    "StudyResearchAbroad",
    "ThesisDissertation",
)


@applies("F/M", "Registration")
def fm_registration(t: Target, sub, _event) -> None:
    remove(t.doc, "Registration")
    registration = etree.SubElement(t.doc, "Registration", date=t.today)
    for tag in REGISTRATION:
        found = sub.find(tag)
        if found is not None:
            registration.append(_leaf(found))
    _fm_contact(t, sub)
    _remarks(t, sub)


@applies("F/M", "Reprint")
@applies("J", "Reprint")
def reprint(t: Target, sub, _event) -> None:
    """Nothing on the record changes: the form is printed again (printForm defaults to true)."""


@applies("F/M", "Request/CapGapExtension")
def fm_cap_gap(t: Target, sub, _event) -> None:
    remove(t.doc, "CapGapExtension")
    _record(t, "CapGapExtension", sub, date=t.today)


@applies("F/M", "Status/Cancel")
def fm_status_cancel(t: Target, sub, _event) -> None:
    _record(t, "Cancellation", sub, date=t.today)


@applies("F/M", "Status/Complete")
def fm_status_complete(t: Target, sub, _event) -> None:
    _record(t, "Completion", sub, date=t.today)


@applies("F/M", "Status/Terminate")
@applies("J", "Status/Terminate")
def status_terminate(t: Target, sub, _event) -> None:
    _record(t, "Termination", sub, date=t.today)


@applies("F/M", "Status/Verify")
def fm_status_verify(t: Target, sub, _event) -> None:
    remove(t.doc, "Verification")
    _record(t, "Verification", sub, date=t.today)


# ================================ J ================================================================

J_BIO = (
    "FullName",
    "BirthDate",
    "Gender",
    "BirthCity",
    "BirthCountryCode",
    "CitizenshipCountryCode",
    "PermanentResidenceCountryCode",
    "BirthCountryReason",
    "EmailAddress",
    "PhoneNumber",
)


@applies("J", "Biographical")
def j_biographical(t: Target, sub, _event) -> None:
    bio = ensure(t.doc, "Biographical")
    for child in children(sub):
        if child.tag in J_BIO:
            merge(bio, _wrap(child))
        elif child.tag == "PositionCode":
            set_text(t.doc, "PositionCode", (child.text or "").strip(XML_SPACE))
        elif child.tag in ("USAddress", "MailAddress", "ResidentialAddress", "Remarks"):
            replace(t.doc, child)


@applies("J", "FinancialInfo")
def j_financial_info(t: Target, sub, _event) -> None:
    merge(ensure(t.doc, "FinancialInfo"), sub)


def _phase_dates(t: Target, sub) -> None:
    """TippPhaseDates: new start and end dates of existing phases (S2272 for a phase not on the record)."""
    for sent in sub.iterfind("TippPhaseDates/TippPhase"):
        phase = _phase(t, _t(sent, "PhaseId"))
        set_text(phase, "StartDate", _t(sent, "StartDate"))
        set_text(phase, "EndDate", _t(sent, "EndDate"))


@applies("J", "Program/Amend")
def j_program_amend(t: Target, sub, _event) -> None:
    set_text(t.doc, "PrgStartDate", _t(sub, "PrgStartDate"))
    set_text(t.doc, "PrgEndDate", _t(sub, "PrgEndDate"))
    _phase_dates(t, sub)
    _remarks(t, sub)


@applies("J", "Program/EditSubject")
def j_program_edit_subject(t: Target, sub, _event) -> None:
    set_text(t.doc, "SubjectField/SubjectFieldCode", _t(sub, "SubjectFieldCode"))
    set_text(t.doc, "SubjectField/Remarks", _t(sub, "SubjectFieldRemarks"))
    _remarks(t, sub)


@applies("J", "Program/Extension")
def j_program_extension(t: Target, sub, _event) -> None:
    set_text(t.doc, "PrgEndDate", _t(sub, "NewPrgEndDate"))
    _phase_dates(t, sub)
    _remarks(t, sub)


@applies("J", "Program/Matriculate")
def j_program_matriculate(t: Target, sub, _event) -> None:
    set_text(t.doc, "PrgEndDate", _t(sub, "NewPrgEndDate"))
    set_text(t.doc, "MatriculationCode", _t(sub, "MatriculationCode"))


@applies("J", "Program/Shorten")
def j_program_shorten(t: Target, sub, _event) -> None:
    set_text(t.doc, "PrgEndDate", _t(sub, "NewPrgEndDate"))
    set_text(t.doc, "ShortenReason", _t(sub, "ShortenReason"))
    _phase_dates(t, sub)
    _remarks(t, sub)


# --- sites of activity ---
def sites(doc: etree._Element) -> list[etree._Element]:
    return doc.findall("AddSiteOfActivity/SiteOfActivity")


def _site(t: Target, sub) -> etree._Element:
    """The site an event names by SiteId, or by SiteName (S2202 when the name is not unique)."""
    site_id, name = _t(sub, "SiteId"), _t(sub, "SiteName")
    if site_id:
        found = [s for s in sites(t.doc) if s.get("siteId") == site_id]
        if name:
            found = [s for s in found if _t(s, "SiteName") == name]
    else:
        found = [s for s in sites(t.doc) if _t(s, "SiteName") == name]
        if len(found) > 1:
            raise Refused("S2202")
    if not found:
        raise Refused("S2129")
    return found[0]


SITE_ADDRESS = ("Address1", "Address2", "City", "State", "PostalCode", "ExplanationCode", "Explanation")


@applies("J", "SiteOfActivity/Add")
def j_site_add(t: Target, sub, _event) -> None:
    kind = sub.get(XSI_TYPE, "").rpartition(":")[2].removeprefix("Add") or "SOA"
    site = copy_as(sub, "SiteOfActivity", siteId=t.next_site_id())
    site.set(XSI_TYPE, kind)  # [i] stored as the create's site types: SOA, EXEMPT, SEEKINGEMP, ONTRAVEL
    ensure(t.doc, "AddSiteOfActivity").append(site)
    t.sites.append(site)


@applies("J", "SiteOfActivity/Delete")
def j_site_delete(t: Target, sub, _event) -> None:
    site = _site(t, sub)
    if _t(site, "PrimarySite") in ("true", "1"):
        raise Refused("S2203")
    detach(site)


@applies("J", "SiteOfActivity/Edit")
def j_site_edit(t: Target, sub, _event) -> None:
    site = _site(t, sub)
    for tag in SITE_ADDRESS:  # the address is replaced whole [i]
        remove(site, tag)
    for tag in reversed(SITE_ADDRESS):
        found = sub.find(tag)
        if found is not None and not is_blank(found):
            site.insert(0, _leaf(found))
    _rename_into(site, sub, {"NewSiteName": "SiteName", "PrimarySite": "PrimarySite", "Remarks": "Remarks"})
    t.sites.append(site)


# --- T/IPP (training / internship placement plans) ---
def _tipp(t: Target) -> etree._Element:
    tipp = t.doc.find("AddTIPP")
    if tipp is None:
        raise Refused("S2219")
    return tipp


def _numbers(doc: etree._Element) -> Iterator[int]:
    for el in doc.iterfind("AddTIPP//*"):
        value = (el.text or "").strip(XML_SPACE)
        if el.tag in ("SiteId", "PhaseId") and value.isdigit():
            yield int(value)


def number_tipp(doc: etree._Element) -> None:
    """Give every T/IPP site and phase without an ID the next free number (IDs are per record). [i]"""
    next_id = max(_numbers(doc), default=0) + 1
    for site in doc.iterfind("AddTIPP/TippSite"):
        for el, tag in [(site, "SiteId")] + [(p, "PhaseId") for p in site.iterfind("TippPhase")]:
            found = el.find(tag)
            if found is None or not (found.text or "").strip(XML_SPACE):
                if found is None:
                    found = etree.Element(tag)
                    el.insert(0, found)
                found.text = str(next_id)
                next_id += 1


def _tipp_site(t: Target, site_id: str) -> etree._Element:
    for site in _tipp(t).iterfind("TippSite"):
        if _t(site, "SiteId") == site_id:
            return site
    raise Refused("S2129")


def _phase(t: Target, phase_id: str) -> etree._Element:
    for phase in t.doc.iterfind("AddTIPP/TippSite/TippPhase"):
        if _t(phase, "PhaseId") == phase_id:
            return phase
    raise Refused("S2272")


def _site_fields(site: etree._Element, sent: etree._Element) -> None:
    """Replace a T/IPP site's own fields with the sent ones, keeping its ID and phases."""
    for child in children(site):
        if child.tag not in ("SiteId", "TippPhase"):
            site.remove(child)
    index = 1 if site.find("SiteId") is not None else 0
    for child in children(sent):
        if child.tag not in ("SiteId", "TippPhase", "Supervisors"):
            site.insert(index, copy_as(child, child.tag) if children(child) else _leaf(child))
            index += 1


def _signatures(t: Target, sent_sites) -> None:
    for sent in sent_sites:
        site = _tipp_site(t, _t(sent, "SiteId"))
        official = sent.find("ProgramOfficial")
        if official is not None:
            set_text(site, "OfficialUserName", _t(official, "UserName"))
            set_text(site, "OfficialSignatureDate", _t(official, "SignatureDate"))
        if sent.find("EvSignatureDate") is not None:
            set_text(site, "EvSignatureDate", _t(sent, "EvSignatureDate"))
        _supervisor_signatures(t, sent)


def _supervisor_signatures(t: Target, sent) -> None:
    for phase_sent in sent.iterfind("Supervisors/TippPhase"):
        phase = _phase(t, _t(phase_sent, "PhaseId"))
        signed = phase.find("SuperSignatureDate")
        if signed is None:
            signed = etree.Element("SuperSignatureDate")
            phone_ext = phase.find("SuperPhoneExt")
            anchor = phone_ext if phone_ext is not None else phase.find("SuperPhone")
            anchor.addnext(signed) if anchor is not None else phase.append(signed)
        signed.text = _t(phase_sent, "SignatureDate")


@applies("J", "TIPP/AddTIPP")
def j_tipp_add(t: Target, sub, _event) -> None:
    exempt = t.doc.find("AddTIPP/TippExemptProgram")
    replace(t.doc, sub, "AddTIPP")
    if exempt is not None:  # [i] the program the plan was exempt under (Korea WEST, IWT) stays on record
        ensure(t.doc, "AddTIPP").insert(0, exempt)
    number_tipp(t.doc)


@applies("J", "TIPP/AddSite")
def j_tipp_add_site(t: Target, sub, _event) -> None:
    site = copy_as(sub, "TippSite")
    remove(site, "SiteId")  # [i] SEVIS assigns the ID of a new site
    _tipp(t).append(site)
    number_tipp(t.doc)


@applies("J", "TIPP/EditSite")
def j_tipp_edit_site(t: Target, sub, _event) -> None:
    site = _tipp_site(t, _t(sub, "SiteId"))
    _site_fields(site, sub)
    _supervisor_signatures(t, sub)


@applies("J", "TIPP/DeleteSite")
def j_tipp_delete_site(t: Target, sub, _event) -> None:
    site = _tipp_site(t, _t(sub, "SiteId"))
    detach(site)


@applies("J", "TIPP/AddPhase")
def j_tipp_add_phase(t: Target, sub, _event) -> None:
    site = _tipp_site(t, _t(sub, "SiteId"))
    site.append(copy_as(sub, "TippPhase", skip=("SiteId",)))
    number_tipp(t.doc)


@applies("J", "TIPP/EditPhase")
def j_tipp_edit_phase(t: Target, sub, _event) -> None:
    phase = _phase(t, _t(sub, "PhaseId"))
    for child in children(phase):
        if child.tag != "PhaseId":
            phase.remove(child)
    for child in children(sub):
        if child.tag != "PhaseId":
            phase.append(_leaf(child))


@applies("J", "TIPP/DeletePhase")
def j_tipp_delete_phase(t: Target, sub, _event) -> None:
    phase = _phase(t, _t(sub, "PhaseId"))
    site = phase.getparent()
    if site is None or len(site.findall("TippPhase")) == 1:
        raise Refused("S2275")
    site.remove(phase)


@applies("J", "TIPP/UpdateSignatureDates")
def j_tipp_signature_dates(t: Target, sub, _event) -> None:
    _signatures(t, sub.findall("TippSite"))


@applies("J", "TIPP/UpdateParticipantInfo")
def j_tipp_participant_info(t: Target, sub, _event) -> None:
    info = _tipp(t).find("ParticipantInfo")
    if info is None:
        raise Refused("S2219")  # [i] an exempt plan has no participant to update
    for child in children(sub):
        set_text(info, child.tag, (child.text or "").strip(XML_SPACE))


@applies("J", "Reprint7002")
def j_reprint_7002(t: Target, sub, _event) -> None:
    """Nothing changes; a site named must be one of the plan's sites."""
    site_id = _t(sub, "SiteId")
    if site_id:
        _tipp_site(t, site_id)
    else:
        _tipp(t)


# --- J status ---
@applies("J", "Status/CorrectInfraction")
def j_status_correct_infraction(t: Target, sub, _event) -> None:
    found = sub.find("NewEndDate")
    if found is not None and not is_blank(found):
        set_text(t.doc, "PrgEndDate", (found.text or "").strip(XML_SPACE))
    _phase_dates(t, sub)
    _record(t, "Infraction", sub, date=t.today, corrected="true", skip=("TippPhaseDates",))


@applies("J", "Status/Invalid")
def j_status_invalid(t: Target, sub, _event) -> None:
    _record(t, "Invalidation", sub, date=t.today)


@applies("J", "Status/NoShow")
def j_status_no_show(t: Target, sub, _event) -> None:
    _record(t, "NoShow", sub, date=t.today)


@applies("J", "Validate")
def j_validate(t: Target, sub, _event) -> None:
    replace(t.doc, sub.find("USAddress"))
    bio = ensure(t.doc, "Biographical")
    for tag in ("EmailAddress", "PhoneNumber"):
        found = sub.find(tag)
        if found is not None:
            merge(bio, _wrap(found))
    _signatures(t, sub.findall("TippSignatureDates/TippSite"))
    set_text(t.doc, "Validation", t.today)


def covered() -> list[tuple[str, str]]:
    """Every (kind, event name) an applier is registered for."""
    return sorted(APPLIERS)
