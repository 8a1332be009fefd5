"""sevis-mock's Python API: start an offline SEVIS Batch mock and talk to it.

    import sevis_mock

    with sevis_mock.running(data_dir="build/sevis-mock", processing_delay=0) as mock:
        mock.connection.base_url                   # connection.json, typed (harness.connection.Connection)
        school = mock.org("F/M")                   # org ID, user ID, certificate paths
        with mock.client(school) as client:        # a sevis_mock.harness.client.SevisClient for that school
            upload = client.upload(xml, org_id=school.org_id, user_id=school.user_id)
        mock.process_now(); mock.journal(); mock.reset()   # the control API
        mock.api                                   # the JSON client of RTI, the consoles and the outbox

The mock runs as a managed subprocess (``sevis-mock serve`` on a free port of 127.0.0.1, real mutual TLS)
and is stopped when the ``with`` block ends. The pytest plugin's ``sevis_mock`` fixture is the same object.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._server import MockControlError, MockServer, SevisOrg

__all__ = ["MockControlError", "MockServer", "SevisOrg", "running"]


def __getattr__(name: str) -> Any:
    # the server and harness live under this package too (sevis_mock.server, sevis_mock.harness): importing
    # them, or running `sevis-mock --version`, must not pay for the client side (requests) it does not use
    if name in ("MockControlError", "MockServer", "SevisOrg"):
        from . import _server

        return getattr(_server, name)
    raise AttributeError(f"module 'sevis_mock' has no attribute {name!r}")


@contextlib.contextmanager
def running(
    data_dir: str | Path | None = None,
    *,
    processing_delay: float = 0,
    workers: int = 1,
    fast_passwords: bool = True,
    extra: tuple[str, ...] = (),
    timeout: float = 90,
) -> Iterator[MockServer]:
    """Run ``sevis-mock serve`` for the duration of a ``with`` block and yield the running :class:`MockServer`.

    ``data_dir``: where its certificates, database and ``connection.json`` go (a temporary folder, removed
    afterwards, when None; an existing data dir is reused as ``serve`` would). ``processing_delay``: seconds
    between upload and processing (0 = at once). ``fast_passwords``: cheap RTI password hashing, for throwaway
    servers. ``extra``: more ``sevis-mock serve`` arguments (e.g. ``("--schemas", "official/xsd")``).
    Raises :class:`sevis_mock.harness.launch.ServeDidNotStart` (with the server's log) when it does not start in
    ``timeout`` seconds.
    """
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="sevis-mock-"))
        args = (*(("--fast-passwords",) if fast_passwords and "--fast-passwords" not in extra else ()), *extra)
        from ._server import start_mock

        server = start_mock(
            Path(data_dir), processing_delay=processing_delay, workers=workers, extra=args, timeout=timeout
        )
        stack.callback(server.stop)
        yield server
