"""The data dir: development CA, server certificate, seeded organizations and connection.json."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from sqlalchemy import select

from .clock import MockClock
from .config import ENVIRONMENTS, Settings
from .store import Certificate, Official, Organization, Store
from .instances import DataDirLock, Instance, listed_instances, registry_lock, updated
from .keys import connection_info
from .tls import CertificateAuthority, cert_pem, fingerprint, load_certificate


@dataclass(frozen=True)
class SeedOrg:
    org_id: str
    kind: str
    name: str
    user_id: str
    official_name: str
    role: str


# The seeded organizations (fixtures/ and README use them). School codes match [A-Z]{3}214F\d{8},
# program numbers (P-[1-4]|G-[1-7])-\d{5}, user IDs are 10 characters (PROTOCOL §5).
SEEDS = (
    SeedOrg("MCK214F00001000", "F/M", "Sevis Mock College", "MCKPDSO001", "Pat Mock", "PDSO"),
    SeedOrg("P-1-12345", "J", "Sevis Mock Exchange Program", "MCKRO00001", "Robin Mock", "RO"),
)


#: The layout of a data dir (files and tables) this version reads; written to DATA_DIR/sevis-mock-data.json.
DATA_FORMAT = 1


class IncompatibleDataDir(Exception):
    """The data dir was written by a sevis-mock this one cannot read; the message says what to do."""


class DataDir:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.data_dir
        self.certs = self.root / "certs"
        self.clients = self.root / "clients"
        self.lock: DataDirLock | None = None  # held by `serve` for its life (sevis_mock.server.instances)

    @property
    def connection_file(self) -> Path:
        return self.root / "connection.json"

    @property
    def server_cert(self) -> Path:
        return self.certs / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.certs / "server.key.pem"

    @property
    def ca_cert(self) -> Path:
        return self.certs / "ca.pem"

    def trusted_cas(self) -> list[Path]:
        return [self.ca_cert, *self.settings.trust]

    def control_token(self) -> str:
        path = self.root / "control-token"
        if not path.exists():
            try:
                write_private(path, secrets.token_urlsafe(24), exclusive=True)
            except FileExistsError:
                pass  # another process wrote it first: use that one
        return path.read_text().strip()

    @property
    def format_file(self) -> Path:
        return self.root / "sevis-mock-data.json"

    def check_version(self) -> None:
        """Refuse a data dir this version cannot use: one marked with another data format, or whose database
        the migrations cannot bring to this version's schema (see sevis_mock.server.store.migrations.check): a newer
        sevis-mock migrated it, or one older than the first migration made it. Everything else is upgraded at
        start (``prepare``)."""
        advice = (
            f"Start with a new data dir (--data-dir DIR), delete {self.root}, or run the sevis-mock version that "
            "made it."
        )
        if self.format_file.exists():
            try:
                found = json.loads(self.format_file.read_text())["format"]
            except (OSError, ValueError, KeyError, TypeError):
                found = "unreadable"
            if found != DATA_FORMAT:
                raise IncompatibleDataDir(
                    f"the data dir {self.root} has data format {found} ({self.format_file.name}); this sevis-mock "
                    f"reads format {DATA_FORMAT}. {advice}"
                )
        if self.settings.database_url is None and not (self.root / "sevis-mock.db").exists():
            return
        from .store.migrations import OutdatedDatabase, check

        engine = Store(self.settings.db_url).engine
        try:
            with engine.connect() as connection:
                check(connection, where=self.database_name())
        except OutdatedDatabase as exc:
            raise IncompatibleDataDir(str(exc)) from None
        finally:
            engine.dispose()

    def database_name(self) -> str:
        """The database in words for messages: SQLite's file in the data dir, or the URL without its password."""
        if self.settings.database_url is None:
            return f"the database of {self.root}"
        from sqlalchemy.engine import make_url

        try:
            shown = make_url(self.settings.database_url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 -- an unparsable URL is refused by the store; here it is only named
            shown = "given with --database"
        return f"the database {shown}"

    def prepare(self) -> Store:
        """Create what is missing (CA, server certificate, seed) and return the store."""
        secure_data_dir(self.settings)
        if not self.format_file.exists():
            self.format_file.write_text(json.dumps({"format": DATA_FORMAT}) + "\n")
        ca = CertificateAuthority.load_or_create(self.certs)
        names = " ".join(filter(None, (self.settings.host, self.settings.public_host)))
        if not self.server_cert.exists() or self._server_host() != names:
            ca.issue_server(self.certs, self.settings.host, also=tuple(names.split()[1:]))
            (self.certs / "server.host").write_text(names)
        store = Store(self.settings.db_url)
        store.create_all()
        clock = MockClock(store)
        if self.settings.clock is not None:
            clock.set(self.settings.clock)
        self.seed(store, ca, clock.now())
        self.control_token()
        return store

    def _server_host(self) -> str:
        path = self.certs / "server.host"
        return path.read_text().strip() if path.exists() else ""

    def seed(self, store: Store, ca: CertificateAuthority, now: datetime) -> None:
        with store.write() as s:
            for seed in SEEDS:
                if s.get(Organization, seed.org_id) is not None:
                    continue
                s.add(
                    Organization(
                        org_id=seed.org_id,
                        kind=seed.kind,
                        name=seed.name,
                        batch_registered=True,
                        agreement_on_file=True,
                        created_at=now,
                    )
                )
                s.flush()
                s.add(
                    Official(
                        user_id=seed.user_id,
                        org_id=seed.org_id,
                        name=seed.official_name,
                        email=f"{seed.user_id.lower()}@example.edu",
                        role=seed.role,
                        batch_registered=True,
                        last_login_at=now,
                    )
                )
                s.flush()
                cert = self.client_certificate(ca, seed.org_id, seed.user_id)
                s.add(registration(cert, seed.org_id, seed.user_id, now))

    def client_certificate(self, ca: CertificateAuthority, org_id: str, user_id: str):
        """The client certificate in clients/ for ORG and USER when this CA issued it and it is in date
        (so a reset keeps connection.json's files usable), else a newly issued one."""
        path = self.clients / f"{org_id}-{user_id}.pem"
        if path.exists() and path.with_name(path.stem + ".key.pem").exists():
            loaded = load_certificate(path.read_bytes())
            cert: x509.Certificate | None = loaded
            try:
                loaded.verify_directly_issued_by(ca.cert)  # signed by this CA, not one of the same name
            except (ValueError, TypeError, InvalidSignature):
                cert = None
            if cert is not None and cert.not_valid_after_utc > datetime.now(UTC):
                return cert
        return ca.issue_client(self.clients, org_id=org_id, user_id=user_id).certificate

    def connection(self, base_url: str, store: Store) -> dict:
        """What connection.json says about the instance at ``base_url``: the CA, each organization with its
        official and client certificate, the control API, RTI and the consoles."""
        orgs = []
        with store.session() as s:
            for org in s.scalars(select(Organization).order_by(Organization.kind, Organization.org_id)):
                official = s.scalars(
                    select(Official).where(Official.org_id == org.org_id).order_by(Official.user_id)
                ).first()
                stem = self.clients / f"{org.org_id}-{official.user_id}" if official else None
                if official is None or stem is None or not stem.with_name(stem.name + ".pem").exists():
                    continue  # e.g. a school approved in RTI: its PDSO brings their own certificate
                orgs.append(
                    {
                        "org_id": org.org_id,
                        "kind": org.kind,
                        "name": org.name,
                        "user_id": official.user_id,
                        "client_cert": str(stem.with_name(stem.name + ".pem")),
                        "client_key": str(stem.with_name(stem.name + ".key.pem")),
                    }
                )
        return {
            "base_url": base_url,
            "ca_cert": str(self.ca_cert),
            "environments": {name: prefix for name, (prefix, _) in ENVIRONMENTS.items()},
            "organizations": orgs,
            "control": {"url": f"{base_url}/control", "token": self.control_token()},
            **connection_info(self.root, base_url),  # RTI, SEVP console, outbox (mockserver/rti/API.md)
        }

    def url(self, port: int) -> str:
        """The base URL of an instance of this data dir listening on ``port``."""
        return f"https://{_url_host(self.settings.host)}:{port}"

    def write_connection(
        self, store: Store, *, joining: Instance | None = None, leaving: Instance | None = None
    ) -> dict | None:
        """Rewrite connection.json: ``instances`` lists every instance still running (``joining`` added,
        ``leaving`` and those whose process is gone removed), and the top-level keys describe the first of them (its
        ``--public-url`` when it has one).
        Without ``joining`` or ``leaving`` (an organization was seeded, the data was reset) the file is rewritten
        only when an instance runs. When the last instance leaves, the top-level keys stay (a client then finds
        the server stopped, as before) and ``instances`` is empty. Returns what was written, or None."""
        with registry_lock(self.root):
            listed = listed_instances(self.connection_file)
            running = updated(listed, joining=joining, leaving=leaving)
            if running:
                first = running[0].public_url or running[0].url  # a proxy in front of the instances, if they have one
                info = {**self.connection(first, store), "instances": [i.to_json() for i in running]}
            elif leaving is not None:
                try:
                    info = {**json.loads(self.connection_file.read_text()), "instances": []}
                except (OSError, ValueError, TypeError):
                    return None
            else:
                return None
            tmp = self.connection_file.with_suffix(".tmp")
            write_private(tmp, json.dumps(info, indent=2) + "\n")  # it holds the control token and SEVP password
            tmp.replace(self.connection_file)
        return info


PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
# Files of the data dir that hold secrets or password hashes (the certificates' keys are written 0600 by tls.py).
SECRET_FILES = ("connection.json", "control-token", "session-secret", "sevp-operator.json")
DATABASE_FILES = ("", "-wal", "-shm", "-journal")


def write_private(path: Path, text: str | bytes, *, exclusive: bool = False) -> None:
    """Write ``text`` (or bytes) to ``path`` readable by its owner only (0600), whatever the umask or an older file's
    mode."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as f:
        f.write(text)


def sqlite_path(settings: Settings) -> Path | None:
    """The database file when the store is SQLite on a file, else None."""
    url = settings.db_url
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def secure_data_dir(settings: Settings) -> None:
    """The data dir 0700 and every file in it that holds a secret or a password hash 0600, including the
    SQLite database: it is created empty with mode 0600 before SQLite opens it, and SQLite gives its -wal
    and -shm files the database's mode. An older data dir made with looser modes is tightened."""
    root = settings.data_dir
    root.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    root.chmod(PRIVATE_DIR)
    for name in SECRET_FILES:
        if (root / name).exists():
            (root / name).chmod(PRIVATE_FILE)
    database = sqlite_path(settings)
    if database is None:
        return
    database.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    for suffix in DATABASE_FILES:
        path = database.with_name(database.name + suffix)
        if path.exists():
            path.chmod(PRIVATE_FILE)


def registration(cert, org_id: str, user_id: str, now: datetime) -> Certificate:
    return Certificate(
        fingerprint=fingerprint(cert),
        org_id=org_id,
        user_id=user_id,
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        pem=cert_pem(cert).decode(),
        registered_at=now,
    )


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
