"""An upload wakes a started batch processor by writing to its pipe from the request thread itself
(`ProcessorProcess.wake_now`), and falls back on the supervising thread while there is no pipe to write to."""

from __future__ import annotations

import multiprocessing
import os
from types import SimpleNamespace

from sevis_mock.server.config import Settings
from sevis_mock.server.processor import ProcessorProcess


def test_an_upload_writes_the_wake_up_to_a_started_processors_pipe_itself(tmp_path):
    handle = ProcessorProcess(SimpleNamespace(settings=Settings(data_dir=tmp_path)))  # its thread is not started
    handle.wake_now()  # no processor started yet: the supervising thread's to pass on (or to apply the batch itself)
    assert handle.wake.is_set()
    handle.wake.clear()
    reader, writer = multiprocessing.Pipe(duplex=False)
    os.set_blocking(writer.fileno(), False)
    handle._direct_to(writer)  # as the supervising thread does once the processor has started
    try:
        handle.wake_now()
        assert reader.poll(5) and os.read(reader.fileno(), 16) == b"w"
        assert not handle.wake.is_set()  # the supervising thread was not needed
        reader.close()  # the processor is gone
        handle.wake_now()
        assert handle.wake.is_set()  # the supervising thread finds out and starts a new one
    finally:
        handle._direct_to(None)
        writer.close()
