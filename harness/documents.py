"""The batch documents the harness sends: one place for the XML of every action of the two state machines
(:mod:`sevis_mock.harness.lifecycle`, :mod:`sevis_mock.harness.procedure_machine`) and the rehearsal's
re-addressing of a college's own file.

Pure functions over lxml, no server: each document is a fixture (``fixtures/fm``, ``fixtures/j``) addressed to
an organization, user and batch ID (:func:`address`), with fresh names and dates, or an update built element by
element in the order the F/M 6.55 and J 6.27 schemas give (:func:`event_element`).
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from lxml import etree

from sevis_mock.fixtures import read_fixture

if TYPE_CHECKING:  # the lifecycle model's records and requests (plain data)
    from .lifecycle_model import Op, Person

FM, J = "F/M", "J"  # the kinds of organization: a school (students) or an exchange-visitor sponsor
SPOUSE, CHILD = "01", "02"  # dependent relationship codes
ROOTS = {FM: "SEVISBatchCreateUpdateStudent", J: "SEVISBatchCreateUpdateEV"}

# kind -> (create fixture, create wrapper, update wrapper, principal tag, name path)
LAYOUT = {
    FM: ("fm/create-with-dependent.xml", "CreateStudent", "UpdateStudent", "Student", "PersonalInfo/FullName"),
    J: ("j/create-with-dependent-and-site.xml", "CreateEV", "UpdateEV", "ExchangeVisitor", "Biographical/FullName"),
}
# kind -> a batch of two creates, the second ending its program before it starts (S1009 / S2282)
RULE_FAILURE = {FM: "fm/rule-S1009-program-end-before-start.xml", J: "j/rule-S2282-program-end-before-start.xml"}


def letters(n: int) -> str:
    """A distinct run of letters A-Z for each number (names must hold letters only): 0 -> "A", 27 -> "BB"."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out += chr(ord("A") + r)
        if n == 0:
            return out


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def address(root: etree._Element, *, org_id: str, user_id: str, batch_id: str) -> list[str]:
    """Address a batch document in place: BatchHeader/BatchID and OrgID, and every ``userID`` attribute (the
    document's and each record's). Returns the changes made, in words; raises ``ValueError`` naming what the
    header lacks."""
    header = next((c for c in root if isinstance(c.tag, str) and _local(c) == "BatchHeader"), None)
    if header is None:
        raise ValueError("the document has no BatchHeader; a SEVIS batch starts with BatchHeader(BatchID, OrgID)")
    changes: list[str] = []
    for name, value in (("BatchID", batch_id), ("OrgID", org_id)):
        element = next((c for c in header if isinstance(c.tag, str) and _local(c) == name), None)
        if element is None:
            raise ValueError(f"BatchHeader has no {name}")
        old = (element.text or "").strip()
        if old != value:
            changes.append(f"BatchHeader/{name} {old or '(empty)'} -> {value}")
        element.text = value
    changed_users: dict[str, int] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        old = element.get("userID")
        if old is not None and old != user_id:
            changed_users[old] = changed_users.get(old, 0) + 1
            element.set("userID", user_id)
    for old, count in changed_users.items():
        changes.append(f"userID {old} -> {user_id} ({count} attribute{'s' if count != 1 else ''})")
    return changes


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def no_forms(root: etree._Element) -> None:
    """Every ``printForm`` attribute false: the machines compare logs, not PDFs (rendering them costs time)."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("printForm") is not None:
            element.set("printForm", "false")


def rename(root: etree._Element, suffix: str) -> None:
    """Every person's last name with ``suffix`` added (a new person for SEVIS's duplicate checks)."""
    for last in root.iter("LastName"):
        last.text = f"{last.text} {suffix}"[:40]


def _e(tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.Element(tag, **attrs)
    el.text = text
    return el


def _tree(tag: str, *kids: etree._Element, **attrs: str) -> etree._Element:
    el = etree.Element(tag, **attrs)
    el.extend(kids)
    return el


def us_address(address1: str, city: str, state: str, zip_code: str) -> etree._Element:
    return _tree(
        "USAddress", _e("Address1", address1), _e("City", city), _e("State", state), _e("PostalCode", zip_code)
    )


# --- the procedure's uploads: whole fixtures, addressed -------------------------------------------------------


class BatchDocuments:
    """The procedure machine's uploads, each addressed to the org, user and batch ID of the upload: a valid
    create (one principal with a dependent), a batch with one business-rule failure, a schema-generated
    document, a single-fault mutant, malformed XML. ``kind`` F/M or J picks the fixtures."""

    def __init__(self) -> None:
        from sevis_mock.schemas import schema_for_root

        self.xsd = schema_for_root(ROOTS[FM])
        self.schema = etree.XMLSchema(etree.parse(str(self.xsd)))
        self._good = {kind: etree.fromstring(read_fixture(LAYOUT[kind][0])) for kind in LAYOUT}
        self._rule = {kind: etree.fromstring(read_fixture(name)) for kind, name in RULE_FAILURE.items()}
        self._mutations: list | None = None

    def _addressed(self, base: etree._Element, org_id: str, user_id: str, batch_id: str, n: int) -> etree._Element:
        root = copy.deepcopy(base)
        address(root, org_id=org_id, user_id=user_id, batch_id=batch_id)
        no_forms(root)
        rename(root, letters(n + 700))
        return root

    def good(self, kind: str, org_id: str, user_id: str, batch_id: str, n: int, today: date) -> bytes:
        """A valid create; F/M program dates from 30 days after ``today`` (S1010 refuses a start in the past), J
        the fixture's (2030)."""
        root = self._addressed(self._good[kind], org_id, user_id, batch_id, n)
        if kind == FM:
            start = today + timedelta(days=30)
            for el in root.iter("PrgStartDate"):
                el.text = start.isoformat()
            for el in root.iter("PrgEndDate"):
                el.text = (start + timedelta(days=700)).isoformat()
        return serialize(root)

    def rule_failure(self, kind: str, org_id: str, user_id: str, batch_id: str, n: int) -> bytes:
        """Two creates: ``<code>-0001`` correct, ``<code>-0002`` ending before it starts (S1009 / S2282)."""
        return serialize(self._addressed(self._rule[kind], org_id, user_id, batch_id, n))

    def generated(self, tree: Any, org_id: str, user_id: str, batch_id: str) -> tuple[bytes, int, set]:
        """(document, principals, requestIDs of its creates): a generated F/M document addressed, requestIDs G<n>."""
        root = copy.deepcopy(tree.getroot() if hasattr(tree, "getroot") else tree)
        address(root, org_id=org_id, user_id=user_id, batch_id=batch_id)
        no_forms(root)
        for n, student in enumerate(root.iter("Student")):
            student.set("requestID", f"G{n}")
        xml = serialize(root)
        return (xml, *self.creates(xml))

    @staticmethod
    def creates(xml: bytes) -> tuple[int, set]:
        """(principals, requestIDs of the principals it creates) of a document."""
        root = etree.fromstring(xml)
        principals = [el for el in root.iter("Student", "ExchangeVisitor")]
        creates = {el.get("requestID") for el in principals if el.getparent().tag in ("CreateStudent", "CreateEV")}
        return len(principals), creates

    def valid(self, xml: bytes) -> bool:
        return bool(self.schema.validate(etree.fromstring(xml).getroottree()))

    def mutations(self) -> list:
        """Single faults of the good F/M document that libxml2 also rejects (computed once)."""
        if self._mutations is None:
            from sevis_mock.harness.mutants import mutations

            template = self.good(FM, "MCK214F00001000", "MCKPDSO001", "PM000000000000", 0, date(2027, 1, 20))
            tree = etree.fromstring(template).getroottree()
            kept = []
            for m in mutations(str(self.xsd), tree):
                broken = m.apply(copy.deepcopy(tree))
                if broken is not None and not self.schema.validate(broken[0]):
                    kept.append(m)
            self._mutations = kept
        return self._mutations

    def mutant(self, k: int, org_id: str, user_id: str, batch_id: str, n: int, today: date) -> tuple[bytes, str]:
        """(document, expected code): S0012 when the fault breaks the header's BatchID/OrgID, else S0013."""
        chosen = self.mutations()[k % len(self.mutations())]
        tree = etree.fromstring(self.good(FM, org_id, user_id, batch_id, n, today)).getroottree()
        broken, _ = chosen.apply(tree)
        root = broken.getroot()
        header_batch, header_org = root.findtext("BatchHeader/BatchID"), root.findtext("BatchHeader/OrgID")
        mismatch = (header_batch is not None and header_batch.strip() != batch_id) or (
            header_org is not None and header_org.strip() != org_id
        )
        return etree.tostring(broken, xml_declaration=True, encoding="UTF-8"), "S0012" if mismatch else "S0013"

    @staticmethod
    def malformed() -> bytes:
        return b"<?xml version='1.0'?><SEVISBatchCreateUpdateStudent><BatchHeader>"


