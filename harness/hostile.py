"""Hostile uploads for fuzzing a running mock: what an attacker or a broken client sends.

Public API::

    from sevis_mock.harness.hostile import Upload, Fuzzer

    fuzzer = Fuzzer(org_id, user_id)      # bases: the F/M fixtures, addressed to org_id / user_id
    upload = fuzzer.upload(random.Random(seed))   # one Upload, the same for the same seed
    upload.send(session, base_url)        # -> requests.Response

Each :class:`Upload` is one of :data:`KINDS`: a single schema fault (``sevis_mock.harness.mutants``), a document
broken at the byte level (truncated, bytes flipped, NUL and control characters, a comment or processing
instruction inside a value, a DOCTYPE bomb, an attribute flood, deep nesting, an encoding lie), or hostile
form fields (dash and newline runs, CRLF, NUL, path traversal, SQL-like strings, 400 KB values, a field
missing, a raw malformed multipart body). The same seed gives the same upload, so a failure found by
``benchmarks/fuzz.py`` replays with ``--seed``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property

from lxml import etree

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.xmlsafe import xml_text

__all__ = ["KINDS", "Fuzzer", "Upload"]

UPLOAD_PATH = "/sbtsevisbatch/action/batchUpload"
DOWNLOAD_PATH = "/sbtsevisbatch/action/batchDownload"
BASES = ("fm/create-with-dependent.xml", "fm/create-three-students.xml")

HOSTILE_STRINGS = (
    "",
    " ",
    "-",
    "--",
    "-" * 41,
    "a--b",
    "\n",
    "\r\n",
    "X\r\nSet-Cookie: a=b",
    "\x00",
    "A\x00B",
    "\x1b[31m",
    "\x7f\x80\x9f",
    "\ud7ff\ue000\ufffd",
    "\U0001f600",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "%2e%2e%2f%2e%2e%2f",
    "' OR '1'='1",
    "1; DROP TABLE batches; --",
    '"; filename="evil.sh',
    "<script>alert(1)</script>",
    "]]>",
    "&amp;&lt;&#0;",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "%s%s%s%n",
    "\u202e\u2066",
    "B" * 15,
    "B" * 13,
)

KINDS = (
    "schema-mutant",
    "truncated",
    "flipped-bytes",
    "control-chars",
    "comment-in-value",
    "pi-in-value",
    "doctype",
    "attribute-flood",
    "deep",
    "encoding-lie",
    "hostile-fields",
    "huge-field",
    "missing-field",
    "raw-multipart",
    "hostile-download",
)


@dataclass
class Upload:
    kind: str
    fields: dict[str, str] = field(default_factory=dict)
    document: bytes | None = None
    filename: str = "batch.xml"
    raw_body: bytes | None = None  # sent as is, with ``content_type``
    content_type: str | None = None
    download: bool = False

    def send(self, session, base_url: str, timeout: float = 60):
        if self.download:
            return session.get(base_url + DOWNLOAD_PATH, params=self.fields, timeout=timeout)
        if self.raw_body is not None:
            return session.post(
                base_url + UPLOAD_PATH,
                data=self.raw_body,
                headers={"Content-Type": self.content_type or "multipart/form-data"},
                timeout=timeout,
            )
        files = {"xml": (self.filename, self.document, "text/xml")} if self.document is not None else None
        return session.post(base_url + UPLOAD_PATH, data=self.fields, files=files, timeout=timeout)


class Fuzzer:
    """Hostile uploads built on the F/M fixtures, addressed to one organization and user."""

    def __init__(self, org_id: str, user_id: str, *, kinds: tuple[str, ...] = KINDS) -> None:
        self.org_id = org_id
        self.user_id = user_id
        self.kinds = kinds
        self.bases = [etree.fromstring(read_fixture(name)).getroottree() for name in BASES]
        for tree in self.bases:
            tree.getroot().find("BatchHeader/OrgID").text = org_id
            for el in tree.iter():
                if el.get("userID") is not None:
                    el.set("userID", user_id)
        self._counter = 0

    @cached_property
    def mutations(self):
        from sevis_mock.harness.mutants import mutations
        from sevis_mock.server.validation import SchemaSet

        schemas = SchemaSet.discover([])
        xsd = schemas.files["SEVISBatchCreateUpdateStudent"]
        return [(tree, mutations(str(xsd), tree)) for tree in self.bases]

    def batch_id(self, rng: random.Random) -> str:
        return "Z" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(13))

    def fields(self, batch_id: str) -> dict[str, str]:
        return {"orgid": self.org_id, "userid": self.user_id, "batchid": batch_id}

    def document(self, rng: random.Random, batch_id: str) -> tuple[etree._ElementTree, bytes]:
        import copy

        tree = copy.deepcopy(rng.choice(self.bases))
        tree.getroot().find("BatchHeader/BatchID").text = batch_id
        suffix = "".join(chr(ord("A") + ord(c) % 26) for c in batch_id[1:7])  # a new person: no S1004
        for last in tree.iter("LastName"):
            last.text = f"{last.text} {suffix}"
        return tree, etree.tostring(tree, xml_declaration=True, encoding="UTF-8")

    def upload(self, rng: random.Random) -> Upload:
        kind = rng.choice(self.kinds)
        batch_id = self.batch_id(rng)
        tree, data = self.document(rng, batch_id)
        return getattr(self, "_" + kind.replace("-", "_"))(rng, kind, batch_id, tree, data)

    # -- documents ---------------------------------------------------------------------------------------

    def _schema_mutant(self, rng, kind, batch_id, tree, data) -> Upload:
        base, options = rng.choice(self.mutations)
        for _ in range(5):
            made = rng.choice(options).apply(base)
            if made is not None:
                broken = made[0]
                header = broken.getroot().find("BatchHeader/BatchID")
                if header is not None and header.text and len(header.text.strip()) == 14:
                    header.text = batch_id
                document = etree.tostring(broken, xml_declaration=True, encoding="UTF-8")
                return Upload(kind, self.fields(batch_id), document)
        return Upload(kind, self.fields(batch_id), data)

    def _truncated(self, rng, kind, batch_id, tree, data) -> Upload:
        return Upload(kind, self.fields(batch_id), data[: rng.randrange(0, len(data))])

    def _flipped_bytes(self, rng, kind, batch_id, tree, data) -> Upload:
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        return Upload(kind, self.fields(batch_id), bytes(buf))

    def _leaf(self, rng, tree):
        leaves = [el for el in tree.iter() if len(el) == 0 and el.text and el.tag not in ("BatchID", "OrgID")]
        return rng.choice(leaves)

    def _control_chars(self, rng, kind, batch_id, tree, data) -> Upload:
        leaf = self._leaf(rng, tree)
        text = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
        marker = f">{leaf.text}<".encode()
        junk = rng.choice(["\x00", "\x01", "\x0b", "\x1f", "\x7f", "\n\n", "\r", "\t"]).encode()
        at = text.find(marker)
        if at >= 0:
            cut = at + 1 + rng.randrange(len(marker) - 1)
            text = text[:cut] + junk + text[cut:]
        return Upload(kind, self.fields(batch_id), text)

    def _comment_in_value(self, rng, kind, batch_id, tree, data) -> Upload:
        leaf = self._leaf(rng, tree)
        keep = rng.randrange(len(leaf.text) + 1)
        rest = leaf.text[keep:]
        leaf.text = leaf.text[:keep]
        comment = etree.Comment(rng.choice([" x ", "", " - ", "\n"]))
        comment.tail = rest
        leaf.append(comment)
        return Upload(kind, self.fields(batch_id), etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))

    def _pi_in_value(self, rng, kind, batch_id, tree, data) -> Upload:
        leaf = self._leaf(rng, tree)
        pi = etree.ProcessingInstruction("php", "echo 1")
        pi.tail = leaf.text[1:]
        leaf.text = leaf.text[:1]
        leaf.append(pi)
        return Upload(kind, self.fields(batch_id), etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))

    def _doctype(self, rng, kind, batch_id, tree, data) -> Upload:
        body = data[data.index(b"?>") + 2 :]
        prologue = rng.choice(
            [
                b"<!DOCTYPE SEVISBatchCreateUpdateStudent>",
                b'<!DOCTYPE a [<!ENTITY a "' + b"x" * 10_000 + b'">]>',
                b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                b'<!DOCTYPE a SYSTEM "http://127.0.0.1:9/evil.dtd">',
                b'<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p"> %p;]>',
            ]
        )
        return Upload(kind, self.fields(batch_id), b'<?xml version="1.0"?>\n' + prologue + body)

    def _attribute_flood(self, rng, kind, batch_id, tree, data) -> Upload:
        tag = rng.choice(list(tree.iter())).tag
        at = data.index(f"<{tag}".encode()) + len(tag) + 1
        flood = "".join(f' f{n}="v"' for n in range(rng.choice([5, 40, 2_000, 20_000]))).encode()
        return Upload(kind, self.fields(batch_id), data[:at] + flood + data[at:])

    def _deep(self, rng, kind, batch_id, tree, data) -> Upload:
        depth = rng.choice([20, 40, 300])
        leaf = self._leaf(rng, tree)
        text = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
        marker = f">{leaf.text}<".encode()
        at = text.find(marker)
        if at >= 0:
            text = text[: at + 1] + b"<d>" * depth + b"</d>" * depth + text[at + 1 :]
        return Upload(kind, self.fields(batch_id), text)

    def _encoding_lie(self, rng, kind, batch_id, tree, data) -> Upload:
        choice = rng.randrange(4)
        body = data[data.index(b"?>") + 2 :]
        if choice == 0:
            document = b'<?xml version="1.0" encoding="UTF-16"?>' + body
        elif choice == 1:
            document = '<?xml version="1.0" encoding="UTF-16"?>'.encode("utf-16") + body.decode().encode("utf-16")
        elif choice == 2:
            document = b'<?xml version="1.0" encoding="x-unknown"?>' + body
        else:
            document = data.replace(b"</LastName>", b"\xc3\x28</LastName>", 1)
        return Upload(kind, self.fields(batch_id), document)

    # -- form fields ---------------------------------------------------------------------------------------

    def _hostile_fields(self, rng, kind, batch_id, tree, data) -> Upload:
        fields = self.fields(batch_id)
        name = rng.choice(["orgid", "userid", "batchid"])
        value = rng.choice(HOSTILE_STRINGS)
        fields[name] = rng.choice([value, fields[name] + value, value + fields[name]])
        filename = rng.choice(["batch.xml", "../../etc/passwd", "a\r\nb.xml", "\x00.xml", "-" * 300, "é.xml"])
        if name == "batchid" and rng.random() < 0.5:  # the header says the same hostile value
            header = tree.getroot().find("BatchHeader/BatchID")
            header.text = xml_text(fields[name])  # what XML can carry of it
            data = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
        return Upload(kind, fields, data, filename=filename)

    def _huge_field(self, rng, kind, batch_id, tree, data) -> Upload:
        fields = self.fields(batch_id)
        fields[rng.choice(["orgid", "userid", "batchid"])] = rng.choice(["A", "-", "\n", "é"]) * rng.choice(
            [5_000, 400_000]
        )
        return Upload(kind, fields, data)

    def _missing_field(self, rng, kind, batch_id, tree, data) -> Upload:
        fields = self.fields(batch_id)
        drop = rng.choice(["orgid", "userid", "batchid", "xml"])
        if drop == "xml":
            return Upload(kind, fields, None)
        del fields[drop]
        return Upload(kind, fields, data)

    def _raw_multipart(self, rng, kind, batch_id, tree, data) -> Upload:
        boundary = "b0undary"
        parts = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in self.fields(batch_id).items()
        )
        parts += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="xml"; filename="b.xml"\r\n'
            "Content-Type: text/xml\r\n\r\n"
        ).encode() + data
        choice = rng.randrange(5)
        if choice == 0:
            body = parts  # no closing boundary
        elif choice == 1:
            body = parts + f"\r\n--{boundary}--\r\n".encode()
            body = body[: rng.randrange(len(body))]
        elif choice == 2:
            body = parts.replace(b"\r\n", b"\n")
        elif choice == 3:
            body = b"".join(
                f"--{boundary}\r\nContent-Disposition: form-data; name=x{n}\r\n\r\nv\r\n".encode() for n in range(1500)
            )
            body += f"--{boundary}--\r\n".encode()
        else:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
        content_type = rng.choice([f"multipart/form-data; boundary={boundary}", "multipart/form-data", "text/xml"])
        return Upload(kind, raw_body=body, content_type=content_type)

    def _hostile_download(self, rng, kind, batch_id, tree, data) -> Upload:
        fields = self.fields(batch_id)
        name = rng.choice(["orgid", "userid", "batchid"])
        fields[name] = rng.choice(HOSTILE_STRINGS) * rng.choice([1, 3])
        return Upload(kind, fields, download=True)


class BadReply(AssertionError):
    """A reply the mock must never give: a 5xx, or a batch reply that is not a schema-valid TransactionLog."""


def translog_schema() -> etree.XMLSchema:
    """The project's SevisTransLog.xsd, compiled."""
    from sevis_mock.server.validation import SchemaSet

    return SchemaSet.discover([]).schema("TransactionLog")


