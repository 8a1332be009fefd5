"""Store rows the tests build directly (a batch, a record, an organization and its official): each test names the
fields it cares about and takes the rest as every other test fills them.

``*_values`` give the column values (for ``insert(Table).values(...)`` into a database of an older schema, or to
build a row); ``add_batch`` adds a batch to a session and returns it flushed, so that rows naming it can follow in
the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sevis_mock.server.store import Batch, Record

ORG_ID = "MCK214F00001000"  # the seeded college
PDSO = "MCKPDSO001"  # its PDSO
STUDENT = "<Student><PersonalInfo><FullName><LastName>DOE</LastName></FullName></PersonalInfo></Student>"


def batch_values(batch_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """An F/M batch of the seeded college's PDSO in beta, uploaded and due ``at`` (queued unless ``state``)."""
    return {
        "org_id": ORG_ID,
        "batch_id": batch_id,
        "user_id": PDSO,
        "kind": "F/M",
        "environment": "beta",
        "file_name": "b.xml",
        "document": b"<x/>",
        "uploaded_at": at,
        "due_at": at,
        **fields,
    }


def add_batch(session: Session, batch_id: str, at: datetime, **fields: Any) -> Batch:
    """:func:`batch_values` added to ``session`` and flushed (its ``id`` assigned)."""
    batch = Batch(**batch_values(batch_id, at, **fields))
    session.add(batch)
    session.flush()
    return batch


def record_values(sevis_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """A record of student JANE DOE at the seeded college in beta, created and updated ``at``."""
    return {
        "sevis_id": sevis_id,
        "org_id": ORG_ID,
        "environment": "beta",
        "kind": "F/M",
        "status": "Initial",
        "surname": "DOE",
        "given_name": "JANE",
        "birth_date": "2000-01-01",
        "request_id": "R1",
        "document": STUDENT,
        "created_at": at,
        "updated_at": at,
        **fields,
    }


def record(sevis_id: str, at: datetime, **fields: Any) -> Record:
    return Record(**record_values(sevis_id, at, **fields))


def organization_values(org_id: str, name: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """An F/M organization, registered for batch with its agreement on file, created ``at``."""
    return {
        "org_id": org_id,
        "kind": "F/M",
        "name": name,
        "batch_registered": True,
        "agreement_on_file": True,
        "created_at": at,
        **fields,
    }


def official_values(user_id: str, org_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """A PDSO of ``org_id``, registered for batch, last logged in ``at``."""
    return {
        "user_id": user_id,
        "org_id": org_id,
        "name": f"Official {user_id}",
        "email": "",
        "role": "PDSO",
        "batch_registered": True,
        "last_login_at": at,
        **fields,
    }
