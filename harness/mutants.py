"""Single-fault mutants: a valid document with exactly one schema constraint broken, and which one.

Public API::

    from sevis_mock.harness.mutants import KINDS, Mutant, mutants, mutations, valid_and_mutant

    mutations(xsd, document)           # every applicable single fault of a valid document (list);
                                       # Mutation.apply(tree) -> (broken copy, detail) or None
    mutants(xsd, document, kinds=KINDS)  # strategy of Mutant: one fault, kind drawn first
    valid_and_mutant(xsd, root, n=2)   # strategy of (valid bytes, [Mutant, ...]) built on sevis_mock.harness.strategies

A :class:`Mutant` carries ``kind`` (one of :data:`KINDS`), ``path`` (``/Root/Child[2]/@attr``),
``detail`` (a sentence) and the broken ``document`` (bytes). ``xsd`` is a schema path or an xmlschema
object, ``document`` bytes or an lxml tree that is valid against it.

Each structural fault is chosen where the content model makes it a fault by construction (e.g. a
required element is only dropped when it is required by every enclosing group, its name occurs once in
the content model and no other branch could take its place). Value faults are built for the facet in
question and double-checked with xmlschema's own reading of the simple type; a fault that xmlschema
would accept is never offered. Whether libxml2 agrees is for the tests to prove.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Callable

from hypothesis import strategies as st
from lxml import etree
from xmlschema.validators import (
    XsdAnyElement,
    XsdAtomicBuiltin,
    XsdComplexType,
    XsdElement,
    XsdGroup,
    XsdUnion,
)

from sevis_mock.server.validation import readable_path

from .strategies import XSI, documents_and_trees, load_schema, serialize, value_checker

__all__ = ["KINDS", "Mutant", "Mutation", "mutants", "mutations", "valid_and_mutant"]

KINDS = (
    "missing-element",
    "missing-attribute",
    "too-many",
    "wrong-order",
    "unknown-element",
    "unknown-attribute",
    "enumeration",
    "pattern",
    "length",
    "range",
    "date",
)
UNKNOWN = "SevisMockUnexpected"


@dataclass(frozen=True)
class Mutant:
    kind: str
    path: str
    detail: str
    document: bytes


@dataclass
class Mutation:
    """One applicable fault; ``apply`` breaks a copy of the document (None when it cannot)."""

    kind: str
    path: str
    apply: Callable[[etree._ElementTree], tuple[etree._ElementTree, str] | None] = field(repr=False)


def mutants(xsd, document, kinds=KINDS) -> st.SearchStrategy[Mutant]:
    """One mutant of ``document``: a kind is drawn among those applicable (and in ``kinds``), then a
    place for it."""
    candidates = [m for m in mutations(xsd, document) if m.kind in kinds]
    if not candidates:
        raise ValueError("the document offers no single fault to inject")
    tree = _tree(document)
    by_kind: dict[str, list[Mutation]] = {}
    for m in candidates:
        by_kind.setdefault(m.kind, []).append(m)

    @st.composite
    def one(draw) -> Mutant:
        kinds = sorted(by_kind)
        while kinds:
            # a wide integer modulo the count spreads kinds evenly (sampled_from favours the first)
            kind = kinds[draw(st.integers(0, 2**16)) % len(kinds)]
            options = by_kind[kind]
            start = draw(st.integers(0, 2**16)) % len(options)
            for m in options[start:] + options[:start]:
                made = m.apply(tree)
                if made is not None:
                    broken, detail = made
                    return Mutant(m.kind, m.path, detail, serialize(broken))
            kinds.remove(kind)
        raise ValueError("no fault could be injected")

    return one()


def valid_and_mutant(xsd, root: str, n: int = 2, **limits) -> st.SearchStrategy[tuple[bytes, list[Mutant]]]:
    """A valid document of ``root`` and ``n`` mutants of it."""
    schema = load_schema(xsd)
    valid = documents_and_trees(schema, root, **limits)

    @st.composite
    def pair(draw):
        data, tree = draw(valid)
        strategy = mutants(schema, tree)
        return data, [draw(strategy) for _ in range(n)]

    return pair()


def mutations(xsd, document) -> list[Mutation]:
    schema = load_schema(xsd)
    tree = _tree(document)
    root = tree.getroot()
    element = schema.elements.get(root.tag) or schema.maps.elements.get(root.tag)
    if element is None:
        raise KeyError(f"{root.tag} is not a global element of {schema.url}")
    found: list[Mutation] = []
    _visit(schema, root, element, found)
    return found


# -- walking a valid document alongside its schema -------------------------------------------------


def _tree(document) -> etree._ElementTree:
    if isinstance(document, (bytes, str)):
        return etree.fromstring(document.encode() if isinstance(document, str) else document).getroottree()
    return document if isinstance(document, etree._ElementTree) else document.getroottree()


def _position(node: etree._Element) -> tuple[int, ...]:
    """Child indexes from the root down to ``node`` (namespace-proof, unlike an XPath)."""
    steps = []
    while node.getparent() is not None:
        steps.append(node.getparent().index(node))
        node = node.getparent()
    return tuple(reversed(steps))


def _locate(tree: etree._ElementTree, position: tuple[int, ...]) -> etree._Element:
    node = tree.getroot()
    for index in position:
        node = node[index]
    return node


def _actual_type(schema, node: etree._Element, declared):
    xsi_type = node.get(f"{{{XSI}}}type")
    if not xsi_type:
        return declared
    prefix, _, local = xsi_type.rpartition(":")
    namespace = node.nsmap.get(prefix or None)
    return schema.maps.types[f"{{{namespace}}}{local}" if namespace else local]


def _visit(schema, node: etree._Element, decl: XsdElement, found: list[Mutation]) -> None:
    xsd_type = _actual_type(schema, node, decl.type)
    path = _position(node)
    readable = readable_path(node)
    nil = node.get(f"{{{XSI}}}nil") in ("true", "1")
    if isinstance(xsd_type, XsdComplexType):
        _attribute_mutations(node, xsd_type, path, readable, found)
        if xsd_type.has_simple_content():
            if not nil and decl.fixed is None:
                _value_mutations(xsd_type.content, path, None, readable, found)
        elif isinstance(xsd_type.content, XsdGroup) and not nil:
            _content_mutations(schema, node, xsd_type.content, path, readable, found)
    elif not nil and decl.fixed is None:
        _value_mutations(xsd_type, path, None, readable, found)


def _attribute_mutations(node, xsd_type: XsdComplexType, path, readable, found) -> None:
    declared = {name: a for name, a in xsd_type.attributes.items() if name is not None}
    for name, attribute in declared.items():
        if name not in node.attrib:
            continue
        if getattr(attribute, "use", None) == "required":
            found.append(Mutation("missing-attribute", f"{readable}/@{name}", _drop_attribute(path, name)))
        if attribute.fixed is None:
            _value_mutations(attribute.type, path, name, f"{readable}/@{name}", found)
    if None not in xsd_type.attributes:  # no attribute wildcard
        found.append(Mutation("unknown-attribute", f"{readable}/@unexpected", _add_attribute(path)))


def _drop_attribute(path, name):
    def apply(tree):
        tree = copy.deepcopy(tree)
        del _locate(tree, path).attrib[name]
        return tree, f"required attribute {name} removed"

    return apply


def _add_attribute(path):
    def apply(tree):
        tree = copy.deepcopy(tree)
        _locate(tree, path).set("unexpected", "x")
        return tree, "undeclared attribute 'unexpected' added"

    return apply


def _particles(group: XsdGroup, chain=()):
    """(element declaration, enclosing groups innermost last) for every element particle."""
    chain = (*chain, group)
    for particle in group:
        if isinstance(particle, XsdGroup):
            yield from _particles(particle, chain)
        else:
            yield particle, chain


def _names(decl: XsdElement, schema) -> set[str]:
    members = {m.name for m in schema.maps.substitution_groups.get(decl.name, ())}
    return {decl.name, *members}


def _content_mutations(schema, node, content: XsdGroup, path, readable, found) -> None:
    particles = list(_particles(content))
    has_wildcard = any(isinstance(p, XsdAnyElement) for p, _ in particles)
    name_count: dict[str, int] = {}
    for decl, _ in particles:
        if isinstance(decl, XsdElement):
            for name in _names(decl, schema):
                name_count[name] = name_count.get(name, 0) + 1
    by_name = {
        name: (decl, chain)
        for decl, chain in particles
        if isinstance(decl, XsdElement)
        for name in _names(decl, schema)
    }
    children = [c for c in node if isinstance(c.tag, str)]
    if not has_wildcard:
        found.append(Mutation("unknown-element", f"{readable}/{UNKNOWN}", _insert_unknown(path)))
    counts: dict[str, int] = {}
    for child in children:
        counts[child.tag] = counts.get(child.tag, 0) + 1
    for index, child in enumerate(children):
        if child.tag not in by_name:
            continue
        decl, chain = by_name[child.tag]
        # structural faults only where one name means one particle (no substitution group members)
        unique = name_count.get(child.tag) == 1 and not has_wildcard and len(_names(decl, schema)) == 1
        child_path = _position(child)
        child_readable = readable_path(child)
        child_decl = schema.maps.elements.get(child.tag) if child.tag != decl.name else decl
        _visit(schema, child, child_decl or decl, found)
        if not unique:
            continue
        n = counts[child.tag]
        first = all(c.tag != child.tag for c in children[:index])
        if first and n == decl.min_occurs >= 1 and _required_everywhere(decl, chain):
            found.append(Mutation("missing-element", child_readable, _drop_all(path, child.tag)))
        if first and decl.max_occurs is not None and n == decl.max_occurs and all(g.max_occurs == 1 for g in chain):
            found.append(Mutation("too-many", child_readable, _duplicate(child_path)))
        if index + 1 < len(children):
            after = children[index + 1]
            other = by_name.get(after.tag)
            if (
                other
                and after.tag != child.tag
                and name_count.get(after.tag) == 1
                and len(_names(other[0], schema)) == 1
                and other[1] == chain
                and chain[-1].model == "sequence"
                and all(g.max_occurs == 1 for g in chain)
                and counts[after.tag] == 1
                and n == 1
            ):
                found.append(
                    Mutation(
                        "wrong-order",
                        f"{child_readable} <-> {readable_path(after)}",
                        _swap(child_path, _position(after)),
                    )
                )


def _required_everywhere(decl: XsdElement, chain) -> bool:
    """Dropping ``decl`` leaves a gap nothing else can fill."""
    for group in chain:
        if group.min_occurs != 1 or group.max_occurs != 1:
            return False
        if group.model == "choice":
            if group is not chain[-1] or decl not in list(group):
                return False  # a branch with several elements: another branch could match the rest
            if any(p.is_emptiable() for p in group):
                return False
    return True


def _drop_all(parent_path, tag):
    def apply(tree):
        tree = copy.deepcopy(tree)
        parent = _locate(tree, parent_path)
        for child in [c for c in parent if c.tag == tag]:
            parent.remove(child)
        return tree, f"required element {etree.QName(tag).localname} removed"

    return apply


def _duplicate(path):
    def apply(tree):
        tree = copy.deepcopy(tree)
        node = _locate(tree, path)
        node.addnext(copy.deepcopy(node))
        return tree, f"{etree.QName(node).localname} repeated beyond its maxOccurs"

    return apply


def _swap(first_path, second_path):
    def apply(tree):
        tree = copy.deepcopy(tree)
        first, second = _locate(tree, first_path), _locate(tree, second_path)
        second.addnext(first)  # moves first after second
        return tree, f"{etree.QName(first).localname} moved after {etree.QName(second).localname}"

    return apply


def _insert_unknown(path):
    def apply(tree):
        tree = copy.deepcopy(tree)
        node = _locate(tree, path)
        node.insert(0, etree.Element(UNKNOWN))
        return tree, f"undeclared element {UNKNOWN} inserted"

    return apply


# -- value faults ----------------------------------------------------------------------------------

XS = "http://www.w3.org/2001/XMLSchema"


def _value_mutations(simple_type, path, attribute, readable, found) -> None:
    for kind, maker in _VALUE_KINDS:
        if maker(simple_type, "probe") is not _NOT_APPLICABLE:
            found.append(Mutation(kind, readable, _set_value(simple_type, path, attribute, kind, maker)))


def _set_value(simple_type, path, attribute, kind, maker):
    def apply(tree):
        tree = copy.deepcopy(tree)
        node = _locate(tree, path)
        current = node.get(attribute) if attribute else (node.text or "")
        bad = maker(simple_type, current)
        if bad is _NOT_APPLICABLE or bad is None or bad == current or value_checker(simple_type)(bad):
            return None
        if attribute:
            node.set(attribute, bad)
        else:
            node.text = bad
        return tree, f"{kind}: {current!r} replaced by {bad!r}"

    return apply


_NOT_APPLICABLE = object()


def _members(simple_type):
    return list(simple_type.member_types) if isinstance(simple_type, XsdUnion) else [simple_type]


def _chain(t):
    while t is not None:
        yield t
        t = getattr(t, "base_type", None)


def _facet(t, name):
    for step in _chain(t):
        facet = (getattr(step, "facets", None) or {}).get(f"{{{XS}}}{name}")
        if facet is not None:
            return facet
    return None


def _primitive(t) -> str:
    primitive = getattr(t, "primitive_type", None)
    return getattr(primitive, "local_name", "") or ""


def _enumeration_fault(simple_type, current):
    members = _members(simple_type)
    allowed = set()
    for member in members:
        facet = _facet(member, "enumeration")
        if facet is not None:
            allowed |= {e.get("value") for e in facet}
        elif getattr(member, "max_length", None) == 0:  # an "empty string" member of a nullable union
            allowed.add("")
        else:
            return _NOT_APPLICABLE
    if allowed <= {""}:
        return _NOT_APPLICABLE
    if current == "probe":
        return None
    for candidate in ("ZZ", "QQQ", "Z", "99", "X" + (current or "")):
        if candidate not in allowed:
            return candidate
    return None


def _pattern_fault(simple_type, current):
    members = _members(simple_type)
    if any(_facet(m, "enumeration") is not None for m in members):
        return _NOT_APPLICABLE
    if not any(getattr(m, "patterns", None) for m in members):
        return _NOT_APPLICABLE
    if current == "probe":
        return None
    # same length, one character changed: breaks the pattern without touching length facets
    for position in range(len(current)):
        for char in "!#~A0a ":
            candidate = current[:position] + char + current[position + 1 :]
            if candidate != current and not value_checker(simple_type)(candidate) and _lengths_ok(members, candidate):
                return candidate
    for candidate in ("!", "~~", "#0"):
        if not value_checker(simple_type)(candidate) and _lengths_ok(members, candidate):
            return candidate
    return None


def _lengths_ok(members, value) -> bool:
    for member in members:
        low = getattr(member, "min_length", None) or 0
        high = getattr(member, "max_length", None)
        if len(value) >= low and (high is None or len(value) <= high):
            return True
    return False


def _length_fault(simple_type, current):
    members = _members(simple_type)
    if any(_facet(m, "enumeration") is not None for m in members):
        return _NOT_APPLICABLE
    if any(_primitive(m) not in ("string", "anyURI") for m in members):
        return _NOT_APPLICABLE
    highs = [getattr(m, "max_length", None) for m in members]
    if None in highs:
        return _NOT_APPLICABLE
    if current == "probe":
        return None
    pad = current[-1:] if current[-1:].strip() else "A"
    return (current or pad) + pad * (max(highs) + 1 - len(current or pad))


def _range_fault(simple_type, current):
    members = _members(simple_type)
    numeric = [m for m in members if _primitive(m) == "decimal"]
    if not numeric:
        return _NOT_APPLICABLE
    member = numeric[0]
    limits = []
    for name, step in (("maxInclusive", 1), ("maxExclusive", 0), ("minInclusive", -1), ("minExclusive", 0)):
        facet = _facet(member, name)
        if facet is not None:
            limits.append((facet.value, step))
    builtin = next((t.local_name for t in _chain(member) if isinstance(t, XsdAtomicBuiltin)), "")
    bounds = {
        "int": (-(2**31), 2**31 - 1),
        "short": (-(2**15), 2**15 - 1),
        "byte": (-128, 127),
        "long": (-(2**63), 2**63 - 1),
        "nonNegativeInteger": (0, None),
        "positiveInteger": (1, None),
        "unsignedInt": (0, 2**32 - 1),
        "unsignedShort": (0, 2**16 - 1),
        "unsignedByte": (0, 255),
    }
    if builtin in bounds:
        low, high = bounds[builtin]
        if high is not None:
            limits.append((high, 1))
        if low is not None:
            limits.append((low, -1))
    digits = _facet(member, "totalDigits")
    if not limits and digits is None:
        return _NOT_APPLICABLE
    if current == "probe":
        return None
    candidates = [str(int(value) + step) if step else str(value) for value, step in limits]
    if digits is not None:
        candidates.append("1" * (digits.value + 1))
    for candidate in candidates:
        if not value_checker(simple_type)(candidate):
            return candidate
    return None


_DATE = re.compile(r"^(-?\d{4,})-\d\d-\d\d")


def _date_fault(simple_type, current):
    members = _members(simple_type)
    if not any(_primitive(m) in ("date", "dateTime") for m in members):
        return _NOT_APPLICABLE
    if current == "probe":
        return None
    if not _DATE.match(current or ""):
        return None
    return _DATE.sub(lambda m: f"{m.group(1)}-02-30", current, count=1)


_VALUE_KINDS = [
    ("enumeration", _enumeration_fault),
    ("pattern", _pattern_fault),
    ("length", _length_fault),
    ("range", _range_fault),
    ("date", _date_fault),
]
