"""`sevis-mock validate`: the verdict the mock server would give a batch document, offline.

The verdicts are the server's own (``sevis_mock.server.batch.judge``), which the upload view and the worker use:
``judge_document`` for the upload (size and well-formedness S0012, posting rules S0012, schema S0013), with the
upload form fields taken to be the document's own header (BatchHeader/OrgID and BatchID, the organization's kind
from the org ID or the root element) unless --orgid/--batchid say otherwise; ``judge_processing`` with ``rules=True``
(the worker's processor and rules against a described record state, ``--state``: the JSON of
``GET /control/records`` or of ``GET /control/records/<sevis_id>``, nothing kept). This module keeps the command
and its reports: each problem with its line, path and a hint.
"""

from __future__ import annotations

import json
import re
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import click
from lxml import etree

from sevis_mock.harness.hints import hints
from sevis_mock.server.batch.intake import KIND_OF_ROOT, Refusal
from sevis_mock.server.batch.judge import PRINCIPAL_TAG, DocumentUploader, judge_document, judge_processing
from sevis_mock.server.batch.judge import RecordState as State
from sevis_mock.server.batch.judge import StateError
from sevis_mock.server.catalog import catalogue
from sevis_mock.server.clock import parse_iso
from sevis_mock.server.config import DEFAULT_MAX_BODY, ENVIRONMENTS
from sevis_mock.server.validation import SchemaFolderError, SchemaSet, readable_path
from sevis_mock.server.xmlsafe import UnsafeXML, parse

__all__ = ["Problem", "State", "StateError", "Validator", "Verdict", "validate_command"]

_LINE = re.compile(r"\bline (\d+)")


# --- results -------------------------------------------------------------------------------------


@dataclass
class Problem:
    """One thing the server would refuse or fail, where it is and what to do about it."""

    code: str
    message: str  # SEVIS's catalogue message for the code
    reason: str  # what exactly is wrong (the server's explanation)
    line: int | None = None
    path: str = ""
    hint: str = ""
    request_id: str | None = None


@dataclass
class Verdict:
    """The server's answer to one document: Upload code, and with rules the Process code and records."""

    file: str
    upload: str
    process: str | None = None
    problems: list[Problem] = field(default_factory=list)
    records: dict[str, str | None] = field(default_factory=dict)  # requestID -> None (ok) or error code
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return self.upload == "S0000" and self.process in (None, "S0000") and not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["clean"] = self.clean
        return data


def catalogue_message(code: str) -> str:
    entry = catalogue().get(code)
    return entry.message if entry is not None else ""


def hint_for(code: str) -> str:
    return hints().get(code) or f"See SEVIS's message for {code}: {catalogue_message(code) or 'unknown code'}."


# --- the validator -------------------------------------------------------------------------------


