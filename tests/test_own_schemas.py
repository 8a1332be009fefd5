"""Our own schemas (schemas/) say what the official ICE schemas say.

The official files are read-only reference material outside the project
(../shared/sevis-reference/xsd); the project keeps its own schemas, written from the facts.
These tests prove the two agree:

1. each of our top-level schemas compiles with lxml;
2. every global component of the official set has a namesake in ours with the same meaning
   (content models, occurrences, attributes, simple-type facets, union members), and ours has
   no extra ones -- a failure prints a readable list of differences; as a second, behavioural
   check, every Common/Table simple type accepts the same probe values;
3. the code tables (CSV) hold exactly the official codes;
4. hand-written documents get the same verdict from both (and even the same lxml messages);
5. ``python -m schemas.build`` reproduces the committed SEVISTable.xsd files byte for byte.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import pytest
import xmlschema
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

from sevis_mock.schemas import ROOT_SCHEMAS, build, schema_for_root, schema_root
from sevis_mock.server.validation import value_types
from tests.support.reference import OFFICIAL_XSD, official

PROJECT = Path(__file__).resolve().parents[1]
OFFICIAL = OFFICIAL_XSD

XS = "http://www.w3.org/2001/XMLSchema"
COMMON = "http://www.ice.gov/xmlschema/sevisbatch/Common"
TABLE = "http://www.ice.gov/xmlschema/sevisbatch/Table"

# (our release folder, official folder, top-level file)
TOP_SCHEMAS = [
    ("fm-6.55", "6.55-fm", "Create-UpdateStudent.xsd"),
    ("j-6.27", "6.27-j", "Create-UpdateExchangeVisitor.xsd"),
    ("j-6.27", "6.27-j", "SevisTransLog.xsd"),
]
RELEASES = [("fm-6.55", "6.55-fm"), ("j-6.27", "6.27-j")]

pytestmark = official


def _ours(release: str, name: str) -> Path:
    return schema_root() / release / name


def _official(folder: str, name: str) -> Path:
    return OFFICIAL / folder / name


def _params(items):
    return [pytest.param(*item, id=f"{item[0]}/{item[-1]}") for item in items]


@functools.cache
def lxml_schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


@functools.cache
def xmlschema_schema(path: Path) -> xmlschema.XMLSchema10:
    return value_types(path)  # libxml2 checks the files (as test_top_level_schema_compiles_with_lxml does)


# --------------------------------------------------------------------------------------------
# 1. compile
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("release, official, top", _params(TOP_SCHEMAS))
def test_top_level_schema_compiles_with_lxml(release, official, top):
    lxml_schema(_ours(release, top))


def test_schema_for_root_points_at_existing_files():
    for root in ROOT_SCHEMAS:
        path = schema_for_root(root)
        assert path.parent.parent == schema_root()
        assert etree.parse(str(path)).getroot().get("version") in {"6.55", "6.27"}


# --------------------------------------------------------------------------------------------
# 2. structural equivalence
# --------------------------------------------------------------------------------------------


def _qname(name: str | None) -> str | None:
    """'{ns}Local' -> 'common:Local' / 'table:Local' / 'xs:Local' for readable output."""
    if name is None:
        return None
    for ns, prefix in ((COMMON, "common:"), (TABLE, "table:"), (XS, "xs:")):
        if name.startswith("{" + ns + "}"):
            return prefix + name[len(ns) + 2 :]
    return name


def _type_ref(xsd_type) -> dict:
    """A global type is described by its name; an anonymous one by its whole meaning."""
    if xsd_type.is_global() or isinstance(xsd_type, XsdAtomicBuiltin):
        return {"ref": _qname(xsd_type.name)}
    return describe_type(xsd_type)


def _describe_facets(restriction) -> dict:
    """Facets of one restriction step, with the no-op ones (minLength 0) left out."""
    out: dict = {}
    for key, facet in restriction.facets.items():
        if key is None:  # assertion/other holders
            continue
        local = key.split("}")[-1]
        if local == "pattern":
            out["pattern"] = sorted(facet.regexps)
        elif local == "enumeration":
            out["enumeration"] = sorted({repr(v) for v in facet.enumeration})
        elif local == "length":
            out["minLength"] = facet.value
            out["maxLength"] = facet.value
        elif local == "minLength":
            if facet.value:
                out["minLength"] = max(out.get("minLength", 0), facet.value)
        elif local == "maxLength":
            out["maxLength"] = facet.value
        elif local == "whiteSpace":
            continue  # the effective value is compared once, below
        else:
            out[local] = repr(facet.value)
    return out


def describe_simple(simple) -> dict:
    if isinstance(simple, XsdAtomicBuiltin):
        return {"ref": _qname(simple.name)}
    if isinstance(simple, XsdUnion):
        return {"kind": "union", "members": [_type_ref(m) for m in simple.member_types]}
    if isinstance(simple, XsdList):
        return {"kind": "list", "item": _type_ref(simple.item_type)}
    if isinstance(simple, XsdAtomicRestriction):
        return {
            "kind": "restriction",
            "base": _type_ref(simple.base_type),
            "primitive": _qname(simple.primitive_type.name) if simple.primitive_type is not None else None,
            "whiteSpace": simple.white_space,  # effective value: inherited or declared
            "facets": _describe_facets(simple),
        }
    raise TypeError(f"unexpected simple type {simple!r}")


def describe_particle(particle) -> dict:
    occurs = {"minOccurs": particle.min_occurs, "maxOccurs": particle.max_occurs}
    if isinstance(particle, XsdElement):
        return {
            "kind": "element",
            "name": _qname(particle.name),
            **occurs,
            "ref": particle.ref is not None,
            "nillable": particle.nillable,
            "default": particle.default,
            "fixed": particle.fixed,
            "abstract": particle.abstract,
            "qualified": particle.qualified,
            "block": particle.block,
            "final": particle.final,
            "substitutionGroup": _qname(particle.substitution_group),
            "type": _type_ref(particle.type),
        }
    if isinstance(particle, XsdAnyElement):
        return {"kind": "any", **occurs, "namespace": sorted(particle.namespace), "process": particle.process_contents}
    if isinstance(particle, XsdGroup):
        return {
            "kind": particle.model,
            **occurs,
            "group": _qname(particle.name) if particle.name else None,
            "items": [describe_particle(p) for p in particle],
        }
    raise TypeError(f"unexpected particle {particle!r}")


def describe_attributes(attributes) -> list:
    """An attribute map (of a complex type or an attribute group), in name order."""
    out = []
    for name, attribute in sorted(attributes.items(), key=lambda kv: str(kv[0])):
        if name is None:  # anyAttribute
            out.append({"kind": "anyAttribute", "namespace": sorted(attribute.namespace)})
            continue
        out.append(
            {
                "kind": "attribute",
                "name": _qname(name),
                "use": attribute.use,
                "default": attribute.default,
                "fixed": attribute.fixed,
                "type": _type_ref(attribute.type),
            }
        )
    return out


def describe_type(xsd_type) -> dict:
    if not isinstance(xsd_type, XsdComplexType):
        return describe_simple(xsd_type)
    base = xsd_type.base_type
    content = xsd_type.content
    if (
        xsd_type.derivation == "extension"
        and isinstance(base, XsdComplexType)
        and base.is_global()
        and isinstance(content, XsdGroup)
        and len(content)
        and content[0] is base.content
    ):
        # the base's part is compared where the base is defined; here only what is added
        described_content = {"kind": "extension of base", "items": [describe_particle(p) for p in content[1:]]}
    elif isinstance(content, XsdGroup):
        described_content = describe_particle(content)
    else:
        described_content = describe_simple(content)
    return {
        "kind": "complexType",
        "abstract": xsd_type.abstract,
        "mixed": xsd_type.mixed,
        "block": xsd_type.block,
        "final": xsd_type.final,
        "derivation": xsd_type.derivation,
        "base": _type_ref(base) if base is not None and base.name != f"{{{XS}}}anyType" else None,
        "content": described_content,
        "attributes": describe_attributes(xsd_type.attributes),
    }


def _label(item, index: int) -> str:
    if isinstance(item, dict):
        if item.get("kind") == "element":
            return str(item["name"])
        if item.get("kind") == "attribute":
            return f"@{item['name']}"
        if item.get("kind") in ("sequence", "choice", "all"):
            return f"{item['kind']}[{index}]"
    return f"[{index}]"


def diff(ours, official, path: str = "") -> list[str]:
    """Readable differences between two descriptions (empty when they mean the same)."""
    if isinstance(ours, dict) and isinstance(official, dict):
        out = []
        for key in sorted(set(ours) | set(official), key=str):
            if key not in ours:
                out.append(f"{path}: ours lacks {key!r} (official: {official[key]!r})")
            elif key not in official:
                out.append(f"{path}: ours has extra {key!r} = {ours[key]!r}")
            else:
                if key == "type":
                    sub = f"{path}:type"
                elif key in ("items", "content", "attributes"):
                    sub = path  # containers: their members name themselves
                else:
                    sub = f"{path}/{key}"
                out += diff(ours[key], official[key], sub)
        return out
    if isinstance(ours, list) and isinstance(official, list):
        if all(isinstance(x, str) for x in ours + official):
            if ours != official:
                missing = sorted(set(official) - set(ours))
                extra = sorted(set(ours) - set(official))
                if missing or extra:
                    return [
                        f"{path}: missing {missing[:10]}{'...' if len(missing) > 10 else ''}"
                        f" extra {extra[:10]}{'...' if len(extra) > 10 else ''}"
                    ]
                return [f"{path}: order {ours} != official {official}"]
            return []
        out = []
        for index in range(max(len(ours), len(official))):
            if index >= len(ours):
                out.append(f"{path}/{_label(official[index], index)}: missing in ours")
            elif index >= len(official):
                out.append(f"{path}/{_label(ours[index], index)}: extra in ours")
            else:
                out += diff(ours[index], official[index], f"{path}/{_label(official[index], index)}")
        return out
    if ours != official:
        return [f"{path}: ours {ours!r} != official {official!r}"]
    return []


_NAMESPACES = {"": "no namespace", COMMON: "common", TABLE: "table"}


def _globals(schema: xmlschema.XMLSchema10) -> dict[str, dict]:
    """All global components of the SEVIS namespaces (no-namespace, Common, Table), described."""
    out: dict[str, dict] = {}
    maps = schema.maps
    for kind, table in (
        ("type", maps.types),
        ("element", maps.elements),
        ("attribute", maps.attributes),
        ("group", maps.groups),
        ("attributeGroup", maps.attribute_groups),
    ):
        for name, component in table.items():
            namespace = name[1:].split("}")[0] if name.startswith("{") else ""
            if namespace not in _NAMESPACES:
                continue
            if kind == "type":
                described = describe_type(component)
            elif kind in ("element", "group"):
                described = describe_particle(component)
            elif kind == "attribute":
                described = {"type": _type_ref(component.type), "default": component.default, "fixed": component.fixed}
            else:
                described = describe_attributes(component)
            out[f"{kind} {_qname(name)}"] = described
    return out


def _schema_documents(schema: xmlschema.XMLSchema10) -> dict[str, dict]:
    """Per namespace: the document-level attributes that matter to validation."""
    out = {}
    for namespace in _NAMESPACES:
        for doc in schema.maps.namespaces.get(namespace, []):
            root = doc.source.root
            out[_NAMESPACES[namespace]] = {
                "targetNamespace": root.get("targetNamespace"),
                "version": root.get("version"),
                "elementFormDefault": doc.element_form_default,
                "attributeFormDefault": doc.attribute_form_default,
                "blockDefault": root.get("blockDefault"),
                "finalDefault": root.get("finalDefault"),
            }
    return out


def equivalence_report(ours_path: Path, official_path: Path) -> list[str]:
    ours = xmlschema_schema(ours_path)
    official = xmlschema_schema(official_path)
    problems = diff(_schema_documents(ours), _schema_documents(official), "schema")
    ours_globals = _globals(ours)
    official_globals = _globals(official)
    for name in sorted(set(official_globals) - set(ours_globals)):
        problems.append(f"{name}: missing in ours")
    for name in sorted(set(ours_globals) - set(official_globals)):
        problems.append(f"{name}: extra in ours")
    for name in sorted(set(official_globals) & set(ours_globals)):
        problems += diff(ours_globals[name], official_globals[name], name)
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("release, official, top", _params(TOP_SCHEMAS))
def test_same_components_with_the_same_meaning(release, official, top):
    problems = equivalence_report(_ours(release, top), _official(official, top))
    assert not problems, f"{len(problems)} difference(s) between ours and official:\n" + "\n".join(problems[:200])


_PROBES = [
    "",
    " ",
    "  x  ",
    "x",
    "abc",
    "ABC",
    "Y",
    "N",
    "E",
    "true",
    "false",
    "1",
    "0",
    "-1",
    "01",
    "12",
    "13",
    "100",
    "213",
    "0213",
    "99999999",
    "100000000",
    "1.5",
    "12345",
    "1234",
    "123456789",
    "0123456789",
    "12345-6789",
    "202-555-0100",
    "2024-02-29",
    "2023-02-29",
    "2024-03-01T10:00:00",
    "N0001234567",
    "N000123456",
    "P-1-12345",
    "G-7-12345",
    "G-8-12345",
    "BOS214F00123000",
    "S0000",
    "R/1",
    "a@b.co",
    "a@b",
    "AB",
    "US",
    "ZZ",
    "00.0000",
    "11.0701",
    "90.0101",
    "\u00e9t\u00e9",
    "O'Neil",
    "x1",
] + [
    "a" * n
    for n in (
        4,
        5,
        9,
        10,
        11,
        14,
        15,
        20,
        21,
        25,
        30,
        31,
        39,
        40,
        41,
        60,
        61,
        64,
        65,
        80,
        81,
        100,
        101,
        121,
        122,
        145,
        146,
        180,
        181,
        200,
        201,
        250,
        251,
        255,
        256,
        300,
        301,
        500,
        501,
        1000,
        1001,
    )
]


@pytest.mark.slow
@pytest.mark.parametrize("release, official, top", _params(TOP_SCHEMAS[:2]))
def test_simple_types_accept_the_same_values(release, official, top):
    """A second, behavioural check of every Common and Table simple type: the same probes pass."""
    ours = xmlschema_schema(_ours(release, top)).maps.types
    theirs = xmlschema_schema(_official(official, top)).maps.types
    problems = []
    for name, their_type in theirs.items():
        if not name.startswith(("{" + COMMON, "{" + TABLE)) or isinstance(their_type, XsdComplexType):
            continue
        own_codes = [str(v) for v in (getattr(their_type, "enumeration", None) or [])[:3]]
        for value in _PROBES + own_codes:
            if ours[name].is_valid(value) != their_type.is_valid(value):
                problems.append(f"{_qname(name)}: {value!r} ours {ours[name].is_valid(value)}")
    assert not problems, "\n".join(problems[:50])


def test_comparison_notices_a_difference(tmp_path):
    """The comparison is not vacuous: one changed occurrence is reported, with its path."""
    source = _ours("fm-6.55", "Create-UpdateStudent.xsd")
    for name in ("Common.xsd", "SEVISTable.xsd"):
        (tmp_path / name).write_bytes(_ours("fm-6.55", name).read_bytes())
    text = source.read_text(encoding="utf-8").replace(
        '<xs:element name="Student" maxOccurs="250">', '<xs:element name="Student" maxOccurs="251">', 1
    )
    (tmp_path / source.name).write_text(text, encoding="utf-8")
    problems = equivalence_report(tmp_path / source.name, _official("6.55-fm", source.name))
    assert problems == ["type SEVISStudentBatchType/CreateStudent:type/Student/maxOccurs: ours 251 != official 250"]


# --------------------------------------------------------------------------------------------
# 3. code tables
# --------------------------------------------------------------------------------------------


def _official_tables(folder: str) -> dict[str, list[str]]:
    root = etree.parse(str(_official(folder, "SEVISTable.xsd"))).getroot()
    tables = {}
    for simple in root.iterfind(f"{{{XS}}}simpleType"):
        codes = [e.get("value") for e in simple.iterfind(f"{{{XS}}}restriction/{{{XS}}}enumeration")]
        if codes:
            tables[simple.get("name")] = codes
    return tables


def _our_tables(release: str) -> dict[str, list[str]]:
    tables = {}
    for path in sorted((schema_root() / "tables" / release).glob("*.csv")):
        tables[path.stem] = [code for code, _ in build.read_table(path)]
    return tables


@pytest.mark.parametrize("release, official", RELEASES)
def test_code_tables_hold_exactly_the_official_codes(release, official):
    theirs = _official_tables(official)
    ours = _our_tables(release)
    ours["emptyEnumerationType"] = [""]  # written by hand in tables/base-types.xsd
    problems = [f"{name}: no CSV" for name in sorted(set(theirs) - set(ours))]
    problems += [f"{name}.csv: not an official table" for name in sorted(set(ours) - set(theirs))]
    for name in sorted(set(theirs) & set(ours)):
        missing = sorted(set(theirs[name]) - set(ours[name]))
        extra = sorted(set(ours[name]) - set(theirs[name]))
        if missing or extra or len(ours[name]) != len(theirs[name]):
            problems.append(f"{name}: missing {missing[:10]} extra {extra[:10]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("release, official", RELEASES)
def test_generated_table_schema_holds_every_code(release, official):
    path = _ours(release, "SEVISTable.xsd")
    root = etree.parse(str(path)).getroot()
    ours = {
        simple.get("name"): [e.get("value") for e in simple.iterfind(f"{{{XS}}}restriction/{{{XS}}}enumeration")]
        for simple in root.iterfind(f"{{{XS}}}simpleType")
    }
    for name, codes in _official_tables(official).items():
        assert ours.get(name) is not None, name
        assert sorted(ours[name]) == sorted(codes), name


def test_code_table_csvs_are_well_formed():
    for path in sorted((schema_root() / "tables").glob("*/*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] in (["code", "description"], ["code", "description", "visa"]), path
        assert all(len(row) == len(rows[0]) for row in rows[1:]), path
        assert len(rows) > 1, path


# --------------------------------------------------------------------------------------------
# 4. the same verdict on documents
# --------------------------------------------------------------------------------------------

FM_VALID = """\
<SEVISBatchCreateUpdateStudent userID="JSMITH1234" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BatchHeader><BatchID>B2024000000001</BatchID><OrgID>BOS214F00123000</OrgID></BatchHeader>
  <CreateStudent>
    <Student requestID="R1" userID="JSMITH1234" printForm="true">
      <UserDefinedA>A1</UserDefinedA>
      <PersonalInfo>
        <FullName><LastName>Doe</LastName><FirstName>Jane</FirstName></FullName>
        <BirthDate>2001-02-03</BirthDate>
        <Gender>F</Gender>
        <BirthCity>Paris</BirthCity>
        <BirthCountryCode>FR</BirthCountryCode>
        <CitizenshipCountryCode>FR</CitizenshipCountryCode>
        <Email>jane.doe@example.com</Email>
        <VisaType>01</VisaType>
        <Telephone><TelephoneExemptInd>N</TelephoneExemptInd><Phone><USNumber>6175550100</USNumber></Phone></Telephone>
      </PersonalInfo>
      <IssueReason>I</IssueReason>
      <USAddress><Address1>1 Main St</Address1><City>Boston</City><State>MA</State><PostalCode>02110</PostalCode></USAddress>
      <ForeignAddress><Address1>2 rue de Rivoli</Address1><City>Paris</City><CountryCode>FR</CountryCode></ForeignAddress>
      <EducationalInfo>
        <EduLevel><Level>04</Level></EduLevel>
        <MajorCode1>11.0701</MajorCode1>
        <MajorCode2>00.0000</MajorCode2>
        <IssDate>2024-01-05</IssDate>
        <PrgStartDate>2024-08-20</PrgStartDate>
        <PrgEndDate>2026-05-20</PrgEndDate>
        <EngProficiency><EngRequired>false</EngRequired><NotRequiredReason>Native</NotRequiredReason></EngProficiency>
      </EducationalInfo>
      <FinancialInfo>
        <AcademicTerm>09</AcademicTerm>
        <Expense><Tuition>30000</Tuition><LivingExpense>15000</LivingExpense></Expense>
        <Funding><Personal>45000</Personal></Funding>
      </FinancialInfo>
      <CreateDependent>
        <Dependent>
          <FullName><LastName>Doe</LastName><FirstName>Jim</FirstName></FullName>
          <BirthDate>2000-01-01</BirthDate><Gender>M</Gender>
          <BirthCountryCode>FR</BirthCountryCode><CitizenshipCountryCode>FR</CitizenshipCountryCode>
          <VisaType>04</VisaType><Relationship>01</Relationship>
        </Dependent>
      </CreateDependent>
    </Student>
  </CreateStudent>
  <UpdateStudent>
    <Student sevisID="N0001234567" requestID="R2" userID="JSMITH1234">
      <Registration printForm="false">
        <LastSession>false</LastSession>
        <CurrentSessionStartDate>2024-08-20</CurrentSessionStartDate>
        <CurrentSessionEndDate>2024-12-20</CurrentSessionEndDate>
        <USAddress><Address1>1 Main St</Address1><Address2 xsi:nil="true"/><PostalCode>02110</PostalCode>
          <ExplanationCode>OO</ExplanationCode><Explanation>New building</Explanation></USAddress>
        <Remarks></Remarks>
      </Registration>
    </Student>
    <Student sevisID="N0001234568" requestID="R3" userID="JSMITH1234" statusCode="ACTIVE">
      <Status><Verify/></Status>
    </Student>
    <Student sevisID="N0001234569" requestID="R4" userID="JSMITH1234">
      <OPTEmployment><Add printForm="false"><StartDate>2024-06-01</StartDate><EndDate>2025-05-31</EndDate>
        <FullPartTimeIndicator>01</FullPartTimeIndicator><AcademicYearMet>true</AcademicYearMet></Add></OPTEmployment>
    </Student>
    <Student sevisID="N0001234570" requestID="R5" userID="JSMITH1234">
      <Dependent><Reprint dependentSevisID="N0001234571"/></Dependent>
    </Student>
    <Student sevisID="N0001234572" requestID="R6" userID="JSMITH1234">
      <FinancialInfo printForm="true"><Expense><DependentExp></DependentExp></Expense><Remarks>x</Remarks></FinancialInfo>
    </Student>
  </UpdateStudent>
