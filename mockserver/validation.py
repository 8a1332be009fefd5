"""Schema sets: which XSD validates which batch document, compiled once per process.

The project's own schemas (``schemas/fm-6.55``, ``schemas/j-6.27``) are the default; ``--schemas DIR``
replaces them with any folder laid out like an official release (the files keep their official names).

Validation stays on lxml (libxml2, compiled once), and so does every explanation: a problem's line, path
and reason come from libxml2's error log. The one exception is bounded by construction: when the first
error is about a value (a facet, a union or a date), that single value is checked again against its simple
type with xmlschema (loaded once, lazily) to phrase the reason ("value 'QQ': value must be one of ...");
nothing is ever re-validated as a tree, so the cost never grows with the document.

Every document is held to ceilings first (:data:`LIMITS`: depth, elements, attributes, attributes on one
element), far above anything a valid SEVIS batch reaches; beyond them the answer is a plain reason and the
schema is not run. At most :data:`MAX_PROBLEMS` problems are built per document (the total is kept), and
explanation stops once the check has used :data:`EXPLAIN_CPU_SECONDS` of CPU time.

A document's own schema hints (``xsi:noNamespaceSchemaLocation``, ``xsi:schemaLocation``, namespace
declarations pointing at the alpha or production copies on ice.gov) are never followed: SEVIS validates
against its own copy, and so does the mock.
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence, cast

from lxml import etree

if TYPE_CHECKING:
    import xmlschema

# Root element -> (kind, file that declares it)
DOCUMENTS = {
    "SEVISBatchCreateUpdateStudent": ("F/M", "Create-UpdateStudent.xsd"),
    "SEVISBatchCreateUpdateEV": ("J", "Create-UpdateExchangeVisitor.xsd"),
    "TransactionLog": ("log", "SevisTransLog.xsd"),
}
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


class SchemaFolderError(ValueError):
    """A schema folder that cannot be used, with the file and the problem named."""


@dataclass(frozen=True)
class SchemaProblem:
    """One schema error: the line, a readable element path (``/Root/Child[2]/@attr``), a plain reason
    and the validator's raw message."""

    line: int
    path: str
    message: str  # raw libxml2 message
    reason: str = ""  # plain sentence; falls back to the raw message

    def __str__(self) -> str:
        text = self.reason or self.message
        return f"line {self.line}: {self.path}: {text}" if self.path else f"line {self.line}: {text}"

    def as_dict(self) -> dict:
        return asdict(self) | {"reason": self.reason or self.message}


@dataclass(frozen=True)
class Limits:
    """Ceilings on the shape of a batch document, checked in libxml2 (XPath ``count``) before the schema
    runs. [i] SEVIS publishes none; these are far beyond what a valid document reaches (the F/M and J
    schemas nest 8 deep, carry at most 3 attributes on an element and hold at most 250 records), so only a
    document that cannot be valid meets them."""

    max_depth: int = 32
    max_elements: int = 200_000
    max_attributes: int = 50_000
    max_attributes_per_element: int = 32


LIMITS = Limits()
MAX_PROBLEMS = 100  # problems built per document; the rest are counted
EXPLAIN_CPU_SECONDS = 2.0  # past this much CPU time on one document, reasons stay libxml2's own wording


class Problems(list):
    """The problems built for a document (at most :data:`MAX_PROBLEMS`) and ``total``, how many there were."""

    def __init__(self, items=(), total: int | None = None) -> None:
        super().__init__(items)
        self.total = len(self) if total is None else total


