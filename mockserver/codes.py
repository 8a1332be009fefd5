"""``sevis-mock codes``: every catalogue code, what the mock does with it, and what provokes it.

Derived, never hand-kept per code: the rules registry (implemented rules and their one-line
conditions), the ``UNDECIDABLE`` and ``IMPLEMENTED_ELSEWHERE`` tables of the rule modules, the rule
fixtures (``fixtures/rules``) and the fixture catalogue (``fixtures/catalog.json``). A rule module may hold ``UNDECIDABLE`` (code -> why a
batch cannot decide it), ``UNPUBLISHED`` (decidable, but SEVIS does not say on which values) and
``IMPLEMENTED_ELSEWHERE`` (code -> the processor or event applier that answers it). Only the batch
dispositions (S00xx) have a small table here saying which check produces them.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import asdict, dataclass

import click

from . import rules
from .catalog import INTERNAL_ERROR, catalogue

FAMILY_NAMES = {"batch": "disposition", "fm": "F/M rule", "j": "J rule"}
RULE_FIXTURE_TEST = "tests/test_rule_fixtures.py"

# Batch dispositions: where the mock produces each one, and a test that provokes it.
DISPOSITIONS = {
    "S0000": (
        "upload, process and download succeeded",
        "tests/test_dispositions.py::test_accepted_upload_is_stored_before_the_reply",
    ),
    "S0001": (
        "upload/download: a missing or garbled multipart part, or no client certificate (batch/views.py)",
        "tests/test_dispositions.py::test_missing_part_is_S0001",
    ),
    "S0002": (
        "upload/download: org unknown, not batch-registered, no agreement, or certificate not registered to it (batch/intake.py)",
        "tests/test_dispositions.py::test_unknown_org_is_S0002",
    ),
    "S0003": (
        "upload/download: user unknown, not an official of the org, not batch-registered or inactive (batch/intake.py)",
        "tests/test_dispositions.py::test_unknown_user_is_S0003",
    ),
    "S0010": (
        "upload: the BatchID was already used by the org (batch/intake.py)",
        "tests/test_dispositions.py::test_reused_batch_id_is_S0010",
    ),
    "S0012": (
        "upload: not well-formed, a DOCTYPE, too large, or header BatchID/OrgID differ from the form fields",
        "tests/test_dispositions.py::test_header_batch_id_differing_from_field_is_S0012",
    ),
    "S0013": (
        "upload: the document does not validate against the SEVIS schema (validation.py)",
        "tests/test_dispositions.py::test_schema_error_names_line_and_element",
    ),
    "S0020": ("process: one or more records failed a business rule (batch/processing.py)", RULE_FIXTURE_TEST),
    "S0030": (
        "download: the batch is queued, not yet processed (batch/views.py)",
        "tests/test_dispositions.py::test_accepted_upload_is_stored_before_the_reply",
    ),
    "S0031": (
        "download: no batch with this BatchID was accepted for the org (batch/views.py)",
        "tests/test_dispositions.py::test_unknown_batch_is_S0031",
    ),
}
# Dispositions the mock never answers, and why.
DISPOSITIONS_NOT_PRODUCED = {
    "S0011": "the mock accepts any document file name; SEVIS's naming rule for uploads is not published",
}


@dataclass
class CodeRow:
    code: str
    family: str  # disposition | F/M rule | J rule
    status: str  # implemented | reserved | not implemented | disposition
    condition: str  # the rule's one-line condition, or why not implemented
    provoked_by: list[str]
    decidable: bool | None = None  # None: decided by status (implemented/unclassified yes, others no)
    reached_by: str = ""  # how a tester reaches it: "a batch alone" or the control call(s) to make first

    def __post_init__(self) -> None:
        if self.decidable is None:
            self.decidable = self.status in ("implemented", "unclassified")


def _module_tables(name: str) -> dict[str, str]:
    """``name`` (UNDECIDABLE / UNPUBLISHED / IMPLEMENTED_ELSEWHERE) merged over every rule module that has one."""
    merged: dict[str, str] = {}
    for module_name in rules.rule_modules():  # all imported with the package
        module = importlib.import_module(f"{rules.__name__}.{module_name}")
        merged.update(getattr(module, name, {}) or {})
    return merged


def _rule_fixtures() -> dict[str, list[str]]:
    """code -> rule fixture case ids (``fixtures/rules/<fm|j>/<case>``)."""
    from sevis_mock.fixtures.rules import load_cases

    found: dict[str, list[str]] = {}
    for case in load_cases():
        found.setdefault(case.code, []).append(f"fixtures/rules/{case.case_id}")
    return found


def _readable_path(path: str) -> str:
    """A fixture's control path with its placeholders as a tester reads them (``<org>``, ``<sevis_id>``)."""
    path = path.replace("{{ORG_ID}}", "<org>")
    path = re.sub(r"\{\{DEPENDENT_SEVIS_ID:[^}]*\}\}", "<dependent's sevis_id>", path)
    return re.sub(r"\{\{SEVIS_ID:[^}]*\}\}", "<sevis_id>", path)


def _reached_by() -> dict[str, str]:
    """code -> how its first rule fixture reaches it: a batch alone, or the control calls made first."""
    from sevis_mock.fixtures.rules import load_cases

    found: dict[str, str] = {}
    for case in load_cases():
        if case.code in found:
            continue
        calls = [
            f"{c.get('method', 'POST')} /control/{_readable_path(c['path'])}"
            + (f" {json.dumps(c['json'], separators=(',', ':'))}" if c.get("json") is not None else "")
            for step in case.steps
            for c in case.control.get(step, [])
        ]
        batches = len(case.steps)
        alone = "a batch alone" if batches == 1 else f"batches alone ({batches} in order)"
        found[case.code] = alone if not calls else "control API first: " + "; ".join(calls)
    return found


