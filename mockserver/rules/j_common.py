"""Facts and small helpers shared by the J (exchange visitor) rule modules.

Nothing here registers a rule; the ``j_*`` modules do. Values marked [i] are inferred (see PROTOCOL.md).
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from . import RuleContext, as_date, text

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

# EV category codes (SEVISTable EVCategoryCodeType) -> category. The schema lists the codes without names.
# [c] 1A-1F, 2A/2B and 03-13 as named by the NIEM immigration domain (im:ExchangeVisitorCategoryCodeSimpleType,
# NIEM 2.0). [i] 1G Student Intern: NIEM 2.0 predates it; SEVIS added the Student Intern category in release
# 6.0 (2009) and 1G is the one student code NIEM lacks. [i] 14/15 Intern: NIEM names them "NOT AVAILABLE" and
# "NOT AVAILABLE (INTERN)". One table, easy to correct.
CATEGORIES = {
    "1A": "Secondary School Student",
    "1B": "Student Associate",
    "1C": "Student Bachelors",
    "1D": "Student Masters",
    "1E": "Student Doctorate",
    "1F": "Student Non-Degree",
    "1G": "Student Intern",
    "2A": "Trainee",
    "2B": "Trainee",
    "03": "Teacher",
    "04": "Professor",
    "05": "International Visitor",
    "06": "Alien Physician",
    "07": "Government Visitor",
    "08": "Research Scholar",
    "09": "Short-term Scholar",
    "10": "Specialist",
    "11": "Camp Counselor",
    "12": "Summer Work Travel",
    "13": "Au Pair",
    "14": "Intern",
    "15": "Intern",
}
AU_PAIR, SECONDARY, STUDENT_INTERN, TRAINEE, INTERN = (
    "Au Pair",
    "Secondary School Student",
    "Student Intern",
    "Trainee",
    "Intern",
)
TIPP_CATEGORIES = {TRAINEE, INTERN, STUDENT_INTERN}

# Program length limits by category (22 CFR 62): (minimum days, minimum label, maximum days, maximum label).
# [i] SEVIS's exact day counts are not published; months are counted as the CFR states them.
DURATIONS = {
    "Professor": (21, "3 weeks", 5 * 366, "5 years"),
    "Research Scholar": (21, "3 weeks", 5 * 366, "5 years"),
    "Short-term Scholar": (1, "1 day", 183, "6 months"),
    "Specialist": (1, "1 day", 366, "1 year"),
    "Teacher": (1, "1 day", 3 * 366, "3 years"),
    "International Visitor": (1, "1 day", 366, "1 year"),
    "Government Visitor": (1, "1 day", 549, "18 months"),
    "Camp Counselor": (1, "1 day", 122, "4 months"),
    "Summer Work Travel": (1, "1 day", 122, "4 months"),
    "Au Pair": (1, "1 day", 366, "1 year"),
    "Secondary School Student": (1, "1 day", 366, "1 year"),
    "Trainee": (1, "1 day", 549, "18 months"),
    "Intern": (1, "1 day", 366, "12 months"),
    "Student Intern": (1, "1 day", 366, "12 months"),
    "Alien Physician": (1, "1 day", 7 * 366, "7 years"),
}

# Birth countries that are the United States or one of its territories (SEVIS country codes). [i]
US_AND_TERRITORIES = {"US", "AQ", "GQ", "RQ", "VQ", "CQ", "FQ", "HQ", "DQ", "JQ", "KQ", "LQ", "MQ", "BQ", "WQ"}
IRELAND = "EI"
SPOUSE, CHILD = "01", "02"
ACTIVE_STATES = {"Initial", "Active"}


def category(ctx: RuleContext) -> str | None:
    """The exchange visitor's category: from the create, or from the stored record for updates."""
    source = ctx.element if ctx.event == "create" else ctx.stored
    return CATEGORIES.get(text(source, "CategoryCode") or "")


