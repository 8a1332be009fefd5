"""Hypothesis strategies of XML documents valid against any XSD.

Public API::

    from sevis_mock.harness.strategies import documents, trees, documents_and_trees, load_schema

    documents(xsd, "SEVISBatchCreateUpdateStudent")          # strategy of bytes (UTF-8, with declaration)
    trees(xsd, "SEVISBatchCreateUpdateEV")                   # strategy of lxml ElementTrees
    documents_and_trees(xsd, "TransactionLog")               # strategy of (bytes, tree) pairs, same document
    simple_values(xsd_simple_type)                           # strategy of lexical values of one simple type

``xsd`` is a path to a top-level schema file or an already loaded ``xmlschema.XMLSchema`` (paths are
loaded once per process, :func:`load_schema`). Every strategy accepts the keyword options of
:class:`Limits`: ``max_repeats`` (cap on occurrences of a repeated particle or group, default 3: SEVIS
allows 250 students per batch, a generated batch holds up to ``max_repeats``), ``max_text`` (cap on the
length of free text, default 40), ``max_depth`` (recursion guard, default 30), ``max_elements``
(past this many elements only required particles are added, default 2000).

What is covered, from the schema alone (nothing here knows about SEVIS):

- sequences, choices and ``all`` groups with their ``minOccurs``/``maxOccurs``; counts are biased upward
  (the cap and the maximum are drawn as often as the minimum), optional particles are present two
  times in three;
- attributes by ``use`` (required always, optional sometimes, prohibited never) and ``fixed`` values;
- element substitution groups, abstract complex types (a concrete derived type is chosen and written as
  ``xsi:type``), ``nillable`` elements (sometimes ``xsi:nil="true"``), fixed element values;
- simple types: enumerations; patterns via ``st.from_regex`` on xmlschema's translation of the XSD
  regex (implicitly anchored; ``\\i \\c \\d \\w``, class subtraction); length, minLength, maxLength (after
  whiteSpace normalization, biased to the maximum); numeric ranges and totalDigits/fractionDigits; the
  integer family's built-in bounds; dates and date-times; decimals; booleans; unions (e.g. the SEVIS
  "nullable" types: a union with an empty string) and lists.

Every simple value is finally checked with xmlschema (``is_valid``) so that AND-ed facets across
derivation steps hold; text comes from an alphabet of XML-safe characters.
"""

from __future__ import annotations

import decimal
import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import xmlschema
from hypothesis import strategies as st
from lxml import etree
from xmlschema.validators import (
    XsdAnyElement,
    XsdAtomicBuiltin,
    XsdAtomicRestriction,
    XsdComplexType,
    XsdElement,
    XsdGroup,
    XsdList,
    XsdUnion,
)

from sevis_mock.server.validation import value_types

__all__ = [
    "Limits",
    "documents",
    "documents_and_trees",
    "load_schema",
    "simple_values",
    "trees",
    "value_checker",
    "xsd_regex",
]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"


def _printable(low: int, high: int) -> str:
    import unicodedata

    return "".join(chr(c) for c in range(low, high + 1) if unicodedata.category(chr(c)) not in ("Cc", "Cs", "Co", "Cn"))


#: characters for values that must match a pattern: printable ASCII, Latin-1 and Latin Extended-A.
#: [i] libxml2's character classes (\d, \w, \i, \c) use old Unicode tables, narrower than Python's
#: and than the XSD spec: a Tai Tham digit matches Python's \d but not libxml2's. Values from this
#: range mean the same to every validator.
#: [i] Also left out: the few Latin Extended-A letters that are name characters in XML 1.0 5th edition
#: (xmlschema's \i and \c) but not in the 4th edition tables libxml2 uses (U+0132 U+0133 U+013F U+0140
#: U+0149 U+017F).
PATTERN_ALPHABET = "".join(c for c in _printable(0x20, 0x17F) if c not in "\u0132\u0133\u013f\u0140\u0149\u017f")
#: free text: the above plus Greek, Cyrillic, CJK, a right-to-left script and characters outside the
#: Basic Multilingual Plane (XML-safe: no controls, surrogates, private use or unassigned code points)
TEXT_ALPHABET = (
    PATTERN_ALPHABET
    + _printable(0x391, 0x3C9)
    + _printable(0x410, 0x44F)
    + _printable(0x5D0, 0x5EA)
    + "\t\n"
    + "中文字漢語日本한국"
    + "😀𝟘𐐀🎓"
)
XML_CHARACTERS = st.sampled_from(TEXT_ALPHABET)