def _catalog_fixtures() -> dict[str, list[str]]:
    """code -> fixtures/catalog.json documents whose upload, process or record result is that code."""
    from sevis_mock.fixtures import load_catalog

    found: dict[str, list[str]] = {}
    for entry in load_catalog():
        codes = {entry.get("upload"), entry.get("process"), *(entry.get("records") or {}).values()}
        for code in codes - {None}:
            found.setdefault(code, []).append(f"fixtures/{entry['file']}")
    return found


def build_rows() -> list[CodeRow]:
    conditions: dict[str, list[str]] = {}
    for r in rules.RULES:
        if r.condition not in conditions.setdefault(r.code, []):
            conditions[r.code].append(r.condition)
    undecidable = _module_tables("UNDECIDABLE")
    unpublished = _module_tables("UNPUBLISHED")
    elsewhere = _module_tables("IMPLEMENTED_ELSEWHERE")
    rule_cases, catalog_cases, reached = _rule_fixtures(), _catalog_fixtures(), _reached_by()
    rows = []
    for code, entry in catalogue().items():
        family = FAMILY_NAMES.get(entry.family, entry.family)
        provoked = rule_cases.get(code, []) + catalog_cases.get(code, [])
        if entry.reserved:
            rows.append(
                CodeRow(
                    code, family, "reserved", "reserved (***) in the SEVIS catalogue: no message, never answered", []
                )
            )
        elif entry.family == "batch":
            if code in DISPOSITIONS:
                where, test = DISPOSITIONS[code]
                rows.append(CodeRow(code, family, "disposition", where, [test, *catalog_cases.get(code, [])[:3]]))
            else:
                rows.append(
                    CodeRow(
                        code, family, "not implemented", DISPOSITIONS_NOT_PRODUCED.get(code, "no check produces it"), []
                    )
                )
        elif code in conditions:
            tests = [RULE_FIXTURE_TEST] if rule_cases.get(code) else []
            how = reached.get(code, "a batch alone" if provoked else "")
            rows.append(
                CodeRow(code, family, "implemented", " / ".join(conditions[code]), provoked + tests, reached_by=how)
            )
        elif code in elsewhere:
            # answered by the processor or an event applier for what a batch sends; the internal-error code only
            # when the mock itself fails on a record
            how = reached.get(code, "a batch alone" if code != INTERNAL_ERROR else "")
            rows.append(CodeRow(code, family, "implemented", elsewhere[code], provoked, reached_by=how))
        elif code in undecidable:
            rows.append(CodeRow(code, family, "not implemented", undecidable[code], provoked))
        elif code in unpublished:
            rows.append(
                CodeRow(
                    code,
                    family,
                    "not implemented",
                    "decidable, but the condition is not published: " + unpublished[code],
                    provoked,
                    decidable=True,
                )
            )
        else:
            rows.append(CodeRow(code, family, "unclassified", "no rule and no recorded reason", provoked))
    return rows


def summary(rows: list[CodeRow]) -> dict:
    """Per rule family: implemented / decidable (not reserved, not undecidable) / catalogue."""
    out = {}
    for family in ("F/M rule", "J rule"):
        mine = [r for r in rows if r.family == family]
        out[family] = {
            "implemented": sum(r.status == "implemented" for r in mine),
            "decidable": sum(bool(r.decidable) for r in mine),
            "catalogue": len(mine),
            "reserved": sum(r.status == "reserved" for r in mine),
            "not_implemented": sum(r.status == "not implemented" for r in mine),
            "reachable": sum(r.status == "implemented" and bool(r.reached_by) for r in mine),
            "reachable_with_control": sum(r.reached_by.startswith("control API") for r in mine),
        }
    return out


def _text_table(rows: list[CodeRow]) -> str:
    lines = [f"{'code':<6} {'family':<11} {'status':<15} condition / reason  [provoked by]  (reached by)"]
    for r in rows:
        provoked = f"  [{', '.join(r.provoked_by)}]" if r.provoked_by else ""
        how = f"  ({r.reached_by})" if r.reached_by else ""
        lines.append(f"{r.code:<6} {r.family:<11} {r.status:<15} {r.condition}{provoked}{how}")
    return "\n".join(lines)


def summary_line(rows: list[CodeRow]) -> str:
    parts = [
        f"{family}: {s['implemented']} implemented ({s['reachable']} reachable, {s['reachable_with_control']} "
        f"through the control API) / {s['decidable']} decidable / {s['catalogue']} in catalogue"
        for family, s in summary(rows).items()
    ]
    return "; ".join(parts)


@click.command("codes")
@click.option("--json", "as_json", is_flag=True, help='Machine-readable: {"codes": [...], "summary": {...}}.')
def codes_command(as_json: bool) -> None:
    """Every SEVIS result code: implemented or not (and why), its condition, and what provokes it."""
    rows = build_rows()
    if as_json:
        click.echo(
            json.dumps({"codes": [asdict(r) for r in rows], "summary": summary(rows)}, indent=2, ensure_ascii=False)
        )
        return
    click.echo(_text_table(rows))
    click.echo(summary_line(rows))
