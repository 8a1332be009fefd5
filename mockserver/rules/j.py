"""J (exchange visitor) rules."""
from __future__ import annotations

from . import RuleContext, Violation, as_date, event_name, rule, text

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

J_UPDATE_EVENTS = (
    "j.Biographical", "j.Dependent", "j.FinancialInfo", "j.Program", "j.Reprint", "j.SiteOfActivity",
    "j.TIPP", "j.Status", "j.Validate", "j.Reprint7002",
)


@rule("S2124", *J_UPDATE_EVENTS)
def event_allowed_in_status(ctx: RuleContext) -> Violation | None:
    """The update event is not allowed in the exchange visitor's current status."""
    allowed = J_ALLOWED.get(event_name(ctx.event_element, ctx.event), J_DEFAULT)
    if ctx.record is not None and ctx.record.status not in allowed:
        return Violation.of("S2124", invalid_status_type=ctx.record.status)
    return None


@rule("S2282", "j.create")
def program_end_after_start(ctx: RuleContext) -> Violation | None:
    """Program end date is not after the program start date."""
    start = as_date(text(ctx.element, "PrgStartDate"))
    end = as_date(text(ctx.element, "PrgEndDate"))
    if start and end and end <= start:
        return Violation.of("S2282")
    return None