def generated_documents():
    """Strategy of F/M documents valid against the project's schema (small ones: each upload stays cheap)."""
    from sevis_mock.harness.strategies import trees
    from sevis_mock.schemas import schema_for_root

    return trees(schema_for_root(ROOTS[FM]), ROOTS[FM], max_repeats=1, max_elements=60, max_text=12)


# --- the lifecycle's batches: creates from the fixtures, updates element by element ---------------------------


class RecordDocuments:
    """Batch documents built from the fixtures, with fresh names, dates and request IDs, for one F/M school and
    one J sponsor (``org_ids`` and ``user_ids`` by kind)."""

    def __init__(self, org_ids: dict[str, str], user_ids: dict[str, str]) -> None:
        self.org_ids = org_ids
        self.user_ids = user_ids
        self._bases = {kind: etree.fromstring(read_fixture(LAYOUT[kind][0])) for kind in LAYOUT}

    def _skeleton(self, kind: str, batch_id: str) -> etree._Element:
        root = copy.deepcopy(self._bases[kind])
        for child in list(root):
            if child.tag != "BatchHeader":
                root.remove(child)
        address(root, org_id=self.org_ids[kind], user_id=self.user_ids[kind], batch_id=batch_id)
        return root

    def create(self, kind: str, batch_id: str, people: list[Person]) -> bytes:
        _, create_tag, _, tag, name_path = LAYOUT[kind]
        root = self._skeleton(kind, batch_id)
        wrapper = etree.SubElement(root, create_tag)
        template = self._bases[kind].find(f"{create_tag}/{tag}")
        dates = "EducationalInfo/" if kind == FM else ""
        for person in people:
            element = copy.deepcopy(template)
            element.set("requestID", person.request_id)
            element.set("userID", self.user_ids[kind])
            element.set("printForm", "false")
            element.find(f"{dates}PrgStartDate").text = person.program_start.isoformat()
            element.find(f"{dates}PrgEndDate").text = person.program_end.isoformat()
            last = element.find(f"{name_path}/LastName")
            last.text = f"{last.text} {person.identity}"
            for dep in element.iter("Dependent"):
                dep_last = dep.find(".//FullName/LastName")
                dep_last.text = f"{dep_last.text} {person.identity}"
            if not person.with_dependent:
                for block in element.findall("CreateDependent"):
                    element.remove(block)
            wrapper.append(element)
        return serialize(root)

    def update(self, kind: str, batch_id: str, ops: list[Op], today: date) -> bytes:
        _, _, update_tag, tag, _ = LAYOUT[kind]
        root = self._skeleton(kind, batch_id)
        wrapper = etree.SubElement(root, update_tag)
        for op in ops:
            element = etree.SubElement(
                wrapper, tag, sevisID=op.person.sevis_id or "", requestID=op.request_id, userID=self.user_ids[kind]
            )
            element.append(event_element(kind, op, today))
        return serialize(root)

    def schema_invalid(self, kind: str, batch_id: str) -> bytes:
        root = self._skeleton(kind, batch_id)
        etree.SubElement(root, "NotASevisElement").text = "x"
        return serialize(root)


