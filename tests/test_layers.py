"""The import contracts (.importlinter): every module of the server has its place in the layers, and the contracts
hold (checked by `tools/lint-imports` when import-linter, from the `lint` extra, is installed)."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import ROOT

CONTRACTS = ROOT / ".importlinter"


def _layer_modules() -> set[str]:
    config = configparser.ConfigParser()
    config.read(CONTRACTS)
    return set(re.split(r"[\s:|]+", config["importlinter:contract:server-layers"]["layers"])) - {""}


def _server_modules() -> set[str]:
    found = set()
    for path in (ROOT / "mockserver").rglob("*.py"):
        parts = list(path.relative_to(ROOT / "mockserver").with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            found.add(".".join(parts))
    return found


def test_every_server_module_has_a_layer():
    layers = _layer_modules()
    modules = _server_modules()

    def placed(module: str) -> bool:
        return any(module == name or module.startswith(name + ".") for name in layers)

    def parent_of_placed(module: str) -> bool:  # a package whose modules are placed one by one (batch, rti, ...)
        return any(name.startswith(module + ".") for name in layers)

    unplaced = sorted(m for m in modules if not placed(m) and not parent_of_placed(m))
    assert not unplaced, (
        f"add {unplaced} to the server's layers in .importlinter (docs/ARCHITECTURE.md says which layer is which)"
    )
    assert not sorted(name for name in layers if name not in modules and not parent_of_placed(name)), (
        "a layer names a module that no longer exists"
    )


def _lint_imports() -> str | None:
    beside = Path(sys.executable).parent / "lint-imports"
    return str(beside) if beside.exists() else shutil.which("lint-imports")


@pytest.mark.skipif(_lint_imports() is None, reason="import-linter is not installed (the `lint` extra)")
def test_the_import_contracts_hold():
    done = subprocess.run(
        ["bash", str(ROOT / "tools" / "lint-imports"), "--no-logo"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LINT_IMPORTS": str(_lint_imports())},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout
