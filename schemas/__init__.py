"""The project's own XML schemas of the SEVIS Batch interface.

Layout (file names follow the ones ICE publishes, so a loader can treat either folder alike):

- ``fm-6.55/``: F/M students, release 6.55 -- ``Create-UpdateStudent.xsd`` (root
  ``SEVISBatchCreateUpdateStudent``), ``Common.xsd``, ``SEVISTable.xsd``.
- ``j-6.27/``: J exchange visitors, release 6.27 -- ``Create-UpdateExchangeVisitor.xsd`` (root
  ``SEVISBatchCreateUpdateEV``), ``Common.xsd``, ``SEVISTable.xsd``, and the transaction log
  ``SevisTransLog.xsd`` (root ``TransactionLog``).
- ``tables/``: the code tables as data (one CSV per enumeration type) plus the hand-written
  non-enumeration table types.  ``python -m schemas.build`` turns them into each release's
  ``SEVISTable.xsd`` (generated, committed).

Imports between the files use relative ``schemaLocation`` values, so ``lxml.etree.XMLSchema``
resolves them from the file's own folder.
"""

from __future__ import annotations

from pathlib import Path

FM_RELEASE = "fm-6.55"
J_RELEASE = "j-6.27"

#: root element name -> (release folder, top-level schema file)
ROOT_SCHEMAS: dict[str, tuple[str, str]] = {
    "SEVISBatchCreateUpdateStudent": (FM_RELEASE, "Create-UpdateStudent.xsd"),
    "SEVISBatchCreateUpdateEV": (J_RELEASE, "Create-UpdateExchangeVisitor.xsd"),
    "TransactionLog": (J_RELEASE, "SevisTransLog.xsd"),
}


def schema_root() -> Path:
    """The folder that holds the release folders (``fm-6.55``, ``j-6.27``) and ``tables``."""
    return Path(__file__).resolve().parent


def schema_for_root(root_element: str) -> Path:
    """Path of the top-level schema that validates documents whose root is ``root_element``.

    Raises ``KeyError`` for a root element SEVIS Batch does not know.
    """
    release, filename = ROOT_SCHEMAS[root_element]
    return schema_root() / release / filename
