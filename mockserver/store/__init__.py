"""The store layer: every table of the mock on one ``Base``, the engine and its sessions (``Store``), and the
per-process row cache with its invalidation hooks. It imports no other package of the server, so that every
layer above (domain, services, features) may import it and nothing here imports them back.

Import tables and the ``Store`` from here (``from sevis_mock.server.store import Batch, Store``); importing the
package declares every table, so ``Base.metadata`` is complete for ``create_all`` and ``reset``.
"""

from __future__ import annotations

from . import cache
from .core import (
    Base,
    Batch,
    BatchForm,
    BatchProgress,
    Certificate,
    GroupWriter,
    Official,
    Organization,
    OrganizationProfile,
    Record,
    RecordEvent,
    Setting,
    Store,
    UTCDateTime,
    savepoint,
)
from .faults import Fault, FaultBatch
from .forms import PLAN_SUFFIX, PrintJob, plan_name
from .journal import JournalEntry
from .rti import (
    AuthToken,
    Designation,
    HelpDeskTicket,
    OutboxMessage,
    PasswordLink,
    Petition,
    ResponseTicket,
    RtiAccount,
)

__all__ = [
    "AuthToken",
    "Base",
    "Batch",
    "BatchForm",
    "BatchProgress",
    "Certificate",
    "Designation",
    "Fault",
    "FaultBatch",
    "GroupWriter",
    "HelpDeskTicket",
    "JournalEntry",
    "Official",
    "Organization",
    "OrganizationProfile",
    "OutboxMessage",
    "PLAN_SUFFIX",
    "PasswordLink",
    "Petition",
    "PrintJob",
    "Record",
    "RecordEvent",
    "ResponseTicket",
    "RtiAccount",
    "Setting",
    "Store",
    "UTCDateTime",
    "cache",
    "plan_name",
    "savepoint",
]
