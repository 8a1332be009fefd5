"""Code meanings as data: the project's code tables carry SEVIS's lookup-table meanings, and rules read them."""

from __future__ import annotations

import csv

import pytest

from sevis_mock.server import codetables
from sevis_mock.server.rules import fm_facts, j_common
from tests.support.reference import REFERENCE, require

LOOKUP = REFERENCE / "lookup-tables"


def _lookup(number: int) -> list[list[str]]:
    require()  # skips (fails under CI=true) without ICE's reference files
    if not LOOKUP.is_dir():
        pytest.skip(f"SEVIS lookup tables not found at {LOOKUP}")
    path = next(LOOKUP.glob(f"table-{number:02d}-*.csv"))
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))[1:]


# (lookup table, our type, leading zeros to restore)
TABLES = [
    (1, "CapGapExtensionType", 0),
    (2, "DependentCancelReasonType", 2),
    (3, "DependentTerminationReasonType", 2),
    (4, "DropBlwfullType", 2),
    (5, "EduLevelCodeType", 2),
    (9, "OPTCompletionType", 2),
    (10, "StudentCancelReasonType", 2),
    (12, "StudentReprintRequestReasonType", 2),
    (13, "StudentTerminationReasonType", 2),
    (15, "EVCategoryCodeType", 0),
    (23, "EVReprintRequestReasonType", 2),
    (24, "EVTerminationReasonType", 0),
    (27, "EVOccupationCategoryCodeType", 2),
    (38, "PoeCodeType", 0),
]


@pytest.mark.parametrize("number,type_name,width", TABLES, ids=[t[1] for t in TABLES])
@pytest.mark.parametrize("kind", ["F/M", "J"])
def test_every_schema_code_the_lookup_table_names_carries_its_meaning(number, type_name, width, kind):
    ours = codetables.table(type_name, kind)
    named = 0
    for row in _lookup(number):
        code = row[0].strip().zfill(width) if width and row[0].strip().isdigit() else row[0].strip()
        if code in ours:  # the schema decides which codes exist
            assert ours[code].meaning == row[1].strip(), (type_name, code)
            named += 1
    assert named, type_name


def test_visa_flags_come_from_the_tables():
    assert codetables.table("EduLevelCodeType")["08"].visas == {"M-1"}
    assert codetables.codes_valid_for("EduLevelCodeType", "F-1") == {"01", "02", "03", "04", "05", "06", "07", "11"}
    assert codetables.codes_valid_for("DropBlwfullType", "M-1") == {"01", "07"}
    assert "14" not in codetables.codes_valid_for("StudentTerminationReasonType", "F-1")
    assert codetables.table("CapGapExtensionType")["F"].visas is None


def test_rules_name_codes_by_meaning():
    assert fm_facts.OTHERWISE_FAILING == "16"
    assert fm_facts.OTHER_LEVEL == "11"
    assert fm_facts.K12_LEVELS == {"01", "02", "08"}
    assert (fm_facts.PRE_COMPLETION, fm_facts.POST_COMPLETION) == ("01", "02")
    assert codetables.labelled("StudentTerminationReasonType", "02") == "02 (DEATH)"
    with pytest.raises(KeyError):
        codetables.code_for("EduLevelCodeType", "NO SUCH LEVEL")


def test_j_categories_follow_table_15():
    assert j_common.CATEGORIES["14"] == j_common.TRAINEE
    assert j_common.CATEGORIES["15"] == j_common.INTERN
    facts = j_common.CATEGORY_FACTS
    assert (facts["13"].minimum, facts["13"].maximum) == ("1 year", "1 year")
    assert facts["11"].minimum_age == 18 and facts["11"].maximum_age is None
    assert facts["1D"].maximum == ""


def test_generated_schemas_list_codes_and_leave_meanings_in_the_tables():
    """Meanings are facts the project keeps in its CSV tables (codetables reads them); the generated XSD lists
    the codes only, so it never repeats the official schemas' documentation."""
    from sevis_mock.schemas import schema_root

    for release in ("fm-6.55", "j-6.27"):
        text = (schema_root() / release / "SEVISTable.xsd").read_text(encoding="utf-8")
        assert '<xs:enumeration value="16"/>' in text and "xs:documentation" not in text
