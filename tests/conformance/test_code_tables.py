"""Every code of every official SEVIS table is accepted by the project's schemas -- and a code the
official table lacks is refused -- judged by libxml2, the validator the server uses.

tests/test_own_schemas.py proves the CSV tables and the generated SEVISTable.xsd hold the same code
lists as the official files (as data); this proves the behaviour: one document carries every official
code of every table and must validate against our SEVISTable.xsd, and one carries a foreign code per
table and must fail exactly once per table.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from sevis_mock.schemas import schema_root
from tests.support.reference import OFFICIAL_XSD, official

PROJECT = Path(__file__).resolve().parents[2]
OFFICIAL = OFFICIAL_XSD
XS = "http://www.w3.org/2001/XMLSchema"
TABLE = "http://www.ice.gov/xmlschema/sevisbatch/Table"
RELEASES = [("fm-6.55", "6.55-fm"), ("j-6.27", "6.27-j")]

pytestmark = official


def official_tables(folder: str) -> dict[str, list[str]]:
    """Enumerated simple types of the official SEVISTable.xsd: name -> codes."""
    root = etree.parse(str(OFFICIAL / folder / "SEVISTable.xsd")).getroot()
    tables = {}
    for simple in root.iterfind(f"{{{XS}}}simpleType"):
        codes = [e.get("value") for e in simple.iterfind(f"{{{XS}}}restriction/{{{XS}}}enumeration")]
        if codes:
            tables[simple.get("name")] = codes
    return tables


def probe_schema(tmp_path: Path, release: str, tables: dict[str, list[str]]) -> etree.XMLSchema:
    """A wrapper schema (in tmp_path) with one element per table type of OUR SEVISTable.xsd."""
    ours = (schema_root() / release / "SEVISTable.xsd").resolve().as_uri()
    elements = "".join(f'<xs:element name="{name}" type="table:{name}"/>' for name in tables)
    text = (
        f'<xs:schema xmlns:xs="{XS}" xmlns:table="{TABLE}">'
        f'<xs:import namespace="{TABLE}" schemaLocation="{ours}"/>'
        f'<xs:element name="Codes"><xs:complexType><xs:choice minOccurs="0" maxOccurs="unbounded">'
        f"{elements}</xs:choice></xs:complexType></xs:element></xs:schema>"
    )
    path = tmp_path / f"probe-{release}.xsd"
    path.write_text(text, encoding="utf-8")
    return etree.XMLSchema(etree.parse(str(path)))


def codes_document(pairs) -> etree._Element:
    body = "".join(f"<{name}>{escape(code)}</{name}>" for name, code in pairs)
    return etree.fromstring(f"<Codes>{body}</Codes>".encode("utf-8"))


def foreign_code(codes: list[str]) -> str:
    for candidate in ("ZZ9", "~", "0" * 12, "Q"):
        if candidate not in codes:
            return candidate
    raise AssertionError("no foreign code found")  # pragma: no cover


@pytest.mark.parametrize(("release", "official"), RELEASES)
def test_every_official_code_is_accepted_by_ours(tmp_path, release, official):
    tables = official_tables(official)
    assert len(tables) > 20, "the official table file was not read"
    schema = probe_schema(tmp_path, release, tables)
    document = codes_document((name, code) for name, codes in tables.items() for code in codes)
    assert len(document) == sum(len(codes) for codes in tables.values())
    valid = schema.validate(document)
    errors = [f"line {e.line}: {e.message}" for e in schema.error_log][:20]
    assert valid, "official codes refused by our SEVISTable.xsd:\n" + "\n".join(errors)


@pytest.mark.parametrize(("release", "official"), RELEASES)
def test_a_code_absent_from_the_official_table_is_refused_by_ours(tmp_path, release, official):
    tables = official_tables(official)
    schema = probe_schema(tmp_path, release, tables)
    document = codes_document((name, foreign_code(codes)) for name, codes in tables.items())
    assert not schema.validate(document)
    refused = set()
    for error in schema.error_log:
        element = error.message.split("'")[1]  # "Element 'Name': ..."
        refused.add(element)
    accepted = sorted(set(tables) - refused)
    assert not accepted, f"codes absent from the official tables accepted by ours for: {accepted}"
