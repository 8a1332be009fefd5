"""`--html FILE`: one self-contained page a college can keep as evidence of its rehearsal.

No external resources: styles inline, the transaction logs as text, each PDF form as a data: link.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from sevis_mock.harness.client import describe_code

from ...hints import hint
from ..model import FAIL, PASS, SKIP, WAIT, Rehearsal, StepResult
from .terminal import summary_lines

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.3em .5em;vertical-align:top;text-align:left}
.pass{color:#05620a;font-weight:bold}.fail{color:#a10000;font-weight:bold}.skip{color:#7a5b00}.wait{color:#00577a;font-weight:bold}
.verdict{padding:.8em 1em;border-radius:4px;font-size:1.15em}.verdict.ok{background:#e5f5e5}.verdict.bad{background:#fbe5e5}
pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
details{margin:.3em 0}summary{cursor:pointer}.muted{color:#666}
#steps td:nth-child(2),#steps td:last-child,#records td:nth-child(5){white-space:nowrap}
"""


def _status(status: str) -> str:
    return f'<span class="{status}">{escape(status.upper())}</span>'


def _step_evidence(step: StepResult, who: str = "College") -> str:
    e = step.evidence
    parts = [
        f"<p><b>{who}:</b> {escape(step.college)}<br><b>Mock verifies:</b> {escape(step.mock)}"
        f"<br><b>Check:</b> <code>{escape(step.check)}</code></p>"
    ]
    if e.notes:
        parts.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in e.notes) + "</ul>")
    if e.ids:
        parts.append(
            "<table><tr><th>identifier</th><th>value</th></tr>"
            + "".join(f"<tr><td>{escape(k)}</td><td><code>{escape(v)}</code></td></tr>" for k, v in e.ids.items())
            + "</table>"
        )
    if e.emails:
        parts.append(
            "<p><b>E-mails received</b></p><table><tr><th>to</th><th>kind</th><th>subject</th><th>user ID</th>"
            "<th>sent</th></tr>"
            + "".join(
                f"<tr><td>{escape(m.to)}</td><td>{escape(m.kind or '')}</td><td>{escape(m.subject)}</td>"
                f"<td>{escape(m.user_id or '')}</td><td>{escape(m.sent_at or '')}</td></tr>"
                for m in e.emails
            )
            + "</table>"
        )
    for upload in e.uploads:
        parts.append(
            f"<p><b>Upload reply</b> for {escape(upload['file'])} (BatchID {escape(upload['batch_id'])}): "
            f"{escape(upload['code'] or '')} {escape(upload['meaning'])}</p><pre>{escape(upload['reply'])}</pre>"
        )
    for excerpt in e.log_excerpts:
        parts.append(f"<pre>{escape(excerpt)}</pre>")
    if e.exchanges:
        parts.append(f"<p class=muted>{len(e.exchanges)} HTTP exchange(s), listed in the transaction log below.</p>")
    return "".join(parts)


