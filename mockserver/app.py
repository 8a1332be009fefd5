"""The Flask application: ``create_app`` and the ``Mock`` every request of one server process shares."""

from __future__ import annotations

import logging
import re
import socket
import threading
from typing import Callable

from flask import Flask, Response, g, jsonify, render_template, request

from .config import Settings
from .store.cache import GENERATION_KEY
from .store.cache import changed as cache_changed
from .store import Setting
from .validation import SchemaSet

from .processor import STOP_SECONDS, ProcessingContext, ProcessorProcess

# the features, loaded with this module (not when an application is made): `serve`'s main process imports it before it
# forks its workers, which then share the loaded code instead of each importing it (a quarter of a second apiece)
from .batch.journal import record_request
from .batch.multipart import BatchRequest
from .batch.views import bp as batch_bp
from .batch.views import flag_replay, storage_refusal
from .bodies import GuardBody, MalformedBody
from .control import agency, faults, journal, orgs, reset, seed  # noqa: F401  (their routes join the blueprint)
from .control import bp as control_bp
from .control.records import bp as records_bp
from .dos import bp as dos_bp
from .faults.web import after_request as break_reply
from .faults.web import before_request as fault_before_request
from .health import bp as health_bp
from .keys import operator_credentials, session_secret
from .outbox import bp as outbox_bp
from .rti import api, ev, pages  # noqa: F401  (their routes join the RTI blueprint)
from .rti.blueprint import bp as rti_bp
from .rti.errors import RtiError
from .rti.web import csrf_token
from .sevp import bp as sevp_bp
from .storage import RETRY_AFTER_SECONDS, STORAGE_ERRORS, report, storage_trouble

__all__ = ["create_app", "Mock", "Settings"]