def event_element(kind: str, op: Op, today: date) -> etree._Element:
    """The event's XML, as the 6.55 (F/M) and 6.27 (J) update schemas order it."""
    action, day = op.action, today.isoformat()
    if action == "Registration":
        reg = op.registration
        assert reg is not None, "a Registration request carries its session dates"
        parts = [
            _e("LastSession", "true" if reg.last_session else "false"),
            _e("CurrentSessionStartDate", reg.start.isoformat()),
            _e("CurrentSessionEndDate", reg.end.isoformat()),
        ]
        if reg.next_start is not None:
            parts.append(_e("NextSessionStartDate", reg.next_start.isoformat()))
        parts.append(_e("Email", "student@example.com"))
        if reg.us_address:
            parts.append(us_address("305 Memorial Drive", "Cambridge", "MA", "02139"))
        return _tree("Registration", *parts, printForm="false")
    if action == "Validate":
        return _tree(
            "Validate",
            us_address("2400 M Street NW", "Washington", "DC", "20037"),
            _e("EmailAddress", "visitor@example.org"),
        )
    if action.startswith("Status/"):
        return _tree("Status", status_action(kind, action.partition("/")[2], day))
    return _tree("Dependent", dependent_action(kind, op, day))


def status_action(kind: str, name: str, day: str) -> etree._Element:
    if name == "Cancel":
        return _tree("Cancel", _e("Reason", "01"), _e("Remarks", "Student chose another school"))
    if name == "Complete":
        return _tree("Complete", _e("Remarks", "Completed all degree requirements"))
    if name == "Invalid":
        return _tree("Invalid", _e("Remarks", "Created in error"))
    if name == "NoShow":
        return _e("NoShow")
    if kind == FM:  # Terminate
        return _tree("Terminate", _e("Reason", "01"), _e("Remarks", "Unauthorized withdrawal"))
    return _tree(
        "Terminate", _e("Reason", "OTHER"), _e("EffectiveDate", day), _e("OtherRemarks", "Left the program early")
    )


