"""`serve --auto-approve SECONDS` (mock clock) and `serve --smtp HOST:PORT` (real delivery)."""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes

import pytest

from tests.test_rti import PASSWORD, api, mail_of, outbox, set_password, sevp, submitted_petition


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to receive messages: EHLO/HELO, MAIL, RCPT, DATA, QUIT."""

    def handle(self):
        self.wfile.write(b"220 test-smtp ready\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 test-smtp\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.server.received.append(message_from_bytes(data))
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture(scope="module")
def approving(tmp_path_factory):
    """One server for the tests of `--auto-approve 0` and of the 45-day rule (it runs last: it moves the clock)."""
    from tests.support.server import start_server

    server = start_server(
        tmp_path_factory.mktemp("auto-approve-0"),
        "--workers",
        "1",
        "--auto-approve",
        "0",
        "--processing-delay",
        "0",
        "--fast-passwords",
    )
    yield server
    server.stop(wait=False)


@pytest.fixture
def smtp_server():
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    srv.daemon_threads = True
    srv.received = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_smtp_delivers_every_email_and_the_outbox_says_so(server_factory, smtp_server):
    port = smtp_server.server_address[1]
    server = server_factory("--workers", "1", "--fast-passwords", "--smtp", f"127.0.0.1:{port}")
    email, temp, _, _ = submitted_petition(server)
    delivered = [m for m in smtp_server.received if m["To"] == email]
    assert [m["X-Sevis-Mock-Kind"] for m in delivered] == ["temporary-user-id", "set-password"]
    assert temp in delivered[0].get_payload()
    assert {m["smtp"] for m in outbox(server, email)} == {"delivered"}


def test_unreachable_smtp_is_recorded_not_fatal(server_factory):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = server_factory("--workers", "1", "--fast-passwords", "--smtp", f"127.0.0.1:{port}")
    r = api(
        server,
        "POST",
        "accounts",
        json={"first_name": "A", "last_name": "B", "email": "b@example.edu", "phone": "1", "purpose": "certification"},
    )
    assert r.status_code == 201
    assert all(m["smtp"].startswith("failed: ") for m in outbox(server, "b@example.edu"))


@pytest.mark.server
def test_bad_smtp_option_is_a_usage_error(tmp_path):
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "sevis_mock.server", "serve", "--data-dir", str(tmp_path), "--smtp", "nohostport"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "HOST:PORT" in r.stderr


def test_auto_approve_waits_for_mock_clock_seconds(server_factory):
    server = server_factory("--workers", "1", "--auto-approve", "3600", "--fast-passwords")
    email, temp, pid, _ = submitted_petition(server)
    token = api(server, "POST", "login", json={"user_id": temp, "password": "Rehearse#2027"}).json()["token"]
    assert api(server, "GET", f"petitions/{pid}", token).json()["state"] == "submitted"
    fm = server.org("F/M")
    control = server.info["control"]
    with server.session((fm["client_cert"], fm["client_key"])) as s:
        r = s.post(
            f"{control['url']}/clock",
            json={"advance_seconds": 3601},
            headers={"Authorization": f"Bearer {control['token']}"},
            timeout=30,
        )
        assert r.status_code == 200
    approved = mail_of(server, email, "approved")  # any RTI / SEVP / outbox request runs the sweep
    petition = api(server, "GET", f"petitions/{pid}", token).json()
    assert petition["state"] == "approved" and petition["school_code"] in approved["body"]
    assert sevp(server, "POST", f"petitions/{pid}/approve").status_code == 409


def test_auto_approve_zero_approves_at_once(approving):
    server = approving
    email, _, pid, _ = submitted_petition(server)
    assert mail_of(server, email, "approved")["subject"].endswith("is approved")


def test_auto_approve_zero_designates_a_submitted_ds3036_at_once(approving):
    from tests.test_rti_designation import dos, submitted_designation

    server = approving
    email, _, did, _ = submitted_designation(server)
    designated = mail_of(server, email, "designated")
    decision = dos(server, "GET", f"designations/{did}").json()
    assert decision["state"] == "designated" and decision["program_number"] in designated["body"]
    assert decision["designation"]["categories"] == ["08", "2A"]  # every category applied for [i]


def test_an_rti_login_reactivates_a_batch_user_after_45_days(approving):
    from sevis_mock.fixtures import read_fixture
    from tests.support.server import new_batch_id, with_batch_id
    from tests.test_rti import login

    server = approving  # the module's last user of it: the clock moves 46 days
    fm = server.org("F/M")
    email = sevp(server, "POST", f"accounts/{fm['user_id']}/password-link").json()["email"]
    assert set_password(server, email, fm["user_id"]).status_code == 200
    control = server.info["control"]
    with server.session((fm["client_cert"], fm["client_key"])) as s:
        r = s.post(
            f"{control['url']}/clock",
            json={"advance_seconds": 46 * 86400},
            headers={"Authorization": f"Bearer {control['token']}"},
            timeout=30,
        )
        assert r.status_code == 200
    doc = read_fixture("fm/create-three-students.xml")
    batch_id = new_batch_id("I")
    refused = server.upload(with_batch_id(doc, batch_id), org=fm, batch_id=batch_id)
    assert refused.upload_code == "S0003" and "45 days" in refused.detail
    assert login(server, fm["user_id"]).status_code == 200
    batch_id = new_batch_id("I")
    assert server.upload(with_batch_id(doc, batch_id), org=fm, batch_id=batch_id).upload_code == "S0000"


@pytest.mark.parametrize("flag, method", [((), "scrypt:"), (("--fast-passwords",), "pbkdf2:sha256:1000$")])
def test_passwords_are_stored_salted_and_fast_passwords_only_cheapens_the_hash(server_factory, flag, method):
    """By default RTI stores scrypt hashes; `--fast-passwords` (throwaway CI servers) stores PBKDF2 with
    1,000 rounds. Either way the password itself is never stored, and logins check it."""
    import sqlite3

    from tests.test_rti import login

    server = server_factory("--workers", "1", *flag)
    fm = server.org("F/M")
    email = sevp(server, "POST", f"accounts/{fm['user_id']}/password-link").json()["email"]
    assert set_password(server, email, fm["user_id"]).status_code == 200
    with sqlite3.connect(server.data_dir / "sevis-mock.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM rti_accounts WHERE user_id = ?", (fm["user_id"],)).fetchone()
    assert stored.startswith(method) and PASSWORD not in stored
    assert login(server, fm["user_id"]).status_code == 200
    assert login(server, fm["user_id"], password=PASSWORD + "x").status_code == 401
