"""sevis_mock.harness.strategies and sevis_mock.harness.mutants on a schema that is not SEVIS's: the walker is generic.

The schema below (written by the test into tmp_path) uses what the SEVIS schemas use and more:
choices and all-groups with occurrence bounds, substitution groups, abstract types with a namespaced
xsi:type, nillable and fixed elements, prohibited/optional/required attributes, unions, lists,
patterns with \\i \\c \\w and class subtraction, numeric ranges with totalDigits/fractionDigits, dates.
Every generated document must be valid (libxml2) and every mutant invalid.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from sevis_mock.harness.mutants import KINDS, mutants, mutations
from sevis_mock.harness.strategies import documents, documents_and_trees, load_schema, serialize, simple_values, trees

SCHEMA = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:test" targetNamespace="urn:test"
           elementFormDefault="unqualified">
  <xs:simpleType name="Code"><xs:restriction base="xs:string">
    <xs:enumeration value="A1"/><xs:enumeration value="B2"/><xs:enumeration value="C 3"/>
  </xs:restriction></xs:simpleType>
  <xs:simpleType name="Empty"><xs:restriction base="xs:string"><xs:length value="0"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="CodeNullable"><xs:union memberTypes="t:Empty t:Code"/></xs:simpleType>
  <xs:simpleType name="Name"><xs:restriction base="xs:token">
    <xs:pattern value="\\i\\c*"/><xs:maxLength value="12"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="Note"><xs:restriction base="xs:string"><xs:whiteSpace value="collapse"/>
    <xs:minLength value="2"/><xs:maxLength value="30"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="Consonants"><xs:restriction base="xs:string">
    <xs:pattern value="[a-z-[aeiou]]{2,5}"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="Word"><xs:restriction base="xs:string">
    <xs:pattern value="\\w+(-\\w+)?"/><xs:minLength value="3"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="Amount"><xs:restriction base="xs:decimal">
    <xs:totalDigits value="7"/><xs:fractionDigits value="2"/><xs:minInclusive value="-500"/>
  </xs:restriction></xs:simpleType>
  <xs:simpleType name="Small"><xs:restriction base="xs:short"><xs:minExclusive value="-3"/>
    <xs:maxInclusive value="40"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="Codes"><xs:list itemType="t:Code"/></xs:simpleType>
  <xs:simpleType name="FewCodes"><xs:restriction base="t:Codes"><xs:maxLength value="2"/></xs:restriction></xs:simpleType>
  <xs:complexType name="Shape" abstract="true"><xs:sequence>
    <xs:element name="Label" type="t:Name"/></xs:sequence>
    <xs:attribute name="id" type="xs:positiveInteger" use="required"/></xs:complexType>
  <xs:complexType name="Circle"><xs:complexContent><xs:extension base="t:Shape"><xs:sequence>
    <xs:element name="Radius" type="t:Amount"/></xs:sequence></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="Square"><xs:complexContent><xs:extension base="t:Shape"><xs:sequence>
    <xs:element name="Side" type="t:Small" maxOccurs="2"/></xs:sequence></xs:extension></xs:complexContent></xs:complexType>
  <xs:element name="Event" abstract="true" type="xs:string"/>
  <xs:element name="Start" substitutionGroup="t:Event" type="xs:string"/>
  <xs:element name="Stop" substitutionGroup="t:Event" type="xs:string"/>
  <xs:element name="Root"><xs:complexType><xs:sequence>
    <xs:element name="Head"><xs:complexType><xs:all>
      <xs:element name="When" type="xs:dateTime"/><xs:element name="Day" type="xs:date" minOccurs="0"/>
      <xs:element name="Flag" type="xs:boolean"/></xs:all></xs:complexType></xs:element>
    <xs:choice minOccurs="1" maxOccurs="4">
      <xs:element name="Item"><xs:complexType><xs:simpleContent><xs:extension base="t:CodeNullable">
        <xs:attribute name="n" type="t:Small" use="required"/>
        <xs:attribute name="kind" type="t:Code"/>
        <xs:attribute name="note" type="t:Word"/>
        <xs:attribute name="gone" type="xs:string" use="prohibited"/>
      </xs:extension></xs:simpleContent></xs:complexType></xs:element>
      <xs:sequence><xs:element name="Pair" type="t:Consonants"/><xs:element name="Other" type="t:FewCodes"/></xs:sequence>
    </xs:choice>
    <xs:element name="Shape" type="t:Shape" maxOccurs="3"/>
    <xs:element ref="t:Event" minOccurs="0" maxOccurs="2"/>
    <xs:element name="Maybe" type="xs:int" nillable="true" minOccurs="0"/>
    <xs:element name="Version" type="xs:string" fixed="1.0"/>
  </xs:sequence><xs:attribute name="lang" type="xs:language"/></xs:complexType></xs:element>
</xs:schema>
"""

