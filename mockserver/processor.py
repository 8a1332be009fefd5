"""The batch processor of a server process, in a process of its own.

Each `sevis-mock serve` worker process answers requests; its batches are applied (records, outcome, forms) by a
processor process it starts: a fresh interpreter ("spawn") running `sevis_mock.server.worker.Worker` on the same
store, at a lower CPU priority (nice 3). Applying a batch costs as much CPU as answering its upload; in the
request process it held that process's GIL, so every upload, poll and RTI page of the process waited behind
it, and under load requests and processing took turns. In a process of its own it runs on whichever core is
free, and when none is, requests come first (the kernel gives a request process about twice its share).
Claims, steps, leases and print jobs are the store's, as between several worker processes or instances, so
nothing else changes: each batch is applied exactly once, a processor killed mid-batch is taken over.

A `serve` worker forks its processor while it still has one thread (gunicorn's ``post_worker_init``), before it
answers anything: the child shares every module the worker has loaded, so it starts in milliseconds, where a fresh
interpreter spends most of a second of CPU importing them. It waits, doing nothing, for the first batch. A process
that already runs threads cannot fork safely: a processor started there (a replacement for one that died, a server
embedded in a test) is spawned as a fresh interpreter instead.

The request process keeps a thread (`ProcessorProcess`) that
- starts the processor when there is something to process (a batch queued, being processed or printed; an upload
  or a clock change wakes it), so a server that is never sent a batch never starts one; until it has started
  (a few milliseconds when forked, about a second when spawned; longer under load), the thread applies due batches
  itself, one at a time, looking between two whether it has started;
- passes wake-ups on through a pipe (once the processor has started, an upload's request thread writes its own
  there, `ProcessorProcess.wake_now`: its batch is claimed at once);
- starts a new processor if it dies (killed, out of memory), at most once per poll interval;
- stops it on a clean stop (SIGTERM: it finishes the batch it is applying, the form helpers and the writes).
The processor dies with its request process (Linux ``PR_SET_PDEATHSIG``; elsewhere it notices within a second).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import multiprocessing.connection
from multiprocessing.connection import Connection
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass

from sqlalchemy import Engine, select

from .clock import MockClock
from .config import Settings
from .forms.pool import RenderPool
from .store import Batch, Store
from .store.cache import RowCache
from .worker import Worker

log = logging.getLogger(__name__)

PROCESSOR_NICENESS = 3  # a request process gets about twice the processor's CPU share when both want a core
STOP_SECONDS = 10.0  # a clean stop waits this long for the processor to finish the batch it is applying
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
FORKED_START_SECONDS = 0.5  # a forked processor says it has started within this, or this process applies batches
# itself meanwhile (it needs milliseconds; a machine under load may take longer)


class ProcessingContext:
    """What the processor needs of a server process: settings, store, row cache, mock clock, form helpers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.db_url)
        self.cache = RowCache(self.store)
        self.clock = MockClock(self.store, self.cache)
        self.render_pool = RenderPool(os.cpu_count() or 1)

    @property
    def render_form(self):
        from .forms import render_form

        return render_form


def run(settings: Settings, reader, ready, parent: int, forked: "Inherited | None" = None) -> None:
    """The processor process: the `Worker` loop, woken by every byte read from ``reader``, until SIGTERM, the
    end of ``reader`` (the request process closed it or died) or the request process ``parent`` is gone. One
    byte on ``ready`` says it has started. ``forked``: this process is a fork of the request process, made ahead
    of need; it leaves behind what it inherited and waits for the first wake-up before it starts."""
    _die_with(parent)
    try:
        os.nice(PROCESSOR_NICENESS)
    except OSError:
        pass
    if forked is not None:
        forked.leave_behind()
    stopping = _StopSignal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the request process stops this one cleanly
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held back while it was forked (`fork_ahead`)
    if forked is not None and not _needed(reader, stopping, parent):
        return
    context = ProcessingContext(settings)
    context.store.defer_to_waiting_writers()  # requests' writes first
    # reportlab and the drawing code, loaded now: a small batch's forms are drawn in this process, and the first
    # would otherwise wait about a tenth of a second for them
    from .forms import ds2019, ds7002, i20  # noqa: F401

    worker = Worker(context, settings.worker_poll_seconds)
    worker.start()
    try:
        ready.send_bytes(b"r")  # the request process stops applying batches itself
        ready.close()
        while not stopping.is_set() and os.getppid() == parent and worker.is_alive():
            try:
                if not stopping.wait(reader, 0.2):
                    continue
                if not os.read(reader.fileno(), 4096):  # every wake-up sent so far: one round answers them all
                    break  # the request process closed its end
            except OSError:
                break
            worker.wake.set()
    finally:
        worker.stop()
        worker.join(timeout=STOP_SECONDS)
        context.render_pool.shutdown()
        context.store.writer.flush()
        context.store.engine.dispose()


