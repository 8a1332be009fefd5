"""J rules that read what other agencies recorded about the exchange visitor or a dependent (history entries
``Agency/...`` added through ``POST /control/records/<sevis_id>/agency-events``; see ``mockserver/agency.py``).
"""

from __future__ import annotations

from . import RuleContext, Violation, rule
from .j_common import J_UPDATE_EVENTS, dependent_ref, site_type, sub_event


@rule("S2123", *J_UPDATE_EVENTS)
def no_update_while_change_of_status_pending(ctx: RuleContext) -> Violation | None:
    """Any update while a change of status filed with USCIS is pending (latest agency event ChangeOfStatus is filed)."""
    changes = ctx.agency_events("ChangeOfStatus")
    if changes and changes[-1].findtext("Status") == "filed":
        return Violation.of("S2123")
    return None


@rule("S2204", "j.Biographical")
def biography_fixed_once_visa_issued(ctx: RuleContext) -> Violation | None:
    """A Biographical update of an exchange visitor in Initial status whose visa the Department of State has issued (agency event VisaIssued) [i]."""
    if ctx.record is not None and ctx.record.status == "Initial" and ctx.agency_events("VisaIssued"):
        return Violation.of("S2204")
    return None


@rule("S2231", "j.Dependent")
def dependent_fixed_once_visa_issued(ctx: RuleContext) -> Violation | None:
    """A dependent Edit of a dependent in Initial status whose visa has been issued (agency event VisaIssued on the dependent) [i]."""
    child, dep_id = dependent_ref(ctx)
    if child is None or child.tag != "Edit" or dep_id is None:
        return None
    dependent = next((d for d in ctx.dependents if d.sevis_id == dep_id), None)
    if dependent is not None and dependent.status == "Initial" and ctx.agency_events("VisaIssued", dep_id):
        return Violation.of("S2231")
    return None


@rule("S2212", "j.SiteOfActivity")
def no_exempt_site_after_visa(ctx: RuleContext) -> Violation | None:
    """A site of type EXEMPT is added after the exchange visitor's visa was issued (agency event VisaIssued)."""
    added = sub_event(ctx, "SiteOfActivity")
    if added is not None and added.tag == "Add" and site_type(added) == "EXEMPT" and ctx.agency_events("VisaIssued"):
        return Violation.of("S2212")
    return None
