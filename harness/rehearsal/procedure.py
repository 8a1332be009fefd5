"""The procedure file: the 15 steps as data (id, title, what the college does, what the mock verifies)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

FIELDS = ("id", "number", "title", "college", "mock", "check", "needs", "required")


class ProcedureError(ValueError):
    """The procedure file is malformed; the message names the step and field."""


@dataclass(frozen=True)
class Step:
    id: str
    number: int
    title: str
    college: str
    mock: str
    check: str
    needs: tuple[str, ...]
    required: bool


def _step(entry: object, index: int, seen: set[str]) -> Step:
    if not isinstance(entry, dict):
        raise ProcedureError(f"step {index + 1}: expected a mapping with {', '.join(FIELDS)}")
    missing = [name for name in FIELDS if name not in entry]
    if missing:
        raise ProcedureError(f"step {entry.get('id', index + 1)}: missing {', '.join(missing)}")
    unknown_needs = [need for need in entry["needs"] if need not in seen]
    if unknown_needs:
        raise ProcedureError(f"step {entry['id']}: needs {', '.join(unknown_needs)}, which is not an earlier step")
    if entry["id"] in seen:
        raise ProcedureError(f"step {entry['id']}: duplicate id")
    return Step(
        id=str(entry["id"]),
        number=int(entry["number"]),
        title=str(entry["title"]),
        college=str(entry["college"]),
        mock=str(entry["mock"]),
        check=str(entry["check"]),
        needs=tuple(str(n) for n in entry["needs"]),
        required=bool(entry["required"]),
    )


def parse_procedure(text: str) -> list[Step]:
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise ProcedureError("the procedure file needs a non-empty `steps:` list")
    steps: list[Step] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["steps"]):
        step = _step(entry, index, seen)
        seen.add(step.id)
        steps.append(step)
    return steps


PACKAGED = {"F/M": "procedure.yaml", "J": "procedure-j.yaml"}


def load_procedure(path: Path | None = None, kind: str = "F/M") -> list[Step]:
    """The steps of `path`, or of the packaged procedure of `kind`: `procedure.yaml` (F/M schools) or
    `procedure-j.yaml` (J exchange-visitor sponsors)."""
    if path is not None:
        return parse_procedure(Path(path).read_text(encoding="utf-8"))
    return parse_procedure(resources.files(__package__).joinpath(PACKAGED[kind]).read_text(encoding="utf-8"))
