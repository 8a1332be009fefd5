"""One table of fix hints: ``validate``, the ``upload``/``download`` commands and the rehearsal say the same thing
for the same code, and the package ships no second table."""

from __future__ import annotations

from importlib import resources

import pytest

from sevis_mock.harness import cli, validate
from sevis_mock.harness.hints import FALLBACK, hint, hints, known_hint
from sevis_mock.harness.rehearsal.reports import terminal


@pytest.mark.parametrize("code", sorted(hints()))
def test_every_reader_gives_the_tables_hint(code):
    said = hints()[code]
    assert said.strip() and said == hint(code) == known_hint(code) == validate.hint_for(code)
    assert cli._with_hint({}, code)["hint"] == said
    assert terminal.hint(code) == said


def test_codes_without_a_hint():
    assert known_hint("S9876") is None and cli._with_hint({}, None)["hint"] is None
    assert hint("S9876") == FALLBACK and "S9876" in validate.hint_for("S9876")


def test_one_table_in_the_package():
    root = resources.files("sevis_mock.harness")
    found = []
    pending = [root]
    while pending:
        folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append(entry)
            elif "hint" in entry.name and entry.name.endswith(".csv"):
                found.append(entry.name)
    assert found == ["hints.csv"]