class Mock(ProcessingContext):
    """Everything one server process shares: what processing needs (settings, store, row cache, mock clock, form
    helpers: `ProcessingContext`), and schemas, the control token, the replay index, its batch processor."""

    def __init__(self, settings: Settings) -> None:
        from .datadir import secure_data_dir

        secure_data_dir(settings)  # before the store opens: the database is created 0600
        # the form helpers (one per core, at a lower priority than requests) draw the forms of the batches this
        # process applies itself: until its processor process has started, and on POST /control/process-now
        super().__init__(settings)
        self.store.create_all()
        with self.store.write() as s:  # a generation to compare with from the first request on
            if s.get(Setting, GENERATION_KEY) is None:
                cache_changed(s)
        self.schemas = SchemaSet.discover(settings.schemas)
        self.schemas.compile_all()
        self._worker: ProcessorProcess | None = None
        self._lock = threading.Lock()
        token_file = settings.data_dir / "control-token"
        self.control_token = token_file.read_text().strip() if token_file.exists() else ""
        self.replay = None
        if settings.replay is not None:
            from .recordings import ReplayIndex

            self.replay = ReplayIndex.load(settings.replay)

    def start_worker(self, listening: tuple[socket.socket, ...] | None = None) -> None:
        """Start this server process's batch processor: a process of its own (sevis_mock.server.processor).
        ``listening``: this is a `serve` worker that has not started a thread yet and listens on these sockets; its
        processor is forked now, to start with the first batch, instead of spawned then."""
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = ProcessorProcess(self)
                if listening is not None:
                    self._worker.fork_ahead(listening)
                self._worker.start()

    def worker_alive(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def worker_state(self) -> str:
        """What /readyz says of a running processor: its process, or that none was needed yet."""
        worker = self._worker
        process = worker.process if worker is not None else None
        if worker is None or process is None:
            return "running (its process starts with the first batch)"
        if not worker.ready:
            return f"running (process {process.pid} starting; this server process applies batches meanwhile)"
        return f"running (process {process.pid})"

    def stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker.join(timeout=STOP_SECONDS + 5)  # it finishes the batch it is applying
            self._worker = None
        self.render_pool.shutdown()
        self.store.writer.flush()  # a clean stop loses no journal entry

    def wake_worker(self) -> None:
        # the processor starts its form helpers with the first batch whose forms it hands them (one of more than
        # worker.INLINE_RECORDS records): a server sent only small batches (most test servers, a CLI) never pays for them
        if self._worker is not None:
            self._worker.wake_now()


def create_app(settings: Settings | None = None, *, mock: Mock | None = None) -> Flask:
    settings = settings or (mock.settings if mock else Settings.from_env())
    mock = mock or Mock(settings)

    app = Flask(__name__)
    app.request_class = (
        BatchRequest  # notes closing delimiters between multipart parts (sevis_mock.server.batch.multipart)
    )
    # A document over max_body_bytes gets S0012 (the body is read and discarded so the client sees the
    # reply); a body beyond four times that is cut off with HTTP 413 instead of being read at all.
    app.config["MAX_CONTENT_LENGTH"] = 4 * settings.max_body_bytes
    app.extensions["sevis_mock"] = mock
    app.before_request(mock.cache.refresh)  # one read of the generation per request (sevis_mock.server.store.cache)

    app.register_blueprint(health_bp)
    app.register_blueprint(batch_bp)
    app.register_blueprint(control_bp)
    app.register_blueprint(records_bp)
    _register_rti(app, mock)  # RTI pages and API, the SEVP and DoS consoles, the e-mail outbox
    app.before_request(fault_before_request)  # faults and outages on demand (control API /control/faults)
    # after each batch request, in this order: a fault breaks the real answer, `serve --replay` marks a reply the
    # recording did not hold, and the request journal records the reply as the client gets it
    app.after_request(_batch_only(break_reply, flag_replay, record_request))
    app.wsgi_app = GuardBody(app.wsgi_app)  # type: ignore[method-assign]  # Flask's middleware idiom; an unreadable body (bad chunking) is HTTP 400, not 500
    app.register_error_handler(MalformedBody, _malformed_body)
    for error in STORAGE_ERRORS:
        app.register_error_handler(error, _storage_trouble)
    logging.getLogger("sevis_mock.server").setLevel(logging.INFO)
    return app


def _register_rti(app: Flask, mock: Mock) -> None:
    """Attach the RTI, SEVP, DoS and outbox blueprints to ``app`` and give it its session key and cookie rules."""
    app.secret_key = session_secret(mock.settings.data_dir)
    operator_credentials(mock.settings.data_dir)  # created at first start, before anyone asks
    app.config.update(
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="sevis_mock_session",
    )
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_error_handler(404, _json_for_api)
    app.register_error_handler(405, _json_for_api)
    app.register_blueprint(rti_bp)
    app.register_blueprint(sevp_bp)
    app.register_blueprint(dos_bp)
    app.register_blueprint(outbox_bp)


def _json_for_api(err):
    """Unknown URLs and methods under the control API, the health checks and the RTI / SEVP / outbox JSON
    APIs answer JSON; other paths keep Flask's default answer."""
    if re.match(r"^/control(/|$)|^/(healthz|readyz)$", request.path):
        return jsonify({"error": f"{request.method} {request.path}: {err.description}"}), err.code
    if re.match(r"^/(sbtsevis|alphasevis|sevis)/api/|^/sevp/api/|^/dos/api/|^/outbox/api/", request.path):
        return jsonify(
            {
                "error": f"{request.method} {request.path}: {err.description} "
                "(the endpoints are listed in mockserver/rti/API.md)"
            }
        ), err.code
    return err


def _batch_only(*hooks: Callable[[Response], Response]) -> Callable[[Response], Response]:
    """One after-request hook that runs ``hooks`` in turn on the replies of the batch endpoints only."""

    def after_batch_request(response: Response) -> Response:
        if request.blueprint == "batch":
            for hook in hooks:
                response = hook(response)
        return response

    return after_batch_request


def _malformed_body(err):
    if request.path.startswith(("/control/", "/sevp/api/", "/outbox/api/")) or "/api/" in request.path:
        return jsonify({"error": err.description}), 400
    return Response(err.description + "\n", status=400, mimetype="text/plain")


def _storage_trouble(exc):
    """A write the store could not make: the answer says why (see mockserver/storage.py); anything else
    that reaches here is re-raised, to be logged and answered 500 as before."""
    reason = storage_trouble(exc)
    if reason is None:
        raise exc
    report(reason, f"{request.method} {request.path}")
    g.pop("journaled", None)  # the upload's journal entry went down with its transaction: try again after
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.blueprint == "batch":
        return storage_refusal(reason)
    message = f"sevis-mock could not store this request: {reason}; nothing was changed, try again later"
    if request.blueprint in ("rti", "sevp") and "/api/" not in request.path:
        page = render_template("error.html", error=RtiError(503, message), console=request.blueprint == "sevp")
        return page, 503, retry
    return jsonify({"error": message}), 503, retry