def check_limits(tree: etree._ElementTree, limits: Limits = LIMITS) -> SchemaProblem | None:
    """The first ceiling ``tree`` goes beyond, as a problem, or None. Each check is one libxml2 XPath
    evaluation, linear in the document."""
    root = tree.getroot()
    where = _first_element(root, "/*" + "/*" * limits.max_depth)
    if where is not None:
        return _limit(
            where,
            f"elements are nested more than {limits.max_depth} deep; no SEVIS batch document nests more than "
            "8 levels: send the records as the schema lays them out",
        )
    elements = _count(root, "count(//*)")
    if elements > limits.max_elements:
        return _limit(
            root,
            f"the document has {elements} elements, over the ceiling of {limits.max_elements}; a batch holds at "
            "most 250 records: split it into several batches",
        )
    where = _first_element(root, f"(//*[count(@*) > {limits.max_attributes_per_element}])[1]")
    if where is not None:
        return _limit(
            where,
            f"element {etree.QName(where).localname} has {len(where.attrib)} attributes; no SEVIS element allows "
            f"more than 3 (the ceiling is {limits.max_attributes_per_element}): remove the attributes the schema "
            "does not declare",
        )
    attributes = _count(root, "count(//@*)")
    if attributes > limits.max_attributes:
        return _limit(
            root,
            f"the document has {attributes} attributes, over the ceiling of {limits.max_attributes}: remove the "
            "attributes the schema does not declare",
        )
    return None


def _first_element(root: etree._Element | etree._ElementTree, path: str) -> etree._Element | None:
    """The first element an XPath selects (None when it selects none, or no element)."""
    found = root.xpath(path)
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _count(root: etree._Element, path: str) -> int:
    """An XPath ``count(...)``: libxml2 answers a float."""
    return int(cast(float, root.xpath(path)))


def _line(elem: etree._Element) -> int:
    """The element's line in the document (1 when libxml2 does not know it)."""
    return cast(int | None, elem.sourceline) or 1  # lxml-stubs type sourceline as a bare `...`


def _limit(elem: etree._Element, reason: str) -> SchemaProblem:
    reason = _plain(reason)
    return SchemaProblem(_line(elem), _shallow_path(elem), reason, reason)


def _shallow_path(elem: etree._Element) -> str:
    """An element's path by local names only (no sibling positions: those cost a scan of every sibling)."""
    names = [etree.QName(e).localname for e in (*reversed(list(elem.iterancestors())), elem)]
    return "/" + "/".join(names)


