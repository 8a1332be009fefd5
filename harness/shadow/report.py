"""`sevis-mock shadow-report DIR`: what a shadow run found, as a terminal summary, JSON and one HTML page.

Differences are grouped by kind and place (a record-result difference by the pair of results, so that every record
a switched-off rule let through falls in one group); each group names the exchanges it was seen in and carries a
minimal document that reproduces it, also written to ``DIR/shadow/repro/`` ready to become a rule fixture.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

RECORD_KINDS = ("record-result", "record-missing")


@dataclass
class Group:
    kind: str
    where: str
    upstream: str
    mock: str
    exchanges: list[int] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    reproduction: str | None = None
    reproduction_file: str | None = None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "where": self.where,
            "upstream": self.upstream,
            "mock": self.mock,
            "count": len(self.exchanges),
            "exchanges": self.exchanges,
            "request_ids": self.request_ids,
            "reproduction_file": self.reproduction_file,
            "reproduction": self.reproduction,
        }


@dataclass
class Report:
    directory: Path
    upstream: str
    exchanges: int
    compared: int
    agreements: int
    not_compared: dict[str, int]
    groups: list[Group]

    @property
    def differences(self) -> int:
        return sum(len(g.exchanges) for g in self.groups)

    def to_dict(self) -> dict:
        return {
            "directory": str(self.directory),
            "upstream": self.upstream,
            "exchanges": self.exchanges,
            "compared": self.compared,
            "agreements": self.agreements,
            "differences": self.differences,
            "not_compared": self.not_compared,
            "groups": [g.to_dict() for g in self.groups],
        }


def build(directory: Path) -> Report:
    directory = Path(directory)
    meta = json.loads((directory / "recording.json").read_text())
    exchanges = len(list((directory / "exchanges").glob("*/exchange.json")))
    groups: dict[tuple, Group] = {}
    compared = agreements = 0
    not_compared: dict[str, int] = {}
    for path in sorted((directory / "shadow").glob("*.json")):
        result = json.loads(path.read_text())
        if not result.get("compared"):
            reason = result.get("reason", "not compared")
            not_compared[reason] = not_compared.get(reason, 0) + 1
            continue
        compared += 1
        agreements += result.get("agreements", 0)
        for d in result.get("differences", []):
            where = d["where"] if d["kind"] not in RECORD_KINDS else f"{d['upstream']} / {d['mock']}"
            key = (d["kind"], where)
            group = groups.setdefault(key, Group(d["kind"], where, d["upstream"], d["mock"]))
            if result["seq"] not in group.exchanges:
                group.exchanges.append(result["seq"])
            if d.get("request_id") and d["request_id"] not in group.request_ids:
                group.request_ids.append(d["request_id"])
            if group.reproduction is None:
                group.reproduction = (result.get("reproductions") or {}).get(d.get("request_id") or "*")
    ordered = sorted(groups.values(), key=lambda g: (g.kind, g.where))
    repro_dir = directory / "shadow" / "repro"
    for n, group in enumerate(ordered, 1):
        if group.reproduction:
            repro_dir.mkdir(parents=True, exist_ok=True)
            target = repro_dir / f"{n:03d}-{group.kind}.xml"
            target.write_text(group.reproduction)
            group.reproduction_file = str(target)
    return Report(directory, meta.get("upstream", ""), exchanges, compared, agreements, not_compared, ordered)


def terminal(report: Report) -> str:
    lines = [
        f"shadow report for {report.directory} (upstream {report.upstream})",
        f"  {report.exchanges} exchanges recorded, {report.compared} compared with the mock: "
        f"{report.agreements} agreements, {report.differences} differences in {len(report.groups)} groups",
    ]
    lines += [f"  not compared ({count}): {reason}" for reason, count in sorted(report.not_compared.items())]
    for group in report.groups:
        lines.append(
            f"  {group.kind:15} {group.where}: SEVIS {group.upstream!s} / mock {group.mock!s} "
            f"(exchanges {', '.join(f'{s:04d}' for s in group.exchanges)})"
        )
        if group.request_ids:
            lines.append(f"      records {', '.join(group.request_ids)}")
        if group.reproduction_file:
            lines.append(f"      reproduce with {group.reproduction_file}")
    if not report.groups:
        lines.append("  the mock answered every compared exchange as SEVIS did")
    return "\n".join(lines)


def html_page(report: Report) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(g.kind)}</td><td><code>{e(g.where)}</code></td><td>{e(g.upstream)}</td><td>{e(g.mock)}</td>"
        f"<td>{len(g.exchanges)}</td><td>{e(', '.join(g.request_ids))}</td><td>"
        + (f"<details><summary>document</summary><pre>{e(g.reproduction)}</pre></details>" if g.reproduction else "")
        + "</td></tr>"
        for g in report.groups
    )
    skipped = "".join(f"<li>{e(reason)}: {count}</li>" for reason, count in sorted(report.not_compared.items()))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sevis-mock shadow report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;
padding:4px 8px;vertical-align:top}}pre{{max-width:60em;overflow:auto;background:#f6f6f6}}</style></head><body>
<h1>Shadow report</h1>
<p>Recording <code>{e(str(report.directory))}</code>, upstream <code>{e(report.upstream)}</code>.</p>
<p><strong>{report.exchanges}</strong> exchanges recorded, <strong>{report.compared}</strong> compared with the mock:
<strong>{report.agreements}</strong> agreements, <strong>{report.differences}</strong> differences in
<strong>{len(report.groups)}</strong> groups.</p>
{f"<p>Not compared:</p><ul>{skipped}</ul>" if skipped else ""}
<table><thead><tr><th>kind</th><th>where</th><th>SEVIS</th><th>mock</th><th>exchanges</th><th>records</th>
<th>minimal document</th></tr></thead><tbody>{rows or '<tr><td colspan="7">no differences</td></tr>'}</tbody></table>
</body></html>
"""
