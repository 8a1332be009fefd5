"""`sevis-mock serve`: the Flask app under gunicorn (processes) and sevis_mock.server.front (connections) with TLS; a client certificate is verified when
presented and required by the batch and control endpoints (RTI and SEVP pages need none)."""

from __future__ import annotations

import gc
import logging
import os
import ssl
import sys
from pathlib import Path

from gunicorn.app.base import BaseApplication
from sqlalchemy.exc import DBAPIError

from .config import ENVIRONMENTS, Settings
from .datadir import DataDir
from .instances import DataDirBusy, DataDirLock, Instance, registry_lock
from .storage import storage_trouble
from .store.core import database_url


def describe(info: dict, settings: Settings) -> str:
    if settings.processing_delay is not None:
        latency = f"{settings.processing_delay:g} s after upload"
    else:
        latency = {
            "alpha": "about 5 s after upload",
            "beta": "about 20 minutes after upload",
            "production": "overnight (03:00 on the mock clock)",
        }[settings.profile]
    lines = [
        f"sevis-mock is ready at {info['base_url']}  (profile {settings.profile}: batches are processed {latency})",
        f"  CA certificate (trust it as the server's CA): {info['ca_cert']}",
        "  environments: "
        + ", ".join(f"{name} /{prefix}/action/batchUpload" for name, prefix in info["environments"].items()),
    ]
    for org in info["organizations"]:
        label = "F/M school" if org["kind"] == "F/M" else "J sponsor"
        lines += [
            f"  {label} {org['org_id']} ({org['name']}), batch user {org['user_id']}",
            f"      client certificate {org['client_cert']}",
            f"      client key         {org['client_key']}",
        ]
    fm = next((o for o in info["organizations"] if o["kind"] == "F/M"), None)
    if fm:
        lines += [
            "  try, from the project folder:",
            "      sevis-mock upload fixtures/fm/create-with-dependent.xml --batch-id NEWBATCH000001 --wait 30",
            f"      curl --cacert {info['ca_cert']} --cert {fm['client_cert']} --key {fm['client_key']} \\",
            f"           -F orgid={fm['org_id']} -F userid={fm['user_id']} -F batchid=<BatchID of the file> \\",
            f"           -F xml=@<file> {info['base_url']}/{ENVIRONMENTS['beta'][0]}/action/batchUpload",
        ]
    lines += [
        "  RTI (web, no client certificate needed): " + ", ".join(f"{k} {v}" for k, v in info["rti"].items()),
        f"  SEVP operator console: {info['sevp']['url']}  user {info['sevp']['user']}  password {info['sevp']['password']}",
        f"  Department of State designation console: {info['dos']['url']}  (same operator user and password)",
        f"  e-mail outbox: {info['outbox']}"
        + (" (open to anyone)" if settings.open_outbox else " (SEVP console login or the control token)")
        + (f" (also delivered to SMTP {settings.smtp})" if settings.smtp else ""),
    ] + (
        [
            f"  SEVP approves submitted I-17s, the Department of State designates submitted DS-3036s, after "
            f"{settings.auto_approve:g} s (mock clock)"
        ]
        if settings.auto_approve is not None
        else []
    )
    lines += [
        f"  control API: {info['control']['url']} (token in connection.json)",
        f"  connection details for scripts: {settings.data_dir / 'connection.json'}",
    ]
    return "\n".join(lines)