@dataclass
class SchemaSet:
    files: dict[str, Path]  # root element -> xsd path
    origins: dict[str, str] = field(default_factory=dict)  # root element -> "project" or the --schemas folder
    _explainers: dict[str, object] = field(default_factory=dict, repr=False)
    _explain_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _types: dict[tuple, object] = field(default_factory=dict, repr=False)

    @classmethod
    def discover(cls, folders: list[Path]) -> "SchemaSet":
        """The project's schemas, overridden root by root by what each folder (or its sub-folders) holds.

        Each file taken from a folder is checked (imports present, spelled with the right case, declaring
        the imported namespace) so a broken release is refused with the file and the problem named."""
        files = dict(_scan(_project_folders()))
        origins = {root: "project" for root in files}
        for folder in folders:
            folder = Path(folder)
            if not folder.is_dir():
                raise SchemaFolderError(f"{folder}: not a folder")
            found = _scan([folder, *sorted(p for p in folder.iterdir() if p.is_dir())])
            if not found:
                names = ", ".join(name for _, name in DOCUMENTS.values())
                raise SchemaFolderError(f"{folder}: holds none of {names}")
            for path in found.values():
                check_imports(path)
            files.update(found)
            origins.update({root: str(folder) for root in found})
        return cls(files, origins)

    def release(self, root: str) -> str:
        path = self.files.get(root)
        if path is None:
            return ""
        return etree.parse(str(path)).getroot().get("version", "")

    def describe(self) -> list[str]:
        """One line per document: its root, the file, the release it declares and where it came from."""
        lines = []
        for root, path in sorted(self.files.items()):
            origin = self.origins.get(root, "project")
            source = "project schemas" if origin == "project" else f"from {origin}"
            lines.append(f"{root} ({DOCUMENTS[root][0]}): {path} (release {self.release(root) or '?'}, {source})")
        return lines

    def schema(self, root: str) -> etree.XMLSchema | None:
        """A compiled schema for ``root`` that is the caller's own, to validate with as it likes (``validate`` borrows
        one of the shared ones instead)."""
        if root not in self.files:
            return None
        return _compile(self.files[root])

    def compile_all(self) -> None:
        """Compile every document's schema now (a broken one raises), unless this process holds a compiled one."""
        for path in self.files.values():
            with _validators(path).borrowed():
                pass

    def validate(self, tree: etree._ElementTree) -> list[SchemaProblem]:
        """Every schema error of ``tree`` in document order ([] when valid); the first one carries a
        plain reason."""
        if not isinstance(tree, etree._ElementTree):
            tree = tree.getroottree()
        root = etree.QName(tree.getroot()).localname if tree.getroot().tag[:1] == "{" else tree.getroot().tag
        path = self.files.get(tree.getroot().tag)
        if path is None:
            known = " or ".join(r for r in DOCUMENTS if r != "TransactionLog")
            reason = f"root element must be {known}" + (
                f", without a namespace (found {tree.getroot().tag})" if tree.getroot().tag[:1] == "{" else ""
            )
            return Problems([SchemaProblem(_line(tree.getroot()), f"/{root}", reason, reason)])
        with _validators(path).borrowed() as schema:
            return self._validate(tree, schema)

    def _validate(self, tree: etree._ElementTree, schema: etree.XMLSchema) -> list[SchemaProblem]:
        started = time.thread_time()
        beyond = check_limits(tree)
        if beyond is not None:
            return Problems([beyond])
        if schema.validate(tree):
            return Problems()
        errors = cast(Sequence[Any], schema.error_log)  # an _ErrorLog sizes and slices (its stubs do not say so)
        problems = Problems([_problem(tree, e) for e in errors[:MAX_PROBLEMS]], total=len(errors))
        if problems and time.thread_time() - started < EXPLAIN_CPU_SECONDS:
            problems[0] = self._explain(tree, problems[0], errors[0])
        return problems

    # -- explanations (only once a document failed) --------------------------------------------------

    def _explainer(self, root: str):
        with self._explain_lock:
            if root not in self._explainers:
                self._explainers[root] = value_types(self.files[root], checked=True)  # compiled by schema()
            return self._explainers[root]

    def _simple_type(self, root: str, steps: tuple[str, ...], attribute: str | None):
        """The simple type of the element at ``steps`` (local names from the root) or of its ``attribute``,
        looked up in the schema once per path; None where the path alone does not tell it."""
        key = (root, steps, attribute)
        if key not in self._types:
            found = None
            schema = self._explainer(root)
            declaration = schema.find("/" + "/".join(steps))
            if declaration is not None:
                if attribute is not None:
                    declared = declaration.attributes.get(attribute)
                    found = declared.type if declared is not None else None
                elif declaration.type.is_simple():
                    found = declaration.type
                elif declaration.type.has_simple_content():
                    found = declaration.type.content
            with self._explain_lock:
                self._types[key] = found
        return self._types[key]

    def _explain(self, tree: etree._ElementTree, problem: SchemaProblem, error) -> SchemaProblem:
        """``problem`` reworded by xmlschema when it is about one value (a facet, a union, a date): only
        that value is checked again, against its simple type, so the cost does not grow with the document.
        Structural faults keep libxml2's wording (it names the element expected)."""
        match = _ELEMENT_PREFIX.match(error.message)
        if not match or not _VALUE_FAULT.search(error.message):
            return problem
        try:
            node = _first_element(tree, error.path) if error.path else None
            if node is None:
                return problem
            lineage = [*reversed(list(node.iterancestors())), node]
            if any(e.get(f"{{{XSI}}}type") for e in lineage):
                return problem  # the path alone does not tell the declaration
            attribute = match.group(2)
            value = node.get(attribute) if attribute else str(node.xpath("string()"))
            if value is None or len(value) > MAX_EXPLAINED_VALUE:
                return problem
            steps = tuple(etree.QName(e).localname for e in lineage)
            simple = self._simple_type(tree.getroot().tag, steps, attribute)
            if simple is None:
                return problem
            for fault in simple.iter_errors(value):
                if not fault.reason:
                    break
                shown = value.strip(" \t\r\n")
                label = f"attribute {attribute}={shown!r}" if attribute else f"value {shown!r}"
                reason = fault.reason
                if len(shown) <= 80 and repr(shown) not in reason:
                    reason = f"{label}: {reason}"
                return SchemaProblem(problem.line, problem.path, problem.message, _plain(reason))
        except Exception:  # an explanation must never turn a clear S0013 into a crash
            pass
        return problem


