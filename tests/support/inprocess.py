"""`sevis-mock serve`'s application in the test process, for tests where sockets and TLS add nothing.

:class:`InProcessServer` answers the same calls as :class:`tests.support.server.RunningServer` (``org``,
``upload``, ``download``, ``wait_processed``, ``control``) through Flask's test client: the client certificate a
TLS front would have verified goes into the WSGI environ where the front puts it (``sevis_mock.peer_cert``), so
identity checks run as they do behind TLS, and every log is checked with the same ``assert_valid_log``. There is
no worker thread: batches due on the mock clock are applied (and their forms drawn) in this thread when a download
asks for them. The suite keeps a sample of the same cases over real sockets (see tests/test_rule_fixtures.py).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from sevis_mock.server.app import create_app
from sevis_mock.server.worker import process_due
from sevis_mock.server.config import Settings
from sevis_mock.server.datadir import DataDir
from tests.support.server import Reply, assert_valid_log

PEER_CERT = "sevis_mock.peer_cert"  # where the TLS front puts the verified client certificate (mockserver/front.py)


def _der(pem_path: str) -> bytes:
    return x509.load_pem_x509_certificate(Path(pem_path).read_bytes()).public_bytes(Encoding.DER)


class InProcessServer:
    def __init__(self, data_dir: Path, *, clock=None) -> None:
        settings = Settings(
            data_dir=data_dir, processing_delay=0, clock=clock, run_worker=False, fast_passwords=True, workers=1
        )
        data = DataDir(settings)
        store = data.prepare()
        self.info = data.connection(data.url(443), store)  # what connection.json would say (no file written)
        store.engine.dispose()
        self.data_dir = settings.data_dir
        self.app = create_app(settings)
        self.mock = self.app.extensions["sevis_mock"]
        self.mock.render_pool = None  # forms drawn in this thread
        self.clock = self.mock.clock
        self._client = self.app.test_client()
        self._certs: dict[str, bytes] = {}

    def org(self, kind: str) -> dict:
        return next(o for o in self.info["organizations"] if o["kind"] == kind)

    def _environ(self, cert_path: str) -> dict:
        if cert_path not in self._certs:
            self._certs[cert_path] = _der(cert_path)
        return {PEER_CERT: self._certs[cert_path], "wsgi.url_scheme": "https"}

    def upload(self, xml: bytes, *, org: dict, batch_id: str, env: str = "sbtsevisbatch") -> Reply:
        fields = {"orgid": org["org_id"], "userid": org["user_id"], "batchid": batch_id}
        r = self._client.post(
            f"/{env}/action/batchUpload",
            data={**fields, "xml": (io.BytesIO(xml), "batch.xml", "text/xml")},
            environ_base=self._environ(org["client_cert"]),
        )
        assert r.status_code == 200, r.get_data(as_text=True)
        return Reply(assert_valid_log(r.data), r.data, r.headers.get("X-Sevis-Mock-Detail", ""), {})

    def download(self, *, org: dict, batch_id: str, env: str = "sbtsevisbatch") -> Reply:
        process_due(self.mock)
        fields = {"orgid": org["org_id"], "userid": org["user_id"], "batchid": batch_id}
        r = self._client.get(
            f"/{env}/action/batchDownload", query_string=fields, environ_base=self._environ(org["client_cert"])
        )
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.headers["Content-Type"].startswith("application/zip"), r.headers
        with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
            log = zf.read("sevis_transaction_log.xml")
            pdfs = {n[:-4]: zf.read(n) for n in zf.namelist() if n.endswith(".pdf")}
        return Reply(assert_valid_log(log), log, r.headers.get("X-Sevis-Mock-Detail", ""), pdfs)

    def wait_processed(self, *, org: dict, batch_id: str, **kw) -> Reply:
        return self.download(org=org, batch_id=batch_id, **kw)  # due batches are applied on the way

    def control(self, method: str, path: str, body=None):
        """A control API call (``path`` relative to /control/), as the seeded school; returns the JSON reply."""
        r = self._client.open(
            f"/control/{path.lstrip('/')}",
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {self.info['control']['token']}"},
            environ_base=self._environ(self.org("F/M")["client_cert"]),
        )
        assert r.status_code < 300, f"{method} {path}: HTTP {r.status_code} {r.get_data(as_text=True)[:500]}"
        return r.get_json()

    def stop(self) -> None:
        self.mock.store.engine.dispose()
