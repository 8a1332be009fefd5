"""Benchmark: schema validation of a maximal F/M batch through the project's intake path vs raw lxml.

    python benchmarks/validate.py [--runs N]

The document holds 250 CreateStudent and 250 UpdateStudent records (the SEVIS maximum). Its records are
drawn with sevis_mock.harness.strategies from the official XSD (derandomized, so every run uses the same bytes)
and repeated up to 250 of each. Two timings on the same bytes, interleaved, median of N runs:

- intake: ``sevis_mock.server.batch.intake.check_document`` with the project's SchemaSet (hardened parse, the
  root/header checks, libxml2 validation with our schemas);
- raw: ``lxml.etree.fromstring`` + ``XMLSchema.validate`` with the official schema.

Prints both medians and intake/raw; the target is a ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import os
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from lxml import etree  # noqa: E402

from sevis_mock.harness.strategies import trees  # noqa: E402
from sevis_mock.server.batch.intake import check_document  # noqa: E402
from sevis_mock.server.store import Organization  # noqa: E402
from sevis_mock.server.validation import SchemaSet  # noqa: E402

# ICE's official schemas: SEVIS_REFERENCE=DIR, else ../shared/sevis-reference beside the project
REFERENCE = Path(os.environ.get("SEVIS_REFERENCE") or PROJECT.parent / "shared" / "sevis-reference")
OFFICIAL = REFERENCE / "xsd" / "6.55-fm" / "Create-UpdateStudent.xsd"
ROOT = "SEVISBatchCreateUpdateStudent"
RECORDS = 250


def sample_records() -> tuple[etree._Element, etree._Element]:
    """The richest generated create and update records (same ones every run)."""
    found = {"create": None, "update": None}

    @settings(max_examples=60, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(trees(OFFICIAL, ROOT, max_repeats=3, max_elements=400))
    def collect(tree):
        for kind, path in (("create", "CreateStudent/Student"), ("update", "UpdateStudent/Student")):
            for record in tree.getroot().iterfind(path):
                size = len(etree.tostring(record))
                if found[kind] is None or size > found[kind][0]:
                    found[kind] = (size, copy.deepcopy(record))

    collect()
    if not (found["create"] and found["update"]):
        raise SystemExit("could not generate both a create and an update record")
    return found["create"][1], found["update"][1]


def maximal_document() -> bytes:
    create, update = sample_records()
    root = etree.Element(ROOT, userID="MCKPDSO001")
    header = etree.SubElement(root, "BatchHeader")
    etree.SubElement(header, "BatchID").text = "BENCH000000001"
    etree.SubElement(header, "OrgID").text = "MCK214F00001000"
    for name, record in (("CreateStudent", create), ("UpdateStudent", update)):
        group = etree.SubElement(root, name)
        for index in range(RECORDS):
            copy_ = copy.deepcopy(record)
            copy_.set("requestID", f"R{index}")
            group.append(copy_)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def measure(runs: int) -> None:
    data = maximal_document()
    official = etree.XMLSchema(etree.parse(str(OFFICIAL)))
    schemas = SchemaSet.discover([])
    schemas.compile_all()
    org = Organization(org_id="MCK214F00001000", kind="F/M", name="Benchmark school")
    assert official.validate(etree.fromstring(data)), official.error_log.last_error
    check_document(data, org, "BENCH000000001", schemas)  # valid through the intake path, and warm

    def raw() -> None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        if not official.validate(etree.fromstring(data, parser)):
            raise AssertionError("official schema refused the document")

    def intake() -> None:
        check_document(data, org, "BENCH000000001", schemas)

    timings: dict[str, list[float]] = {"intake": [], "raw": []}
    for _ in range(runs):
        for name, step in (("raw", raw), ("intake", intake)):
            start = time.perf_counter()
            step()
            timings[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    ratio = medians["intake"] / medians["raw"]
    print(f"document: {len(data):,} bytes, {RECORDS} creates + {RECORDS} updates, {runs} runs each")
    print(f"raw lxml parse+validate (official XSD): median {medians['raw'] * 1000:8.2f} ms")
    print(f"intake check_document (project XSD):    median {medians['intake'] * 1000:8.2f} ms")
    print(f"ratio intake/raw: {ratio:.2f} (target <= 1.5) -> {'OK' if ratio <= 1.5 else 'ABOVE TARGET'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    measure(parser.parse_args().runs)