@dataclass(frozen=True)
class Limits:
    max_repeats: int = 3
    max_text: int = 40
    max_depth: int = 30
    max_elements: int = 2000  # past this many elements, particles occur only as often as required


@functools.cache
def _load(path: str) -> xmlschema.XMLSchema10:
    return value_types(path)  # checked by libxml2, read by xmlschema without its slow second check


def load_schema(xsd) -> xmlschema.XMLSchema10:
    """An xmlschema object for a path (cached per process) or the object itself."""
    if isinstance(xsd, xmlschema.XMLSchemaBase):
        return xsd
    return _load(str(Path(xsd).resolve()))


def trees(xsd, root: str, **limits) -> st.SearchStrategy[etree._ElementTree]:
    """Documents whose root element is ``root`` (a global element of ``xsd``), as lxml trees."""
    schema = load_schema(xsd)
    element = schema.elements.get(root) or schema.maps.elements.get(root)
    if element is None:
        raise KeyError(f"{root!r} is not a global element of {schema.url}; it declares {sorted(schema.elements)}")
    walker = _walker(schema, Limits(**limits))
    return st.composite(lambda draw: walker.document(draw, element))()


_WALKERS: dict[tuple[int, Limits], "_Walker"] = {}


def _walker(schema, limits: Limits) -> "_Walker":
    """One walker (and so one cache of value strategies) per schema and limits."""
    key = (id(schema), limits)
    if key not in _WALKERS or _WALKERS[key].schema is not schema:  # an id can be reused after GC
        _WALKERS[key] = _Walker(schema, limits)
    return _WALKERS[key]


def documents(xsd, root: str, **limits) -> st.SearchStrategy[bytes]:
    """Documents whose root element is ``root``, serialized (UTF-8 with an XML declaration)."""
    return trees(xsd, root, **limits).map(serialize)


def documents_and_trees(xsd, root: str, **limits) -> st.SearchStrategy[tuple[bytes, etree._ElementTree]]:
    """(bytes, tree) pairs holding the same document."""
    return trees(xsd, root, **limits).map(lambda tree: (serialize(tree), tree))


def serialize(tree: etree._ElementTree) -> bytes:
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def simple_values(simple_type, **limits) -> st.SearchStrategy[str]:
    """Lexical values valid for one xmlschema simple type."""
    return _walker(simple_type.schema, Limits(**limits)).simple(simple_type)


# -- the walker ------------------------------------------------------------------------------------


