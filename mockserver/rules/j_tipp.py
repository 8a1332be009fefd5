"""J rules on training/internship placement plans (T/IPP), the Korea WEST and IWT programs, and Form DS-7002.

Lookups of stored T/IPP sites and phases that fail (S2219 no T/IPP, S2272 unknown phase, S2275 last phase)
are answered by the event appliers in :mod:`sevis_mock.server.records.events`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Iterator

from lxml import etree

from ..catalog import message
from ..xmlsafe import XML_SPACE
from . import RuleContext, Violation, as_date, rule, sent, student, text
from .j_common import (
    INTERN,
    IRELAND,
    STUDENT_INTERN,
    TIPP_CATEGORIES,
    TRAINEE,
    category,
    has_tipp,
    is_yes,
    principal,
    program_dates,
    sub_event,
    tipp_exempt,
    us_date,
)

ADDING = ("AddTIPP", "AddSite", "AddPhase")


def _tipp_action(ctx: RuleContext) -> etree._Element | None:
    return sub_event(ctx, "TIPP")


def _added_tipp(ctx: RuleContext) -> etree._Element | None:
    """The AddTIPP of a create or of a TIPP/AddTIPP update."""
    if ctx.event == "create":
        return ctx.element.find("AddTIPP")
    child = _tipp_action(ctx)
    return child if child is not None and child.tag == "AddTIPP" else None


def _adds_to_tipp(ctx: RuleContext) -> bool:
    if ctx.event == "create":
        return ctx.element.find("AddTIPP") is not None
    child = _tipp_action(ctx)
    return child is not None and child.tag in ADDING


def _citizenship(ctx: RuleContext) -> str | None:
    return text(principal(ctx), "Biographical/CitizenshipCountryCode")


def _irish_intern(ctx: RuleContext) -> bool:
    return category(ctx) == INTERN and _citizenship(ctx) == IRELAND


@rule("S2278", "j.TIPP")
def one_tipp(ctx: RuleContext) -> Violation | None:
    """A T/IPP is added for an exchange visitor who already has one."""
    if _added_tipp(ctx) is not None and has_tipp(ctx.stored):
        return Violation.of("S2278")
    return None


@rule("S2277", "j.TIPP")
def late_tipp_for_exempt_programs(ctx: RuleContext) -> Violation | None:
    """A T/IPP is added by update for an exchange visitor not in the Korea WEST or IWT program. [i]"""
    if _added_tipp(ctx) is not None and tipp_exempt(ctx.stored) is None:
        return Violation.of("S2277")
    return None


@rule("S2218", "j.create", "j.TIPP")
def tipp_for_trainees_and_interns(ctx: RuleContext) -> Violation | None:
    """A T/IPP, T/IPP site or phase is added for an exchange visitor who is not a Trainee, Intern or Student Intern. [i] category codes"""
    if _adds_to_tipp(ctx) and category(ctx) not in TIPP_CATEGORIES:
        return Violation.of("S2218")
    return None


@rule("S2260", "j.create")
def tipp_required(ctx: RuleContext) -> Violation | None:
    """A Trainee or Student Intern is created without a T/IPP (and not exempt from one). [i] category codes"""
    if category(ctx) in (TRAINEE, STUDENT_INTERN) and not has_tipp(ctx.element) and tipp_exempt(ctx.element) is None:
        return Violation.of("S2260")
    return None


@rule("S2255", "j.create")
def korea_west_needs_a_site(ctx: RuleContext) -> Violation | None:
    """An exchange visitor in the Korea WEST program (T/IPP exempt) is created with no site of activity."""
    if tipp_exempt(ctx.element) == "KW" and ctx.element.find("AddSiteOfActivity") is None:
        return Violation.of("S2255")
    return None


@rule("S2258", "j.create", "j.TIPP")
def iwt_is_for_irish_interns(ctx: RuleContext) -> Violation | None:
    """The exchange visitor joins the IWT program but is not an Intern with citizenship Ireland. [i] category codes"""
    added = _added_tipp(ctx)
    if added is not None and _joins_iwt(added) and not _irish_intern(ctx):
        return Violation.of("S2258")
    return None


def _joins_iwt(added: etree._Element) -> bool:
    return text(added, "TippExemptProgram") == "IWT" or is_yes(text(added, "ParticipantInfo/IsIWT"))


@rule("S2261", "j.create", "j.TIPP")
def iwt_answer_required(ctx: RuleContext) -> Violation | None:
    """An Intern with citizenship Ireland has participant information without IsIWT. [i] category codes"""
    added = _added_tipp(ctx)
    info = added.find("ParticipantInfo") if added is not None else None
    if info is not None and _irish_intern(ctx) and info.find("IsIWT") is None:
        return Violation.of("S2261")
    return None


@rule("S2265", "j.create", "j.TIPP")
def iwt_answer_only_for_irish_interns(ctx: RuleContext) -> Violation | None:
    """IsIWT is sent for an exchange visitor who is not an Intern with citizenship Ireland. [i] category codes"""
    added = _added_tipp(ctx)
    if added is not None and added.find("ParticipantInfo/IsIWT") is not None and not _irish_intern(ctx):
        return Violation.of("S2265", field="IsIWT")
    return None


@rule("S2262", "j.create", "j.TIPP")
def tipp_has_primary_site(ctx: RuleContext) -> Violation | None:
    """A T/IPP is added whose sites include no primary site."""
    added = _added_tipp(ctx)
    sites = added.findall("TippSite") if added is not None else []
    if sites and not any(is_yes(text(s, "PrimarySite")) for s in sites):
        return Violation.of("S2262")
    return None


def _first_gap(phases: list[tuple[date | None, date | None]], start: date, end: date) -> tuple[date, date] | None:
    """The first days from ``start`` to ``end`` no phase covers (phases without both dates are passed over)."""
    covered = start - timedelta(days=1)
    known = sorted((s, e) for s, e in phases if s is not None and e is not None)
    for phase_start, phase_end in known:
        if phase_start > covered + timedelta(days=1):
            return covered + timedelta(days=1) if covered >= start else start, phase_start
        covered = max(covered, phase_end)
        if covered >= end:
            return None
    return (covered + timedelta(days=1), end) if covered < end else None


@rule("S2254", "j.create", "j.TIPP")
def phases_cover_program(ctx: RuleContext) -> Violation | None:
    """The phases of a T/IPP added do not cover every day from the program begin date to the program end date."""
    added = _added_tipp(ctx)
    start, end = program_dates(ctx)
    if added is None or added.find("TippSite") is None or start is None or end is None:
        return None
    phases = [(as_date(text(p, "StartDate")), as_date(text(p, "EndDate"))) for p in added.iter("TippPhase")]
    gap = _first_gap(phases, start, end)
    if gap is None:
        return None
    text_ = message("S2254").replace("{0}", us_date(gap[0])).replace("{1}", us_date(gap[1]))
    return Violation("S2254", text_)


def _official_names(ctx: RuleContext) -> Iterator[str]:
    scope = sent(ctx)
    for el in scope.iter("OfficialUserName", "UserName"):
        if el.text and el.text.strip(XML_SPACE):
            yield el.text.strip(XML_SPACE)


@rule("S2259", "j.create", "j.TIPP", "j.Validate")
def signing_official_known(ctx: RuleContext) -> Violation | None:
    """An official named to sign a T/IPP (OfficialUserName, ProgramOfficial/UserName) is not an official of this sponsor. [i] the userName is the official's user ID"""
    for name in _official_names(ctx):
        official = ctx.lookup_official(name)
        if official is None or official.org_id != ctx.org_id:
            return Violation.of("S2259")
    return None


