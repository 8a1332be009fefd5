"""Scenarios: named sets of faults in YAML, shipped under ``scenarios/`` or written by the user.

```yaml
name: flaky-upload
description: the first upload gets S0001, the next a 503 with Retry-After
faults:
  - match: {endpoint: upload}
    respond: {disposition: S0001}
    times: 1
```

Times in a scenario may be relative to the moment it is loaded (``+2h``); see :func:`.model.parse_moment`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from . import model
from ..clock import MockClock
from ..store import Store
from .model import Fault, add_fault

SHIPPED = Path(__file__).parent / "scenarios"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    faults: list  # the rules as written (checked by :meth:`rules`)
    source: str

    def rules(self, now: datetime) -> list[model.FaultRule]:
        checked = []
        for n, data in enumerate(self.faults, 1):
            try:
                checked.append(model.parse_rule(data, now=now))
            except model.FaultError as exc:
                raise model.FaultError(f"{self.source}: fault {n}: {exc}") from None
        return checked


class _Loader(yaml.SafeLoader):
    """Safe YAML without aliases: ``*name`` could expand a small file into a huge document."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise model.FaultError("aliases (*name) are not allowed in a scenario; write each fault out")
        return super().compose_node(parent, index)


def parse_scenario(text: str, source: str = "scenario") -> Scenario:
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader)
    except model.FaultError as exc:
        raise model.FaultError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise model.FaultError(f"{source}: not YAML ({str(exc)[:300]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("faults"), list) or not data["faults"]:
        raise model.FaultError(f"{source}: a scenario is a mapping with name, description and a non-empty list faults")
    unknown = sorted(str(k)[:40] for k in set(data) - {"name", "description", "faults"})
    if unknown:
        raise model.FaultError(
            f"{source}: unknown field(s) {', '.join(unknown[:10])}; known: name, description, faults"
        )
    name, description = data.get("name") or Path(source).stem, data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str) or len(name) > 200:
        raise model.FaultError(f"{source}: name (at most 200 characters) and description are text")
    scenario = Scenario(name, " ".join(description.split()), data["faults"], source)
    scenario.rules(datetime.now().astimezone())  # every fault checked now, not when it is first met
    return scenario


def shipped() -> dict[str, Scenario]:
    """The scenarios that come with sevis-mock, by name."""
    found = {}
    for path in sorted(SHIPPED.glob("*.yaml")):
        scenario = parse_scenario(path.read_text(encoding="utf-8"), path.name)
        found[scenario.name] = scenario
    return found


def load(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a scenario file by path."""
    known = shipped()
    if name_or_path in known:
        return known[name_or_path]
    path = Path(name_or_path)
    if path.is_file():
        try:
            return parse_scenario(path.read_text(encoding="utf-8"), str(path))
        except UnicodeDecodeError:
            raise model.FaultError(f"{path}: not a UTF-8 text file") from None
    raise model.FaultError(
        f"{name_or_path!r} is neither a shipped scenario ({', '.join(known)}) nor a scenario file that exists"
    )


def install(db_url: str, scenarios: list[Scenario]) -> None:
    """Put the scenarios' faults in force (``serve --scenario``), replacing those an earlier start of the same
    data dir left under the same names."""
    from sqlalchemy import delete

    store = Store(db_url)
    now = MockClock(store).now()
    with store.write() as s:
        s.execute(delete(Fault).where(Fault.name.in_([sc.name for sc in scenarios])))
    for scenario in scenarios:
        for rule in scenario.rules(now):
            add_fault(store, rule, now, name=scenario.name)
