"""`--json FILE`: the whole rehearsal as JSON (steps with evidence, records, batches with their logs)."""

from __future__ import annotations

import json
from pathlib import Path

from ..model import Rehearsal


def write_json(rehearsal: Rehearsal, path: Path) -> None:
    Path(path).write_text(json.dumps(rehearsal.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
