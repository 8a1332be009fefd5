"""Differential conformance: the project's validator and libxml2 with the OFFICIAL schema agree.

For each of the three documents (F/M create/update, J create/update, transaction log), documents are
generated from the official XSD and from the project's XSD (sevis_mock.harness.strategies), each with single-fault
mutants (sevis_mock.harness.mutants). Every document is judged twice -- by ``sevis_mock.server.validation.SchemaSet`` with
the project's default schemas and by lxml with the official schema -- and the verdicts must agree.
Generated documents must be valid and mutants invalid against the schema they came from.

Volume: one example = one valid document + ``MUTANTS_PER_DOCUMENT`` mutants; the ``ci`` and ``dev`` profiles
run 150 documents per (document, source) pair, 900 in all (the six pairs generate from two near-identical schemas
per document, so each document's shapes are drawn twice over), ``HYPOTHESIS_PROFILE=thorough`` (max_examples=5000)
15,000 per pair.
"""

from __future__ import annotations

import collections
import functools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from sevis_mock.harness.mutants import valid_and_mutant
from sevis_mock.harness.strategies import load_schema
from sevis_mock.server.validation import SchemaSet
from sevis_mock.schemas import schema_for_root
from tests.support.reference import OFFICIAL_XSD, official

PROJECT = Path(__file__).resolve().parents[2]
OFFICIAL = OFFICIAL_XSD
OFFICIAL_FILES = {
    "SEVISBatchCreateUpdateStudent": OFFICIAL / "6.55-fm" / "Create-UpdateStudent.xsd",
    "SEVISBatchCreateUpdateEV": OFFICIAL / "6.27-j" / "Create-UpdateExchangeVisitor.xsd",
    "TransactionLog": OFFICIAL / "6.27-j" / "SevisTransLog.xsd",
}
MUTANTS_PER_DOCUMENT = 2
MIN_DOCUMENTS = 150
# [i] generation of big documents dominates the run time: a document holds up to 2 of each repeated
# particle and, past 150 elements, only what its schema requires -- still far beyond minimal documents.
LIMITS = {"max_repeats": 2, "max_elements": 150}
THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
EXAMPLES = settings.default.max_examples if THOROUGH else -(-MIN_DOCUMENTS // (1 + MUTANTS_PER_DOCUMENT))

pytestmark = official

#: (root, source) -> documents judged; kind -> mutants made (read by the last test and the report)
TALLY: collections.Counter = collections.Counter()
KINDS: collections.Counter = collections.Counter()


@functools.cache
def official(root: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(OFFICIAL_FILES[root])))


@functools.cache
def ours() -> SchemaSet:
    schemas = SchemaSet.discover([])
    schemas.compile_all()
    return schemas


def source_file(root: str, source: str) -> Path:
    return OFFICIAL_FILES[root] if source == "official" else schema_for_root(root)


def verdicts(document: bytes) -> tuple[list[str], list[str]]:
    """(our problems, official lxml errors) -- empty lists mean valid."""
    tree = etree.fromstring(document).getroottree()
    mine = [str(p) for p in ours().validate(tree)]
    schema = official(tree.getroot().tag)
    theirs = [] if schema.validate(tree) else [f"line {e.line}: {e.message}" for e in schema.error_log]
    return mine, theirs


def judge(document: bytes, expected_valid: bool, source_schema: etree.XMLSchema, label: str) -> None:
    mine, theirs = verdicts(document)
    shown = document.decode("utf-8")
    if len(shown) > 20000:
        shown = shown[:20000] + "\n... (truncated)"
    assert bool(mine) == bool(theirs), (
        f"{label}: the verdicts differ\n  project validator: {mine[:3] or 'valid'}\n"
        f"  lxml + official schema: {theirs[:3] or 'valid'}\n--- document ---\n{shown}"
    )
    own_verdict = source_schema.validate(etree.fromstring(document))
    assert own_verdict == expected_valid, (
        f"{label}: expected {'valid' if expected_valid else 'invalid'} against the schema it came from, "
        f"got {source_schema.error_log.last_error if not own_verdict else 'valid'}\n--- document ---\n{shown}"
    )


CASES = [
    pytest.param(root, source, id=f"{root}-{source}") for root in OFFICIAL_FILES for source in ("official", "project")
]


@pytest.mark.slow
@pytest.mark.parametrize(("root", "source"), CASES)
def test_project_validator_agrees_with_the_official_schema(root, source):
    path = source_file(root, source)
    schema = load_schema(path)
    source_schema = etree.XMLSchema(etree.parse(str(path)))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(valid_and_mutant(schema, root, n=MUTANTS_PER_DOCUMENT, **LIMITS))
    def check(pair):
        document, mutants = pair
        judge(document, True, source_schema, f"valid {root} generated from the {source} XSD")
        TALLY[(root, source)] += 1
        for mutant in mutants:
            judge(
                mutant.document,
                False,
                source_schema,
                f"mutant of {root} from the {source} XSD ({mutant.kind} at {mutant.path}: {mutant.detail})",
            )
            TALLY[(root, source)] += 1
            KINDS[mutant.kind] += 1

    check()


def test_a_disagreement_is_reported_with_the_document_and_both_verdicts(tmp_path, monkeypatch):
    """The comparison can fail: a project schema that drifted (here: BatchID of 13 characters, in a
    temporary copy of OUR schemas) is caught and the report shows both verdicts and the document."""
    import shutil

    release = schema_for_root("SEVISBatchCreateUpdateStudent").parent
    drifted = tmp_path / release.name
    shutil.copytree(release, drifted)
    common = drifted / "Common.xsd"
    text = common.read_text(encoding="utf-8")
    start = text.index('name="BatchIDType"')
    common.write_text(
        text[:start] + text[start:].replace('<xs:length value="14"/>', '<xs:length value="13"/>', 1), encoding="utf-8"
    )
    drifted_set = SchemaSet.discover([drifted])
    monkeypatch.setattr(f"{__name__}.ours", lambda: drifted_set)
    root = "SEVISBatchCreateUpdateStudent"
    document = (
        b'<SEVISBatchCreateUpdateStudent userID="JSMITH1234"><BatchHeader><BatchID>B2024000000001'
        b"</BatchID><OrgID>BOS214F00123000</OrgID></BatchHeader></SEVISBatchCreateUpdateStudent>"
    )
    with pytest.raises(AssertionError) as failure:
        judge(document, True, official(root), "drifted schema")
    report = str(failure.value)
    assert "the verdicts differ" in report and "length has to be 13" in report
    assert "lxml + official schema: valid" in report and "B2024000000001" in report


def test_every_case_judged_enough_documents():
    """Runs after the differential tests (file order): each ran at least its share of documents."""
    if not TALLY:
        pytest.skip("the differential tests did not run in this session")
    print("\ndocuments judged:", dict(TALLY), "\nmutants per kind:", dict(sorted(KINDS.items())))
    for key, count in TALLY.items():
        assert count >= MIN_DOCUMENTS, f"{key}: only {count} documents judged"
