"""The suite's markers (tests/support/markers.py): `server` is added from the fixtures a test uses, and a test
that starts `sevis-mock serve` without it fails, so `pytest -m "not server"` never starts a server."""

from __future__ import annotations

import sys

import pytest

from tests.support.markers import is_serve_command

pytest_plugins = ["pytester"]

CONFTEST = """
import pytest

pytest_plugins = ["tests.support.markers"]


@pytest.fixture
def mock_server():  # a server fixture known by name
    return "running"


@pytest.fixture
def own_server():  # a fixture that starts one itself
    if False:
        start_server()  # noqa: F821  (never called: its name in the code is what counts)
    return "running"


@pytest.fixture
def layered(own_server):  # and one that only depends on it
    return own_server


@pytest.fixture
def chromium():
    return "browser"
"""

TESTS = f"""
import subprocess

import pytest

# runs a harmless interpreter, but its command line is `... sevis_mock.server serve`
SERVE = [{sys.executable!r}, "-c", "pass", "-m", "sevis_mock.server", "serve", "--port", "0"]


def test_plain():
    pass


def test_known_fixture(mock_server):
    pass


def test_fixture_that_starts_one(layered):
    pass


def test_in_the_body():
    if False:
        start_server()  # noqa: F821


def test_page(chromium):
    pass


def test_starts_serve_unmarked():
    subprocess.run(SERVE, check=True)


@pytest.mark.server
def test_starts_serve_marked():
    subprocess.run(SERVE, check=True)


def test_serve_refused_at_start_unmarked(tmp_path):  # it never listened: no connection.json
    subprocess.run(SERVE + ["--data-dir", str(tmp_path)], check=True)


def test_serve_that_listened_unmarked(tmp_path):
    subprocess.run(SERVE + ["--data-dir", str(tmp_path)], check=True)
    (tmp_path / "connection.json").write_text("{{}}")  # as `serve` writes it once it listens


def test_runs_something_else():
    subprocess.run([{sys.executable!r}, "-c", "pass"], check=True)
"""


@pytest.fixture
def suite(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_inner=TESTS)
    return pytester


def selected(result) -> set[str]:
    return {line.split("::")[1] for line in result.outlines if "::" in line}


def test_server_and_browser_markers_come_from_the_fixtures(suite):
    servers = suite.runpytest_inprocess("--collect-only", "-q", "-m", "server", "-p", "no:cacheprovider")
    assert selected(servers) == {
        "test_known_fixture",
        "test_fixture_that_starts_one",
        "test_in_the_body",
        "test_starts_serve_marked",
    }
    browsers = suite.runpytest_inprocess("--collect-only", "-q", "-m", "browser", "-p", "no:cacheprovider")
    assert selected(browsers) == {"test_page"}


def test_starting_serve_without_the_server_marker_fails(suite):
    result = suite.runpytest_inprocess("-p", "no:cacheprovider", "-k", "serve_ or something_else")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(["*test_starts_serve_unmarked started `sevis-mock serve` but is not marked `server`*"])
    result.stdout.fnmatch_lines(["*test_serve_that_listened_unmarked started `sevis-mock serve`*"])


@pytest.mark.parametrize(
    "args, serves",
    [
        ([sys.executable, "-m", "sevis_mock.server", "serve", "--data-dir", "d"], True),
        (["/venv/bin/sevis-mock", "rehearse", "--sponsor"], True),
        ("sevis-mock shadow --upstream https://x", True),
        (["sevis-mock", "serve", "--help"], False),
        (["sevis-mock", "validate", "a.xml"], False),
        ([sys.executable, "-m", "sevis_mock.server", "reset"], False),
        ([sys.executable, "-m", "sevis_mock", "serve", "--port", "0"], True),
        (["curl", "https://127.0.0.1/serve"], False),
    ],
)
def test_which_commands_start_a_server(args, serves):
    assert is_serve_command(args) is serves