class _Walker:
    def __init__(self, schema: xmlschema.XMLSchema10, limits: Limits) -> None:
        self.schema = schema
        self.limits = limits
        self._simple: dict[int, st.SearchStrategy[str]] = {}
        self._derived: dict[int, list[XsdComplexType]] = {}
        # prefixes (declared on the root) for the namespaces xsi:type values may need
        abstract_derived = {
            t.target_namespace
            for t in schema.maps.types.values()
            if isinstance(t, XsdComplexType)
            and t.target_namespace not in ("", XS)
            and any(isinstance(b, XsdComplexType) and b.abstract for b in _bases(t))
        }
        self.prefixes = {ns: f"t{i}" for i, ns in enumerate(sorted(abstract_derived))}

    # documents and elements

    def document(self, draw, element: XsdElement) -> etree._ElementTree:
        self.made = 1
        root = etree.Element(element.name, nsmap={"xsi": XSI, **{p: ns for ns, p in self.prefixes.items()}})
        self.fill(draw, root, element, depth=0)
        return root.getroottree()

    def add(self, draw, parent: etree._Element, element: XsdElement, depth: int) -> None:
        element = self.substitute(draw, element)
        child = etree.SubElement(parent, element.name)
        self.made += 1
        self.fill(draw, child, element, depth + 1)

    def substitute(self, draw, element: XsdElement) -> XsdElement:
        members = [m for m in self.schema.maps.substitution_groups.get(element.name, ()) if not m.abstract]
        candidates = ([] if element.abstract else [element]) + members
        return draw(st.sampled_from(candidates)) if len(candidates) > 1 else candidates[0]

    def fill(self, draw, node: etree._Element, element: XsdElement, depth: int) -> None:
        xsd_type = self.concrete_type(draw, node, element.type)
        if isinstance(xsd_type, XsdComplexType):
            self.attributes(draw, node, xsd_type)
        if element.nillable and element.fixed is None and draw(st.integers(0, 5)) == 0:
            node.set(f"{{{XSI}}}nil", "true")
            return
        if element.fixed is not None:
            node.text = element.fixed
        elif not isinstance(xsd_type, XsdComplexType):
            node.text = draw(self.simple(xsd_type))
        elif xsd_type.has_simple_content():
            node.text = draw(self.simple(xsd_type.content))
        elif isinstance(xsd_type.content, XsdGroup):
            self.group(draw, node, xsd_type.content, depth, occurs=False)

    def concrete_type(self, draw, node: etree._Element, xsd_type):
        """An abstract complex type is replaced by a concrete derived one, announced with xsi:type."""
        if not (isinstance(xsd_type, XsdComplexType) and xsd_type.abstract):
            return xsd_type
        options = self.derived(xsd_type)
        if not options:
            raise ValueError(f"abstract type {xsd_type.name} has no concrete derived type in {self.schema.url}")
        chosen = draw(st.sampled_from(options))
        qname = etree.QName(chosen.name)
        prefix = self.prefixes.get(qname.namespace) if qname.namespace else None
        node.set(f"{{{XSI}}}type", f"{prefix}:{qname.localname}" if prefix else qname.localname)
        return chosen

    def derived(self, xsd_type: XsdComplexType) -> list[XsdComplexType]:
        key = id(xsd_type)
        if key not in self._derived:
            self._derived[key] = sorted(
                (
                    t
                    for t in self.schema.maps.types.values()
                    if isinstance(t, XsdComplexType)
                    and not t.abstract
                    and t.name
                    and t is not xsd_type
                    and t.is_derived(xsd_type)
                ),
                key=lambda t: t.name,
            )
        return self._derived[key]

    def attributes(self, draw, node: etree._Element, xsd_type: XsdComplexType) -> None:
        for name, attribute in xsd_type.attributes.items():
            if name is None or not hasattr(attribute, "use") or attribute.use == "prohibited":
                continue  # the wildcard and prohibited attributes
            if attribute.use == "optional" and not draw(st.booleans()):
                continue
            value = attribute.fixed if attribute.fixed is not None else draw(self.simple(attribute.type))
            node.set(name, value)

    # content models

    def count(self, draw, low: int, high: int | None) -> int:
        if self.made >= self.limits.max_elements:
            return low
        cap = max(low, self.limits.max_repeats)
        high = cap if high is None else min(high, cap)
        if high <= low:
            return low
        if low == 0 and high == 1:
            return int(draw(st.integers(0, 2)) > 0)  # present two times in three
        return draw(st.one_of(st.just(high), st.integers(low, high), st.just(low)))

    def group(self, draw, node, group: XsdGroup, depth: int, occurs: bool = True) -> None:
        if depth > self.limits.max_depth:
            times = group.min_occurs
        else:
            times = self.count(draw, group.min_occurs, group.max_occurs) if occurs else 1
        for _ in range(times):
            if group.model == "choice":
                if not len(group):
                    continue
                self.particle(draw, node, draw(st.sampled_from(list(group))), depth)
            else:
                for particle in group:
                    self.particle(draw, node, particle, depth)

    def particle(self, draw, node, particle, depth: int) -> None:
        if isinstance(particle, XsdGroup):
            self.group(draw, node, particle, depth)
        elif isinstance(particle, XsdElement):
            low, high = particle.min_occurs, particle.max_occurs
            times = low if depth > self.limits.max_depth else self.count(draw, low, high)
            for _ in range(times):
                self.add(draw, node, particle, depth)
        elif isinstance(particle, XsdAnyElement):
            for _ in range(particle.min_occurs):
                self.wildcard(node, particle)

    def wildcard(self, node, particle: XsdAnyElement) -> None:
        """A required xs:any: an element the wildcard admits without a declaration (lax/skip)."""
        namespace = "urn:x-generated" if particle.is_namespace_allowed("urn:x-generated") else ""
        if not particle.is_namespace_allowed(namespace) or particle.process_contents == "strict":
            raise ValueError(f"cannot invent content for a strict xs:any in {self.schema.url}")
        etree.SubElement(node, f"{{{namespace}}}any" if namespace else "any")

    # simple types

    def simple(self, xsd_type) -> st.SearchStrategy[str]:
        key = id(xsd_type)
        if key not in self._simple:
            self._simple[key] = self._build_simple(xsd_type)
        return self._simple[key]

    def _build_simple(self, xsd_type) -> st.SearchStrategy[str]:
        check = _checker(xsd_type)
        enumeration = _enumeration(xsd_type)
        if enumeration:
            return st.sampled_from(enumeration).filter(check)
        if isinstance(xsd_type, XsdUnion) or (
            isinstance(xsd_type, XsdAtomicRestriction) and isinstance(xsd_type.base_type, XsdUnion)
        ):
            union = xsd_type if isinstance(xsd_type, XsdUnion) else xsd_type.base_type
            return st.one_of([self.simple(m) for m in union.member_types]).filter(check)
        listed = xsd_type if isinstance(xsd_type, XsdList) else getattr(xsd_type, "base_type", None)
        if isinstance(listed, XsdList):
            item = self.simple(listed.item_type)
            low = _facet(xsd_type, "minLength") or _facet(xsd_type, "length") or 0
            high = _facet(xsd_type, "maxLength") or _facet(xsd_type, "length")
            high = high if high is not None else low + self.limits.max_repeats
            return (
                st.lists(item.filter(lambda v: v and " " not in v), min_size=low, max_size=high)
                .map(" ".join)
                .filter(check)
            )
        patterns = getattr(xsd_type, "patterns", None)
        if patterns:
            options = [_from_pattern(p.pattern) for p in patterns.patterns]
            return st.one_of(options).map(lambda v: _normalize(v, xsd_type)).filter(check)
        primitive = _primitive(xsd_type)
        if primitive in (
            "string",
            "normalizedString",
            "token",
            "anyURI",
            "NMTOKEN",
            "Name",
            "NCName",
            "language",
            "ID",
            "IDREF",
            "ENTITY",
            "QName",
            "NOTATION",
        ):
            return self._text(xsd_type)
        builder = _PRIMITIVES.get(primitive)
        if builder is None:
            raise ValueError(f"no generator for simple type {xsd_type} (primitive {primitive})")
        return builder(xsd_type).filter(check)

    def _text(self, xsd_type) -> st.SearchStrategy[str]:
        low = xsd_type.min_length or 0
        high = xsd_type.max_length if xsd_type.max_length is not None else max(low, self.limits.max_text)
        if getattr(xsd_type, "length", None) is not None:
            low = high = xsd_type.length
        check = _checker(xsd_type)
        free = st.text(TEXT_ALPHABET, min_size=low, max_size=high)
        options = [free, st.text(TEXT_ALPHABET, min_size=high, max_size=high)] if high <= 200 else [free]
        if low > 0:  # whitespace collapse may shorten a value below minLength: offer dense ones too
            dense = "".join(c for c in TEXT_ALPHABET if not c.isspace())
            options.append(st.text(dense, min_size=low, max_size=high))
        return st.one_of(options).map(lambda v: _normalize(v, xsd_type)).filter(check)


