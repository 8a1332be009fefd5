"""Where a mock (or SEVIS itself) is and as whom to talk to it: ``connection.json``, read in one place.

``sevis-mock serve`` writes ``DATA_DIR/connection.json``: the base URL, the CA that issued the server's
certificate, the batch path prefixes, each seeded organization with its official's user ID and client
certificate, the control API, RTI's roots, the SEVP and Department of State consoles and the e-mail outbox.
Every client of the harness (the ``upload``/``download`` commands, the rehearsal, the state machines, the
pytest plugin, :func:`sevis_mock.running`) reads it through :func:`load_connection` or
:meth:`Connection.from_dict`, so a missing or mistyped entry is reported once, the same way, with what to fix.

Only ``base_url`` is required: a connection file written by hand for the real SEVIS holds the server, the CA
and an organization or two (``client_cert``/``client_key``, or ``client_p12``). What a caller needs beyond
that it asks for with :meth:`Connection.require`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CONNECTION_ENV",
    "DEFAULT_CONNECTION",
    "Connection",
    "ConnectionFileError",
    "SevisOrg",
    "connection_path",
    "load_connection",
]

DEFAULT_CONNECTION = Path(".sevis-mock") / "connection.json"
CONNECTION_ENV = "SEVIS_MOCK_CONNECTION"

#: Batch environment name -> path prefix, as SEVIS names them (a connection file may add its own).
BATCH_PREFIXES: dict[str, str] = {"production": "sevisbatch", "beta": "sbtsevisbatch", "alpha": "alphasevisbatch"}


class ConnectionFileError(ValueError):
    """A connection file (or its dict) cannot be used; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class SevisOrg:
    """An organization as a client sees it: IDs and the official's certificate files."""

    org_id: str
    kind: str  # "F/M" | "J"
    name: str
    user_id: str
    client_cert: str | None
    client_key: str | None
    ca_cert: str | None = None
    client_p12: str | None = None  # a hand-written connection file may name a PKCS#12 file instead

    @property
    def cert(self) -> tuple[str, str] | None:
        """(certificate PEM path, key PEM path), as requests and :class:`SevisClient` take it."""
        if self.client_cert and self.client_key:
            return (self.client_cert, self.client_key)
        return None


@dataclass(frozen=True)
class Connection:
    """The contents of a ``connection.json``, typed. ``raw`` keeps the JSON object as read."""

    base_url: str
    ca_cert: str | None = None
    organizations: tuple[SevisOrg, ...] = ()
    environments: dict[str, str] = field(default_factory=lambda: dict(BATCH_PREFIXES))
    control_url: str | None = None
    control_token: str | None = None
    rti: dict[str, str] = field(default_factory=dict)  # environment (beta, alpha, production) -> RTI root URL
    sevp_url: str | None = None
    sevp_user: str | None = None
    sevp_password: str | None = None
    dos_url: str | None = None
    dos_user: str | None = None
    dos_password: str | None = None
    outbox_url: str | None = None
    source: str = field(default="connection details", compare=False)  # where it was read from, for messages
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # --- reading ---------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, info: Any, *, source: str = "connection details") -> Connection:
        """Check and type a connection dict (what ``serve`` writes, or a hand-written subset of it)."""
        if not isinstance(info, dict):
            raise ConnectionFileError(f"{source} must hold a JSON object, not {type(info).__name__}")
        base_url = _text(info, "base_url", source, required=True)
        assert base_url is not None
        ca_cert = _text(info, "ca_cert", source)
        orgs = info.get("organizations") or []
        if not isinstance(orgs, list):
            raise ConnectionFileError(f"{source}: `organizations` must be a list of objects")
        control = _section(info, "control", source)
        sevp = _section(info, "sevp", source)
        dos = _section(info, "dos", source)
        rti = info.get("rti") or {}
        environments = info.get("environments") or {}
        for key, value in (("rti", rti), ("environments", environments)):
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConnectionFileError(f"{source}: `{key}` must map environment names to strings")
        base = base_url.rstrip("/")
        return cls(
            base_url=base,
            ca_cert=ca_cert,
            organizations=tuple(_org(o, n, ca_cert, source) for n, o in enumerate(orgs)),
            environments={**BATCH_PREFIXES, **environments},
            control_url=_stripped(_text(control, "url", f"{source}: control")),
            control_token=_text(control, "token", f"{source}: control"),
            rti={env: url.rstrip("/") for env, url in rti.items()},
            sevp_url=_stripped(_text(sevp, "url", f"{source}: sevp")),
            sevp_user=_text(sevp, "user", f"{source}: sevp"),
            sevp_password=_text(sevp, "password", f"{source}: sevp"),
            # [i] the Department of State's console is at /dos with the SEVP operator's login when not listed
            dos_url=_stripped(_text(dos, "url", f"{source}: dos")) or f"{base}/dos",
            dos_user=_text(dos, "user", f"{source}: dos") or _text(sevp, "user", f"{source}: sevp"),
            dos_password=_text(dos, "password", f"{source}: dos") or _text(sevp, "password", f"{source}: sevp"),
            outbox_url=_stripped(_text(info, "outbox", source)),
            source=source,
            raw=info,
        )

    @classmethod
    def for_server(cls, base_url: str, *, ca_cert: str | None = None) -> Connection:
        """A mock known only by its URL: RTI, the consoles and the outbox at their usual paths under it."""
        base = base_url.rstrip("/")
        roots = {"beta": "sbtsevis", "alpha": "alphasevis", "production": "sevis"}
        return cls.from_dict(
            {
                "base_url": base,
                "ca_cert": ca_cert,
                "rti": {env: f"{base}/{root}" for env, root in roots.items()},
                "sevp": {"url": f"{base}/sevp"},
                "outbox": f"{base}/outbox",
            },
            source=f"the mock at {base}",
        )

    # --- asking ------------------------------------------------------------------------------------------------
    def require(self, *parts: str) -> Connection:
        """Itself, when it lists every part named (``rti``, ``sevp``, ``outbox``, ``control``, ``organizations``,
        ``ca_cert``); else :class:`ConnectionFileError` naming what is missing."""
        present = {
            "rti": bool(self.rti),
            "sevp": bool(self.sevp_url),
            "outbox": bool(self.outbox_url),
            "control": bool(self.control_url and self.control_token),
            "organizations": bool(self.organizations),
            "ca_cert": bool(self.ca_cert),
        }
        unknown = [p for p in parts if p not in present]
        if unknown:
            raise ValueError(f"unknown connection parts {unknown}; known: {', '.join(present)}")
        missing = [p for p in parts if not present[p]]
        if missing:
            raise ConnectionFileError(
                f"{self.source} has no {', '.join(missing)}: give the connection.json that `sevis-mock serve` "
                "wrote into its data dir (an older mock, or a file written by hand, lacks these)"
            )
        return self

    def org(self, kind: str = "F/M") -> SevisOrg:
        """The first organization of ``kind``: the seeded school (``"F/M"``) or sponsor (``"J"``)."""
        found = [o for o in self.organizations if o.kind == kind]
        if not found:
            kinds = sorted({o.kind for o in self.organizations}) or ["none"]
            raise LookupError(f"{self.source} lists no organization of kind {kind!r} (kinds: {', '.join(kinds)})")
        return found[0]

    def find_org(self, org_id: str) -> SevisOrg | None:
        return next((o for o in self.organizations if o.org_id == org_id), None)

    def rti_url(self, environment: str = "beta") -> str:
        """RTI's root for ``environment`` (beta, alpha or production)."""
        if environment not in self.rti:
            listed = ", ".join(sorted(self.rti)) or "none"
            raise ConnectionFileError(f"{self.source} lists no RTI for {environment!r} (listed: {listed})")
        return self.rti[environment]

    def batch_prefix(self, environment: str) -> str:
        """The batch path prefix of an environment name (beta -> sbtsevisbatch); a prefix is returned as is."""
        return self.environments.get(environment, environment).strip("/")

    @property
    def ca_dir(self) -> Path | None:
        """The folder of the CA certificate (the mock's development CA keeps its key beside it)."""
        return Path(self.ca_cert).parent if self.ca_cert else None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)

    # the JSON as read, for code written against the plain dict (``mock.connection["base_url"]``)
    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