class MockServer(BaseApplication):
    def __init__(self, settings: Settings, datadir: DataDir) -> None:
        self.settings = settings
        self.datadir = datadir
        super().__init__()

    def load_config(self) -> None:
        s, d = self.settings, self.datadir
        trusted = [str(p) for p in d.trusted_cas()]

        def base_context():
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(str(d.server_cert), str(d.server_key))
            # A presented certificate must chain to a trusted CA and be in date, or the handshake fails;
            # a connection without one is allowed (RTI pages, outbox) and the batch and control
            # endpoints refuse it at the application (HTTP 403 with S0001 / JSON).
            ctx.verify_mode = ssl.CERT_OPTIONAL
            for ca in trusted:
                ctx.load_verify_locations(cafile=ca)
            return ctx

        def ssl_context(config, default_factory):
            from .faults.transport import prepare_context

            # every handshake consults the TLS handshake and certificate faults in force
            only_development_ca = all(Path(ca).resolve() == d.ca_cert.resolve() for ca in trusted)
            return prepare_context(base_context(), base_context, s.db_url, d.certs, revocable=only_development_ca)

        me: dict[str, Instance] = {}

        def when_ready(server):
            port = server.LISTENERS[0].sock.getsockname()[1]
            from .store import Store

            store = Store(s.db_url)
            url = d.url(port)
            me["instance"] = Instance.this_process(url, backend_name(s), s.public_url)
            if d.lock is not None:
                d.lock.announce(url, backend_name(s))
            banner = describe(d.connection(s.public_url or url, store), s)
            if s.public_url:
                banner += f"\n  this instance listens at {url}; clients use {s.public_url}"
            print(banner, flush=True)  # before connection.json says it is ready
            d.write_connection(store, joining=me["instance"])
            store.engine.dispose()
            gc.collect()  # what is loaded now lives until the end: out of the collector's way (see post_worker_init)
            gc.freeze()

        def on_exit(server):  # a clean stop: this instance leaves connection.json's list
            if "instance" in me:
                from .store import Store

                store = Store(s.db_url)
                d.write_connection(store, leaving=me["instance"])
                store.engine.dispose()

        def post_worker_init(worker):
            # what every request shares is loaded now (the application, lookups, compiled code): keep it out of the
            # cyclic garbage collector's full passes, which would otherwise walk all of it each time (a pause of a
            # few hundred milliseconds under load) and again, for seconds, at exit
            gc.collect()
            gc.freeze()
            # the processor is forked now, sharing all of that, while this process runs no other thread
            worker.app.callable.extensions["sevis_mock"].start_worker(listening=tuple(worker.sockets))

        def post_request(worker, req, environ, resp):
            from .recycle import recycle_when_over

            recycle_when_over(worker, s.max_worker_memory_mb)

        def worker_exit(server, worker):  # a clean stop: the processor and the form helpers finish first
            app = getattr(worker.app, "callable", None)
            if app is not None:
                app.extensions["sevis_mock"].stop_worker()
            if app is not None and getattr(worker, "booted", False):
                # everything is saved (the processor, the form helpers and the journal's writer have finished):
                # end the process now; the interpreter's teardown would spend seconds collecting objects nobody
                # needs. A worker that failed to boot keeps its exit status (gunicorn stops on it).
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)

        options = {
            "bind": f"{s.host}:{s.port}" if ":" not in s.host else f"[{s.host}]:{s.port}",
            "workers": s.workers,
            "worker_class": "sevis_mock.server.front.FrontWorker",  # slow clients cost no thread: see front.py
            "threads": 8,
            "certfile": str(d.server_cert),
            "keyfile": str(d.server_key),
            "cert_reqs": ssl.CERT_OPTIONAL,
            "ssl_context": ssl_context,
            "when_ready": when_ready,
            "on_exit": on_exit,
            "post_worker_init": post_worker_init,
            "post_request": post_request,
            "worker_exit": worker_exit,
            "timeout": 120,
            "keepalive": 75,  # outlive a client's polling interval, so polls do not race the idle close
            "graceful_timeout": 10,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "sevis-mock",
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app

        return create_app(self.settings)


class SetupProblem(Exception):
    """The server cannot start as set up; the message (one paragraph) says what to do."""


def check_setup(settings: Settings) -> DataDir:
    """Prepare the data dir and check the port and every certificate file before gunicorn starts, so a set-up
    problem is one paragraph (``sevis-mock serve`` exits 2 with it) instead of a traceback or five retries."""
    from .datadir import IncompatibleDataDir

    data_dir = settings.data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SetupProblem(
            f"cannot write to the data dir {data_dir} ({exc.strerror or exc}). Choose a folder you can write "
            "with --data-dir DIR (or SEVIS_MOCK_DATA_DIR=DIR), or make this one writable."
        ) from None
    _check_database_url(settings)
    lock = DataDirLock(data_dir, exclusive=backend_name(settings) == "sqlite")
    try:
        lock.acquire()  # before anything in the data dir changes under a running server
    except DataDirBusy as exc:
        raise SetupProblem(str(exc)) from None
    datadir = DataDir(settings)
    datadir.lock = lock
    try:
        with registry_lock(data_dir):  # instances starting at once on one data dir make one CA, not two
            datadir.check_version()
            datadir.prepare().engine.dispose()
    except IncompatibleDataDir as exc:
        raise SetupProblem(str(exc)) from None
    except DBAPIError as exc:  # the database cannot be reached or used (PostgreSQL down, a wrong password)
        reason = storage_trouble(exc) or f"the database refused the mock's schema set-up ({exc.orig or exc})"
        raise SetupProblem(f"{datadir.database_name()}: {reason}.") from None
    except (ValueError, TypeError) as exc:  # cryptography's answer to a garbled PEM file
        raise SetupProblem(
            f"the certificate files in {datadir.certs} cannot be read ({exc}). Restore them, or delete "
            f"{datadir.certs} to have a new development CA made (client certificates issued by the old one "
            "then stop working)."
        ) from None
    except PermissionError as exc:
        raise SetupProblem(
            f"cannot read or write {exc.filename} ({exc.strerror}). Make the data dir {data_dir} and everything "
            "in it readable and writable by you, or choose another with --data-dir DIR."
        ) from None
    _check_tls_files(datadir)
    _check_port(settings)
    return datadir


def backend_name(settings: Settings) -> str:
    """The database behind ``settings``: "sqlite" (the embedded default), "postgresql", ..."""
    from sqlalchemy.engine import make_url

    return make_url(database_url(settings.db_url)).get_backend_name()


SUPPORTED_DATABASES = ("sqlite", "postgresql")


def _check_database_url(settings: Settings) -> None:
    """--database names a database the mock can use: SQLite or PostgreSQL, through a driver it ships."""
    if settings.database_url is None:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(database_url(settings.database_url))
    except ArgumentError:
        url = None
    if url is None or url.get_backend_name() not in SUPPORTED_DATABASES:
        raise SetupProblem(
            "--database (SEVIS_MOCK_DATABASE_URL) takes postgresql://USER:PASSWORD@HOST:PORT/DATABASE or "
            "sqlite:////ABSOLUTE/PATH.db; leave it out for the SQLite file in the data dir."
        )
    if url.get_backend_name() == "postgresql" and url.get_driver_name() not in ("psycopg", "psycopg_async"):
        raise SetupProblem(
            f"--database names the {url.get_driver_name()} driver; the mock ships psycopg 3: write "
            "postgresql://... (or postgresql+psycopg://...)."
        )


def _check_tls_files(datadir: DataDir) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(str(datadir.server_cert), str(datadir.server_key))
    except (ssl.SSLError, OSError) as exc:
        raise SetupProblem(
            f"the server certificate {datadir.server_cert} or its key {datadir.server_key} cannot be used "
            f"({exc}). Delete both and start again: the mock issues a new pair from its CA."
        ) from None
    for path in datadir.trusted_cas():
        try:
            ctx.load_verify_locations(cafile=str(path))
        except (ssl.SSLError, OSError) as exc:
            raise SetupProblem(
                f"the CA certificate {path} cannot be used ({exc}). --trust takes a CA certificate in PEM "
                "(-----BEGIN CERTIFICATE-----); convert a DER file with `openssl x509 -inform der -in FILE -out "
                "FILE.pem`."
            ) from None


def _check_port(settings: Settings) -> None:
    import errno
    import socket

    if settings.port == 0:
        return
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            sock.bind((settings.host, settings.port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            advice = (
                f"port {settings.port} on {settings.host} is in use (another sevis-mock serve?). Pass --port 0 "
                "to pick a free port (connection.json and the banner say which), choose another with --port N, "
                "or stop the other server."
            )
        elif exc.errno == errno.EACCES:
            advice = (
                f"you may not listen on port {settings.port} (ports below 1024 need privileges). Pass --port 0 to "
                "pick a free port, or a port above 1023."
            )
        else:
            advice = (
                f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}). Check --host (an "
                "address of this machine, e.g. 127.0.0.1 or 0.0.0.0) or pass --port 0."
            )
        raise SetupProblem(advice) from None


def serve(settings: Settings, datadir: DataDir | None = None) -> None:
    if datadir is None:
        datadir = DataDir(settings)
        datadir.prepare().engine.dispose()
    sys.argv = sys.argv[:1]  # gunicorn must not read our flags
    # the application's code, loaded once here: the workers forked from this process share it (their own imports
    # would cost each of them about a quarter of a second of CPU, again for each worker restarted)
    from . import app  # noqa: F401

    MockServer(settings, datadir).run()