MAX_EXPLAINED_VALUE = 1000  # longer values keep libxml2's wording (xmlschema's patterns are Python regexes)
_VALUE_FAULT = re.compile(r"\[facet '|is not a valid value of the ")


_ELEMENT_PREFIX = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: ")


def _problem(tree: etree._ElementTree, error) -> SchemaProblem:
    message = error.message
    match = _ELEMENT_PREFIX.match(message)
    path = error.path or ""
    try:
        node = _first_element(tree, path) if path else None
        if node is not None:
            path = readable_path(node)
    except etree.XPathError:
        pass
    reason = message
    if match:
        reason = message[match.end() :]
        if match.group(2):
            path += f"/@{match.group(2)}"
    return SchemaProblem(error.line, path, message, _plain(reason))


_LONG_SET = re.compile(r"([\[{])((?:[^,\[\]{}]+, ){11,}[^,\[\]{}]+)([\]}])")


def _plain(reason: str) -> str:
    reason = re.sub(r"\{http[^}]*\}", "", reason)  # namespace URIs say nothing to a reader
    reason = _LONG_SET.sub(_shorten_set, reason)  # code tables run to hundreds of codes
    return reason.strip().rstrip(".") + "."


def _shorten_set(match: re.Match) -> str:
    items = match.group(2).split(", ")
    return f"{match.group(1)}{', '.join(items[:8])}, ... ({len(items)} codes in all){match.group(3)}"


def readable_path(elem: etree._Element) -> str:
    """/Root/Child[2]/Grandchild: local names, a position only where siblings share the name."""
    parts = []
    node: etree._Element | None = elem
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [s for s in parent if s.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


# -- folders ---------------------------------------------------------------------------------------


def _project_folders() -> list[Path]:
    from sevis_mock.schemas import schema_root

    root = schema_root()
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "Common.xsd").exists())


