"""Benchmark: batch turnaround (upload -> processed zip downloaded) against its floor, same run.

    python benchmarks/turnaround.py [--records 250 1] [--runs 3] [--workers 2]

For each size N, a batch of N new F/M students, every one with printForm="true", is uploaded to a
`sevis-mock serve` started by the script (processing at once) over mutual TLS with one keep-alive session,
and its download is polled every 5 ms until the zip with the log and the N Forms I-20 arrives.

The floor does the unavoidable work in-process, called directly on the same bytes: lxml parse + schema
validation with the project's XSD, the project's form renderer for each record, and the zip. Runs of mock
and floor are interleaved; medians of ``--runs``. One line per size, then one summary line of ratios
(targets: 250 records <= 1.2, 1 record <= 3).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import time
import zipfile

from common import batch_id, fm_org, load, make_batch, median, running_mock, session, turnaround
from lxml import etree

from sevis_mock.server.validation import SchemaSet

TARGETS = {250: 1.2, 1: 3.0}


def floor(xml: bytes, schema: etree.XMLSchema) -> float:
    """Parse + validate (with ``schema``, compiled once, as the server's are) + render every form + zip, called
    directly."""
    from sevis_mock.server.forms import render_form

    start = time.perf_counter()
    tree = etree.fromstring(xml).getroottree()
    if not schema.validate(tree):
        raise AssertionError(f"the benchmark batch is invalid: {schema.error_log.last_error}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sevis_transaction_log.xml", b"<TransactionLog/>")
        for n, student in enumerate(tree.getroot().iterfind("CreateStudent/Student")):
            sevis_id = f"N{n + 1:010d}"
            pdf = render_form(
                student,
                kind="F/M",
                sevis_id=sevis_id,
                org_id="MCK214F00001000",
                org_name="Benchmark school",
                issue_date=dt.date(2027, 1, 15),
            )
            zf.writestr(f"{sevis_id}.pdf", pdf)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[250, 1])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    schema = SchemaSet.discover([]).schema("SEVISBatchCreateUpdateStudent")
    assert schema is not None
    ratios = {}
    with running_mock(workers=args.workers) as info:
        org = fm_org(info)
        s = session(info, org)
        warm = make_batch(2, batch_id("W"), org["org_id"], salt=999)
        turnaround(s, info, org, warm, etree.fromstring(warm).findtext("BatchHeader/BatchID"))
        floor(warm, schema)
        for records in args.records:
            mock_times, floor_times = [], []
            for run in range(args.runs):
                bid = batch_id("T")
                xml = make_batch(records, bid, org["org_id"], salt=records * 10 + run)
                floor_times.append(floor(xml, schema))
                mock_times.append(turnaround(s, info, org, xml, bid))
            ratio = median(mock_times) / median(floor_times)
            ratios[records] = ratio
            print(
                f"{records} records: mock {median(mock_times) * 1000:.1f} ms, floor {median(floor_times) * 1000:.1f} ms, "
                f"ratio {ratio:.2f} (runs {', '.join(f'{t * 1000:.0f}' for t in mock_times)} ms)",
                flush=True,
            )
    summary = "; ".join(
        f"{n} records {r:.2f}" + (f" (target <= {TARGETS[n]:g})" if n in TARGETS else "") for n, r in ratios.items()
    )
    print(f"turnaround/floor: {summary}; workers {args.workers}, medians of {args.runs}, {load()}")


if __name__ == "__main__":
    main()
