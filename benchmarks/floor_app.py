"""The floor of the concurrency benchmark: a minimal Flask app under gunicorn with the mock's own TLS set-up (same
certificates, client certificates verified when presented, gthread with 8 threads per worker), which parses the
multipart upload and answers a fixed transaction log. Whatever the mock does beyond this is its own cost.

    python benchmarks/floor_app.py DATA_DIR PORT_FILE WORKERS

DATA_DIR is a mock's data dir (its certs/ are used); the bound port is written to PORT_FILE.
"""

from __future__ import annotations

import ssl
import sys
from pathlib import Path

from flask import Flask, Response, request
from gunicorn.app.base import BaseApplication

LOG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<TransactionLog><BatchDetail><Upload resultCode="S0000"/>'
    b"</BatchDetail></TransactionLog>\n"
)


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/<env>/action/batchUpload")
    def upload(env: str):
        form, files = request.form, request.files
        part = files.get("xml")
        if not (form.get("orgid") and form.get("userid") and form.get("batchid") and part is not None):
            return Response(b"S0001", status=400)
        part.read()
        return Response(LOG, mimetype="text/xml")

    return app


class FloorServer(BaseApplication):
    def __init__(self, data_dir: Path, port_file: Path, workers: int) -> None:
        self.data_dir, self.port_file, self.workers = data_dir, port_file, workers
        super().__init__()

    def load_config(self) -> None:
        certs = self.data_dir / "certs"

        def ssl_context(config, default_factory):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(str(certs / "server.pem"), str(certs / "server.key.pem"))
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(cafile=str(certs / "ca.pem"))
            return ctx

        def when_ready(server):
            self.port_file.write_text(str(server.LISTENERS[0].sock.getsockname()[1]))

        for key, value in {
            "bind": "127.0.0.1:0",
            "workers": self.workers,
            "worker_class": "gthread",
            "threads": 8,
            "certfile": str(certs / "server.pem"),
            "keyfile": str(certs / "server.key.pem"),
            "cert_reqs": ssl.CERT_OPTIONAL,
            "ssl_context": ssl_context,
            "when_ready": when_ready,
            "keepalive": 75,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "warning",
        }.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app()


if __name__ == "__main__":
    sys.argv, args = sys.argv[:1], sys.argv[1:]
    FloorServer(Path(args[0]), Path(args[1]), int(args[2])).run()
