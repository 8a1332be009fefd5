"""What `pip install sevis-mock` puts in site-packages: one import name, `sevis_mock`, so a popular package called
`fixtures`, `schemas`, `harness` or `mockserver` installed beside it cannot replace part of the product.

The repo keeps its folders (mockserver/, harness/, schemas/, fixtures/); pyproject's package-dir maps them to
sevis_mock.server, sevis_mock.harness, sevis_mock.schemas and sevis_mock.fixtures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.support.server import ROOT

FOLDERS = {"sevis_mock": "sevis_mock", "mockserver": "sevis_mock.server", "harness": "sevis_mock.harness",
           "schemas": "sevis_mock.schemas", "fixtures": "sevis_mock.fixtures"}  # fmt: skip


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_installed_under_sevis_mock():
    config = _setuptools()
    assert {folder: name for name, folder in config["package-dir"].items()} == FOLDERS
    expected = set()
    for folder, name in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            expected.add(".".join((name, *parts)))
    assert set(config["packages"]) == expected, "pyproject's [tool.setuptools] packages must list every folder"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # a copy of the source: building in place would leave build/ and egg-info in the repo
    source = tmp_path_factory.mktemp("source") / "sevis-mock"
    junk = (
        ".git",
        ".venv",
        "build",
        "dist",
        "*.egg-info",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".hypothesis",
    )
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*junk))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if build.returncode != 0:
        _unavailable(f"pip could not build the wheel (no package index for setuptools?): {build.stderr[-400:]}")
    return next(out.glob("sevis_mock-*.whl"))


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.mark.slow
def test_the_wheel_holds_only_sevis_mock_import_names(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"sevis_mock"}, tops
    assert "sevis_mock/server/templates/sevp/petitions.html" in names
    assert "sevis_mock/schemas/fm-6.55/Create-UpdateStudent.xsd" in names
    assert "sevis_mock/fixtures/catalog.json" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "sevis-mock = sevis_mock.cli:main" in text and "sevis_mock.harness.pytest_plugin" in text


@pytest.mark.slow
def test_pypi_fixtures_installed_beside_it_leaves_sevis_mock_codes_working(wheel, tmp_path):
    # PyPI's `fixtures` (a testing library) is a top-level package named exactly like our fixtures folder; when we
    # installed that folder as `fixtures`, whichever came last won and `sevis-mock codes` died with ImportError
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel), "fixtures"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if install.returncode != 0:
        _unavailable(f"pip could not install PyPI's fixtures beside the wheel: {install.stderr[-400:]}")
    assert (site / "fixtures" / "__init__.py").is_file() and (site / "sevis_mock" / "fixtures").is_dir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = "import fixtures, sevis_mock.server; print(fixtures.__file__); print(sevis_mock.server.__file__)"
    where = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(site)) for line in where.stdout.split()), where.stdout  # the wheel, not the repo
    codes = subprocess.run(
        [sys.executable, "-c", "from sevis_mock.cli import main; main()", "codes"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    assert codes.returncode == 0, codes.stderr[-2000:]
    assert "S0000" in codes.stdout and "S1004" in codes.stdout