</SEVISBatchCreateUpdateStudent>
"""


def _mutate(document: str, old: str, new: str) -> str:
    assert old in document, old
    return document.replace(old, new, 1)


FM_CASES = {
    "valid": (FM_VALID, True),
    "batch id 13 chars": (_mutate(FM_VALID, "B2024000000001", "B202400000001"), False),
    "batch id collapsed to 14": (_mutate(FM_VALID, "<BatchID>B2024000000001", "<BatchID>  B2024000000001  "), True),
    "bad school code": (_mutate(FM_VALID, "BOS214F00123000", "BOS215F00123000"), False),
    "program number as org": (_mutate(FM_VALID, "BOS214F00123000", "P-1-12345"), True),
    "unknown country": (_mutate(FM_VALID, "<BirthCountryCode>FR", "<BirthCountryCode>QQ"), False),
    "digit in last name": (
        _mutate(FM_VALID, "<LastName>Doe</LastName><FirstName>Jane", "<LastName>Doe2</LastName><FirstName>Jane"),
        False,
    ),
    "two events in one update": (
        _mutate(
            FM_VALID, "<Status><Verify/></Status>", "<Status><Verify/></Status><Reprint><Reason>01</Reason></Reprint>"
        ),
        False,
    ),
    "missing requestID": (_mutate(FM_VALID, ' requestID="R2"', ""), False),
    "request id with slash": (_mutate(FM_VALID, 'requestID="R2"', 'requestID="R/2"'), False),
    "money too large": (_mutate(FM_VALID, "<Tuition>30000", "<Tuition>100000000"), False),
    "negative money": (_mutate(FM_VALID, "<Tuition>30000", "<Tuition>-1"), False),
    "nil on non-nillable": (_mutate(FM_VALID, '<Address2 xsi:nil="true"/>', '<Address1 xsi:nil="true"/>'), False),
    "bad explanation code": (_mutate(FM_VALID, "<ExplanationCode>OO", "<ExplanationCode>OX"), False),
    "student-only major": (_mutate(FM_VALID, "<MajorCode1>11.0701", "<MajorCode1>90.0101"), True),
    "blank major not first": (_mutate(FM_VALID, "<MajorCode1>11.0701", "<MajorCode1>00.0000"), False),
    "empty tuition": (_mutate(FM_VALID, "<Tuition>30000</Tuition>", "<Tuition></Tuition>"), False),
    "unknown element": (_mutate(FM_VALID, "<IssueReason>I</IssueReason>", "<IssueReason>I</IssueReason><Foo/>"), False),
    "academic term 13": (_mutate(FM_VALID, "<AcademicTerm>09", "<AcademicTerm>13"), False),
    "bad email": (_mutate(FM_VALID, "jane.doe@example.com", "jane.doe@example"), False),
    "bad date": (_mutate(FM_VALID, "<BirthDate>2001-02-03", "<BirthDate>2001-02-30"), False),
    "status code": (_mutate(FM_VALID, 'statusCode="ACTIVE"', 'statusCode="A"'), False),
    "print form yes": (_mutate(FM_VALID, 'printForm="false"', 'printForm="Y"'), False),
    "empty remarks where a value is required": (
        _mutate(FM_VALID, "</CreateDependent>", "</CreateDependent><Remarks></Remarks>"),
        False,
    ),
    "cap-gap request": (
        _mutate(
            FM_VALID,
            "<Status><Verify/></Status>",
            '<Request><CapGapExtension printForm="true"><Status>C</Status></CapGapExtension></Request>',
        ),
        True,
    ),
    "verify with content": (_mutate(FM_VALID, "<Verify/>", "<Verify>yes</Verify>"), False),
    "251 updates": (
        _mutate(
            FM_VALID,
            "<UpdateStudent>",
            "<UpdateStudent>"
            + '<Student sevisID="N0000000001" requestID="V" userID="JSMITH1234"><Status><Verify/></Status></Student>'
            * 246,
        ),
        False,
    ),
    "250 updates": (
        _mutate(
            FM_VALID,
            "<UpdateStudent>",
            "<UpdateStudent>"
            + '<Student sevisID="N0000000001" requestID="V" userID="JSMITH1234"><Status><Verify/></Status></Student>'
            * 245,
        ),
        True,
    ),
}


def _verdicts(document: str, ours: Path, official: Path) -> tuple[tuple, tuple]:
    """(valid?, error messages) from our schema and from the official one."""
    results = []
    for path in (ours, official):
        schema = lxml_schema(path)
        valid = schema.validate(etree.fromstring(document.encode("utf-8")))
        results.append((valid, [(error.line, error.message) for error in schema.error_log]))
    return results[0], results[1]


def _check_verdict(document: str, expected: bool, release: str, official: str, name: str) -> None:
    ours, theirs = _verdicts(document, _ours(release, name), _official(official, name))
    assert theirs[0] == expected, f"the test document itself is wrong: official says {theirs}"
    assert ours[0] == theirs[0]
    # the structure is mirrored closely enough that even lxml's messages are the same
    assert ours[1] == theirs[1]


@pytest.mark.parametrize("case", sorted(FM_CASES))
def test_fm_documents_get_the_official_verdict(case):
    document, expected = FM_CASES[case]
    _check_verdict(document, expected, "fm-6.55", "6.55-fm", "Create-UpdateStudent.xsd")


J_VALID = """\
<SEVISBatchCreateUpdateEV userID="PSMITH1234" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BatchHeader><BatchID>J2024000000001</BatchID><OrgID>P-1-12345</OrgID></BatchHeader>
  <CreateEV>
    <ExchangeVisitor requestID="R1" userID="PSMITH1234" printForm="true">
      <Biographical>
        <FullName><LastName>Lee</LastName><FirstName>Min</FirstName></FullName>
        <BirthDate>1995-05-06</BirthDate><Gender>M</Gender><BirthCity>Seoul</BirthCity>
        <BirthCountryCode>KS</BirthCountryCode><CitizenshipCountryCode>KS</CitizenshipCountryCode>
        <PermanentResidenceCountryCode>KS</PermanentResidenceCountryCode>
        <EmailAddress>min.lee@example.org</EmailAddress><PhoneNumber>2025550100</PhoneNumber>
      </Biographical>
      <PositionCode>213</PositionCode>
      <PrgStartDate>2024-09-01</PrgStartDate><PrgEndDate>2025-08-31</PrgEndDate>
      <CategoryCode>1A</CategoryCode>
      <SubjectField><SubjectFieldCode>11.0701</SubjectFieldCode><Remarks>Computer science</Remarks></SubjectField>
      <FinancialInfo><ReceivedUSGovtFunds>false</ReceivedUSGovtFunds><ProgramSponsorFunds>20000</ProgramSponsorFunds></FinancialInfo>
      <AddSiteOfActivity>
        <SiteOfActivity xsi:type="SOA"><Address1>1 Campus Dr</Address1><City>Ithaca</City><State>NY</State>
          <PostalCode>14850</PostalCode><SiteName>Main campus</SiteName><PrimarySite>true</PrimarySite></SiteOfActivity>
        <SiteOfActivity xsi:type="EXEMPT"><Remarks>Field work</Remarks></SiteOfActivity>
      </AddSiteOfActivity>
      <AddTIPP print7002="false"><TippExemptProgram>IWT</TippExemptProgram></AddTIPP>
      <ResidentialAddress><ResidentialType>HST</ResidentialType>
        <HostFamily><Phone>202-555-0100</Phone><PhoneExt></PhoneExt></HostFamily></ResidentialAddress>
    </ExchangeVisitor>
  </CreateEV>
  <UpdateEV>
    <ExchangeVisitor sevisID="N0009876543" requestID="R2" userID="PSMITH1234">
      <SiteOfActivity><Add xsi:type="AddSOA" printForm="true"><Address1>2 Lab Rd</Address1><PostalCode>14850</PostalCode>
        <SiteName>Lab</SiteName><PrimarySite>false</PrimarySite></Add></SiteOfActivity>
    </ExchangeVisitor>
    <ExchangeVisitor sevisID="N0009876544" requestID="R3" userID="PSMITH1234" statusCode="INITIAL">
      <Status><NoShow/></Status>
    </ExchangeVisitor>
    <ExchangeVisitor sevisID="N0009876545" requestID="R4" userID="PSMITH1234">
      <Reprint7002 print7002="true"><SiteId>17</SiteId></Reprint7002>
    </ExchangeVisitor>
    <ExchangeVisitor sevisID="N0009876546" requestID="R5" userID="PSMITH1234">
      <Program><Extension printForm="true"><NewPrgEndDate>2026-01-31</NewPrgEndDate>
        <TippPhaseDates><TippPhase><PhaseId>3</PhaseId><StartDate>2024-09-01</StartDate><EndDate>2026-01-31</EndDate></TippPhase></TippPhaseDates>
      </Extension></Program>
    </ExchangeVisitor>
    <ExchangeVisitor sevisID="N0009876547" requestID="R6" userID="PSMITH1234">
      <SiteOfActivity><Delete><SiteId>17</SiteId></Delete></SiteOfActivity>
    </ExchangeVisitor>
    <ExchangeVisitor sevisID="N0009876548" requestID="R7" userID="PSMITH1234">
      <Dependent><Delete dependentSevisID="N0009876549"/></Dependent>
    </ExchangeVisitor>
  </UpdateEV>