class Validator:
    """The server's verdict engine (`sevis_mock.server.batch.judge`) over documents, as reports."""

    def __init__(
        self,
        schemas: SchemaSet,
        *,
        rules: bool = False,
        state: State | None = None,
        now: datetime | None = None,
        environment: str = "beta",
        max_body_bytes: int = DEFAULT_MAX_BODY,
        orgid: str | None = None,
        batchid: str | None = None,
    ) -> None:
        if environment not in ENVIRONMENTS:
            raise ValueError(f"environment must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
        self.schemas = schemas
        self.rules = rules
        self.state = state or State()
        self.now = now
        self.environment = environment
        self.max_body_bytes = max_body_bytes
        self.orgid = orgid  # the upload form fields; None: the document's own header values
        self.batchid = batchid

    def check(self, data: bytes, name: str = "") -> Verdict:
        started = time.perf_counter()
        verdict = self._upload(data, name)
        if verdict.upload == "S0000" and self.rules:
            self._process(verdict, data)
        verdict.seconds = time.perf_counter() - started
        return verdict

    # upload -----------------------------------------------------------------------------------------
    def _upload(self, data: bytes, name: str) -> Verdict:
        tree, parse_error = _parse(data) if len(data) <= self.max_body_bytes else (None, None)
        root = tree.getroot() if tree is not None else None
        root_kind = KIND_OF_ROOT.get(root.tag) if root is not None else None
        uploader = DocumentUploader(root_kind, kind_of_field=self.orgid is not None)
        org_id = self.orgid if self.orgid is not None else _header(root, "BatchHeader/OrgID")
        batch_id = self.batchid if self.batchid is not None else _header(root, "BatchHeader/BatchID")
        user_id = (root.get("userID") or "").strip() if root is not None else ""
        try:  # no form here: the fields are the document's own (or --orgid/--batchid), so S0001 cannot arise
            judge_document(
                data, org_id, user_id, batch_id, schemas=self.schemas, max_bytes=self.max_body_bytes, uploader=uploader
            )
        except Refusal as refusal:
            org_kind = uploader.organization(org_id, user_id).kind
            return Verdict(name, refusal.code, problems=self._refusal_problems(refusal, tree, parse_error, org_kind))
        return Verdict(name, "S0000")

    def _refusal_problems(self, refusal: Refusal, tree, parse_error, org_kind: str | None) -> list[Problem]:
        structured = getattr(refusal, "problems", None)
        kinds_agree = tree is None or org_kind is None or KIND_OF_ROOT.get(tree.getroot().tag) in (None, org_kind)
        if refusal.code == "S0013" and not structured and tree is not None and kinds_agree:
            structured = self.schemas.validate(tree)  # the same call intake made, for line and path
        if structured:
            return [
                _problem(refusal.code, _reason(p), line=getattr(p, "line", None), path=getattr(p, "path", ""))
                for p in structured
            ]
        line = getattr(parse_error, "lineno", None)
        return [_problem(refusal.code, reason, line=line or _line_in(reason)) for reason in refusal.reasons] or [
            _problem(refusal.code, catalogue_message(refusal.code))
        ]

    # process ----------------------------------------------------------------------------------------
    def _process(self, verdict: Verdict, data: bytes) -> None:
        try:
            outcome = judge_processing(
                data, self.state, now=self.now, environment=self.environment, file_name=verdict.file
            )
        except Exception as exc:  # the server's processor would retry this batch forever: S0030
            verdict.problems.append(
                _problem(
                    "S0030",
                    f"the mock's processor fails on this document "
                    f"({type(exc).__name__}: {exc}); the server would keep it queued",
                )
            )
            return
        verdict.process = outcome.code
        root = parse(data).getroot()
        for result in outcome.records:
            request_id = result.request_id
            verdict.records[request_id] = None if result.ok else result.error_code
            if not result.ok:
                code = result.error_code or ""
                element = _record_element(root, request_id)
                verdict.problems.append(
                    Problem(
                        code=code,
                        message=catalogue_message(code),
                        reason=result.error_message or "",
                        request_id=request_id,
                        line=element.sourceline if element is not None else None,
                        path=readable_path(element) if element is not None else "",
                        hint=hint_for(code),
                    )
                )


def _header(root: etree._Element | None, path: str) -> str:
    return (root.findtext(path) or "").strip() if root is not None else ""


def _parse(data: bytes):
    try:
        return parse(data), None
    except (UnsafeXML, etree.XMLSyntaxError) as exc:
        return None, exc


def _reason(problem) -> str:
    return getattr(problem, "reason", None) or getattr(problem, "message", None) or str(problem)


def _line_in(text: str) -> int | None:
    found = _LINE.search(text)
    return int(found.group(1)) if found else None


def _problem(code: str, reason: str, *, line: int | None = None, path: str = "") -> Problem:
    return Problem(code=code, message=catalogue_message(code), reason=reason, line=line, path=path, hint=hint_for(code))


def _record_element(root: etree._Element, request_id: str) -> etree._Element | None:
    for element in root.iter():
        if (
            isinstance(element.tag, str)
            and element.get("requestID") == request_id
            and element.tag in PRINCIPAL_TAG.values()
        ):
            return element
    return None


# --- files and the command -----------------------------------------------------------------------


def collect(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".xml"))
        else:
            files.append(path)
    return files


def _text_report(verdict: Verdict, out) -> None:
    status = "clean" if verdict.clean else "problems"
    process = f", process {verdict.process}" if verdict.process else ""
    click.echo(f"{verdict.file}: upload {verdict.upload}{process} -- {status}", file=out)
    for p in verdict.problems:
        where = " ".join(x for x in (f"line {p.line}" if p.line else "", p.path) if x)
        who = f" record {p.request_id}" if p.request_id else ""
        click.echo(f"  {p.code}{who} {where}".rstrip(), file=out)
        click.echo(f"    SEVIS: {p.message}", file=out)
        if p.reason and p.reason != p.message:
            click.echo(f"    why:   {p.reason}", file=out)
        click.echo(f"    fix:   {p.hint}", file=out)


