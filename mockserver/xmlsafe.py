"""Hardened XML parsing for everything that comes over the wire: no DTD, no entities, no network."""

from __future__ import annotations

import re

from lxml import etree


class UnsafeXML(ValueError):
    pass


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse(data: bytes) -> etree._ElementTree:
    """Parse ``data``; raises ``etree.XMLSyntaxError`` when not well-formed and ``UnsafeXML`` when it
    carries a DOCTYPE (SEVIS documents never need one; entity tricks are refused outright)."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        # libxml2 may stop inside the DTD (an entity amplification, an undefined parameter entity) before
        # reporting it: the DOCTYPE is the fault to name
        if _DOCTYPE.search(data[:PROLOG_BYTES] if isinstance(data, bytes) else data[:PROLOG_BYTES].encode()):
            raise UnsafeXML(DOCTYPE_REASON) from None
        raise
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:  # type: ignore[union-attr]  # lxml-stubs lack DocInfo.doctype
        raise UnsafeXML(DOCTYPE_REASON)
    drop_comments_and_pis(root)
    return tree


DOCTYPE_REASON = "the document has a DOCTYPE declaration; SEVIS batch documents may not declare a DTD or entities"
PROLOG_BYTES = 4096
_DOCTYPE = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*)*<!DOCTYPE", re.S)


def drop_comments_and_pis(root: etree._Element) -> None:
    """Remove every comment and processing instruction inside ``root``, keeping the text around each, so
    that every value reads as its XPath ``string()`` (all its text, comments and PIs skipped) wherever
    it is read with ``.text``: ``<LastName>CH<!-- x -->EN</LastName>`` becomes ``<LastName>CHEN</LastName>``,
    as the schema validator already reads it. Done once, right after the hardened parse, so intake,
    processing, rules, stored records and forms all see the same values."""
    for node in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        parent = node.getparent()
        if parent is None:
            continue
        tail = node.tail or ""
        previous = node.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        elif tail or parent.text:
            parent.text = (parent.text or "") + tail
        parent.remove(node)


# XML's whitespace (XML 1.0 production S). Values are trimmed of these only: str.strip() would also remove a
# no-break space or other Unicode spaces, which SEVIS keeps (and its name rules then refuse).
XML_SPACE = " \t\r\n"


# Characters XML 1.0 cannot carry at all (C0 controls but tab/CR/LF, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DASH_PAIR = re.compile("-(?=-)")
_NOT_HEADER = re.compile("[^\u0020-\u007e]")
HEADER_MAX = 2000


def xml_text(value: str) -> str:
    """``value`` with the characters XML 1.0 cannot carry replaced by U+FFFD (an echoed value may hold any)."""
    return _NOT_XML.sub("\ufffd", value)


def comment_text(value: str) -> str:
    """``value`` made safe inside ``<!-- ... -->`` for any input: XML characters only, no ``--`` anywhere
    (every dash that a dash follows gets a space after it, so ``----`` reads ``- - - -``), and no dash at
    either end (the comment is padded with spaces)."""
    return " " + _DASH_PAIR.sub("- ", xml_text(value)) + " "


def header_value(value: str, limit: int = HEADER_MAX) -> str:
    """``value`` made safe as an HTTP header value for any input: printable ASCII only (CR, LF, tabs and
    other controls become spaces, other characters ``?``), runs of spaces folded, at most ``limit``."""
    cleaned = _NOT_HEADER.sub(lambda m: " " if m.group() <= "\u0020" or m.group() == "\u007f" else "?", value)
    return re.sub(" {2,}", " ", cleaned).strip()[:limit]