</SEVISBatchCreateUpdateEV>
"""

J_CASES = {
    "valid": (J_VALID, True),
    "abstract site without xsi:type": (
        _mutate(J_VALID, '<SiteOfActivity xsi:type="EXEMPT">', "<SiteOfActivity>"),
        False,
    ),
    "abstract add without xsi:type": (
        _mutate(J_VALID, '<Add xsi:type="AddSOA" printForm="true">', '<Add printForm="true">'),
        False,
    ),
    "add type not derived from AbstractAdd": (_mutate(J_VALID, 'xsi:type="AddSOA"', 'xsi:type="SOA"'), False),
    "seeking employment add": (
        _mutate(
            J_VALID,
            '<Add xsi:type="AddSOA" printForm="true"><Address1>2 Lab Rd</Address1><PostalCode>14850</PostalCode>\n        <SiteName>Lab</SiteName><PrimarySite>false</PrimarySite></Add>',
            '<Add xsi:type="AddSEEKINGEMP" printForm="true"/>',
        ),
        True,
    ),
    "no site and no plan": (
        _mutate(J_VALID, '<AddTIPP print7002="false"><TippExemptProgram>IWT</TippExemptProgram></AddTIPP>', ""),
        True,
    ),
    "position code not in table": (_mutate(J_VALID, "<PositionCode>213", "<PositionCode>999"), False),
    "position code with leading zero": (_mutate(J_VALID, "<PositionCode>213", "<PositionCode>0213"), True),
    "gender U not for J": (_mutate(J_VALID, "<Gender>M</Gender>", "<Gender>U</Gender>"), False),
    "program number G-8": (_mutate(J_VALID, "P-1-12345", "G-8-12345"), False),
    "family name over 40": (
        _mutate(J_VALID, "<LastName>Lee</LastName>", "<LastName>" + "L" * 41 + "</LastName>"),
        False,
    ),
    "reprint7002 false": (_mutate(J_VALID, 'print7002="true"', 'print7002="false"'), False),
    "host phone without dashes": (_mutate(J_VALID, "<Phone>202-555-0100</Phone>", "<Phone>2025550100</Phone>"), False),
    "site delete by name and id": (
        _mutate(
            J_VALID,
            "<Delete><SiteId>17</SiteId></Delete>",
            "<Delete><SiteId>17</SiteId><SiteName>Lab</SiteName></Delete>",
        ),
        True,
    ),
    "26 sites": (
        _mutate(
            J_VALID,
            '<SiteOfActivity xsi:type="EXEMPT"><Remarks>Field work</Remarks></SiteOfActivity>',
            '<SiteOfActivity xsi:type="EXEMPT"/>' * 25,
        ),
        False,
    ),
    "phase id not an int": (_mutate(J_VALID, "<PhaseId>3</PhaseId>", "<PhaseId>three</PhaseId>"), False),
}

TRANSLOG_VALID = """\
<TransactionLog>
  <BatchHeader><BatchID>B2024000000001</BatchID><OrgID>BOS214F00123000</OrgID></BatchHeader>
  <BatchDetail status="true" system="ALPHA">
    <Upload resultCode="S0000" dateTimeStamp="2024-03-01T10:00:00"><FileName>batch.xml</FileName></Upload>
    <Process resultCode="S0000" dateTimeStamp="2024-03-01T10:05:00">
      <RecordCount><Success>1</Success><Failure>1</Failure><Total>2</Total></RecordCount>
      <Record sevisID="N0001234567" requestID="R1" userID="JSMITH1234">
        <ProcessDate>2024-03-01T10:04:00</ProcessDate>
        <Result status="true"/>
        <Dependent dependentSevisID="N0001234568"/>
        <PhysicalProvidedAddress><Address1>1 Main St</Address1><PostalCode>02110</PostalCode></PhysicalProvidedAddress>
        <PhysicalCorrectedAddress><Address1>1 MAIN ST</Address1><City>BOSTON</City><State>MA</State><PostalCode>02110-1234</PostalCode></PhysicalCorrectedAddress>
        <PhysicalAddressResult>S8000</PhysicalAddressResult>
        <PhysicalAddressMessage></PhysicalAddressMessage>
      </Record>
      <Record requestID="R2">
        <ProcessDate>2024-03-01T10:04:30</ProcessDate>
        <Result status="false"><ErrorCode>S1011</ErrorCode><ErrorMessage>Student not found</ErrorMessage></Result>
      </Record>
    </Process>
  </BatchDetail>