def _steps(rehearsal: Rehearsal) -> str:
    who = "Sponsor" if rehearsal.kind == "J" else "College"
    rows = []
    for step in rehearsal.steps:
        rows.append(
            f"<tr id='{escape(step.id)}'><td>{step.number}</td><td><code>{escape(step.id)}</code></td>"
            f"<td>{escape(step.title)}</td><td>{_status(step.status)}</td><td>{escape(step.summary)}"
            f"<details><summary>evidence</summary>{_step_evidence(step, who)}</details></td>"
            f"<td>{step.seconds:.2f} s</td></tr>"
        )
    return (
        "<table id=steps><tr><th>#</th><th>id</th><th>step</th><th>result</th><th>what happened</th><th>time</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _pdf_links(rehearsal: Rehearsal) -> dict[str, str]:
    links = {}
    for batch in rehearsal.batches:
        for name, data in batch.pdfs.items():
            file_name = name if name.endswith(".pdf") else f"{name}.pdf"
            href = "data:application/pdf;base64," + base64.b64encode(data).decode()
            links[file_name] = f'<a download="{escape(file_name)}" href="{href}">{escape(file_name)}</a>'
    return links


def _records(rehearsal: Rehearsal) -> str:
    if not rehearsal.records:
        return "<p>No record results (the batches were not processed).</p>"
    links = _pdf_links(rehearsal)
    rows = []
    for r in rehearsal.records:
        result = _status(PASS) + " applied" if r.ok else _status(FAIL) + " rejected"
        forms = " ".join(links.get(f, escape(f)) for f in r.forms)
        rows.append(
            f"<tr><td><code>{escape(r.request_id)}</code></td><td>{escape(r.batch_file)}<br>"
            f"<span class=muted>BatchID {escape(r.batch_id)}</span></td><td>{escape(r.sevis_id or '')}</td>"
            f"<td>{result}</td><td>{escape(r.code or '')}</td><td>{escape(r.message or '')}</td>"
            f"<td>{escape(r.hint or '')}</td><td>{forms}</td></tr>"
        )
    return (
        "<table id=records><tr><th>requestID</th><th>file</th><th>SEVIS ID</th><th>result</th><th>code</th>"
        "<th>SEVIS's message</th><th>how to fix</th><th>forms</th></tr>" + "".join(rows) + "</table>"
    )


def _batches(rehearsal: Rehearsal) -> str:
    parts = []
    for b in rehearsal.batches:
        origin = (
            "sample batch" if b.sample else ("the sponsor's file" if rehearsal.kind == "J" else "the college's file")
        )
        changes = "".join(f"<li>{escape(c)}</li>" for c in b.changes) or "<li>no changes needed</li>"
        parts.append(
            f"<h3>{escape(b.source)} <span class=muted>({origin})</span></h3>"
            f"<p>Uploaded as BatchID <code>{escape(b.batch_id)}</code> to <code>{escape(b.org_id)}</code> by "
            f"<code>{escape(b.user_id)}</code>: upload {escape(b.upload_code or '-')}, process "
            f"{escape(b.process_code or '-')}, download {escape(b.download_code or '-')}.</p>"
            f"<p>Re-addressed to the test {'program' if rehearsal.kind == 'J' else 'school'}:</p><ul>{changes}</ul>"
        )
        if b.upload_code not in (None, "S0000"):
            parts.append(
                f"<p class=fail>Refused at upload: {escape(b.upload_code)} {escape(describe_code(b.upload_code))}."
                f"</p><p>How to fix: {escape(hint(b.upload_code))}</p>"
            )
        if b.log_xml:
            parts.append(
                f"<details><summary>transaction log (sevis_transaction_log.xml)</summary>"
                f"<pre>{escape(b.log_xml.decode('utf-8', 'replace'))}</pre></details>"
            )
    return "".join(parts) or "<p>No batch was uploaded.</p>"


def _exchanges(rehearsal: Rehearsal) -> str:
    rows = []
    for step in rehearsal.steps:
        for x in step.evidence.exchanges:
            body = ""
            if x.request or x.response or x.error:
                body = (
                    f"<details><summary>bodies</summary><pre>request: {escape(x.request or '-')}\n\n"
                    f"response: {escape(x.response or x.error or '-')}</pre></details>"
                )
            rows.append(
                f"<tr><td><code>{escape(step.id)}</code></td><td>{escape(x.method)}</td>"
                f"<td>{escape(x.url)}{body}</td><td>{x.status if x.status is not None else 'no answer'}</td>"
                f"<td>{x.elapsed_ms} ms</td></tr>"
            )
    if not rows:
        return "<p>No HTTP exchanges.</p>"
    return (
        "<table><tr><th>step</th><th>method</th><th>URL</th><th>status</th><th>time</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _who(rehearsal: Rehearsal) -> str:
    """The table row naming the test school, or the test exchange-visitor program."""
    if rehearsal.kind == "J":
        s = rehearsal.sponsor
        categories = ", ".join(str(c) for c in s.get("categories") or [])
        return (
            f"<tr><th>test program</th><td>{escape(str(s.get('sponsor_name', '')))} "
            f"({escape(str(s.get('program_type', '')))}; categories {escape(categories)})</td></tr>"
        )
    s = rehearsal.school
    return (
        f"<tr><th>test school</th><td>{escape(str(s.get('school_name', '')))} "
        f"({escape(str(s.get('category', '')))})</td></tr>"
    )


def render_html(rehearsal: Rehearsal) -> str:
    counts = rehearsal.counts()
    verdict = "PASSED" if rehearsal.passed else "FAILED"
    lines = "\n".join(summary_lines(rehearsal))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SEVIS batch rehearsal: {verdict}</title>
<style>{STYLE}</style></head><body>
<h1>SEVIS batch rehearsal (sevis-mock)</h1>
<p class="verdict {"ok" if rehearsal.passed else "bad"}" id="verdict">Rehearsal <b>{verdict}</b>:
{counts[PASS]} of {len(rehearsal.steps)} steps passed ({counts[FAIL]} failed, {counts[SKIP]} skipped, {counts[WAIT]} waiting);
{sum(r.ok for r in rehearsal.records)} record(s) applied, {len(rehearsal.rejected)} rejected.</p>
<table>
<tr><th>target</th><td>{escape(rehearsal.target)}</td></tr>
<tr><th>environment</th><td>{escape(rehearsal.environment)}</td></tr>
{_who(rehearsal)}
<tr><th>started</th><td>{escape(rehearsal.started_at)}</td></tr>
<tr><th>finished</th><td>{escape(rehearsal.finished_at or "")} ({rehearsal.seconds:.1f} s)</td></tr>
</table>
{"".join(f"<p class=muted>{escape(n)}</p>" for n in rehearsal.notes)}
<h2>The {len(rehearsal.steps)} steps</h2>{_steps(rehearsal)}
<h2>Records</h2>{_records(rehearsal)}
<h2>Batches</h2>{_batches(rehearsal)}
<h2>Transaction log (HTTP exchanges)</h2>{_exchanges(rehearsal)}
<h2>Summary as printed</h2><pre>{escape(lines)}</pre>
<p class=muted>Made by sevis-mock, an offline stand-in for SEVIS. Not a government record; forms are marked TEST.</p>
</body></html>
"""


def write_html(rehearsal: Rehearsal, path: Path) -> None:
    Path(path).write_text(render_html(rehearsal), encoding="utf-8")
