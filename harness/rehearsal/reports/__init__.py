"""Rehearsal reports: live terminal lines, JSON, JUnit XML (for CI systems) and a self-contained HTML page."""

from .html import write_html
from .json_report import write_json
from .junit import write_junit
from .terminal import Terminal

__all__ = ["Terminal", "write_html", "write_json", "write_junit"]
