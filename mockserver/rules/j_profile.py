"""J rules that read the sponsor's Department of State designation as SEVIS holds it (the organization
profile, set through ``POST /control/orgs/<id>/profile`` or ``POST /control/seed``; see
``mockserver/profiles.py``).

Each rule is silent when no profile is known (offline validation without a state file).
"""

from __future__ import annotations

from . import RuleContext, Violation, rule, text
from .j_common import J_ALL_EVENTS, tipp_exempt


@rule("S2157", *J_ALL_EVENTS)
def designation_active(ctx: RuleContext) -> Violation | None:
    """The sponsor's designation is not active (profile active: false): no create or update is accepted."""
    if ctx.profile is not None and not ctx.profile["active"]:
        return Violation.of("S2157")
    return None


def _not_designated(ctx: RuleContext, profile_key: str, path: str) -> str | None:
    """The code the create sends at ``path`` when the sponsor's profile ``profile_key`` does not list it."""
    designated = None if ctx.profile is None else ctx.profile[profile_key]
    code = text(ctx.element, path)
    return code if designated is not None and code and code not in designated else None


@rule("S2163", "j.create")
def category_designated(ctx: RuleContext) -> Violation | None:
    """The exchange visitor's category code is not one the sponsor is designated for (profile categories)."""
    code = _not_designated(ctx, "categories", "CategoryCode")
    return Violation.of("S2163", invalid_category_code=code) if code else None


@rule("S2235", "j.create")
def occupational_category_designated(ctx: RuleContext) -> Violation | None:
    """The occupational category code sent is not one the sponsor is designated for (profile occupational_categories)."""
    code = _not_designated(ctx, "occupational_categories", "OccupationCategoryCode")
    return Violation.of("S2235", category_code=code) if code else None


@rule("S2021", "j.create")
def form_allotment_left(ctx: RuleContext) -> Violation | None:
    """The sponsor has created as many exchange visitors since its form allotment was set as the allotment allows (profile form_allotment)."""
    profile = ctx.profile
    allotment = None if profile is None else profile["form_allotment"]
    if (
        profile is not None
        and allotment is not None
        and ctx.count_org_records() - profile["form_allotment_base"] >= allotment
    ):
        return Violation.of("S2021")
    return None


@rule("S2250", "j.create")
def korea_west_sponsor(ctx: RuleContext) -> Violation | None:
    """An exchange visitor is created in the Korea WEST program (TippExemptProgram KW) by a sponsor that does not run it (profile korea_west: false)."""
    if ctx.profile is not None and not ctx.profile["korea_west"] and tipp_exempt(ctx.element) == "KW":
        return Violation.of("S2250")
    return None


@rule("S2257", "j.create")
def no_iwt_for_korea_west_sponsor(ctx: RuleContext) -> Violation | None:
    """A Korea WEST sponsor (profile korea_west: true) creates an exchange visitor in the IWT program."""
    if ctx.profile is not None and ctx.profile["korea_west"] and tipp_exempt(ctx.element) == "IWT":
        return Violation.of("S2257")
    return None
