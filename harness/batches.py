"""Batches of many students for load and concurrency runs: the seeded school's fixture student, copied."""

from __future__ import annotations

import copy

from lxml import etree

from sevis_mock.fixtures import read_fixture

from .lifecycle import letters

__all__ = ["students_batch"]

TEMPLATE = "fm/create-three-students.xml"


def students_batch(records: int, batch_id: str, org_id: str, *, print_form: bool = True, salt: int = 0) -> bytes:
    """An F/M create batch of ``records`` new students (the fixture's first student, each with a name of its own
    drawn from ``salt`` and its place, so that batches with different salts never hold the same person, and
    printForm as asked), addressed to ``org_id`` with BatchID ``batch_id``."""
    doc = etree.fromstring(read_fixture(TEMPLATE))
    doc.find("BatchHeader/BatchID").text = batch_id
    doc.find("BatchHeader/OrgID").text = org_id
    create = doc.find("CreateStudent")
    students = create.findall("Student")
    template = students[0]
    for student in students:
        create.remove(student)
    for i in range(records):
        student = copy.deepcopy(template)
        student.set("requestID", f"R{salt:06d}-{i:04d}"[:20])
        student.set("printForm", "true" if print_form else "false")
        student.find("PersonalInfo/FullName/LastName").text = f"BENCH {letters(salt * 1000 + i)}"
        student.find("PersonalInfo/FullName/FirstName").text = f"STUDENT {letters(i)}"
        create.append(student)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
