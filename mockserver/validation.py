"""Schema sets: which XSD validates which batch document, compiled once per process.

The project's own schemas (``schemas/fm-6.55``, ``schemas/j-6.27``) are the default; ``--schemas DIR``
replaces them with any folder laid out like an official release (the files keep their official names).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

# Root element -> (kind, file that declares it)
DOCUMENTS = {
    "SEVISBatchCreateUpdateStudent": ("F/M", "Create-UpdateStudent.xsd"),
    "SEVISBatchCreateUpdateEV": ("J", "Create-UpdateExchangeVisitor.xsd"),
    "TransactionLog": ("log", "SevisTransLog.xsd"),
}


class SchemaFolderError(ValueError):
    """A schema folder that cannot be used, with the file and the problem named."""


@dataclass(frozen=True)
class SchemaProblem:
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.path}: {self.message}" if self.path else f"line {self.line}: {self.message}"


@dataclass
class SchemaSet:
    files: dict[str, Path]  # root element -> xsd path
    _compiled: dict[str, etree.XMLSchema] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def discover(cls, folders: list[Path]) -> "SchemaSet":
        """The project's schemas, overridden root by root by what each folder (or its sub-folders) holds."""
        files = dict(_scan(_project_folders()))
        for folder in folders:
            folder = Path(folder)
            if not folder.is_dir():
                raise SchemaFolderError(f"{folder}: not a folder")
            found = _scan([folder, *sorted(p for p in folder.iterdir() if p.is_dir())])
            if not found:
                names = ", ".join(name for _, name in DOCUMENTS.values())
                raise SchemaFolderError(f"{folder}: holds none of {names}")
            files.update(found)
        return cls(files)

    def release(self, root: str) -> str:
        path = self.files.get(root)
        if path is None:
            return ""
        return etree.parse(str(path)).getroot().get("version", "")

    def describe(self) -> list[str]:
        return [f"{root}: {path} (release {self.release(root) or '?'})" for root, path in sorted(self.files.items())]

    def schema(self, root: str) -> etree.XMLSchema | None:
        if root not in self.files:
            return None
        with self._lock:
            if root not in self._compiled:
                self._compiled[root] = _compile(self.files[root])
            return self._compiled[root]

    def compile_all(self) -> None:
        for root in self.files:
            self.schema(root)

    def validate(self, tree: etree._ElementTree) -> list[SchemaProblem]:
        root = tree.getroot().tag
        schema = self.schema(root)
        if schema is None:
            known = " or ".join(r for r in DOCUMENTS if r != "TransactionLog")
            return [SchemaProblem(tree.getroot().sourceline or 1, f"/{root}", f"root element must be {known}")]
        if schema.validate(tree):
            return []
        return [SchemaProblem(e.line, e.path or "", e.message) for e in schema.error_log]


def _project_folders() -> list[Path]:
    from schemas import schema_root

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


def _compile(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    try:
        doc = etree.parse(str(path), parser)
        return etree.XMLSchema(doc)
    except etree.XMLSyntaxError as exc:
        raise SchemaFolderError(f"{path}: not well-formed XML: {exc}") from exc
    except etree.XMLSchemaParseError as exc:
        raise SchemaFolderError(f"{path}: the schema does not compile: {exc}") from exc
