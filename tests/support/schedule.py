"""The longest test files first.

``--dist loadfile`` (pyproject's addopts) runs a whole file on one process and, with ``--no-loadscope-reorder``
(also in addopts: without it pytest-xdist orders the files by their number of tests, whatever they cost), hands
the files out in collection order. A long file handed out late (test_validate_agreement, test_shadow: few tests,
near the end of the alphabet) starts when the other process has little left but to wait for it: a tail of tens
of seconds. Handed out first, the long files run side by side and the short ones fill the gaps at the end.

``LONGEST_FIRST`` is measured, not guessed: the per-file sums of a full run's ``--durations=0`` on two cores
(longest first; files of more than about 8 s). A file left off only loses its head start; the order inside a
file, and the order of the files not named here, stay as collected. Re-measure when a file's length changes much:
``pytest --durations=0 -q``, then sum the durations per file.
"""

from __future__ import annotations

import pytest

LONGEST_FIRST = (
    "tests/test_instances.py",
    "tests/test_durability.py",
    "tests/test_procedure_mutant.py",
    "tests/test_procedure_machine.py",
    "tests/conformance/test_differential.py",
    "tests/test_rti.py",
    "tests/test_shadow.py",
    "tests/browser/test_j_pages.py",
    "tests/test_faults.py",
    "tests/browser/test_rti_pages.py",
    "tests/test_rule_fixtures.py",
    "tests/test_validate_agreement.py",
    "tests/test_operations.py",
    "tests/test_explore.py",
    "tests/hostile/test_slow_clients.py",
    "tests/test_rti_options.py",
    "tests/test_lifecycle.py",
    "tests/test_rehearse_j.py",
    "tests/test_control.py",
    "tests/test_rehearse.py",
    "tests/hostile/test_small_items.py",
    "tests/test_events.py",
    "tests/test_install_names.py",
    "tests/conformance/test_strategies.py",
)
_RANK = {path: rank for rank, path in enumerate(LONGEST_FIRST)}


def file_of(item: pytest.Item) -> str:
    """The test file of ``item`` as ``--dist loadfile`` groups it: its node ID up to the first ``::``."""
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # a stable sort: the named files in LONGEST_FIRST's order, then the others, each file's tests as collected
    items.sort(key=lambda item: _RANK.get(file_of(item), len(LONGEST_FIRST)))
