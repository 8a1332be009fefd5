"""`sevis-mock rehearse`: the 15-step SEVIS beta-testing procedure, run automatically.

The steps are data (`procedure.yaml`); each names a check in `checks.py` that drives the mock's RTI
web application, SEVP console, e-mail outbox and batch interface, and records evidence. Reports are
written by `reports/` (terminal, JSON, JUnit XML, self-contained HTML).
"""

from __future__ import annotations

from .model import Rehearsal, RecordOutcome, StepResult
from .procedure import Step, load_procedure

__all__ = ["Rehearsal", "RecordOutcome", "Step", "StepResult", "load_procedure"]
