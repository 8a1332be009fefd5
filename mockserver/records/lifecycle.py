"""Record statuses and the transitions batch events cause.

F/M records: Initial -> Active (Registration) -> Completed / Terminated; Initial -> Canceled.
J records:   Initial -> Active (Validate) -> Terminated / Inactive; Initial -> Invalid / No Show.
Dependents follow their principal, and some dependent events move one dependent on its own.
"""

from __future__ import annotations

FM_STATUSES = ("Initial", "Active", "Completed", "Terminated", "Canceled", "Deactivated")
J_STATUSES = ("Initial", "Active", "Inactive", "Invalid", "No Show", "Terminated")
STATUSES = {"F/M": FM_STATUSES, "J": J_STATUSES}
# Deactivated is SEVIS's own later step for a Completed record once its grace period is over [i];
# no batch event causes it, so the mock never sets it from a batch (it is listed for readers of records).

OPEN = frozenset({"Initial", "Active"})  # statuses in which a record is still in use

# Status the principal moves to when an event is applied (events not listed keep the status).
PRINCIPAL = {
    "F/M": {
        "Registration": "Active",  # [c] registering the student activates an Initial record
        "Status/Cancel": "Canceled",  # [c]
        "Status/Complete": "Completed",  # [c]
        "Status/Terminate": "Terminated",  # [c]
    },
    "J": {
        "Validate": "Active",  # [c] validating program participation activates the record
        "Status/Invalid": "Invalid",  # [c]
        "Status/NoShow": "No Show",  # [c]
        "Status/Terminate": "Terminated",  # [c]
        "Status/CorrectInfraction": "Active",  # [i] correcting the infraction reinstates the visitor
    },
}

# Status one dependent moves to when an event names it (dependentSevisID).
DEPENDENT = {
    "F/M": {
        "Dependent/Cancel": "Canceled",  # [c]
        "Dependent/Terminate": "Terminated",  # [c]
        "Dependent/Reactivate": "Active",  # [i] a canceled/terminated dependent is made active again
    },
    "J": {
        "Dependent/Delete": "Invalid",  # [i] a dependent deleted in Initial status ends as Invalid
        "Dependent/EndStatus": "Inactive",  # [i] ending J-2 status leaves the dependent Inactive
        "Dependent/Terminate": "Terminated",  # [c]
    },
}


def principal_status(kind: str, action: str, current: str) -> str:
    return PRINCIPAL[kind].get(action, current)


def dependent_status(kind: str, action: str, current: str) -> str:
    return DEPENDENT[kind].get(action, current)


def follows(dependent_status_now: str, principal_before: str, followed_last: bool = True) -> bool:
    """Whether a dependent moves with its principal: it is still in use, or it got the status the
    principal is leaving by following the principal (``followed_last``: its last history entry is a
    principal's event, not one of its own), so a reinstated principal brings back the dependents that
    went with it and not one that was terminated on its own. [i]"""
    return dependent_status_now in OPEN or (followed_last and dependent_status_now == principal_before)


# Events that activate the principal's Initial dependents even when the principal is Active already
# (a dependent added later is Initial until the principal's next registration / validation). [i]
ACTIVATING = {"F/M": "Registration", "J": "Validate"}


def new_dependent_status() -> str:
    """A dependent added by an update starts Initial. [i]"""
    return "Initial"


def reactivated_status(principal: str) -> str:
    """A reactivated dependent goes back to where its principal is, if the principal is in use. [i]"""
    return principal if principal in OPEN else "Initial"
