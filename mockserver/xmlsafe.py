"""Hardened XML parsing for everything that comes over the wire: no DTD, no entities, no network."""
from __future__ import annotations

from lxml import etree


class UnsafeXML(ValueError):
    pass


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=False,
    )


def parse(data: bytes) -> etree._ElementTree:
    """Parse ``data``; raises ``etree.XMLSyntaxError`` when not well-formed and ``UnsafeXML`` when it
    carries a DOCTYPE (SEVIS documents never need one; entity tricks are refused outright)."""
    root = etree.fromstring(data, _parser())
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXML("the document has a DOCTYPE declaration; SEVIS batch documents may not declare a DTD or entities")
    return tree


# XML's whitespace (XML 1.0 production S). Values are trimmed of these only: str.strip() would also remove a
# no-break space or other Unicode spaces, which SEVIS keeps (and its name rules then refuse).
XML_SPACE = " \t\r\n"