def judge(upload: Upload, response, schema: etree.XMLSchema) -> str:
    """What the mock answered (a SEVIS code, or ``HTTP nnn`` for a clean HTTP refusal); raises
    :class:`BadReply` for a 5xx or a batch reply that is not a schema-valid TransactionLog."""
    import io
    import zipfile

    status = response.status_code
    if status >= 500:
        raise BadReply(f"HTTP {status} for a {upload.kind} upload: {response.text[:300]!r}")
    if status in (400, 408, 413):  # framing, a stalled or an oversized body: plain text, no log to give
        return f"HTTP {status}"
    if status not in (200, 403):
        raise BadReply(f"HTTP {status} for a {upload.kind} upload")
    body = response.content
    if response.headers.get("Content-Type", "").startswith("application/zip"):
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            body = zf.read("sevis_transaction_log.xml")
    try:
        log = etree.fromstring(body)
    except etree.XMLSyntaxError as exc:
        raise BadReply(f"a {upload.kind} reply is not well-formed XML: {exc}: {body[:300]!r}") from None
    if not schema.validate(log.getroottree()):
        raise BadReply(f"a {upload.kind} reply is not a valid TransactionLog: {schema.error_log}: {body[:500]!r}")
    part = log.find("BatchDetail/Download" if upload.download else "BatchDetail/Upload")
    if part is None:
        raise BadReply(f"a {upload.kind} reply has no {'Download' if upload.download else 'Upload'} result")
    return part.get("resultCode") or "?"