def _summary_table(verdicts: list[Verdict], out) -> None:
    width = min(70, max(len("file"), *(len(v.file) for v in verdicts)))
    click.echo("", file=out)
    click.echo(f"{'file':<{width}}  upload  process  problems", file=out)
    for v in verdicts:
        name = v.file if len(v.file) <= width else "..." + v.file[-(width - 3) :]
        click.echo(f"{name:<{width}}  {v.upload:<6}  {v.process or '-':<7}  {len(v.problems)}", file=out)
    clean = sum(v.clean for v in verdicts)
    click.echo(f"{len(verdicts)} files: {clean} clean, {len(verdicts) - clean} with problems", file=out)


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--rules", is_flag=True, help="Also apply the business rules, as processing would.")
@click.option(
    "--state",
    "state_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Records the updates apply to (JSON of GET /control/records or /control/records/<id>); implies --rules.",
)
@click.option(
    "--schemas",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    multiple=True,
    help="Validate with an official XSD release folder instead of the project's own (as serve). Repeatable.",
)
@click.option("--clock", default=None, help="The mock clock's 'now' for the rules (ISO-8601); default the real time.")
@click.option(
    "--environment",
    type=click.Choice(list(ENVIRONMENTS)),
    default="beta",
    show_default=True,
    help="The environment the records of --state live in when they do not say.",
)
@click.option("--orgid", default=None, help="The orgid upload field (default: each document's BatchHeader/OrgID).")
@click.option(
    "--batchid", default=None, help="The batchid upload field (default: each document's BatchHeader/BatchID)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout instead of text.")
def validate_command(paths, rules, state_file, schemas, clock, environment, orgid, batchid, as_json) -> None:
    """The verdict sevis-mock's server would give each batch FILE (or every .xml under DIR).

    Exit status: 0 all clean, 1 problems found, 2 usage error.
    """
    try:
        schema_set = SchemaSet.discover(list(schemas))
        schema_set.compile_all()
    except SchemaFolderError as exc:
        raise click.UsageError(f"--schemas: {exc}")
    try:
        state = State.load(state_file) if state_file else None
    except StateError as exc:
        raise click.UsageError(f"--state: {exc}")
    try:
        now = parse_iso(clock) if clock else None
    except ValueError:
        raise click.UsageError(f"--clock: {clock!r} is not an ISO-8601 date or date-time (e.g. 2027-01-15T09:00:00)")
    files = collect(paths)
    if not files:
        raise click.UsageError(f"no .xml files under {', '.join(map(str, paths))}")
    validator = Validator(
        schema_set,
        rules=rules or state is not None,
        state=state,
        now=now,
        environment=environment,
        orgid=orgid,
        batchid=batchid,
    )
    verdicts = _run(validator, files, show_progress=len(files) > 1 and not as_json)
    if as_json:
        clean = sum(v.clean for v in verdicts)
        click.echo(
            json.dumps(
                {
                    "files": [v.to_dict() for v in verdicts],
                    "summary": {"files": len(verdicts), "clean": clean, "with_problems": len(verdicts) - clean},
                },
                indent=2,
            )
        )
    else:
        for v in verdicts:
            if not v.clean or len(verdicts) == 1:
                _text_report(v, sys.stdout)
        if len(verdicts) > 1:
            _summary_table(verdicts, sys.stdout)
    sys.exit(0 if all(v.clean for v in verdicts) else 1)


def _run(validator: Validator, files: list[Path], *, show_progress: bool) -> list[Verdict]:
    verdicts = []
    with (
        click.progressbar(
            files, label="validating", file=sys.stderr, show_pos=True, item_show_func=lambda p: p.name if p else ""
        )
        if show_progress
        else nullcontext(files) as items
    ):
        for path in items:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise click.UsageError(f"{path}: cannot read ({exc.strerror})")
            verdicts.append(validator.check(data, str(path)))
    return verdicts