</TransactionLog>
"""

TRANSLOG_CASES = {
    "valid": (TRANSLOG_VALID, True),
    "upload only": (
        TRANSLOG_VALID[: TRANSLOG_VALID.index("    <Process")] + "  </BatchDetail>\n</TransactionLog>\n",
        True,
    ),
    "missing status": (_mutate(TRANSLOG_VALID, ' status="true" system="ALPHA"', ""), False),
    "bad result code": (
        _mutate(
            TRANSLOG_VALID,
            'resultCode="S0000" dateTimeStamp="2024-03-01T10:00:00"',
            'resultCode="E0000" dateTimeStamp="2024-03-01T10:00:00"',
        ),
        False,
    ),
    "record count of six digits": (_mutate(TRANSLOG_VALID, "<Total>2</Total>", "<Total>100000</Total>"), False),
    "record without requestID": (_mutate(TRANSLOG_VALID, ' requestID="R2"', ""), False),
    "error code without message": (
        _mutate(TRANSLOG_VALID, "<ErrorMessage>Student not found</ErrorMessage>", ""),
        False,
    ),
    "file name too long": (_mutate(TRANSLOG_VALID, "batch.xml", "b" * 31), False),
    "date instead of dateTime": (
        _mutate(TRANSLOG_VALID, "<ProcessDate>2024-03-01T10:04:00", "<ProcessDate>2024-03-01"),
        False,
    ),
    "zip+4 only in responses": (
        _mutate(
            TRANSLOG_VALID,
            "<PostalCode>02110</PostalCode></PhysicalProvidedAddress>",
            "<PostalCode>0211</PostalCode></PhysicalProvidedAddress>",
        ),
        False,
    ),
}


@pytest.mark.parametrize("case", sorted(J_CASES))
def test_j_documents_get_the_official_verdict(case):
    document, expected = J_CASES[case]
    _check_verdict(document, expected, "j-6.27", "6.27-j", "Create-UpdateExchangeVisitor.xsd")


@pytest.mark.parametrize("case", sorted(TRANSLOG_CASES))
def test_transaction_logs_get_the_official_verdict(case):
    document, expected = TRANSLOG_CASES[case]
    _check_verdict(document, expected, "j-6.27", "6.27-j", "SevisTransLog.xsd")


def test_documents_of_one_kind_are_rejected_by_the_other_schema():
    """The root element picks the schema: an F/M batch is not a J batch, and neither is a log."""
    fm, j, log = (
        lxml_schema(schema_for_root(root))
        for root in ("SEVISBatchCreateUpdateStudent", "SEVISBatchCreateUpdateEV", "TransactionLog")
    )
    assert fm.validate(etree.fromstring(FM_VALID.encode()))
    assert not j.validate(etree.fromstring(FM_VALID.encode()))
    assert not log.validate(etree.fromstring(J_VALID.encode()))
    assert log.validate(etree.fromstring(TRANSLOG_VALID.encode()))


# --------------------------------------------------------------------------------------------
# 5. the build reproduces the committed tables
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("release", build.RELEASES, ids=lambda r: r.folder)
def test_build_reproduces_the_committed_table_schema(release):
    committed = build.output_path(release).read_bytes()
    assert build.render(release).encode("utf-8") == committed, "run: python -m schemas.build"


def test_build_writes_into_a_fresh_tree(tmp_path, monkeypatch):
    import shutil

    shutil.copytree(schema_root() / "tables", tmp_path / "tables")
    monkeypatch.setattr(build, "schema_root", lambda: tmp_path)
    assert build.main([]) == 0
    for release in build.RELEASES:
        assert (tmp_path / release.folder / "SEVISTable.xsd").read_bytes() == build.output_path(
            release, schema_root()
        ).read_bytes()
    assert build.main(["--check"]) == 0
