"""Hostile strings for every echoed position: all of Unicode, dash runs, '-' at the end, ']]>', control
characters and 10 kB strings (issue: no echoed value can break a reply)."""

from __future__ import annotations

from hypothesis import strategies as st

SAMPLES = [
    "----kynEn47azQ",  # a real J client's dash-padded BatchID (PROTOCOL §3a)
    "-",
    "--",
    "a-",
    "-->",
    "]]>",
    "<!--",
    "&amp;",
    "\r\n",
    "\x00",
    "\x1b[31m",
    "\ufeff",
    "\U0001f600",
    "x" * 10_000,
    "-" * 10_000,
]

HOSTILE = st.one_of(
    st.text(),
    st.text(alphabet="-\n\r\x00\t ]>&<'\"", max_size=40),
    st.from_regex(r"-{2,20}[A-Za-z0-9]{0,12}-*", fullmatch=True),
    st.sampled_from(SAMPLES),
)
