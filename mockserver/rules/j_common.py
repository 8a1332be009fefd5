"""Facts and small helpers shared by the J (exchange visitor) rule modules.

Nothing here registers a rule; the ``j_*`` modules do. Values marked [i] are inferred (see PROTOCOL.md).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources

from lxml import etree

from . import RuleContext, add_months, as_date, text

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


# EV categories: ``mockserver/data/j_categories.csv`` holds, per category code of SEVIS table 15 (the
# 6.27 EVCategoryCodeType), the category as the Department of State names it, its minimum and maximum
# duration of participation (SEVIS table 17) and its age limits on the program begin date (table 21).
# Table 15 names 2A, 2B and 14 Trainee (specialty, non-specialty, and the current Trainee category) and 15
# Intern; 1A-1F are the student categories, 1G Student Intern.
@dataclass(frozen=True)
class Category:
    code: str
    name: str
    minimum: str  # "3 weeks", "5 months", "1 year" or "" (no minimum)
    maximum: str  # "" when the category has no maximum
    minimum_age: float | None
    maximum_age: float | None


def _load_categories() -> dict[str, Category]:
    text_ = resources.files("sevis_mock.server").joinpath("data/j_categories.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text_))
    return {
        r["code"]: Category(
            r["code"],
            r["category"],
            r["minimum_duration"],
            r["maximum_duration"],
            float(r["minimum_age"]) if r["minimum_age"] else None,
            float(r["maximum_age"]) if r["maximum_age"] else None,
        )
        for r in rows
    }


CATEGORY_FACTS = _load_categories()
CATEGORIES = {code: c.name for code, c in CATEGORY_FACTS.items()}
AU_PAIR, SECONDARY, STUDENT_INTERN, TRAINEE, INTERN, CAMP_COUNSELOR = (
    "Au Pair",
    "Secondary School Student",
    "Student Intern",
    "Trainee",
    "Intern",
    "Camp Counselor",
)
TIPP_CATEGORIES = {TRAINEE, INTERN, STUDENT_INTERN}


def add_duration(day: date, duration: str) -> date:
    """``day`` moved by a duration of table 17 ("3 weeks", "18 months", "5 years")."""
    number, unit = duration.split()
    n = int(number)
    if unit.startswith("week"):
        return day + timedelta(weeks=n)
    return add_months(day, n * (12 if unit.startswith("year") else 1))


# Birth countries that are the United States or one of its territories (SEVIS country codes). [i]
US_AND_TERRITORIES = {"US", "AQ", "GQ", "RQ", "VQ", "CQ", "FQ", "HQ", "DQ", "JQ", "KQ", "LQ", "MQ", "BQ", "WQ"}
IRELAND = "EI"
SPOUSE, CHILD = "01", "02"
ACTIVE_STATES = {"Initial", "Active"}


def category(ctx: RuleContext) -> str | None:
    """The exchange visitor's category: from the create, or from the stored record for updates."""
    source = ctx.element if ctx.event == "create" else ctx.stored
    return CATEGORIES.get(text(source, "CategoryCode") or "")


def category_facts(ctx: RuleContext) -> Category | None:
    """The table 15/17/21 facts of the exchange visitor's category (None for an unknown code)."""
    source = ctx.element if ctx.event == "create" else ctx.stored
    return CATEGORY_FACTS.get(text(source, "CategoryCode") or "")


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
        biographical = ctx.element.find("Biographical")  # the schema requires it on a create
        principal = [] if biographical is None else [biographical]
        return [*principal, *ctx.element.findall("CreateDependent/Dependent")]
    found: list[etree._Element | None] = []
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
