"""Address rules of both families: every U.S. address of a request goes through the address doctor.

A bad city-state-ZIP combination, a street the doctor cannot find (without an ExplanationCode to
override it) and ExplanationCode OO without an Explanation each fail the record with the code SEVIS
gives for that kind of address (see :mod:`sevis_mock.server.addresses`). The F/M "OO without an Explanation"
codes S1147 and S1156 are the rules in ``fm_personal.py`` (same condition).
"""

from __future__ import annotations

from typing import Iterator

from lxml import etree

from .. import addresses
from ..addresses import BAD_CSZ, BAD_STREET, NO_EXPLANATION, Codes
from . import RuleContext, Violation, rule, sent
from .fm_facts import FM_UPDATE_EVENTS
from .j_common import J_ALL_EVENTS

FM_ALL_EVENTS = ("fm.create", *FM_UPDATE_EVENTS)
J_PERSON_ADDRESSES = {"USAddress": addresses.J_US, "MailAddress": addresses.J_MAIL}
FM_ADDRESSES = {
    "USAddress": addresses.FM_PERSON,
    "MailingAddress": addresses.FM_PERSON,
    "EmployerAddress": addresses.FM_EMPLOYER,
}


def _scope(ctx: RuleContext) -> etree._Element:
    return sent(ctx)


def _is_address(element: etree._Element) -> bool:
    return element.find("Address1") is not None and element.find("PostalCode") is not None


def j_addresses(ctx: RuleContext) -> Iterator[tuple[etree._Element, Codes]]:
    """Each U.S. address of a J request: U.S. and mailing addresses, sites of activity, T/IPP sites."""
    for element in _scope(ctx).iter():
        if isinstance(element.tag, str) and _is_address(element):
            yield element, J_PERSON_ADDRESSES.get(element.tag, addresses.J_SITE)


def fm_addresses(ctx: RuleContext) -> Iterator[tuple[etree._Element, Codes]]:
    """Each U.S. address of an F/M request: U.S., mailing and employer addresses (foreign ones are not doctored)."""
    for element in _scope(ctx).iter(*FM_ADDRESSES):
        if _is_address(element):
            yield element, FM_ADDRESSES[element.tag]


def _failure(found: Iterator[tuple[etree._Element, Codes]], status: str, kind: str) -> Violation | None:
    """The first address of ``kind`` ("site", "person", …) whose doctor's verdict is ``status``."""
    for element, codes in found:
        if _kind(codes) != kind:
            continue
        if addresses.standardize(addresses.provided(element)).status == status:
            return Violation.of(getattr(codes, status), **codes.placeholders)
    return None


def _kind(codes: Codes) -> str:
    if codes is addresses.J_SITE:
        return "site"
    if codes is addresses.FM_EMPLOYER:
        return "employer"
    return "person"


@rule("S2247", *J_ALL_EVENTS)
def site_city_state_zip(ctx: RuleContext) -> Violation | None:
    """A site of activity (or T/IPP site) address has an invalid city-state-ZIP combination."""
    return _failure(j_addresses(ctx), BAD_CSZ, "site")


@rule("S2248", *J_ALL_EVENTS)
def site_street(ctx: RuleContext) -> Violation | None:
    """A site of activity address has a valid city-state-ZIP but a street the doctor cannot find, and no ExplanationCode."""
    return _failure(j_addresses(ctx), BAD_STREET, "site")


@rule("S2249", *J_ALL_EVENTS)
def site_override_explained(ctx: RuleContext) -> Violation | None:
    """A site of activity address overrides an unfound street with ExplanationCode OO but gives no Explanation."""
    return _failure(j_addresses(ctx), NO_EXPLANATION, "site")


@rule("S2267", *J_ALL_EVENTS)
def person_city_state_zip(ctx: RuleContext) -> Violation | None:
    """The exchange visitor's U.S. or mailing address has an invalid city-state-ZIP combination."""
    return _failure(j_addresses(ctx), BAD_CSZ, "person")


@rule("S2268", *J_ALL_EVENTS)
def person_street(ctx: RuleContext) -> Violation | None:
    """The exchange visitor's U.S. or mailing address has a street the doctor cannot find and no ExplanationCode."""
    return _failure(j_addresses(ctx), BAD_STREET, "person")


@rule("S2269", *J_ALL_EVENTS)
def person_override_explained(ctx: RuleContext) -> Violation | None:
    """The exchange visitor's U.S. or mailing address uses ExplanationCode OO without an Explanation."""
    return _failure(j_addresses(ctx), NO_EXPLANATION, "person")


@rule("S1145", *FM_ALL_EVENTS)
def student_city_state_zip(ctx: RuleContext) -> Violation | None:
    """The student's U.S. or mailing address has an invalid city-state-ZIP combination."""
    return _failure(fm_addresses(ctx), BAD_CSZ, "person")


@rule("S1146", *FM_ALL_EVENTS)
def student_street(ctx: RuleContext) -> Violation | None:
    """The student's U.S. or mailing address has a street the doctor cannot find and no ExplanationCode."""
    return _failure(fm_addresses(ctx), BAD_STREET, "person")


@rule("S1154", *FM_ALL_EVENTS)
def employer_city_state_zip(ctx: RuleContext) -> Violation | None:
    """An employer address has an invalid city-state-ZIP combination."""
    return _failure(fm_addresses(ctx), BAD_CSZ, "employer")


@rule("S1155", *FM_ALL_EVENTS)
def employer_street(ctx: RuleContext) -> Violation | None:
    """An employer address has a street the doctor cannot find and no ExplanationCode."""
    return _failure(fm_addresses(ctx), BAD_STREET, "employer")