@dataclass(frozen=True)
class Inherited:
    """What a processor forked from a request process holds of that process's and must let go: gunicorn's
    listening sockets (else the port stays bound while the processor lives) and the application's database
    connections (SQLAlchemy's rule for a forked child: drop the pool's connections without closing them, which
    would end the parent's); gunicorn's signal handlers, which act on the worker, are reset."""

    sockets: tuple[socket.socket, ...]
    engine: Engine

    def leave_behind(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.engine.dispose(close=False)
        for number in (signal.SIGQUIT, signal.SIGWINCH, signal.SIGUSR1, signal.SIGABRT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(number, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)


class _StopSignal:
    """SIGTERM in the processor process: ``is_set()`` from then on, and a wait on the wake-up pipe (:meth:`wait`)
    returns at once, instead of at the end of its timeout (a clean stop of the server waited for that)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        signal.signal(signal.SIGTERM, self._on_stop)

    def _on_stop(self, signum, frame) -> None:
        self._event.set()
        try:
            os.write(self._write, b"s")
        except OSError:  # the pipe is full: a stop is already noted there
            pass

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, reader: Connection, timeout: float) -> bool:
        """Whether ``reader`` can be read (a wake-up, or its end), waiting up to ``timeout`` s; False on a stop."""
        ready = multiprocessing.connection.wait([reader, self._read], timeout)
        return reader in ready and not self._event.is_set()


def _needed(reader, stopping: _StopSignal, parent: int) -> bool:
    """Wait, doing nothing, until the request process first wakes this processor (True), or stops it, closes its
    end of the pipe or is gone (False)."""
    while not stopping.is_set() and os.getppid() == parent:
        try:
            if stopping.wait(reader, 0.2):
                return True
        except (EOFError, OSError):
            return False
    return False


def can_fork() -> bool:
    """Whether a processor may be forked from this process now: Linux, and no thread but this one (a fork copies
    only the calling thread, and any lock another thread holds stays locked in the child)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def _die_with(parent: int) -> None:
    """Be killed when the request process dies (Linux), and exit now if it already has."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere: the loop notices within 0.2 s
    if os.getppid() != parent:
        os._exit(0)


class ProcessorProcess:
    """The request process's handle on its processor process (the interface of a `Worker` thread: ``wake.set()``,
    ``is_alive()``, ``stop()``, ``join()``). Until the processor process is ready (it takes about a second to
    start), the supervising thread applies due batches itself, as a `Worker` thread would: a request process
    recycled every few requests (``--max-worker-memory``) still gets its batches applied."""

    def __init__(self, mock) -> None:
        self.mock = mock
        self.settings: Settings = mock.settings
        self.wake = threading.Event()  # set by an upload (or a clock change): wakes the supervising thread
        self.stopping = threading.Event()
        self.process: multiprocessing.process.BaseProcess | None = None
        self.ready = False  # the processor process has started its Worker
        self._local = Worker(mock, self.settings.worker_poll_seconds)  # its rounds run in the supervising thread
        self._thread = threading.Thread(target=self._supervise, name="sevis-mock-processor", daemon=True)
        # the started processor's wake-up pipe, which a request thread writes to itself (`wake_now`); the supervising
        # thread sets it and takes it away (under the lock) before it closes the pipe
        self._direct: Connection | None = None
        self._direct_lock = threading.Lock()
        # a processor forked ahead of need, waiting for its first wake-up: (process, wake-up pipe, ready pipe)
        self._forked: tuple[multiprocessing.process.BaseProcess, Connection, Connection] | None = None

    def fork_ahead(self, sockets: tuple[socket.socket, ...]) -> bool:
        """Fork the processor now, to be started with the first batch (call before `start`, while this process
        runs no other thread; ``sockets``: the listening sockets the child must close). False where it cannot be
        forked: the processor is then spawned when needed."""
        if not can_fork():
            return False
        inherited = Inherited(tuple(sockets), self.mock.store.engine)
        # a stop signal arriving while the child has yet to set its own handlers would run gunicorn's, which stop
        # nothing there: the child would then wait out STOP_SECONDS before it is killed. Held back across the fork,
        # it reaches the child once its handlers are set (`run`), and this process at once
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self._forked = self._spawn(multiprocessing.get_context("fork"), inherited)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return True

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        """Whether batches get processed: the supervising thread runs (it processes them itself until the processor
        process is ready)."""
        return self._thread.is_alive()

    def wake_now(self) -> None:
        """An upload's wake-up: written to the started processor's pipe by the calling thread itself. Handed to the
        supervising thread instead, it reached the processor only once that thread got the GIL, behind the request
        threads (up to the interpreter's 5 ms switch interval, and more under load); the supervising thread still
        gets it while the processor is starting, or when the pipe is gone (the processor died)."""
        with self._direct_lock:
            if self._direct is not None and _poke(self._direct):
                return
        self.wake.set()

    def _direct_to(self, writer: Connection | None) -> None:
        with self._direct_lock:
            self._direct = writer

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _supervise(self) -> None:
        context = multiprocessing.get_context("spawn")
        writer: Connection | None = None  # wakes the processor process
        ready: Connection | None = None  # says it has started
        looked = float("-inf")  # when this thread last looked for abandoned batches
        woken = False
        try:
            while not self.stopping.is_set():
                if self.process is None or not self.process.is_alive():
                    if self.process is not None:
                        log.warning(
                            "the batch processor process exited (status %s); starting a new one", self.process.exitcode
                        )
                    if self.process is not None or woken or self._work_waiting():
                        self._direct_to(None)  # request threads no longer write to the pipe closed here
                        for end in (writer, ready):
                            if end is not None:
                                end.close()
                        forked, self._forked = self._forked, None
                        if forked is not None and forked[0].is_alive():
                            self.process, writer, ready = forked
                            _poke(writer)  # it starts
                            self.ready = _started(ready, FORKED_START_SECONDS)
                        else:
                            _stop(forked)
                            self.process, writer, ready = self._spawn(context)
                            self.ready = False
                if self.process is not None and not self.ready and ready is not None:
                    self.ready = _started(ready)
                if self.ready:
                    if self._direct is not writer:
                        self._direct_to(writer)
                    if woken:
                        _poke(writer)
                elif self.process is not None:  # starting: apply what is due here meanwhile, one batch at a time,
                    # looking between two whether it has started: under load the due batches never run out, and a
                    # round that went on while any was due kept applying them here (holding this process's GIL and
                    # its writers' lock, behind which the uploads' commits waited) long after the processor was ready
                    applied: list[int] = []
                    looked = self._local.round(looked, woken, limit=1, applied=applied)
                    if applied:  # another may be due: no wait
                        woken = True
                        continue
                woken = self.wake.wait(self.settings.worker_poll_seconds)
                self.wake.clear()
        except Exception:
            log.exception("the batch processor's supervising thread failed")
            raise
        finally:
            self._stop_process(writer, ready)

    def _spawn(self, context, inherited: Inherited | None = None):
        """A processor process started in ``context`` (a fork: with what it ``inherited``), with its wake-up pipe's
        writing end and its ready pipe's reading end."""
        reader, writer = context.Pipe(duplex=False)
        ready_reader, ready_writer = context.Pipe(duplex=False)
        process = context.Process(
            target=run,
            args=(self.settings, reader, ready_writer, os.getpid(), inherited),
            name="sevis-mock-processor",
            daemon=False,
        )
        process.start()
        reader.close()
        ready_writer.close()
        os.set_blocking(writer.fileno(), False)
        return process, writer, ready_reader

    def _stop_process(self, writer: Connection | None, ready: Connection | None) -> None:
        self._direct_to(None)
        forked, self._forked = self._forked, None
        _stop(forked)
        _stop((self.process, writer, ready) if self.process is not None else None)

    def _work_waiting(self) -> bool:
        """Whether any batch waits to be applied or printed (a read; a batch uploaded to another process counts)."""
        try:
            with self.mock.store.session() as session:
                found = session.scalars(
                    select(Batch.id).where(Batch.state.in_(("queued", "processing", "printing"))).limit(1)
                ).first()
        except Exception:  # the store is briefly unavailable: look again at the next interval
            return False
        return found is not None


def _stop(processor: tuple[multiprocessing.process.BaseProcess, Connection | None, Connection | None] | None) -> None:
    """Stop a processor process (SIGTERM: it finishes the batch it is applying) and close its pipes."""
    if processor is None:
        return
    process, writer, ready = processor
    if process.is_alive():
        process.terminate()
        process.join(STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join(2)
    for end in (writer, ready):
        if end is not None:
            end.close()


def _started(ready: Connection, timeout: float = 0.0) -> bool:
    """Whether the processor process has said it started (not merely ended its side of the pipe), waiting up to
    ``timeout`` seconds for it."""
    try:
        return ready.poll(timeout) and ready.recv_bytes() == b"r"
    except (EOFError, OSError):
        return False


def _poke(writer) -> bool:
    """One byte on the pipe; a full pipe already holds a wake-up the processor has not read. False when the
    processor is gone (the supervising thread starts a new one)."""
    if writer is None:
        return False
    try:
        os.write(writer.fileno(), b"w")
    except BlockingIOError:
        pass
    except OSError:
        return False
    return True