_STRING_FACETS = {
    f"{{{XS}}}{name}" for name in ("enumeration", "pattern", "length", "minLength", "maxLength", "whiteSpace")
}


def value_checker(xsd_type):
    """Whether a lexical value is valid for ``xsd_type``, with XSD's (and libxml2's) reading of
    ``\\w``/``\\s`` in patterns where xmlschema would use Python's."""
    return _checker(xsd_type)


def _checker(xsd_type):
    """A validity test for lexical values: a direct one for string types restricted by enumeration,
    pattern and length facets (the common case, and much cheaper), else xmlschema's ``is_valid``."""
    if isinstance(xsd_type, XsdUnion) and not (getattr(xsd_type, "facets", None) or {}):
        members = [_checker(m) for m in xsd_type.member_types]
        return lambda value: any(check(value) for check in members)
    steps = []
    for step in [xsd_type, *_bases(xsd_type)]:
        if isinstance(step, XsdAtomicBuiltin):
            if step.local_name not in ("string", "normalizedString", "token", "anySimpleType", "anyAtomicType"):
                return xsd_type.is_valid
            break
        if not isinstance(step, XsdAtomicRestriction) or set(step.facets) - _STRING_FACETS - {None}:
            return xsd_type.is_valid
        steps.append(step)
    else:
        return xsd_type.is_valid
    tests = []
    for step in steps:
        facets = step.facets
        if f"{{{XS}}}enumeration" in facets:
            allowed = {e.get("value") for e in facets[f"{{{XS}}}enumeration"]}
            tests.append(allowed.__contains__)
        if f"{{{XS}}}pattern" in facets:
            compiled = [xsd_regex(p.pattern) for p in facets[f"{{{XS}}}pattern"].patterns]
            tests.append(lambda v, compiled=compiled: any(p.fullmatch(v) for p in compiled))
        for name, test in (("length", int.__eq__), ("minLength", int.__ge__), ("maxLength", int.__le__)):
            if f"{{{XS}}}{name}" in facets:
                limit = facets[f"{{{XS}}}{name}"].value
                tests.append(lambda v, limit=limit, test=test: test(len(v), limit))

    def check(value: str) -> bool:
        value = _normalize(value, xsd_type)
        return all(test(value) for test in tests)

    return check


