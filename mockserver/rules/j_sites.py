"""J rules on sites of activity: types, the primary site, and which categories and statuses allow which type.

Site lookups that fail (unknown site S2129, ambiguous name S2202, deleting the primary S2203) are answered
by the event appliers in :mod:`sevis_mock.server.records.events`, which hold the stored sites.
"""

from __future__ import annotations

from lxml import etree

from . import RuleContext, Violation, rule, text
from .j_common import (
    SITE_TYPES_OFF_SITE,
    TIPP_CATEGORIES,
    category,
    has_tipp,
    is_yes,
    site_type,
    stored_sites,
    sub_event,
    tipp_exempt,
)

SUMMER_WORK_TRAVEL = "Summer Work Travel"
SWT_ONLY = {"ONTRAVEL", "SEEKINGEMP"}  # [i] travel and job-seeking sites exist for Summer Work Travel only


def _created_sites(ctx: RuleContext) -> list[etree._Element]:
    return ctx.element.findall("AddSiteOfActivity/SiteOfActivity")


def _added(ctx: RuleContext) -> etree._Element | None:
    child = sub_event(ctx, "SiteOfActivity")
    return child if child is not None and child.tag == "Add" else None


def _named(ctx: RuleContext, tag: str) -> etree._Element | None:
    """The stored site an Edit or Delete names (by SiteId, else by a unique SiteName), or None."""
    child = sub_event(ctx, "SiteOfActivity")
    if child is None or child.tag != tag:
        return None
    site_id, name = text(child, ".//SiteId"), text(child, ".//SiteName")
    if site_id:
        found = [s for s in stored_sites(ctx) if s.get("siteId") == site_id]
    else:
        found = [s for s in stored_sites(ctx) if text(s, "SiteName") == name]
    return found[0] if len(found) == 1 else None


def _primary(ctx: RuleContext) -> etree._Element | None:
    """The stored primary site: the one flagged PrimarySite, else an EXEMPT/ONTRAVEL/SEEKINGEMP site. [i]"""
    sites = stored_sites(ctx)
    flagged = [s for s in sites if is_yes(text(s, "PrimarySite"))]
    off_site = [s for s in sites if site_type(s) in SITE_TYPES_OFF_SITE]
    return next(iter(flagged or off_site), None)


@rule("S2205", "j.create")
def one_site_of_each_type(ctx: RuleContext) -> Violation | None:
    """A create lists more than one site of a type other than SOA (e.g. two EXEMPT sites)."""
    types = [site_type(s) for s in _created_sites(ctx) if site_type(s) != "SOA"]
    for kind in types:
        if types.count(kind) > 1:
            return Violation.of("S2205", site_of_activity_type=kind)
    return None


@rule("S2206", "j.create")
def no_address_with_exempt(ctx: RuleContext) -> Violation | None:
    """A create lists both a site with an address (SOA) and a site of another type (EXEMPT)."""
    types = {site_type(s) for s in _created_sites(ctx)}
    other = sorted(types - {"SOA"})
    if "SOA" in types and other:
        return Violation.of("S2206", site_of_activity_type=other[0])
    return None


@rule("S2256", "j.create")
def no_site_for_iwt(ctx: RuleContext) -> Violation | None:
    """An exchange visitor in the Intern Work and Travel (IWT) program is created with a site of activity."""
    if tipp_exempt(ctx.element) == "IWT" and _created_sites(ctx):
        return Violation.of("S2256")
    return None


@rule("S2251", "j.create")
def no_site_for_tipp_categories(ctx: RuleContext) -> Violation | None:
    """A Trainee, Intern or Student Intern not in the Korea WEST program is created with a site of activity (they take T/IPP sites). [i] category codes"""
    if category(ctx) in TIPP_CATEGORIES and _created_sites(ctx) and tipp_exempt(ctx.element) != "KW":
        return Violation.of("S2251")
    return None


@rule("S2209", "j.SiteOfActivity")
def travel_sites_for_swt_only(ctx: RuleContext) -> Violation | None:
    """A site of type ONTRAVEL or SEEKINGEMP is added for a category other than Summer Work Travel. [i] category codes"""
    added = _added(ctx)
    if added is not None and site_type(added) in SWT_ONLY and category(ctx) != SUMMER_WORK_TRAVEL:
        return Violation.of("S2209", site_of_activity_type=site_type(added))
    return None


