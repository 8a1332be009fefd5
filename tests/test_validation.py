"""sevis_mock.server.validation: readable schema errors, schema hints that are ignored, official releases as
plug-ins and the clear refusal of broken schema folders.

Official files are only ever copied into ``tmp_path`` during a test.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from sevis_mock.server.batch.intake import Refusal, check_document
from sevis_mock.cli import main
from sevis_mock.server.store import Organization
from sevis_mock.server.validation import SchemaFolderError, SchemaProblem, SchemaSet
from sevis_mock.schemas import schema_root
from tests.support.reference import OFFICIAL_XSD, official
from tests.test_own_schemas import FM_VALID, J_VALID

PROJECT = Path(__file__).resolve().parents[1]
OFFICIAL = OFFICIAL_XSD
needs_official = official

FM_ORG = Organization(org_id="BOS214F00123000", kind="F/M", name="Test school")
J_ORG = Organization(org_id="P-1-12345", kind="J", name="Test sponsor")


@pytest.fixture(scope="module")
def project() -> SchemaSet:
    schemas = SchemaSet.discover([])
    schemas.compile_all()
    return schemas


def tree(text: str) -> etree._ElementTree:
    return etree.fromstring(text.encode("utf-8")).getroottree()


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def j_batch_id(text: str) -> str:
    return re.search(r"<BatchID>([^<]*)</BatchID>", text).group(1)


# -- readable schema errors ------------------------------------------------------------------------


def test_valid_documents_have_no_problems(project):
    assert project.validate(tree(FM_VALID)) == []
    assert project.validate(tree(J_VALID)) == []


def test_first_problem_names_line_path_and_plain_reason(project):
    broken = FM_VALID.replace("<BatchID>B2024000000001</BatchID>", "<BatchID>B20240001</BatchID>")
    problems = project.validate(tree(broken))
    first = problems[0]
    assert first.line == line_of(broken, "<BatchID>B20240001")
    assert first.path == "/SEVISBatchCreateUpdateStudent/BatchHeader/BatchID"
    assert "length has to be 14" in first.reason and "B20240001" in first.reason
    assert "[facet 'length']" in first.message  # the raw libxml2 message stays available
    assert str(first) == f"line {first.line}: {first.path}: {first.reason}"


def test_paths_number_repeated_siblings_and_name_attributes(project):
    text = FM_VALID
    # the second Student of UpdateStudent gets a bad sevisID
    update = text.index("<UpdateStudent>")
    first = text.index('sevisID="', update)
    second = text.index('sevisID="', first + 1)
    broken = text[:second] + 'sevisID="X123"' + text[text.index('"', second + 9) + 1 :]
    problem = project.validate(tree(broken))[0]
    assert problem.path == "/SEVISBatchCreateUpdateStudent/UpdateStudent/Student[2]/@sevisID"
    assert "X123" in problem.reason


def test_long_code_lists_are_shortened(project):
    broken = FM_VALID.replace("<BirthCountryCode>FR", "<BirthCountryCode>QQ", 1)
    problem = project.validate(tree(broken))[0]
    assert problem.path.endswith("/PersonalInfo/BirthCountryCode")
    assert "codes in all" in problem.reason and len(problem.reason) < 300
    assert "'QQ'" in problem.reason


def test_every_error_is_structured_data(project):
    broken = FM_VALID.replace("<Gender>F</Gender>", "").replace('printForm="true"', 'printForm="maybe"')
    problems = project.validate(tree(broken))
    assert len(problems) >= 2
    for problem in problems:
        data = problem.as_dict()
        assert set(data) == {"line", "path", "reason", "message"}
        assert isinstance(data["line"], int) and data["line"] >= 1
        assert data["path"].startswith("/SEVISBatchCreateUpdateStudent")
        assert data["reason"] and data["message"]
    lines = [p.line for p in problems]
    assert lines == sorted(lines)


def test_wrong_root_is_a_problem_not_a_crash(project):
    problems = project.validate(tree("<Batch/>"))
    assert [p.path for p in problems] == ["/Batch"]
    assert "SEVISBatchCreateUpdateStudent" in problems[0].reason
    namespaced = project.validate(tree('<SEVISBatchCreateUpdateStudent xmlns="http://www.ice.gov/x"/>'))
    assert "without a namespace" in namespaced[0].reason


def test_s0013_message_reads_line_path_and_reason(project):
    broken = FM_VALID.replace("<Level>04</Level>", "<Level>99</Level>")
    with pytest.raises(Refusal) as refused:
        check_document(broken.encode(), FM_ORG, "B2024000000001", project)
    assert refused.value.code == "S0013"
    first = refused.value.reasons[0]
    assert first.startswith(f"line {line_of(broken, '<Level>99')}: ")
    assert "/SEVISBatchCreateUpdateStudent/CreateStudent/Student/EducationalInfo/EduLevel/Level" in first
    assert "'99'" in first and "must be one of" in first


def test_problem_str_without_path():
    assert str(SchemaProblem(3, "", "raw", "plain reason.")) == "line 3: plain reason."
    assert str(SchemaProblem(3, "/A", "raw")) == "line 3: /A: raw"


# -- schema hints in documents are not followed ----------------------------------------------------

# [i] The locations SEVIS documents carry: the alpha and production copies on www.ice.gov.
HINTS = {
    "production": "http://www.ice.gov/xmlschema/sevisbatch",
    "alpha": "http://www.ice.gov/xmlschema/sevisbatch/alpha",
}


def with_hints(text: str, base: str, top: str) -> str:
    root_end = text.index(">")
    declarations = (
        f' xsi:noNamespaceSchemaLocation="{base}/{top}" xmlns:common="{base}/Common" xmlns:table="{base}/Table"'
    )
    if "xmlns:xsi" not in text[:root_end]:
        declarations += ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    return text[:root_end] + declarations + text[root_end:]


@pytest.mark.parametrize("site", sorted(HINTS))
def test_documents_pointing_at_alpha_or_production_schemas_validate_the_same(project, site):
    fm = with_hints(FM_VALID, HINTS[site], "Create-UpdateStudent.xsd")
    j = with_hints(J_VALID, HINTS[site], "Create-UpdateExchangeVisitor.xsd")
    assert "noNamespaceSchemaLocation" in fm and "noNamespaceSchemaLocation" in j
    assert project.validate(tree(fm)) == []
    assert project.validate(tree(j)) == []
    assert check_document(fm.encode(), FM_ORG, "B2024000000001", project).kind == "F/M"
    assert check_document(j.encode(), J_ORG, j_batch_id(J_VALID), project).kind == "J"
    # an invalid document gets the same problems with or without the hints
    bad = FM_VALID.replace("<Gender>F</Gender>", "<Gender>Q</Gender>")
    plain = [(p.path, p.reason) for p in project.validate(tree(bad))]
    hinted = [(p.path, p.reason) for p in project.validate(tree(with_hints(bad, HINTS[site], "x.xsd")))]
    assert plain == hinted and plain
    with pytest.raises(Refusal) as refused:
        check_document(
            with_hints(bad, HINTS[site], "Create-UpdateStudent.xsd").encode(), FM_ORG, "B2024000000001", project
        )
    assert refused.value.code == "S0013"


@needs_official
def test_official_release_validates_hinted_documents_too(tmp_path):
    schemas = SchemaSet.discover([OFFICIAL / "6.55-fm"])
    fm = with_hints(FM_VALID, HINTS["alpha"], "Create-UpdateStudent.xsd")
    assert schemas.validate(tree(fm)) == []
    assert check_document(fm.encode(), FM_ORG, "B2024000000001", schemas).kind == "F/M"


# -- official releases as plug-ins -----------------------------------------------------------------


def copy_release(tmp_path: Path, folder: str, *skip: str) -> Path:
    target = tmp_path / folder
    target.mkdir(parents=True)
    for path in (OFFICIAL / folder).glob("*.xsd"):
        if path.name not in skip:
            shutil.copy(path, target / path.name)
    return target


@needs_official
def test_describe_tells_which_documents_come_from_the_folder(tmp_path):
    j_only = copy_release(tmp_path, "6.27-j", "SevisTransLog.xsd")
    lines = SchemaSet.discover([j_only]).describe()
    by_root = {line.split(" ")[0]: line for line in lines}
    assert set(by_root) == {"SEVISBatchCreateUpdateStudent", "SEVISBatchCreateUpdateEV", "TransactionLog"}
    assert f"from {j_only}" in by_root["SEVISBatchCreateUpdateEV"]
    assert "release 6.27" in by_root["SEVISBatchCreateUpdateEV"]
    assert "project schemas" in by_root["TransactionLog"]
    assert "project schemas" in by_root["SEVISBatchCreateUpdateStudent"]
    assert str(schema_root()) in by_root["SEVISBatchCreateUpdateStudent"]


@needs_official
def test_a_folder_of_release_folders_supplies_every_document(tmp_path):
    copy_release(tmp_path / "all", "6.55-fm")
    copy_release(tmp_path / "all", "6.27-j")
    schemas = SchemaSet.discover([tmp_path / "all"])
    lines = schemas.describe()
    assert all(f"from {tmp_path / 'all'}" in line for line in lines), lines
    assert [line.split("(release ")[1][:4] for line in lines] == ["6.27", "6.55", "6.27"]
    schemas.compile_all()
    assert schemas.validate(tree(FM_VALID)) == [] and schemas.validate(tree(J_VALID)) == []


@needs_official
def test_missing_import_is_named(tmp_path):
    folder = copy_release(tmp_path, "6.55-fm", "Common.xsd")
    with pytest.raises(SchemaFolderError) as error:
        SchemaSet.discover([folder])
    message = str(error.value)
    assert "Create-UpdateStudent.xsd" in message and "'Common.xsd'" in message and "missing" in message


@needs_official
def test_import_with_the_wrong_case_is_named(tmp_path):
    folder = copy_release(tmp_path, "6.27-j")
    (folder / "SEVISTable.xsd").rename(folder / "SevisTable.xsd")
    with pytest.raises(SchemaFolderError) as error:
        SchemaSet.discover([folder])
    message = str(error.value)
    assert "'SEVISTable.xsd'" in message and "'SevisTable.xsd'" in message and "case" in message


@needs_official
def test_top_level_file_with_the_wrong_case_is_named(tmp_path):
    folder = copy_release(tmp_path, "6.55-fm")
    (folder / "Create-UpdateStudent.xsd").rename(folder / "create-updatestudent.xsd")
    with pytest.raises(SchemaFolderError) as error:
        SchemaSet.discover([folder])
    assert "create-updatestudent.xsd" in str(error.value) and "Create-UpdateStudent.xsd" in str(error.value)


@needs_official
def test_namespace_that_does_not_match_its_import_is_named(tmp_path):
    folder = copy_release(tmp_path, "6.55-fm")
    common = folder / "Common.xsd"
    text = common.read_text(encoding="utf-8")
    common.write_text(
        text.replace(
            'targetNamespace="http://www.ice.gov/xmlschema/sevisbatch/Common"',
            'targetNamespace="http://www.ice.gov/xmlschema/sevisbatch/alpha/Common"',
            1,
        ),
        encoding="utf-8",
    )
    with pytest.raises(SchemaFolderError) as error:
        SchemaSet.discover([folder])
    message = str(error.value)
    assert "Create-UpdateStudent.xsd" in message and "Common.xsd" in message
    assert "http://www.ice.gov/xmlschema/sevisbatch/alpha/Common" in message


@needs_official
def test_malformed_schema_file_is_named(tmp_path):
    folder = copy_release(tmp_path, "6.27-j")
    (folder / "Common.xsd").write_text("<xs:schema", encoding="utf-8")
    with pytest.raises(SchemaFolderError) as error:
        SchemaSet.discover([folder])
    assert "Common.xsd" in str(error.value) and "not well-formed" in str(error.value)


@needs_official
def test_serve_refuses_a_broken_folder_with_a_message(tmp_path):
    folder = copy_release(tmp_path, "6.55-fm", "SEVISTable.xsd")
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "data"), "--schemas", str(folder)])
    assert result.exit_code != 0
    assert "schemas:" in result.output and "SEVISTable.xsd" in result.output and "missing" in result.output
    assert "Traceback" not in result.output


def test_errors_stay_with_their_document_under_concurrency(project):
    """gunicorn runs 8 threads: each failing document must get its own errors, not a neighbour's."""
    from concurrent.futures import ThreadPoolExecutor

    broken = {
        "BatchID": FM_VALID.replace("<BatchID>B2024000000001</BatchID>", "<BatchID>B20240001</BatchID>"),
        "Level": FM_VALID.replace("<Level>04</Level>", "<Level>99</Level>"),
        "Gender": FM_VALID.replace("<Gender>F</Gender>", "<Gender>Q</Gender>"),
    }
    jobs = [name for name in broken for _ in range(40)] + ["valid"] * 40

    def judge(name):
        text = FM_VALID if name == "valid" else broken[name]
        return name, project.validate(tree(text))

    with ThreadPoolExecutor(max_workers=8) as pool:
        for name, problems in pool.map(judge, jobs):
            if name == "valid":
                assert problems == []
            else:
                assert problems and problems[0].path.endswith(f"/{name}"), (name, problems[:1])