def principal(ctx: RuleContext) -> etree._Element | None:
    """The exchange visitor as it stands: the create element, or the stored record for updates."""
    return ctx.element if ctx.event == "create" else ctx.stored


def program_dates(ctx: RuleContext) -> tuple[date | None, date | None]:
    source = principal(ctx)
    return as_date(text(source, "PrgStartDate")), as_date(text(source, "PrgEndDate"))


def first_child(element: etree._Element | None) -> etree._Element | None:
    if element is None:
        return None
    for child in element:
        if isinstance(child.tag, str) and child.tag not in ("UserDefinedA", "UserDefinedB"):
            return child
    return None


def sub_event(ctx: RuleContext, family: str) -> etree._Element | None:
    """For an update of ``family`` (e.g. "Program"), its action element (e.g. <Extension>)."""
    if ctx.event != family:
        return None
    return first_child(ctx.event_element)


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def age_on(birth: date, on: date) -> float:
    """Age in years (fractional, by whole months) on ``on``."""
    months = (on.year - birth.year) * 12 + on.month - birth.month - (1 if on.day < birth.day else 0)
    return months / 12


def us_date(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def site_type(site: etree._Element) -> str:
    """SOA, EXEMPT, ONTRAVEL or SEEKINGEMP (update Adds are typed AddSOA, AddEXEMPT, …)."""
    declared = site.get(XSI_TYPE, "")
    declared = declared.split(":")[-1]
    return declared[3:] if declared.startswith("Add") else declared


SITE_TYPES_OFF_SITE = {"EXEMPT", "ONTRAVEL", "SEEKINGEMP"}


def stored_sites(ctx: RuleContext) -> list[etree._Element]:
    """Sites of activity of the stored record (created and added since; ``@siteId`` as logged)."""
    stored = ctx.stored
    return [] if stored is None else stored.findall("AddSiteOfActivity/SiteOfActivity")


def is_yes(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "y", "yes")


def tipp_exempt(source: etree._Element | None) -> str | None:
    """ "KW" or "IWT" when the exchange visitor's T/IPP is exempt (or IsIWT is true), else None."""
    if source is None:
        return None
    code = text(source, ".//AddTIPP/TippExemptProgram")
    if code:
        return code
    if is_yes(text(source, ".//AddTIPP/ParticipantInfo/IsIWT")):
        return "IWT"
    return None


def has_tipp(source: etree._Element | None) -> bool:
    """True when the record carries a T/IPP (participant information and sites), not an exemption."""
    return source is not None and source.find(".//AddTIPP/ParticipantInfo") is not None


def persons(ctx: RuleContext) -> list[etree._Element]:
    """Every person element of this request whose biography is sent: the principal, its dependents."""
    if ctx.event == "create":
        return [ctx.element.find("Biographical"), *ctx.element.findall("CreateDependent/Dependent")]
    found = []
    if ctx.event == "Biographical":
        found.append(ctx.event_element)
    if ctx.event == "Dependent":
        child = first_child(ctx.event_element)
        if child is not None and child.tag in ("Add", "Edit"):
            found.append(child)
    return [p for p in found if p is not None]


def dependent_ref(ctx: RuleContext) -> tuple[etree._Element | None, str | None]:
    """For a Dependent event naming an existing dependent: (the action element, its dependentSevisID)."""
    child = sub_event(ctx, "Dependent")
    if child is None or child.get("dependentSevisID") is None:
        return child, None
    return child, child.get("dependentSevisID")


J_UPDATE_EVENTS = (
    "j.Biographical",
    "j.Dependent",
    "j.FinancialInfo",
    "j.Program",
    "j.Reprint",
    "j.SiteOfActivity",
    "j.TIPP",
    "j.Status",
    "j.Validate",
    "j.Reprint7002",
)
J_ALL_EVENTS = ("j.create", *J_UPDATE_EVENTS)