@rule("S2210", "j.SiteOfActivity")
def site_type_not_repeated(ctx: RuleContext) -> Violation | None:
    """A site of type EXEMPT, ONTRAVEL or SEEKINGEMP is added while the record already has one of that type."""
    added = _added(ctx)
    kind = site_type(added) if added is not None else None
    if kind and kind != "SOA" and any(site_type(s) == kind for s in stored_sites(ctx)):
        return Violation.of("S2210", site_of_activity_type=kind)
    return None


@rule("S2216", "j.SiteOfActivity")
def travel_sites_when_active(ctx: RuleContext) -> Violation | None:
    """A site of type ONTRAVEL or SEEKINGEMP is added while the exchange visitor is not Active. [i]"""
    added = _added(ctx)
    if added is not None and site_type(added) in SWT_ONLY and ctx.record is not None and ctx.record.status != "Active":
        return Violation.of("S2216", site_of_activity_type=site_type(added), status="Active")
    return None


@rule("S2215", "j.SiteOfActivity")
def exempt_not_after_placement(ctx: RuleContext) -> Violation | None:
    """A site of type EXEMPT is added while the primary site is an address (SOA): the visitor is already placed. [i]"""
    added, primary = _added(ctx), _primary(ctx)
    if added is not None and site_type(added) == "EXEMPT" and primary is not None and site_type(primary) == "SOA":
        return Violation.of("S2215", site_of_activity_type="EXEMPT")
    return None


@rule("S2217", "j.SiteOfActivity")
def non_primary_needs_address_primary(ctx: RuleContext) -> Violation | None:
    """A site is added with PrimarySite false while the primary site is of type EXEMPT, ONTRAVEL or SEEKINGEMP."""
    added, primary = _added(ctx), _primary(ctx)
    if (
        added is not None
        and site_type(added) == "SOA"
        and not is_yes(text(added, "PrimarySite"))
        and primary is not None
        and site_type(primary) in SITE_TYPES_OFF_SITE
    ):
        return Violation.of("S2217")
    return None


@rule("S2273", "j.SiteOfActivity")
def iwt_site_needs_tipp(ctx: RuleContext) -> Violation | None:
    """A site of activity is added for an exchange visitor in the IWT program who has no T/IPP."""
    if _added(ctx) is not None and tipp_exempt(ctx.stored) == "IWT" and not has_tipp(ctx.stored):
        return Violation.of("S2273")
    return None


@rule("S2274", "j.SiteOfActivity")
def no_site_with_tipp(ctx: RuleContext) -> Violation | None:
    """A site of activity is added for an exchange visitor who has a T/IPP (T/IPP sites are added through TIPP)."""
    if _added(ctx) is not None and has_tipp(ctx.stored) and tipp_exempt(ctx.stored) != "IWT":
        return Violation.of("S2274")
    return None


@rule("S2201", "j.SiteOfActivity")
def primary_stays_primary(ctx: RuleContext) -> Violation | None:
    """An edit sets PrimarySite false on the current primary site of activity."""
    site = _named(ctx, "Edit")
    edit = sub_event(ctx, "SiteOfActivity")
    if site is not None and is_yes(text(site, "PrimarySite")) and text(edit, "PrimarySite") in ("false", "0"):
        return Violation.of("S2201")
    return None


@rule("S2207", "j.SiteOfActivity")
def edit_address_sites_only(ctx: RuleContext) -> Violation | None:
    """An edit names a site of type EXEMPT, ONTRAVEL or SEEKINGEMP (only address sites can be edited)."""
    site = _named(ctx, "Edit")
    if site is not None and site_type(site) != "SOA":
        return Violation.of("S2207", site_of_activity_type=site_type(site))
    return None


@rule("S2214", "j.SiteOfActivity")
def delete_address_sites_only(ctx: RuleContext) -> Violation | None:
    """A delete names a site of type EXEMPT (it is replaced by adding an address site, not deleted). [i]"""
    site = _named(ctx, "Delete")
    if site is not None and site_type(site) == "EXEMPT":
        return Violation.of("S2214", site_of_activity_type="EXEMPT")
    return None
