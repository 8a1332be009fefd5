"""Re-address a college's own batch file to the rehearsal's test school.

A batch exported from a student system (e.g. PeopleSoft) names the college's real school code and
PDSO. The rehearsal uploads it to the test school, so it rewrites BatchHeader/OrgID, every `userID`
attribute (the document's and each record's) and the BatchID (fresh, 14 characters: batch IDs are
unique per organization forever), and reports each change.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

from lxml import etree

from sevis_mock.harness.documents import ROOTS, address

BATCH_ID_LENGTH = 14
FM_ROOT, J_ROOT = ROOTS["F/M"], ROOTS["J"]
_counter = itertools.count(1)


class BatchFileError(ValueError):
    """The file cannot be re-addressed; the message says what is wrong with it and what to do."""


def _parser() -> etree.XMLParser:
    # hardened like the server: no DTD, no entities, no network
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def fresh_batch_id(now: datetime | None = None) -> str:
    """A 14-character BatchID: R + yy + day of year + HHMMSS + a 2-digit sequence number."""
    now = now or datetime.now(UTC)
    return f"R{now:%y%j%H%M%S}{next(_counter) % 100:02d}"


def readdress(
    xml: bytes, *, org_id: str, user_id: str, batch_id: str, source: str = "batch", kind: str = "F/M"
) -> tuple[bytes, list[str]]:
    """Return the document addressed to `org_id` / `user_id` with `batch_id`, and the changes made.
    `kind` is the rehearsal's: "F/M" (a test school takes F/M batches) or "J" (a test program takes EV batches)."""
    if len(batch_id) != BATCH_ID_LENGTH:
        raise BatchFileError(f"BatchID must be exactly {BATCH_ID_LENGTH} characters, not {batch_id!r}")
    if re.search(rb"<!DOCTYPE|<!ENTITY", xml[:4096]):
        raise BatchFileError(f"{source}: remove the DOCTYPE declaration; SEVIS rejects DTDs and entities (S0012)")
    try:
        root = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError as exc:
        raise BatchFileError(
            f"{source} is not well-formed XML ({exc}); SEVIS would answer S0012. Fix the file before rehearsing"
        ) from exc
    name = etree.QName(root).localname
    if kind == "J":
        if name == FM_ROOT:
            raise BatchFileError(
                f"{source} is an F/M student batch ({FM_ROOT}); the rehearsal's test program is an "
                f"exchange-visitor sponsor, so give J batches ({J_ROOT}), or rehearse as a school (without --sponsor)"
            )
        if name != J_ROOT:
            raise BatchFileError(f"{source}: root element <{name}> is not a SEVIS J batch ({J_ROOT})")
    elif name == J_ROOT:
        raise BatchFileError(
            f"{source} is a J exchange-visitor batch ({J_ROOT}); the rehearsal's test school "
            "is an F/M school, so give F/M batches (SEVISBatchCreateUpdateStudent), or rehearse as a "
            "sponsor with --sponsor"
        )
    elif name != FM_ROOT:
        raise BatchFileError(f"{source}: root element <{name}> is not a SEVIS F/M batch ({FM_ROOT})")
    try:
        changes = address(root, org_id=org_id, user_id=user_id, batch_id=batch_id)
    except ValueError as exc:
        raise BatchFileError(f"{source}: {exc}") from exc
    tree = root.getroottree()
    out = etree.tostring(tree, xml_declaration=True, encoding=tree.docinfo.encoding or "UTF-8")
    return out, changes
