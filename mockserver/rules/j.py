"""J (exchange visitor) rules.

The status rules live here, the others in ``j_*`` modules by family; the order they all run in is
``rules.RULE_ORDER``. Codes no batch can decide are listed in :data:`UNDECIDABLE`.
"""

from __future__ import annotations

from . import RuleContext, Violation, as_date, event_name, rule, text
from .j_common import J_UPDATE_EVENTS

# Statuses in which each J update event may act. [i] inferred from SEVIS's help for each action;
# S2124 is the catalogue's refusal ("Cannot update exchange visitor when status type is …").
J_ALLOWED = {
    "Validate": {"Initial"},
    "Status/Invalid": {"Initial"},
    "Status/NoShow": {"Initial", "Active"},
    "Status/Terminate": {"Active"},
    "Status/CorrectInfraction": {"Terminated", "Inactive"},
}
J_DEFAULT = {"Initial", "Active"}
TIPP_EVENTS = ("j.TIPP", "j.Reprint7002")  # [i] T/IPP actions answer with S2276, their own status code


def _refused_status(ctx: RuleContext) -> str | None:
    allowed = J_ALLOWED.get(event_name(ctx.event_element, ctx.event), J_DEFAULT)
    if ctx.record is not None and ctx.record.status not in allowed:
        return ctx.record.status
    return None


@rule("S2124", *(e for e in J_UPDATE_EVENTS if e not in TIPP_EVENTS))
def event_allowed_in_status(ctx: RuleContext) -> Violation | None:
    """The update event is not allowed in the exchange visitor's current status."""
    status = _refused_status(ctx)
    return Violation.of("S2124", invalid_status_type=status) if status else None


@rule("S2276", *TIPP_EVENTS)
def tipp_event_allowed_in_status(ctx: RuleContext) -> Violation | None:
    """A T/IPP update or DS-7002 reprint arrives while the exchange visitor is not Initial or Active."""
    status = _refused_status(ctx)
    return Violation.of("S2276", element=status) if status else None


@rule("S2282", "j.create")
def program_end_after_start(ctx: RuleContext) -> Violation | None:
    """Program end date is not after the program start date."""
    start = as_date(text(ctx.element, "PrgStartDate"))
    end = as_date(text(ctx.element, "PrgEndDate"))
    if start and end and end <= start:
        return Violation.of("S2282")
    return None


# Codes answered outside the rule registry (the processor or the event appliers), with where.
IMPLEMENTED_ELSEWHERE = {
    "S2000": "batch/processing.py: a record the mock failed to process (INTERNAL_ERROR)",
    "S2001": "batch/processing.py: update of a SEVIS ID not found for this sponsor and environment",
    "S2129": "records/events.py: SiteOfActivity Edit/Delete or T/IPP site naming no stored site",
    "S2202": "records/events.py: site named by a SiteName several stored sites share",
    "S2203": "records/events.py: deleting the primary site of activity",
    "S2219": "records/events.py: T/IPP site, phase or participant change with no T/IPP",
    "S2232": "records/events.py: dependentSevisID not a dependent of this exchange visitor",
    "S2272": "records/events.py: PhaseId not on the T/IPP site",
    "S2275": "records/events.py: deleting the only phase of a site",
}

# Decidable codes whose condition SEVIS does not publish (which element, which status), so the mock does not guess.
UNPUBLISHED = {
    "S2211": "no lookup table or published rule says which statuses refuse which site type beyond S2216's "
    "Active-only rule for ONTRAVEL and SEEKINGEMP",
}

STUDENT_INTERN_FIELDS = (
    "no 6.27 element carries a Student Intern field: Common.xsd still defines StudentInternType "
    "but no element uses it (a Student Intern's placement goes in the T/IPP: S2260)"
)

# Codes whose condition depends on data SEVIS holds that a batch cannot carry (or the schema excludes).
UNDECIDABLE = {
    "S2098": "SEVIS's own configuration error; no batch content causes it",
    "S2099": "free-text catch-all with no defined condition",
    "S2101": "the DHS watch list of countries and subjects is not public",
    "S2122": "no 6.27 J update event carries a category, so a batch cannot request a change of category",
    "S2208": "the citizenship/site-type restrictions are Department of State policy not in the schema",
    "S2213": "the 6.27 create schema admits only SOA and EXEMPT sites, so no valid batch carries it",
    "S2237": STUDENT_INTERN_FIELDS,
    "S2238": STUDENT_INTERN_FIELDS,
}