def _primitive(xsd_type) -> str:
    for t in [xsd_type, *_bases(xsd_type)]:
        if isinstance(t, XsdAtomicBuiltin):
            local = t.local_name
            if local in _INTEGER_BOUNDS or local in _PRIMITIVES or local in ("string", "normalizedString", "token"):
                return local
    primitive = getattr(xsd_type, "primitive_type", None)
    return primitive.local_name if primitive is not None else ""


def _bases(xsd_type):
    base = getattr(xsd_type, "base_type", None)
    while base is not None:
        yield base
        base = getattr(base, "base_type", None)


def _enumeration(xsd_type) -> list[str]:
    """Lexical values of the nearest enumeration facet (restriction steps AND together: is_valid checks)."""
    for t in [xsd_type, *_bases(xsd_type)]:
        facets = getattr(t, "facets", None) or {}
        facet = facets.get(f"{{{XS}}}enumeration")
        if facet is not None:
            return sorted({e.get("value") for e in facet})
    return []


_ANCHORED = re.compile(r"^\^\(\?:(.*)\)\$\(\?!\\n\\Z\)$", re.S)


def _from_pattern(python_pattern: str) -> st.SearchStrategy[str]:
    """Values matching one pattern facet (see :func:`xsd_regex`)."""
    return st.from_regex(xsd_regex(python_pattern), fullmatch=True, alphabet=PATTERN_ALPHABET)


