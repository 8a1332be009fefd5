"""An upload wakes a started batch processor by writing to its pipe from the request thread itself
(`ProcessorProcess.wake_now`), and falls back on the supervising thread while there is no pipe to write to."""

from __future__ import annotations

import multiprocessing
import os
import time
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


class _StartingProcess:
    """A processor process that has been started and has yet to say it is ready."""

    pid = 0
    exitcode = None

    def __init__(self) -> None:
        self.alive = True

    def is_alive(self) -> bool:
        return self.alive

    def terminate(self) -> None:
        self.alive = False

    def join(self, timeout: float | None = None) -> None:
        pass


def test_while_the_processor_starts_the_supervising_thread_applies_one_batch_at_a_time_until_it_is_ready(tmp_path):
    # Under load the due batches never run out: a round that went on while any was due kept applying them in the
    # request process long after the processor had started. One batch per round, readiness looked at between two.
    handle = ProcessorProcess(SimpleNamespace(settings=Settings(data_dir=tmp_path, worker_poll_seconds=0.05)))
    wake_reader, wake_writer = multiprocessing.Pipe(duplex=False)
    ready_reader, ready_writer = multiprocessing.Pipe(duplex=False)
    os.set_blocking(wake_writer.fileno(), False)
    handle._forked = (_StartingProcess(), wake_writer, ready_reader)  # type: ignore[assignment]
    rounds: list[int | None] = []

    def round_(looked, woken, limit=None, applied=None):
        rounds.append(limit)
        if applied is not None:
            applied.append(len(rounds))  # a batch is always due
        if len(rounds) == 3:
            ready_writer.send_bytes(b"r")  # the processor has started meanwhile
        return looked

    handle._local.round = round_  # type: ignore[method-assign]
    handle.start()
    try:
        handle.wake.set()  # an upload: the processor is started
        deadline = time.monotonic() + 10
        while not handle.ready and time.monotonic() < deadline:
            time.sleep(0.01)
        assert handle.ready
        time.sleep(0.2)  # a round that still went on would have run meanwhile
        assert rounds == [1, 1, 1]  # one batch each, none once the processor was ready
        handle.wake_now()
        assert wake_reader.poll(5)  # batches are the processor's now
    finally:
        handle.stop()
        handle.join(10)
        for end in (wake_reader, ready_writer):
            end.close()
