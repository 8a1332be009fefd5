"""What the wheel ships imports only what `pip install sevis-mock` installs: every third-party module the shipped
packages import belongs to a runtime dependency (Hypothesis included: `rehearse --explore` and the state machines
are part of the product), and the test extra holds only test tools."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest

from tests.support.server import ROOT

SHIPPED = ("sevis_mock", "mockserver", "harness", "schemas", "fixtures")  # the repo's folders, all under sevis_mock
PYTEST_ONLY = {ROOT / "harness" / "pytest_plugin.py"}  # loaded by pytest itself (entry point pytest11)


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def imported_distributions() -> dict[str, set[str]]:
    """Distribution name -> the shipped files that import it."""
    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for package in SHIPPED:
        for path in (ROOT / package).rglob("*.py"):
            if path in PYTEST_ONLY:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in SHIPPED or name.startswith("sevis_mock"):
                        continue
                    for dist in owners.get(top, [top]):
                        found.setdefault(_name(dist), set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.slow
def test_every_module_the_shipped_code_imports_is_a_runtime_dependency():
    runtime = {_name(r) for r in _project()["dependencies"]}
    missing = {dist: sorted(files)[:3] for dist, files in imported_distributions().items() if dist not in runtime}
    assert not missing, f"imported by shipped code but not in [project] dependencies: {missing}"
    assert "hypothesis" in runtime


def test_the_test_extra_holds_only_test_tools():
    test_extra = {_name(r) for r in _project()["optional-dependencies"]["test"]}
    used = imported_distributions()
    assert not test_extra & set(used), {d: sorted(used[d])[:3] for d in test_extra & set(used)}
