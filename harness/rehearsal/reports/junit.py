"""`--junit FILE`: JUnit XML for CI systems, one testcase per step and one per record."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from ..model import FAIL, SKIP, WAIT, Rehearsal, StepResult

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str | None) -> str:
    """Text safe for XML 1.0 (a reply may hold control characters)."""
    return _NOT_XML.sub("\ufffd", text or "")


def _evidence_text(step: StepResult, who: str = "college") -> str:
    e = step.evidence
    lines = [f"{who}: {step.college}", f"mock verifies: {step.mock}", f"result: {step.summary}"]
    lines += [f"note: {n}" for n in e.notes]
    lines += [f"id {k}: {v}" for k, v in e.ids.items()]
    lines += [f"e-mail to {m.to} ({m.kind}): {m.subject}" for m in e.emails]
    lines += [f"{x.method} {x.url} -> {x.status if x.status is not None else x.error}" for x in e.exchanges]
    lines += [f"upload {u['file']} BatchID {u['batch_id']}: {u['code']} {u['meaning']}" for u in e.uploads]
    return "\n".join(lines)


def _step_case(suite: etree._Element, step: StepResult, who: str = "college") -> None:
    case = etree.SubElement(
        suite,
        "testcase",
        classname="sevis-mock.rehearsal.steps",
        name=_clean(f"{step.id} step {step.number}: {step.title}"),
        time=f"{step.seconds:.3f}",
    )
    if step.status == FAIL:
        etree.SubElement(case, "failure", message=_clean(step.summary), type="fail").text = _clean(
            _evidence_text(step, who)
        )
    elif step.status == WAIT:
        etree.SubElement(case, "failure", message=_clean(step.summary), type="wait").text = _clean(
            _evidence_text(step, who)
        )
    elif step.status == SKIP:
        etree.SubElement(case, "skipped", message=_clean(step.summary))
    else:
        etree.SubElement(case, "system-out").text = _clean(_evidence_text(step, who))


def write_junit(rehearsal: Rehearsal, path: Path) -> None:
    root = etree.Element("testsuites", name="sevis-mock rehearse")
    steps = etree.SubElement(
        root,
        "testsuite",
        name="steps",
        tests=str(len(rehearsal.steps)),
        failures=str(sum(s.status in (FAIL, WAIT) for s in rehearsal.steps)),
        skipped=str(sum(s.status == SKIP for s in rehearsal.steps)),
        errors="0",
        time=f"{sum(s.seconds for s in rehearsal.steps):.3f}",
        timestamp=rehearsal.started_at[:19],
    )
    for step in rehearsal.steps:
        _step_case(steps, step, "sponsor" if rehearsal.kind == "J" else "college")
    records = etree.SubElement(
        root,
        "testsuite",
        name="records",
        tests=str(len(rehearsal.records)),
        failures=str(len(rehearsal.rejected)),
        skipped="0",
        errors="0",
        time="0",
    )
    for record in rehearsal.records:
        case = etree.SubElement(
            records,
            "testcase",
            classname=f"sevis-mock.rehearsal.records.{record.batch_id}",
            name=_clean(f"{record.request_id} ({record.batch_file})"),
            time="0",
        )
        if record.ok:
            etree.SubElement(
                case, "system-out"
            ).text = f"applied as {record.sevis_id}; forms: {', '.join(record.forms) or 'none'}"
        else:
            failure = etree.SubElement(
                case, "failure", message=_clean(f"{record.code}: {record.message}"), type=record.code or ""
            )
            failure.text = _clean(
                f"requestID {record.request_id} in {record.batch_file} (BatchID {record.batch_id})\n"
                f"SEVIS: {record.code} {record.message}\nfix: {record.hint}"
            )
    for suite in (steps, records):
        if len(suite) == 0:
            etree.SubElement(suite, "properties")
    Path(path).write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