def dependent_action(kind: str, op: Op, day: str) -> etree._Element:
    name = op.action.partition("/")[2]
    if name == "Add":
        return added_dependent(kind, op)
    named = {"dependentSevisID": op.dependent_id or ""}
    if name == "Cancel":
        return _tree("Cancel", _e("Reason", "01"), **named)
    if name == "Reactivate":
        return _e("Reactivate", printForm="false", **named)
    if name == "Delete":
        return _e("Delete", **named)
    if name == "EndStatus":
        return _tree("EndStatus", _e("Reason", "02"), **named)
    if kind == FM:  # Terminate
        return _tree("Terminate", _e("Reason", "02"), **named)
    return _tree("Terminate", _e("Reason", "01"), _e("EffectiveDate", day), **named)


# kind -> (birth city, country) of an added dependent, and what the schema wants after the country codes
ADDED_DEPENDENT = {FM: ("Chennai", "IN"), J: ("Heidelberg", "GM")}


def added_dependent(kind: str, op: Op) -> etree._Element:
    spouse = op.relationship == SPOUSE
    name = _tree(
        "FullName", _e("LastName", f"DEPENDENT {op.person.identity}"), _e("FirstName", "SAM" if spouse else "MEERA")
    )
    city, country = ADDED_DEPENDENT[kind]
    parts = [
        name,
        _e("BirthDate", "1996-04-02" if spouse else "2021-06-30"),
        _e("Gender", "M" if spouse else "F"),
        _e("BirthCity", city),
        _e("BirthCountryCode", country),
        _e("CitizenshipCountryCode", country),
    ]
    if kind == FM:
        parts += [_e("VisaType", "04"), _e("Relationship", op.relationship or CHILD)]
    else:
        parts += [
            _e("PermanentResidenceCountryCode", country),
            _e("Relationship", op.relationship or CHILD),
            _e("FormPurpose", "06"),
        ]
    return _tree("Add", *parts, printForm="false")