@functools.cache
def xsd_regex(python_pattern: str) -> re.Pattern:
    """A Python regex with the XSD meaning of one pattern facet, over PATTERN_ALPHABET.

    xmlschema translates XSD regexes to Python ones wrapped as ``^(?:...)$(?!\\n\\Z)`` (the XSD
    meaning, whole value, is ``fullmatch`` on the inner part) and translates ``\\i``, ``\\c`` and class
    subtraction, but keeps ``\\w``/``\\s`` with Python's meaning (Python's ``\\w`` takes ``_`` and
    refuses ``$``; XSD's is "not punctuation, separator or other"; XSD's ``\\s`` is only space, tab,
    CR and LF). Those escapes and every ``[...]`` class are re-written as the explicit characters of the
    alphabet they stand for. Use with ``fullmatch``."""
    match = _ANCHORED.match(python_pattern)
    return re.compile(_within_alphabet(match.group(1) if match else python_pattern))


def _xsd_escape(letter: str) -> str:
    """The characters of PATTERN_ALPHABET an XSD multi-character escape stands for."""
    import unicodedata

    if letter in "wW":
        chars = [c for c in PATTERN_ALPHABET if unicodedata.category(c)[0] not in "PZC"]
    elif letter in "sS":
        chars = [c for c in PATTERN_ALPHABET if c in " \t\n\r"]
    elif letter in "dD":
        chars = [c for c in PATTERN_ALPHABET if unicodedata.category(c) == "Nd"]
    else:
        raise KeyError(letter)
    if letter.isupper():
        chars = [c for c in PATTERN_ALPHABET if c not in chars]
    return "".join(re.escape(c) for c in chars)


def _within_alphabet(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i : i + 2]
            out.append(f"[{_xsd_escape(escape[1])}]" if escape[1:] and escape[1] in "wWsSdD" else escape)
            i += 2
            continue
        if char != "[":
            out.append(char)
            i += 1
            continue
        j = i + 1
        if j < len(pattern) and pattern[j] == "^":
            j += 1
        if j < len(pattern) and pattern[j] == "]":
            j += 1
        while pattern[j] != "]":
            j += 2 if pattern[j] == "\\" else 1
        out.append(_narrow_class(pattern[i : j + 1]))
        i = j + 1
    return "".join(out)


@functools.cache
def _narrow_class(text: str) -> str:
    """A ``[...]`` class as the explicit characters of PATTERN_ALPHABET it allows (Hypothesis refuses a
    class holding a range wholly outside the alphabet, and ``\\i`` translates to ranges up to U+FFFD)."""
    body, i = [], 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1 : i + 2] in tuple("wWsSdD"):
            body.append(_xsd_escape(text[i + 1]))
            i += 2
        elif text[i] == "\\":
            body.append(text[i : i + 2])
            i += 2
        else:
            body.append(text[i])
            i += 1
    rewritten = "".join(body)
    allowed = [c for c in PATTERN_ALPHABET if re.fullmatch(rewritten, c)]
    if not allowed:
        return rewritten  # nothing in the alphabet: leave it to Hypothesis to say so
    return "[" + "".join(re.escape(c) for c in allowed) + "]"


def _normalize(value: str, xsd_type) -> str:
    mode = getattr(xsd_type, "white_space", None)
    if mode == "collapse":
        return re.sub(r"[ \t\n\r]+", " ", value).strip(" ")
    if mode == "replace":
        return re.sub(r"[\t\n\r]", " ", value)
    return value


def _facet(xsd_type, name: str):
    for t in [xsd_type, *_bases(xsd_type)]:
        facet = (getattr(t, "facets", None) or {}).get(f"{{{XS}}}{name}")
        if facet is not None:
            return facet.value
    return None


_INTEGER_BOUNDS = {
    "integer": (None, None),
    "long": (-(2**63), 2**63 - 1),
    "int": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-128, 127),
    "nonNegativeInteger": (0, None),
    "positiveInteger": (1, None),
    "nonPositiveInteger": (None, 0),
    "negativeInteger": (None, -1),
    "unsignedLong": (0, 2**64 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedByte": (0, 255),
}


def _bounds(xsd_type, low, high):
    for name, pick in (("minInclusive", max), ("maxInclusive", min)):
        value = _facet(xsd_type, name)
        if value is not None:
            if name == "minInclusive":
                low = value if low is None else pick(low, value)
            else:
                high = value if high is None else pick(high, value)
    exclusive_low, exclusive_high = _facet(xsd_type, "minExclusive"), _facet(xsd_type, "maxExclusive")
    return low, high, exclusive_low, exclusive_high


