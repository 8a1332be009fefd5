"""Amending a stored record's XML in place, by SEVIS's blank-tag rule (PROTOCOL §5).

An element present with a value sets that value; an element present but empty clears it; an element
absent leaves the stored value alone. [i] Groups that describe one thing (an address, a telephone, the
English-proficiency block) are replaced whole when sent, so that a new address does not keep the old
address's second line; other groups (names, funding) are merged field by field.
"""

from __future__ import annotations

import copy

from lxml import etree

from ..xmlsafe import XML_SPACE

# Groups replaced whole when sent (an empty one clears the group). [i]
WHOLE = frozenset(
    {
        "USAddress",
        "MailingAddress",
        "MailAddress",
        "ForeignAddress",
        "Telephone",
        "EngProficiency",
        "EduLevel",
        "EmployerAddress",
        "ResidentialAddress",
        "TippPhaseDates",
        "ParticipantInfo",
        "LCCoordinator",
        "PContact",
        "HostFamily",
        "BoardingSchool",
    }
)

# Child order of the stored groups, as the create schemas lay them out, so an element added by an
# event lands where a client reading the record would look for it. Tags not listed go last.
ORDER: dict[str, tuple[str, ...]] = {
    "Student": (
        "UserDefinedA",
        "UserDefinedB",
        "PersonalInfo",
        "IssueReason",
        "USAddress",
        "MailingAddress",
        "ForeignAddress",
        "EducationalInfo",
        "FinancialInfo",
        "CreateDependent",
        "Remarks",
    ),
    "PersonalInfo": (
        "FullName",
        "BirthDate",
        "Gender",
        "BirthCity",
        "BirthCountryCode",
        "CitizenshipStatus",
        "CitizenshipCountryCode",
        "Email",
        "Commuter",
        "VisaType",
        "Telephone",
    ),
    "FullName": ("LastName", "FirstName", "PassportName", "PreferredName", "Suffix"),
    "EducationalInfo": (
        "EduLevel",
        "MajorCode1",
        "MajorCode2",
        "Minor",
        "IssDate",
        "PrgStartDate",
        "PrgEndDate",
        "EngProficiency",
    ),
    "Expense": ("Tuition", "LivingExpense", "DependentExp", "Other"),
    "Funding": ("Personal", "School", "Other", "Employment"),
    "Other": ("Name", "Amount", "Remarks"),
    "School": ("Amount", "Remarks"),
    "ExchangeVisitor": (
        "UserDefinedA",
        "UserDefinedB",
        "Biographical",
        "PositionCode",
        "PrgStartDate",
        "PrgEndDate",
        "CategoryCode",
        "OccupationCategoryCode",
        "SubjectField",
        "USAddress",
        "MailAddress",
        "FinancialInfo",
        "CreateDependent",
        "AddSiteOfActivity",
        "AddTIPP",
        "ResidentialAddress",
    ),
    "Biographical": (
        "FullName",
        "BirthDate",
        "Gender",
        "BirthCity",
        "BirthCountryCode",
        "CitizenshipCountryCode",
        "PermanentResidenceCountryCode",
        "BirthCountryReason",
        "EmailAddress",
        "PhoneNumber",
    ),
    "Dependent": (
        "FullName",
        "BirthDate",
        "Gender",
        "BirthCity",
        "BirthCountryCode",
        "CitizenshipStatus",
        "CitizenshipCountryCode",
        "PermanentResidenceCountryCode",
        "BirthCountryReason",
        "Email",
        "EmailAddress",
        "VisaType",
        "Relationship",
        "USPhoneNumber",
        "USAddress",
        "MailingAddress",
        "Remarks",
        "UserDefinedA",
        "UserDefinedB",
    ),
    "OtherFunds": ("USGovt", "International", "EVGovt", "BinationalCommission", "Other", "Personal"),
    "USGovt": ("Org1", "OtherName1", "Amount1", "Org2", "OtherName2", "Amount2"),
    "International": ("Org1", "OtherName1", "Amount1", "Org2", "OtherName2", "Amount2"),
}
ORDER["FinancialInfo"] = (
    "AcademicTerm",
    "Expense",
    "Funding",
    "ReceivedUSGovtFunds",
    "ProgramSponsorFunds",
    "OtherFunds",
)


def is_blank(element: etree._Element) -> bool:
    """An element sent empty: no text and no child elements (the blank tag that clears a value)."""
    return not (element.text or "").strip(XML_SPACE) and not any(isinstance(c.tag, str) for c in element)


def children(element: etree._Element) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str)]


def place(parent: etree._Element, child: etree._Element) -> etree._Element:
    """Insert ``child`` into ``parent`` at its schema position (after the last sibling that comes before it)."""
    order = ORDER.get(parent.tag, ())
    if child.tag not in order:
        parent.append(child)
        return child
    rank = order.index(child.tag)
    index = 0
    for i, sibling in enumerate(parent):
        if isinstance(sibling.tag, str) and sibling.tag in order and order.index(sibling.tag) <= rank:
            index = i + 1
    parent.insert(index, child)
    return child


def ensure(parent: etree._Element, path: str) -> etree._Element:
    """The element at ``path`` (slash-separated tags) under ``parent``, created where missing."""
    node = parent
    for tag in path.split("/"):
        found = node.find(tag)
        node = found if found is not None else place(node, etree.Element(tag))
    return node


def set_text(parent: etree._Element, path: str, value: str | None) -> None:
    """Set the value at ``path``; ``None`` or "" removes it (the blank-tag rule's clear)."""
    if not value:
        remove(parent, path)
        return
    ensure(parent, path).text = value


def remove(parent: etree._Element, path: str) -> None:
    found = parent.find(path)
    if found is not None:
        detach(found)


def detach(element: etree._Element) -> None:
    """Take ``element`` out of its document (an element without a parent stays as it is)."""
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


def replace(parent: etree._Element, sent: etree._Element, tag: str | None = None) -> None:
    """Replace the child named ``tag`` (default: the sent tag) with a copy of ``sent``; blank clears it."""
    tag = tag or sent.tag
    remove(parent, tag)
    if is_blank(sent):
        return
    new = copy.deepcopy(sent)
    new.tag = tag
    new.tail = None
    place(parent, new)


def merge(target: etree._Element, sent: etree._Element, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Apply ``sent``'s children to ``target`` by the blank-tag rule; returns the tags it changed."""
    changed: list[str] = []
    for child in children(sent):
        if child.tag in skip:
            continue
        changed.append(child.tag)
        if child.tag in WHOLE or is_blank(child):
            replace(target, child)
        elif children(child):
            group = ensure(target, child.tag)
            merge(group, child)
            if is_blank(group) and not group.attrib:  # every field cleared: the group goes too
                target.remove(group)
        else:
            ensure(target, child.tag).text = (child.text or "").strip(XML_SPACE)
    return changed


def copy_as(element: etree._Element, tag: str, *, skip: tuple[str, ...] = (), **attrs: str) -> etree._Element:
    """A copy of ``element`` renamed ``tag``, without the children named in ``skip`` or its attributes."""
    new = etree.Element(tag, {k: v for k, v in attrs.items() if v is not None})
    new.text = None
    for child in children(element):
        if child.tag not in skip:
            c = copy.deepcopy(child)
            c.tail = None
            new.append(c)
    return new
