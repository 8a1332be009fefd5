"""Generate each release's SEVISTable.xsd from the code tables the project keeps as data.

Inputs, all under ``schemas/tables/``:

- ``base-types.xsd``: hand-written non-enumeration types shared by every release (dates,
  "nullable" unions with the empty string, patterns, money, e-mail) and "shells" -- simple
  types with an empty restriction that a CSV of the same name fills with codes;
- ``<release>/release-types.xsd``: hand-written types that only that release has;
- ``<release>/<TypeName>.csv``: one code table per file, columns ``code,description`` and, for the
  tables where SEVIS says which visa classes a code is valid for, ``visa`` (e.g. ``F-1 M-1``).
  Each becomes ``<xs:simpleType name="TypeName">`` restricting ``xs:string`` (or the shell's
  base) to exactly those codes. Descriptions stay in the CSV; they are not copied into the XSD (the official
  schemas document their codes in their own words, and the project keeps its facts in its own layout).

Output: ``schemas/<release>/SEVISTable.xsd`` (committed; the tests check it is up to date).

Usage::

    python -m schemas.build            # rewrite the generated files
    python -m schemas.build --check    # exit 1 if a generated file is out of date
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from . import FM_RELEASE, J_RELEASE, schema_root

XS_NS = "http://www.w3.org/2001/XMLSchema"
TABLE_NS = "http://www.ice.gov/xmlschema/sevisbatch/Table"


@dataclass(frozen=True)
class Release:
    folder: str  # e.g. "fm-6.55": name of both the tables folder and the output folder
    version: str  # value of the schema's version attribute
    label: str  # words for the header comment


RELEASES = (
    Release(FM_RELEASE, "6.55", "F/M students"),
    Release(J_RELEASE, "6.27", "J exchange visitors"),
)

_BODY = re.compile(r"<xs:schema\b[^>]*>\n(?P<body>.*)</xs:schema>", re.S)


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


HEADERS = (["code", "description"], ["code", "description", "visa"])


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of one code-table CSV as dicts (``code``, ``description`` and ``visa`` when the table has it)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if header not in HEADERS:
            raise ValueError(f"{path}: header must be 'code,description' or 'code,description,visa', found {header}")
        return [dict(zip(header, row + [""] * (len(header) - len(row)))) for row in reader]


def read_table(path: Path) -> list[tuple[str, str]]:
    """Rows ``(code, description)`` of one code-table CSV, in file order."""
    rows = [(row["code"], row["description"]) for row in read_rows(path)]
    codes = [code for code, _ in rows]
    if len(codes) != len(set(codes)):
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        raise ValueError(f"{path}: duplicate codes {dupes}")
    return rows


def _enumeration(code: str, description: str) -> str:
    return f'      <xs:enumeration value="{_escape(code)}"/>'


def _enumeration_type(name: str, base: str, codes: list[tuple[str, str]], source: str) -> str:
    lines = [
        f"  <!-- {source}: {len(codes)} code{'s' if len(codes) != 1 else ''} -->",
        f'  <xs:simpleType name="{name}">',
        f'    <xs:restriction base="{base}">',
    ]
    lines += [_enumeration(code, description) for code, description in codes]
    lines += ["    </xs:restriction>", "  </xs:simpleType>"]
    return "\n".join(lines) + "\n"


def _fragment(path: Path, tables: dict[str, list[tuple[str, str]]], used: set[str], rel_name: str) -> str:
    """Body of a hand-written fragment, with its shells filled from ``tables``."""
    text = path.read_text(encoding="utf-8")
    match = _BODY.search(text)
    if match is None:
        raise ValueError(f"{path}: no <xs:schema> element")
    body = match.group("body")
    tree = etree.fromstring(text.encode("utf-8"))
    for simple in tree.iterfind(f"{{{XS_NS}}}simpleType"):
        name = simple.get("name")
        restriction = simple.find(f"{{{XS_NS}}}restriction")
        if name not in tables or restriction is None or len(restriction):
            continue
        shell = re.compile(
            rf'  <xs:simpleType name="{name}">\n\s*<xs:restriction base="(?P<base>[^"]+)"/>\n'
            r"\s*</xs:simpleType>\n"
        )
        found = shell.search(body)
        if found is None:
            raise ValueError(f"{path}: shell {name} must be written on three lines")
        filled = _enumeration_type(name, found.group("base"), tables[name], f"{rel_name}/{name}.csv")
        body = body[: found.start()] + filled + body[found.end() :]
        used.add(name)
    return body


def render(release: Release, tables_dir: Path | None = None) -> str:
    """The complete text of ``<release>/SEVISTable.xsd``."""
    tables_dir = tables_dir or schema_root() / "tables"
    own = tables_dir / release.folder
    csv_files = sorted(own.glob("*.csv"), key=lambda p: p.name)
    tables = {p.stem: read_table(p) for p in csv_files}
    used: set[str] = set()
    base = _fragment(tables_dir / "base-types.xsd", tables, used, release.folder)
    extra = _fragment(own / "release-types.xsd", tables, used, release.folder)
    code_count = sum(len(codes) for codes in tables.values())

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        "<!--\n",
        "  GENERATED by `python -m schemas.build`. Do not edit; change the sources instead:\n",
        f"    schemas/tables/base-types.xsd, schemas/tables/{release.folder}/release-types.xsd and the\n",
        f"    {len(tables)} code tables schemas/tables/{release.folder}/*.csv ({code_count} codes).\n",
        f"  SEVIS Batch code tables, release {release.version} ({release.label}).\n",
        "-->\n",
        f'<xs:schema xmlns:xs="{XS_NS}"\n',
        f'  xmlns:t="{TABLE_NS}"\n',
        f'  targetNamespace="{TABLE_NS}"\n',
        f'  elementFormDefault="unqualified" attributeFormDefault="unqualified" version="{release.version}">\n',
        "\n  <!-- ======== hand-written: tables/base-types.xsd ======== -->\n",
        base,
        f"\n  <!-- ======== hand-written: tables/{release.folder}/release-types.xsd ======== -->\n",
        extra,
        f"\n  <!-- ======== code tables: tables/{release.folder}/*.csv ======== -->\n",
    ]
    for path in csv_files:
        if path.stem in used:
            continue
        out.append("\n")
        out.append(_enumeration_type(path.stem, "xs:string", tables[path.stem], f"{release.folder}/{path.name}"))
    out.append("</xs:schema>\n")
    return "".join(out)


def output_path(release: Release, root: Path | None = None) -> Path:
    return (root or schema_root()) / release.folder / "SEVISTable.xsd"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.build", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for release in RELEASES:
        text = render(release)
        target = output_path(release)
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            print(f"up to date: {target}")
            continue
        if args.check:
            stale.append(target)
            print(f"OUT OF DATE: {target} (run: python -m schemas.build)", file=sys.stderr)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {target}")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
