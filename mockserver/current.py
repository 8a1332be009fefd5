"""The running mock of the request being served (``create_app`` keeps it in the Flask app's extensions)."""

from __future__ import annotations

from typing import Any

from flask import current_app


def mock() -> Any:
    """The ``sevis_mock.server.app.Mock`` of the current app: settings, store, clock, schemas, worker."""
    return current_app.extensions["sevis_mock"]
