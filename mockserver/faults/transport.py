"""Faults below HTTP: a connection reset, a body cut off mid-stream, a failed TLS handshake.

Kept small and apart from the rest so that the serving stack can change under it. What it needs:

* from the front that holds the connections (``sevis_mock.server.front``): after the application answered, when
  ``environ[DROP]`` is set, it calls :func:`drop_connection` instead of sending the answer;
* an ``SSLContext`` whose handshakes call :func:`prepare_context`'s SNI callback (OpenSSL calls it for every
  ClientHello, with or without SNI): it refuses the handshake (``handshake_failure``) for a TLS handshake
  fault, or swaps in a context holding a CRL from the development CA that revokes the certificates a
  certificate fault covers. asyncio's TLS transport closes a failed handshake without sending OpenSSL's
  alert, so under ``sevis_mock.server.front`` a client sees the connection end mid-handshake.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import struct
import threading
from datetime import timedelta
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

DROP = "sevis_mock.fault.drop"  # environ key: "reset" or "cut_body"
X509_V_ERR_CERT_REVOKED = 23
FLUSH_SECONDS = 2.0


def reset_after_answer(environ: dict) -> None:
    environ[DROP] = "reset"


def cut_body_after_headers(environ: dict) -> None:
    environ[DROP] = "cut_body"


async def drop_connection(
    how: str, conn, writer: asyncio.StreamWriter, request, status: int | tuple[int, bytes], headers, chunks
) -> None:
    """Instead of the answer: a TCP RST (``reset``), or the head and half the body, then the connection
    closes (``cut_body``). ``conn`` is the connection's h11 state, ``writer`` its asyncio stream; ``status`` is the
    code, or the code and reason as the front's application call gives them."""
    import h11

    if isinstance(status, tuple):
        status = status[0]
    if how == "cut_body":
        body = b"".join(chunks)
        headers = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"transfer-encoding")]
        head = conn.send(
            h11.Response(status_code=status, headers=[*headers, (b"Content-Length", str(len(body)).encode())])
        )
        writer.write(head + conn.send(h11.Data(data=body[: max(1, len(body) // 2)])))
        await writer.drain()
        await _flushed(writer)
    else:
        raw = writer.get_extra_info("socket")
        if raw is not None:
            try:  # SO_LINGER 0: the close is a RST
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
    writer.transport.abort()


async def _flushed(writer: asyncio.StreamWriter) -> None:
    """Wait (a little) until what was written has left the process, so that closing does not discard it."""
    transport = writer.transport
    for _ in range(int(FLUSH_SECONDS / 0.01)):
        inner = getattr(transport, "_ssl_protocol", None)
        pending = transport.get_write_buffer_size()
        if inner is not None and getattr(inner, "_transport", None) is not None:
            pending += inner._transport.get_write_buffer_size()
        if not pending:
            return
        await asyncio.sleep(0.01)


# --- TLS handshakes -----------------------------------------------------------------------------------

_stores: dict = {}


def _store(db_url: str):
    from ..store import Store

    if db_url not in _stores:
        _stores[db_url] = Store(db_url)
    return _stores[db_url]


class _Counting:
    """Counts a handshake refused by a certificate fault's CRL as that fault's hit (the socket or memory-BIO
    object of every handshake, whichever the front uses)."""

    context: ssl.SSLContext  # the SSLSocket's or SSLObject's, which this mixin comes before

    def do_handshake(self, *args, **kwargs):
        try:
            return super().do_handshake(*args, **kwargs)  # type: ignore[misc]  # SSLSocket's or SSLObject's
        except ssl.SSLCertVerificationError as exc:
            # set on the checking context by _checking (the plain context has neither)
            faults = getattr(self.context, "sevis_certificate_faults", None)
            db_url = getattr(self.context, "sevis_db_url", None)
            if faults and db_url and exc.verify_code == X509_V_ERR_CERT_REVOKED:
                _in_background(_count, db_url, faults, "client certificate refused (revoked)")
            raise


class _FaultSSLObject(_Counting, ssl.SSLObject):
    pass


class _FaultSSLSocket(_Counting, ssl.SSLSocket):
    pass


def prepare_context(
    ctx: ssl.SSLContext, make_context: Callable[[], ssl.SSLContext], db_url: str, ca_dir: Path, *, revocable: bool
) -> ssl.SSLContext:
    """``ctx`` with the SNI callback that applies the handshake faults in force at each handshake.

    ``revocable``: every trusted CA is the development CA, whose CRLs the mock can sign. Then client
    certificates are checked against a CRL (empty until a certificate fault lists some): OpenSSL takes the
    verify flags from the context a connection starts with, and the CRL from the one the callback swaps in.
    With another CA trusted (``--trust``) that check would refuse its certificates (no CRL), so certificate
    faults can only answer S0002 (``"refuse": "S0002"``)."""
    ctx.sslobject_class = _FaultSSLObject
    ctx.sslsocket_class = _FaultSSLSocket
    handshakes = _HandshakeFaults(make_context, db_url, ca_dir, revocable)
    if revocable:
        _check_crls(ctx, handshakes.empty_crl())
    ctx.sni_callback = handshakes
    return ctx


def _check_crls(ctx: ssl.SSLContext, crl: str) -> None:
    ctx.load_verify_locations(cafile=str(_crl_file(crl)))  # OpenSSL reads CRLs from files only
    ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF


class _HandshakeFaults:
    def __init__(self, make_context, db_url: str, ca_dir: Path, revocable: bool) -> None:
        self.make_context, self.db_url, self.ca_dir, self.revocable = make_context, db_url, ca_dir, revocable
        self.contexts: dict = {}  # CRL text -> a context that checks it

    def empty_crl(self) -> str:
        from ..tls import CertificateAuthority

        return _sign_crl(CertificateAuthority.load_or_create(self.ca_dir), set())

    def __call__(self, sslobj, server_name, context):
        try:
            return self._check(sslobj)
        except Exception:  # a broken fault store must not cost every connection its handshake
            log.exception("handshake faults could not be read; the handshake goes on")
            return None

    def _check(self, sslobj):
        from ..clock import MockClock
        from .model import RequestFacts, candidates, checked, claim

        store = _store(self.db_url)
        now = MockClock(store).now()
        with store.session() as s:
            rules = [(f.id, f.hits, checked(f)) for f in candidates(s, ("connection", "certificate"))]
        live = [(fid, rule) for fid, hits, rule in rules if rule.live(hits, now) and rule.in_window(now)]
        if any(rule.handshake_fault for _, rule in live):
            facts = RequestFacts("handshake", now)
            acted = claim(store, facts, lambda rule: rule.handshake_fault)
            if acted:
                detail = "TLS handshake refused (handshake_failure alert)"
                _in_background(_journal, store, facts.now, [c.id for c in acted], detail)
                return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
        certificate_faults = [
            (fid, rule)
            for fid, rule in live
            if rule.kind == "certificate" and rule.respond.get("refuse") == "handshake"
        ]
        if certificate_faults and self.revocable:
            crl = _revocation_list(store, [rule for _, rule in certificate_faults], self.ca_dir)
            if crl is not None:
                sslobj.context = self._checking(crl, [fid for fid, _ in certificate_faults])
        return None

    def _checking(self, crl: str, fault_ids: list[int]) -> ssl.SSLContext:
        key = (crl, tuple(fault_ids))
        if key not in self.contexts:
            ctx = self.make_context()
            _check_crls(ctx, crl)
            ctx.sevis_certificate_faults = fault_ids
            ctx.sevis_db_url = self.db_url
            self.contexts = {key: ctx}  # only the latest: the faults in force change rarely
        return self.contexts[key]


def _in_background(func, *args) -> None:
    """Database writes stay off the thread that runs every connection's handshake."""
    threading.Thread(target=func, args=args, daemon=True, name="sevis-mock-fault-count").start()


def _count(db_url: str, fault_ids: list[int], detail: str) -> None:
    from sqlalchemy import select

    from ..clock import MockClock
    from .model import Fault

    try:
        store = _store(db_url)
        now = MockClock(store).now()
        with store.write() as s:
            for fault in s.scalars(select(Fault).where(Fault.id.in_(fault_ids))):
                fault.hits += 1
                fault.seen += 1
                fault.last_hit_at = now
        _journal(store, now, fault_ids, detail)
    except Exception:
        log.exception("could not count a handshake fault")


def _journal(store, now, fault_ids: list[int], detail: str) -> None:
    from ..batch.journal import record_connection

    try:
        record_connection(store, now, fault_ids, detail)
    except Exception:
        log.exception("could not journal a refused handshake")


_crl_files: dict = {}


def _crl_file(crl: str) -> Path:
    """The CRL in a private temporary file (one per distinct list, per process)."""
    import atexit
    import hashlib
    import os
    import tempfile

    key = hashlib.sha256(crl.encode()).hexdigest()[:16]
    if key not in _crl_files:
        fd, name = tempfile.mkstemp(prefix="sevis-mock-crl-", suffix=".pem")
        with os.fdopen(fd, "w") as f:
            f.write(crl)
        _crl_files[key] = Path(name)
        atexit.register(_crl_files[key].unlink, missing_ok=True)
    return _crl_files[key]


def _revocation_list(store, rules, ca_dir: Path) -> str | None:
    """A CRL from the development CA listing every registered certificate a certificate fault covers."""
    from sqlalchemy import select

    from ..store import Certificate
    from ..tls import CertificateAuthority, load_certificate

    ca = CertificateAuthority.load_or_create(ca_dir)
    serials = set()
    with store.session() as s:
        for row in s.scalars(select(Certificate)):
            if not any(
                (rule.match.org in (None, row.org_id)) and (rule.match.user in (None, row.user_id)) for rule in rules
            ):
                continue
            cert = load_certificate(row.pem.encode())
            if cert.issuer == ca.cert.subject:
                serials.add(cert.serial_number)
    if not serials:
        return None
    key = frozenset(serials)
    if key not in _crls:
        _crls[key] = _sign_crl(ca, serials)
    return _crls[key]


_crls: dict = {}


def _sign_crl(ca, serials) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    from ..clock import real_now

    issued = real_now() - timedelta(minutes=5)  # TLS checks a CRL's dates against real time
    builder = x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
    # valid as long as the CA: a worker keeps its context (and this list) for as long as it runs
    builder = builder.last_update(issued).next_update(max(ca.cert.not_valid_after_utc, issued + timedelta(days=1)))
    for serial in sorted(serials):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(issued).build()
        )
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(Encoding.PEM).decode()
