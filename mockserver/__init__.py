"""sevis-mock: an offline stand-in for SEVIS Batch.

Kept import-light so that ``sevis-mock --help`` starts at once: ``create_app``, ``Mock`` and ``Settings`` are
loaded on first use (``from sevis_mock.server import create_app``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = ["create_app", "Mock", "Settings", "__version__"]

if TYPE_CHECKING:
    from .app import Mock, create_app
    from .config import Settings


def __getattr__(name: str):
    if name in ("create_app", "Mock"):
        from . import app

        return getattr(app, name)
    if name == "Settings":
        from .config import Settings

        return Settings
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
