"""Personal data out of a recording: names, birth dates and cities, street lines, e-mails, telephone,
passport and visa numbers are replaced by fakes, consistently (one value gets one fake everywhere in a
proxy run: the document, the transaction log, error messages). SEVIS IDs, requestIDs, codes, dates other than
birth dates, City/State/ZIP (so an address result still reproduces) and UserDefinedA/B (the school's own keys, which
clients match results on) are kept. PDFs cannot be scrubbed: a scrubbed zip carries a placeholder in their place.

The fakes come from a keyed hash whose key lives only in the proxy's memory, so a recording cannot be used
to test guesses of the real values.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import zipfile

from lxml import etree

NAMES = frozenset({
    "FirstName", "LastName", "MiddleName", "PreferredName", "PassportName", "FullName", "OtherName1", "OtherName2",
    "SuperFirstName", "SuperLastName", "SuperMiddleInitial", "SupervisorFirstName", "SupervisorLastName",
    "BirthCity",
})  # fmt: skip
STREETS = frozenset({"Address1", "Address2"})
EMAILS = frozenset({"Email", "EmailAddress", "SuperEmail", "SupervisorEmail"})
DIGITS = frozenset({
    "Phone", "PhoneNumber", "USPhoneNumber", "Telephone", "SuperPhone", "SupervisorPhone", "SupervisorFax",
    "PhoneExt", "SuperPhoneExt", "SupervisorPhoneExt",
})  # fmt: skip
NUMBERS = frozenset({"PassportNumber", "VisaNumber"})
BIRTH_DATES = frozenset({"BirthDate"})
SCRUBBED = NAMES | STREETS | EMAILS | DIGITS | NUMBERS | BIRTH_DATES
LOG_NAME = "sevis_transaction_log.xml"

_SYLLABLES = [c + v for c in "BDFGKLMNPRSTVZ" for v in "AEIOU"]
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False)

# A one-page PDF saying what happened to the form; built once, by hand, so the harness needs no PDF library.
_PLACEHOLDER_TEXT = b"Form removed by sevis-mock proxy: it holds personal data (record with --keep-personal-data)"


def placeholder_pdf() -> bytes:
    stream = b"BT /F1 10 Tf 36 740 Td (" + _PLACEHOLDER_TEXT + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


class Scrubber:
    """Replaces personal data by fakes, the same fake for the same value throughout its life."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or os.urandom(32)
        self._fakes: dict[tuple[str, str], str] = {}

    # -- single values ---------------------------------------------------------------------------
    def _number(self, kind: str, value: str) -> int:
        mac = hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()
        return int.from_bytes(mac[:8], "big")

    def fake(self, element: str, value: str) -> str:
        """The fake for ``value`` of element ``element`` (empty values stay empty)."""
        if not value.strip():
            return value
        kind = _kind(element)
        key = (kind, value)
        if key not in self._fakes:
            self._fakes[key] = _make(kind, value, self._number(kind, value))
        return self._fakes[key]

    def replace_known(self, text: str) -> str:
        """``text`` (an error message, say) with every value faked so far replaced by its fake."""
        for (kind, original), fake in sorted(self._fakes.items(), key=lambda item: -len(item[0][1])):
            if kind != "date" and len(original) >= 2:
                text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(original)}(?![A-Za-z0-9])", fake, text)
        return text

    # -- documents and replies -------------------------------------------------------------------
    def xml(self, data: bytes) -> bytes:
        """A batch document or transaction log with personal data faked; anything not well-formed is kept out
        entirely (it cannot be scrubbed element by element)."""
        try:
            root = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError:
            return b"<!-- sevis-mock proxy: not well-formed XML, left out of the recording (personal data) -->\n"
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            name = etree.QName(el).localname
            if name in SCRUBBED and el.text:
                el.text = self.fake(name, el.text)
        for el in root.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname == "ErrorMessage" and el.text:
                el.text = self.replace_known(el.text)
        declaration = data.lstrip().startswith(b"<?xml")
        return etree.tostring(root.getroottree(), xml_declaration=declaration, encoding="UTF-8")

    def zip(self, data: bytes) -> bytes:
        """A reply zip with its log scrubbed and each PDF replaced by a placeholder of the same name."""
        try:
            source = zipfile.ZipFile(io.BytesIO(data))
            names = source.namelist()
        except zipfile.BadZipFile:
            return b""
        out = io.BytesIO()
        with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for name in names:
                body = source.read(name)
                if name == LOG_NAME:
                    body = self.xml(body)
                elif name.lower().endswith(".pdf"):
                    body = placeholder_pdf()
                target.writestr(name, body)
        return out.getvalue()


def _kind(element: str) -> str:
    if element in BIRTH_DATES:
        return "date"
    if element in EMAILS:
        return "email"
    if element in DIGITS:
        return "digits"
    if element in NUMBERS:
        return "number"
    if element in STREETS:
        return "street"
    return "name"


def _make(kind: str, value: str, n: int) -> str:
    if kind == "date":
        # the year is kept (age rules such as a dependent child's 21 years still apply); month and day are not
        match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value.strip())
        if not match:
            return value
        return f"{match.group(1)}-{n % 12 + 1:02d}-{n // 12 % 28 + 1:02d}"
    if kind == "email":
        return f"person{n % 1_000_000:06d}@example.org"
    if kind == "digits":
        digits = re.sub(r"\D", "", value)
        return "".join(str((n >> (4 * i)) % 10) for i in range(len(digits))) if digits else value
    if kind == "number":
        alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
        return "".join(alphabet[(n >> (5 * i)) % len(alphabet)] for i in range(min(len(value), 12)))
    if kind == "street":
        return f"{n % 9000 + 100} {_word(n >> 16, 2)} ST"
    # a name: letters and spaces only, as SEVIS's name rules require, of about the original's length
    length = max(1, min(len(value.strip()), 40))
    word = _word(n, max(1, (length + 1) // 2))
    return word[:length]


def _word(n: int, syllables: int) -> str:
    return "".join(_SYLLABLES[(n >> (6 * i)) % len(_SYLLABLES)] for i in range(syllables))
