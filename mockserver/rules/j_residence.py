"""J rules on the residential address block (Au Pairs and Secondary School Students only)."""

from __future__ import annotations

from lxml import etree

from ..xmlsafe import XML_SPACE
from . import RuleContext, Violation, rule, sent, text
from .j_common import AU_PAIR, SECONDARY, category


def _residence(ctx: RuleContext) -> etree._Element | None:
    scope = sent(ctx)
    return scope.find("ResidentialAddress")


def _filled(element: etree._Element | None) -> bool:
    """True when ``element`` or any element inside it has a value (empty tags are blank)."""
    return element is not None and any(
        (e.text or "").strip(XML_SPACE) for e in element.iter() if isinstance(e.tag, str)
    )


@rule("S2239", "j.create", "j.Biographical")
def residence_only_for_au_pairs_and_secondary(ctx: RuleContext) -> Violation | None:
    """Residential address fields have values for a category other than Au Pair or Secondary School Student. [i] category codes"""
    if _filled(_residence(ctx)) and category(ctx) not in (AU_PAIR, SECONDARY):
        return Violation.of("S2239")
    return None


@rule("S2240", "j.create", "j.Biographical")
def au_pair_has_no_boarding_school(ctx: RuleContext) -> Violation | None:
    """An Au Pair's residential address has boarding school fields or a residential type. [i] category codes"""
    residence = _residence(ctx)
    if (
        category(ctx) == AU_PAIR
        and residence is not None
        and (_filled(residence.find("BoardingSchool")) or text(residence, "ResidentialType"))
    ):
        return Violation.of("S2240")
    return None


@rule("S2241", "j.create", "j.Biographical")
def residential_type_selected(ctx: RuleContext) -> Violation | None:
    """Host family or boarding school fields have values but no residential type is selected."""
    residence = _residence(ctx)
    if (
        category(ctx) == SECONDARY
        and residence is not None
        and not text(residence, "ResidentialType")
        and (_filled(residence.find("HostFamily")) or _filled(residence.find("BoardingSchool")))
    ):
        return Violation.of("S2241")
    return None


@rule("S2242", "j.create", "j.Biographical")
def host_family_has_no_boarding_school(ctx: RuleContext) -> Violation | None:
    """A Secondary School Student with residential type Host Family (HST) has boarding school fields. [i] category codes"""
    residence = _residence(ctx)
    if (
        category(ctx) == SECONDARY
        and residence is not None
        and text(residence, "ResidentialType") == "HST"
        and _filled(residence.find("BoardingSchool"))
    ):
        return Violation.of("S2242")
    return None


@rule("S2243", "j.create", "j.Biographical")
def boarding_school_has_no_host_family(ctx: RuleContext) -> Violation | None:
    """A Secondary School Student with residential type Boarding School (BRD) has host family fields. [i] category codes"""
    residence = _residence(ctx)
    if (
        category(ctx) == SECONDARY
        and residence is not None
        and text(residence, "ResidentialType") == "BRD"
        and _filled(residence.find("HostFamily"))
    ):
        return Violation.of("S2243")
    return None
