"""Where RTI lives in each environment (RTI-API.md): beta /sbtsevis, alpha /alphasevis, production /sevis."""

from __future__ import annotations

from ..config import RTI_ROOTS

ENVIRONMENT_OF_ROOT = {root: env for env, root in RTI_ROOTS.items()}


def link_base(host_url: str, environment: str) -> str:
    """The absolute URL of the RTI root of ``environment`` (e-mailed links start with it)."""
    return f"{host_url.rstrip('/')}/{RTI_ROOTS[environment]}"
