"""The suite's markers, set where nobody can forget them.

- ``server``: the test starts or uses a real ``sevis-mock serve`` (a subprocess on a real socket). It is added at
  collection to every test that uses a server fixture: the known ones (``SERVER_FIXTURES``), any fixture whose
  function calls one of ``SERVER_CALLS`` (``start_server``, ``launch``, ...), and any test function that does. A
  test that starts a server some other way (a CLI command with an embedded mock, a bare ``Popen``) must carry the
  marker itself (``pytestmark = pytest.mark.server`` for a whole module): a test that starts ``sevis-mock serve``
  without it FAILS, with a message that says so (the check sees every ``subprocess.Popen`` through an audit hook;
  a ``serve`` that never listened, refused at start for a bad option or data dir, does not count).
- ``slow``: more than about 3 s on its own (long walks, builds, big Hypothesis runs); set by hand.
- ``browser``: drives headless Chromium through Playwright; added to every test that uses the ``chromium`` fixture.

``pytest -m "not server and not slow"`` is the quick subset (README, "Run the tests").
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

import pytest

MARKERS = {
    "server": "starts or uses a real `sevis-mock serve` over TLS (added automatically from the fixtures it uses)",
    "slow": "takes more than about 3 s on its own (builds, walks, long scenarios, big Hypothesis runs)",
    "browser": "drives headless Chromium through Playwright (added automatically from the `chromium` fixture)",
}

#: fixtures that are a running server, or start one, whatever their code looks like
SERVER_FIXTURES = frozenset({"mock_server", "server_factory", "sevis_mock_server"})
#: names whose call in a fixture or a test function starts a server
SERVER_CALLS = frozenset({"start_server", "start_mock", "launch", "running", "EmbeddedMock", "Shadow", "start_proxy"})
BROWSER_FIXTURES = frozenset({"chromium"})


def _calls(code: CodeType) -> set[str]:
    """Every global or attribute name a function's code (nested functions included) refers to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _calls(const)
    return names


def _starts_a_server(func) -> bool:
    code = getattr(getattr(func, "__wrapped__", func), "__code__", None)
    return code is not None and bool(_calls(code) & SERVER_CALLS)


def _fixture_defs(item: pytest.Item):
    info = getattr(item, "_fixtureinfo", None)
    for defs in info.name2fixturedefs.values() if info is not None else ():
        yield from defs


def uses_a_server(item: pytest.Item) -> bool:
    if set(getattr(item, "fixturenames", ())) & SERVER_FIXTURES:
        return True
    if _starts_a_server(getattr(item, "function", None)):
        return True
    return any(_starts_a_server(d.func) for d in _fixture_defs(item))


def pytest_configure(config: pytest.Config) -> None:
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed.append(True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if uses_a_server(item) and item.get_closest_marker("server") is None:
            item.add_marker(pytest.mark.server)
        if set(getattr(item, "fixturenames", ())) & BROWSER_FIXTURES and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)


# --- the backstop: a test that starts `sevis-mock serve` without the `server` marker fails -------------------

_hook_installed: list[bool] = []
_running: list[pytest.Item] = []  # the test being run (set around its setup, call and teardown)
_unmarked: dict[str, list[Spawned]] = {}  # nodeid -> the server commands it ran without the marker


@dataclass(frozen=True)
class Spawned:
    command: str
    data_dir: Path | None  # `serve --data-dir`: it wrote connection.json there once it was listening
    at: float

    def served(self) -> bool:
        """The command became a server: `rehearse` and `shadow` always do; `serve` once it has written
        connection.json (a `serve` refused for a bad option or data dir, exit 2, never listened)."""
        if self.data_dir is None:
            return True
        try:
            return (self.data_dir / "connection.json").stat().st_mtime >= self.at - 1
        except OSError:
            return False


#: `sevis-mock` commands that run a server: `serve` itself, and those that start an embedded one (or talk to one)
SERVER_COMMANDS = frozenset({"serve", "rehearse", "shadow"})


def is_serve_command(args) -> bool:
    """``args`` (a Popen argument list or command line) runs `sevis-mock serve` or a command that starts one."""
    words = [str(a) for a in args] if isinstance(args, (list, tuple)) else str(args).split()
    for at, word in enumerate(words):
        if word in ("sevis_mock", "sevis_mock.server") or word.endswith("sevis-mock"):
            rest = words[at + 1 :]
            return "--help" not in rest and any(w in SERVER_COMMANDS for w in rest)
    return False


def _audit(event: str, args: tuple) -> None:
    if event != "subprocess.Popen" or not _running:
        return
    item = _running[-1]
    if item.get_closest_marker("server") is None and is_serve_command(args[1]):
        words = [str(a) for a in args[1]] if isinstance(args[1], (list, tuple)) else str(args[1]).split()
        data_dir = None
        if "serve" in words and "--data-dir" in words[:-1]:
            data_dir = Path(args[2] or ".", words[words.index("--data-dir") + 1])
        _unmarked.setdefault(item.nodeid, []).append(Spawned(" ".join(words)[:300], data_dir, time.time()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when not in ("setup", "call"):
        return
    started = [spawned.command for spawned in _unmarked.pop(item.nodeid, []) if spawned.served()]
    if started and not report.failed:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} started `sevis-mock serve` but is not marked `server`:\n  "
            + "\n  ".join(started)
            + "\nMark it (`@pytest.mark.server`, or `pytestmark = pytest.mark.server` for the module), or start the "
            "server through a fixture tests/support/markers.py recognises, so that `pytest -m 'not server'` "
            "leaves it out."
        )