PROFILE = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
# the checks that hold for any one document (no "every feature occurs" count) need fewer of them: 40 under the ci
# profile, 2,000 under thorough
EACH = settings(PROFILE, max_examples=max(10, settings.default.max_examples * 2 // 5))


@pytest.fixture(scope="module")
def schema_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("xsd") / "test.xsd"
    path.write_text(SCHEMA, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def libxml(schema_path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_path)))


@pytest.mark.slow
def test_generated_documents_are_valid_and_use_every_feature(schema_path, libxml):
    seen: collections.Counter = collections.Counter()

    @PROFILE
    @given(documents(schema_path, "{urn:test}Root", max_repeats=4))
    def check(document):
        root = etree.fromstring(document)
        assert libxml.validate(root), f"{libxml.error_log.last_error}\n{document.decode()}"
        xsi = "{http://www.w3.org/2001/XMLSchema-instance}"
        seen["circle"] += any(s.get(f"{xsi}type", "").endswith(":Circle") for s in root.iter("Shape"))
        seen["square"] += any(s.get(f"{xsi}type", "").endswith(":Square") for s in root.iter("Shape"))
        seen["nil"] += any(e.get(f"{xsi}nil") == "true" for e in root.iter("Maybe"))
        seen["start"] += len(root.findall("{urn:test}Start")) > 0
        seen["stop"] += len(root.findall("{urn:test}Stop")) > 0
        seen["pair"] += len(root.findall("Pair")) > 0
        seen["empty item"] += any(not (e.text or "") for e in root.iter("Item"))
        seen["four choices"] += len(root.findall("Item")) + len(root.findall("Pair")) == 4
        seen["three shapes"] += len(root.findall("Shape")) == 3
        assert all("gone" not in e.attrib for e in root.iter("Item"))
        assert root.findtext("Version") == "1.0"

    check()
    missing = [
        feature
        for feature in (
            "circle",
            "square",
            "nil",
            "start",
            "stop",
            "pair",
            "empty item",
            "four choices",
            "three shapes",
        )
        if not seen[feature]
    ]
    assert not missing, f"never generated: {missing}"


@pytest.mark.slow
def test_trees_and_pairs_hold_the_same_document(schema_path, libxml):
    @EACH
    @given(documents_and_trees(schema_path, "{urn:test}Root"), trees(schema_path, "{urn:test}Root"))
    def check(pair, tree):
        data, parsed = pair
        canonical = etree.tostring(etree.fromstring(data), method="c14n")
        assert etree.tostring(parsed, method="c14n") == canonical
        assert libxml.validate(tree)

    check()


SIMPLE = ["Name", "Note", "Consonants", "Word", "Amount", "Small", "FewCodes", "CodeNullable"]


@pytest.fixture(scope="module")
def value_schema(schema_path) -> etree.XMLSchema:
    """libxml2 judges single values: one no-namespace element per simple type of the test schema."""
    elements = "".join(f'<xs:element name="{name}" type="t:{name}"/>' for name in SIMPLE)
    text = (
        f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:test">'
        f'<xs:import namespace="urn:test" schemaLocation="{schema_path.as_uri()}"/>{elements}</xs:schema>'
    )
    path = schema_path.parent / "values.xsd"
    path.write_text(text, encoding="utf-8")
    return etree.XMLSchema(etree.parse(str(path)))


@pytest.mark.parametrize("name", SIMPLE)
def test_simple_values_respect_their_facets(schema_path, value_schema, name):
    simple_type = load_schema(schema_path).maps.types[f"{{urn:test}}{name}"]
    lengths = []

    @PROFILE
    @given(simple_values(simple_type))
    def check(value):
        element = etree.Element(name)
        element.text = value
        assert value_schema.validate(element), f"{value!r}: {value_schema.error_log.last_error}"
        lengths.append(len(value))

    check()
    if name == "Note":  # maxLength is reached: sizes are biased upward, not only minimal
        assert max(lengths) == 30 and min(lengths) >= 2
    if name == "Name":
        assert max(lengths) > 3 and max(lengths) <= 12


def test_unknown_root_is_refused(schema_path):
    with pytest.raises(KeyError):
        trees(schema_path, "Nope")


@pytest.mark.slow
def test_every_mutant_is_invalid_and_every_kind_occurs(schema_path, libxml):
    """Every applicable fault of every generated document is applied and must be invalid."""
    kinds: collections.Counter = collections.Counter()

    @PROFILE
    @given(trees(schema_path, "{urn:test}Root"))
    def check(tree):
        for mutation in mutations(schema_path, tree):
            made = mutation.apply(tree)
            if made is None:
                continue
            broken, detail = made
            assert mutation.kind in KINDS and mutation.path.startswith("/Root")
            assert not libxml.validate(broken), (
                f"{mutation.kind} at {mutation.path} ({detail}) is still valid:\n{serialize(broken).decode()}"
            )
            kinds[mutation.kind] += 1
        assert libxml.validate(tree), "a mutation changed the original document"

    check()
    assert set(KINDS) <= set(kinds), f"kinds never made: {sorted(set(KINDS) - set(kinds))}"


@pytest.mark.slow
def test_mutants_strategy_reports_one_fault(schema_path, libxml):
    @EACH
    @given(st.data())
    def check(data):
        tree = data.draw(trees(schema_path, "{urn:test}Root"))
        available = sorted({m.kind for m in mutations(schema_path, tree)})
        kind = data.draw(st.sampled_from(available))
        mutant = data.draw(mutants(schema_path, tree, kinds={kind}))
        assert mutant.kind == kind and mutant.path.startswith("/Root") and mutant.detail
        assert not libxml.validate(etree.fromstring(mutant.document))

    check()