def _integers(xsd_type) -> st.SearchStrategy[str]:
    builtin = next(
        (
            t.local_name
            for t in [xsd_type, *_bases(xsd_type)]
            if isinstance(t, XsdAtomicBuiltin) and t.local_name in _INTEGER_BOUNDS
        ),
        "integer",
    )
    low, high = _INTEGER_BOUNDS[builtin]
    low, high, ex_low, ex_high = _bounds(xsd_type, low, high)
    if ex_low is not None:
        low = int(ex_low) + 1 if low is None else max(low, int(ex_low) + 1)
    if ex_high is not None:
        high = int(ex_high) - 1 if high is None else min(high, int(ex_high) - 1)
    digits = _facet(xsd_type, "totalDigits")
    if digits is not None:
        low = -(10**digits - 1) if low is None else max(low, -(10**digits - 1))
        high = 10**digits - 1 if high is None else min(high, 10**digits - 1)
    values = st.integers(None if low is None else int(low), None if high is None else int(high))
    edges = [v for v in (low, high) if v is not None]
    return (st.one_of(values, st.sampled_from(edges)) if edges else values).map(lambda v: str(int(v)))


def _decimals(xsd_type) -> st.SearchStrategy[str]:
    if _primitive(xsd_type) in _INTEGER_BOUNDS:
        return _integers(xsd_type)
    low, high, ex_low, ex_high = _bounds(xsd_type, None, None)
    places = _facet(xsd_type, "fractionDigits")
    digits = _facet(xsd_type, "totalDigits")
    places = 2 if places is None else places
    if digits is not None:
        places = min(places, digits)
        limit = decimal.Decimal(10) ** (digits - places) - decimal.Decimal(1).scaleb(-places)
        low = -limit if low is None else max(decimal.Decimal(low), -limit)
        high = limit if high is None else min(decimal.Decimal(high), limit)
    values = st.decimals(
        min_value=low if low is None else decimal.Decimal(low),
        max_value=high if high is None else decimal.Decimal(high),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
    if ex_low is not None:
        values = values.filter(lambda v: v > ex_low)
    if ex_high is not None:
        values = values.filter(lambda v: v < ex_high)
    return values.map(lambda v: format(v, "f"))


def _dates(xsd_type) -> st.SearchStrategy[str]:
    return st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)).map(date.isoformat)


def _datetimes(xsd_type) -> st.SearchStrategy[str]:
    moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59))
    zones = st.sampled_from(["", "Z", "-05:00", "+01:00"])
    return st.tuples(moments, zones).map(lambda p: p[0].replace(microsecond=0).isoformat() + p[1])


def _times(xsd_type) -> st.SearchStrategy[str]:
    return st.times().map(lambda t: t.replace(microsecond=0).isoformat())


def _booleans(xsd_type) -> st.SearchStrategy[str]:
    return st.sampled_from(["true", "false", "1", "0"])


def _floats(xsd_type) -> st.SearchStrategy[str]:
    return st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr)


def _durations(xsd_type) -> st.SearchStrategy[str]:
    return st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)).map(
        lambda d: f"P{d.days}DT{d.seconds}S"
    )


def _binary(xsd_type) -> st.SearchStrategy[str]:
    import base64

    if _primitive(xsd_type) == "hexBinary":
        return st.binary(max_size=20).map(lambda b: b.hex().upper())
    return st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode())


_PRIMITIVES = {
    "decimal": _decimals,
    "boolean": _booleans,
    "date": _dates,
    "dateTime": _datetimes,
    "time": _times,
    "float": _floats,
    "double": _floats,
    "duration": _durations,
    "hexBinary": _binary,
    "base64Binary": _binary,
    **{name: _integers for name in _INTEGER_BOUNDS},
    "gYear": lambda t: st.integers(1900, 2099).map(str),
}