def _scan(folders: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in folders:
        for root, (_, name) in DOCUMENTS.items():
            if (folder / name).is_file():
                found[root] = (folder / name).resolve()
            else:
                near = [p for p in folder.glob("*") if p.name.lower() == name.lower() and p.name != name]
                if near:
                    raise SchemaFolderError(f"{near[0]}: file name must be spelled {name} (case matters for imports)")
    return found


def _parse_schema_file(path: Path, imported_by: Path | None = None) -> etree._ElementTree:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    try:
        return etree.parse(str(path), parser)
    except etree.XMLSyntaxError as exc:
        via = f" (imported by {imported_by.name})" if imported_by else ""
        raise SchemaFolderError(f"{path}{via}: not well-formed XML: {exc}") from exc
    except OSError as exc:
        raise SchemaFolderError(f"{path}: cannot be read: {exc}") from exc


def check_imports(path: Path, seen: set[Path] | None = None) -> None:
    """Follow ``xs:import``/``xs:include`` from ``path``: each target must exist under exactly that
    name (case included: the servers SEVIS users deploy to are case-sensitive) and declare the
    namespace it is imported for. Raises :class:`SchemaFolderError` naming the file and the problem."""
    seen = set() if seen is None else seen
    path = Path(path)
    if path in seen:
        return
    seen.add(path)
    doc = _parse_schema_file(path)
    for directive in doc.getroot():
        if directive.tag not in (f"{{{XS}}}import", f"{{{XS}}}include"):
            continue
        kind = etree.QName(directive).localname
        location = directive.get("schemaLocation")
        if not location:
            continue
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", location):
            raise SchemaFolderError(
                f"{path}: {kind}s {location!r} from the network; the mock never fetches "
                "schemas -- put the file next to it and use a relative schemaLocation"
            )
        target = path.parent / location
        if not target.is_file():
            near = (
                [p for p in target.parent.glob("*") if p.name.lower() == target.name.lower()]
                if target.parent.is_dir()
                else []
            )
            if near:
                raise SchemaFolderError(
                    f"{path}: {kind}s {location!r} but the folder holds {near[0].name!r}; "
                    f"rename it to {target.name} (file names are case-sensitive)"
                )
            raise SchemaFolderError(
                f"{path}: {kind}s {location!r}, which is missing from {target.parent}; copy the complete release folder"
            )
        wanted = directive.get("namespace") if kind == "import" else doc.getroot().get("targetNamespace")
        declared = _parse_schema_file(target, path).getroot().get("targetNamespace")
        if (wanted or None) != (declared or None):
            raise SchemaFolderError(
                f"{path}: {kind}s {location!r} for namespace {wanted or '(none)'!r}, but {target.name} declares "
                f"targetNamespace {declared or '(none)'!r}; the files come from different releases or were edited"
            )
        check_imports(target.resolve(), seen)


def value_types(path: Path | str, *, checked: bool = False) -> "xmlschema.XMLSchema10":
    """xmlschema's reading of the schema at ``path`` (an ``xmlschema.XMLSchema10``), for what only it gives: a
    simple type's facets and their wording, the walk behind generated documents.

    It is built without xmlschema's own check of the XSD files against XSD's meta-schema (``validation="skip"``):
    that check is most of the build (about half a second a schema, a second or two on a loaded machine, every
    process that explains or generates) and adds nothing libxml2 does not check in milliseconds. So the files are
    compiled by libxml2 first, unless the caller already did (``checked``, as a :class:`SchemaSet` does): a broken
    schema still raises (lxml's ``XMLSchemaParseError``) instead of being read leniently."""
    import xmlschema

    if not checked:
        etree.XMLSchema(_parse_schema_file(Path(path)))
    return xmlschema.XMLSchema10(str(path), allow="local", validation="skip")


class _Validators:
    """The compiled lxml validators of one schema file, each used by one thread at a time: a validator keeps a single
    error log, so two threads validating with one object could read each other's errors. A thread borrows one and
    gives it back; a new one is compiled only when every one is in use, so a server compiles as many as it validates
    documents at once (one or two), not one per request thread (tens of milliseconds each, for each of 8 threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._free: list[etree.XMLSchema] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrowed(self) -> Iterator[etree.XMLSchema]:
        with self._lock:
            schema = self._free.pop() if self._free else None
        if schema is None:
            schema = _compile(self.path)
        try:
            yield schema
        finally:
            with self._lock:
                self._free.append(schema)


# one set per schema file for the whole process, whichever SchemaSet asks: a `serve` worker starts with those its
# main process compiled for the set-up check (inherited when it was forked), its processor with the worker's
_VALIDATORS: dict[Path, _Validators] = {}
_VALIDATORS_LOCK = threading.Lock()


def _validators(path: Path) -> _Validators:
    with _VALIDATORS_LOCK:
        found = _VALIDATORS.get(path)
        if found is None:
            found = _VALIDATORS[path] = _Validators(path)
        return found


def _compile(path: Path) -> etree.XMLSchema:
    doc = _parse_schema_file(path)
    try:
        return etree.XMLSchema(doc)
    except etree.XMLSchemaParseError as exc:
        raise SchemaFolderError(f"{path}: the schema does not compile: {exc}") from exc