def connection_path(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, bool]:
    """The connection file to read: ``explicit``, else ``$SEVIS_MOCK_CONNECTION``, else
    ``./.sevis-mock/connection.json``; and whether the user named it (then it must exist)."""
    if explicit:
        return Path(explicit), True
    if os.environ.get(CONNECTION_ENV):
        return Path(os.environ[CONNECTION_ENV]), True
    return DEFAULT_CONNECTION, False


def load_connection(path: str | os.PathLike[str]) -> Connection:
    """Read and check a ``connection.json``; :class:`ConnectionFileError` says what is wrong with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConnectionFileError(
            f"connection file {path} not found: `sevis-mock serve` writes it into its data dir "
            f"({DEFAULT_CONNECTION} by default)"
        ) from None
    except OSError as exc:
        raise ConnectionFileError(f"cannot read connection file {path}: {exc}") from exc
    try:
        info = json.loads(text)
    except ValueError as exc:
        raise ConnectionFileError(f"connection file {path} is not JSON: {exc}") from exc
    return Connection.from_dict(info, source=f"connection file {path}")


# --- checking the entries -------------------------------------------------------------------------------------


def _text(info: dict[str, Any], key: str, source: str, *, required: bool = False) -> str | None:
    value = info.get(key)
    if value is None or value == "":
        if required:
            raise ConnectionFileError(f"{source} has no `{key}`")
        return None
    if not isinstance(value, str):
        raise ConnectionFileError(f"{source}: `{key}` must be a string, not {type(value).__name__}")
    return value


def _stripped(url: str | None) -> str | None:
    return url.rstrip("/") if url else None


def _section(info: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = info.get(key) or {}
    if not isinstance(value, dict):
        raise ConnectionFileError(f"{source}: `{key}` must be an object")
    return value


def _org(entry: Any, n: int, ca_cert: str | None, source: str) -> SevisOrg:
    where = f"{source}: organizations[{n}]"
    if not isinstance(entry, dict):
        raise ConnectionFileError(f"{where} must be an object")
    return SevisOrg(
        org_id=_text(entry, "org_id", where, required=True) or "",
        kind=_text(entry, "kind", where) or "",
        name=_text(entry, "name", where) or "",
        user_id=_text(entry, "user_id", where) or "",
        client_cert=_text(entry, "client_cert", where),
        client_key=_text(entry, "client_key", where),
        ca_cert=ca_cert,
        client_p12=_text(entry, "client_p12", where),
    )
