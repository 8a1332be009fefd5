"""ICE's official reference files (the XSD releases and the result-code catalogue), found through one setting.

``SEVIS_REFERENCE=DIR`` names the folder (it holds ``xsd/6.55-fm``, ``xsd/6.27-j`` and ``result-codes.csv``);
without it, ``../shared/sevis-reference`` beside the project is used when it exists. Tests that compare the
project with those files are marked ``@official`` (or call :func:`require`): when the folder is absent they are
skipped with one reason, except under ``CI=true`` or when ``SEVIS_REFERENCE`` names a folder that is not there,
where they fail. Everything else the suite needs is in the repository (the project's own schemas and tables).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTING = "SEVIS_REFERENCE"
DEFAULT = ROOT.parent / "shared" / "sevis-reference"

REFERENCE = Path(os.environ[SETTING]).expanduser().resolve() if os.environ.get(SETTING) else DEFAULT
OFFICIAL_XSD = REFERENCE / "xsd"
RESULT_CODES = REFERENCE / "result-codes.csv"
AVAILABLE = (OFFICIAL_XSD / "6.55-fm").is_dir() and (OFFICIAL_XSD / "6.27-j").is_dir() and RESULT_CODES.is_file()
REQUIRED = bool(os.environ.get(SETTING)) or os.environ.get("CI", "").lower() in ("1", "true", "yes")

REASON = f"ICE's official reference files are not at {REFERENCE}: set {SETTING}=DIR to compare with them"

#: Marks a test (or, as ``pytestmark``, a module) that compares the project with ICE's official files.
official = pytest.mark.sevis_reference


def require() -> Path:
    """The reference folder; skips the calling test (fails it where the files are required) when absent."""
    if not AVAILABLE:
        if REQUIRED:
            pytest.fail(f"{REASON} ({SETTING} is set or CI=true: these tests are required)", pytrace=False)
        pytest.skip(REASON)
    return REFERENCE


def official_or_project(official_path: Path, root: str) -> Path:
    """``official_path`` when the reference folder is there, else the project's own schema for ``root``
    (for tests that need a schema, not a comparison with ICE's)."""
    if AVAILABLE and official_path.is_file():
        return official_path
    from sevis_mock.schemas import schema_for_root

    return schema_for_root(root)