def _signature_sites(ctx: RuleContext) -> list[etree._Element]:
    if ctx.event == "Validate":
        return sent(ctx).findall("TippSignatureDates/TippSite")
    child = _tipp_action(ctx)
    return child.findall("TippSite") if child is not None and child.tag == "UpdateSignatureDates" else []


@rule("S2266", "j.TIPP", "j.Validate")
def signature_dates_given(ctx: RuleContext) -> Violation | None:
    """A T/IPP site in TippSignatureDates carries no official, exchange visitor or supervisor signature date."""
    for site in _signature_sites(ctx):
        if all(site.find(tag) is None for tag in ("ProgramOfficial", "EvSignatureDate", "Supervisors")):
            return Violation.of("S2266")
    return None


def _sent_for(ctx: RuleContext, site_id: str) -> etree._Element | None:
    for site in _signature_sites(ctx):
        if _same_id(text(site, "SiteId"), site_id):
            return site
    return None


def _same_id(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip(XML_SPACE).lstrip("0") == b.strip(XML_SPACE).lstrip("0")


SITE_SIGNATURES = (  # (stored element, element in Validate's TippSignatureDates, name in the message)
    ("OfficialUserName", "ProgramOfficial/UserName", "Official User Name"),
    ("OfficialSignatureDate", "ProgramOfficial/SignatureDate", "Official Signature Date"),
    ("EvSignatureDate", "EvSignatureDate", "EV Signature Date"),
)


@rule("S2263", "j.Validate")
def site_signed_before_validation(ctx: RuleContext) -> Violation | None:
    """A T/IPP site lacks the official's user name, the official's or the exchange visitor's signature date, stored or sent with Validate. [i]"""
    for site in ctx.stored.findall("AddTIPP/TippSite") if ctx.stored is not None else []:
        sent = _sent_for(ctx, text(site, "SiteId") or "")
        for stored_tag, sent_path, label in SITE_SIGNATURES:
            if not text(site, stored_tag) and not text(sent, sent_path):
                return Violation.of("S2263", element=label)
    return None


@rule("S2264", "j.Validate")
def phase_signed_before_validation(ctx: RuleContext) -> Violation | None:
    """A T/IPP phase lacks the supervisor's signature date, stored or sent with Validate. [i]"""
    for site in ctx.stored.findall("AddTIPP/TippSite") if ctx.stored is not None else []:
        sent = _sent_for(ctx, text(site, "SiteId") or "")
        sent_phases = sent.findall("Supervisors/TippPhase") if sent is not None else []
        for phase in site.findall("TippPhase"):
            if text(phase, "SuperSignatureDate"):
                continue
            if not any(_same_id(text(p, "PhaseId"), text(phase, "PhaseId")) for p in sent_phases):
                return Violation.of("S2264", element="Supervisor Signature Date")
    return None


@rule("S2252", "j.TIPP")
def korea_west_exempt_adds_nothing(ctx: RuleContext) -> Violation | None:
    """A T/IPP site or phase is added for a Korea WEST exchange visitor who opted out of a T/IPP."""
    child = _tipp_action(ctx)
    if (
        child is not None
        and child.tag in ("AddSite", "AddPhase")
        and tipp_exempt(ctx.stored) == "KW"
        and not has_tipp(ctx.stored)
    ):
        return Violation.of("S2252")
    return None


@rule("S2253", "j.TIPP")
def iwt_exempt_adds_nothing(ctx: RuleContext) -> Violation | None:
    """A T/IPP site or phase is added for an IWT exchange visitor who opted out of a T/IPP."""
    child = _tipp_action(ctx)
    if (
        child is not None
        and child.tag in ("AddSite", "AddPhase")
        and tipp_exempt(ctx.stored) == "IWT"
        and not has_tipp(ctx.stored)
    ):
        return Violation.of("S2253")
    return None


@rule("S2279", "j.Reprint7002")
def ds7002_for_trainees_and_interns(ctx: RuleContext) -> Violation | None:
    """Form DS-7002 is requested for an exchange visitor who is not a Trainee, Intern or Student Intern. [i] category codes"""
    if category(ctx) not in TIPP_CATEGORIES:
        return Violation.of("S2279")
    return None


@rule("S2280", "j.Reprint7002")
def ds7002_needs_tipp(ctx: RuleContext) -> Violation | None:
    """Form DS-7002 is requested for an exchange visitor who has no T/IPP."""
    if not has_tipp(ctx.stored):
        return Violation.of("S2280")
    return None


def _stored_phase(ctx: RuleContext) -> etree._Element | None:
    child = _tipp_action(ctx)
    if child is None or child.tag != "DeletePhase" or ctx.stored is None:
        return None
    wanted = text(child, "PhaseId")
    phases = ctx.stored.iterfind("AddTIPP/TippSite/TippPhase")
    return next((p for p in phases if _same_id(text(p, "PhaseId"), wanted)), None)


@rule("S2281", "j.TIPP")
def phase_deleted_before_it_starts(ctx: RuleContext) -> Violation | None:
    """A phase is deleted on or after its start date."""
    phase = _stored_phase(ctx)
    start = as_date(text(phase, "StartDate")) if phase is not None else None
    if start is not None and ctx.today >= start:
        return Violation.of("S2281")
    return None


@rule("S2270", "j.TIPP")
def phase_deletion_leaves_no_gap(ctx: RuleContext) -> Violation | None:
    """Deleting the phase would leave days of the program covered by no phase."""
    phase = _stored_phase(ctx)
    start, end = program_dates(ctx)
    if phase is None or start is None or end is None:
        return None
    rest = [
        (as_date(text(p, "StartDate")), as_date(text(p, "EndDate")))
        for p in student(ctx).iterfind("AddTIPP/TippSite/TippPhase")
        if p is not phase
    ]
    gap = _first_gap(rest, start, end)
    if gap is None:
        return None
    filled = message("S2270", element="phase").replace("{2}", us_date(gap[0])).replace("{3}", us_date(gap[1]))
    return Violation("S2270", filled)
