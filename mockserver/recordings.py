"""Recorded exchanges with SEVIS Batch: the folder `sevis-mock proxy --record DIR` writes and
`sevis-mock serve --replay DIR` answers from.

Layout of DIR::

    recording.json                      what was recorded: upstream URL, start time, whether personal data was scrubbed
    exchanges/0001-upload/exchange.json the request (path, fields, file name, document digest) and the reply (status,
                                        headers, codes, digest, zip entries, timings)
    exchanges/0001-upload/document.xml  the uploaded document (scrubbed unless --keep-personal-data)
    exchanges/0001-upload/reply.bin     the reply's body as the client got it (a scrubbed copy unless --keep-personal-data)
    exchanges/0002-download/...         the same for a download (no document)

A replayed upload is matched on (environment, orgid, batchid, SHA-256 of the document as sent); a download on
(environment, orgid, batchid), the Nth download of a batch getting the Nth recorded reply (the last one again after
that), so a client that polled through S0030 before S0000 sees the same sequence.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT = 1
EXCHANGES = "exchanges"
#: reply headers a recording keeps and a replay sends back
KEPT_HEADERS = ("Content-Type", "Content-Disposition")
#: what the reply header X-Sevis-Mock-Replay and the journal say of a request a replaying mock answered itself
NOT_RECORDED = "not in the recording: answered by the mock"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Exchange:
    """One request the college's client made and the reply SEVIS gave."""

    seq: int
    action: str  # upload | download | other
    environment: str  # the URL's path prefix: sbtsevisbatch, alphasevisbatch, sevisbatch
    method: str
    query: str
    fields: dict[str, str]  # orgid, userid, batchid as sent
    file_name: str | None
    document_sha256: str | None  # of the document as sent (before any scrubbing)
    status: int
    headers: dict[str, str]
    reply_sha256: str  # of the reply as SEVIS sent it
    codes: dict[str, str | None] = field(default_factory=dict)  # upload / process / download result codes
    zip_entries: list[dict] = field(default_factory=list)  # name, size, sha256 of each entry
    started_at: str = ""
    elapsed_ms: float = 0.0
    scrubbed: bool = True
    error: str | None = None  # the upstream could not be reached: what went wrong

    @property
    def folder_name(self) -> str:
        return f"{self.seq:04d}-{self.action}"

    def key(self) -> tuple:
        base = (self.environment, self.fields.get("orgid", ""), self.fields.get("batchid", ""))
        return (*base, self.document_sha256) if self.action == "upload" else base


class Recording:
    """A recording folder, written one exchange at a time (threads of one proxy may add concurrently)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: Path, *, upstream: str, scrubbed: bool, started_at: str) -> Recording:
        path = Path(path)
        (path / EXCHANGES).mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # documents and replies may hold personal data
        meta = path / "recording.json"
        if not meta.exists():
            _write(
                meta,
                json.dumps(
                    {"format": FORMAT, "upstream": upstream, "started_at": started_at, "scrubbed": scrubbed}, indent=2
                ).encode(),
            )
        return cls(path)

    def next_seq(self) -> int:
        with self._lock:
            taken = [int(p.name.split("-", 1)[0]) for p in self.exchange_dirs()]
            seq = max(taken, default=0) + 1
            (self.path / EXCHANGES / f"{seq:04d}-reserved").mkdir(parents=True)
            return seq

    def add(self, exchange: Exchange, *, document: bytes | None, reply: bytes) -> Path:
        folder = self.path / EXCHANGES / exchange.folder_name
        reserved = self.path / EXCHANGES / f"{exchange.seq:04d}-reserved"
        if reserved.exists():
            reserved.rename(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if document is not None:
            _write(folder / "document.xml", document)
        _write(folder / "reply.bin", reply)
        _write(folder / "exchange.json", json.dumps(asdict(exchange), indent=2, sort_keys=True).encode())
        return folder

    def exchange_dirs(self) -> list[Path]:
        root = self.path / EXCHANGES
        return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def exchanges(self) -> list[tuple[Exchange, Path]]:
        """Every complete exchange, in the order it was made."""
        found = []
        for folder in self.exchange_dirs():
            meta = folder / "exchange.json"
            if meta.exists():
                found.append((Exchange(**json.loads(meta.read_text())), folder))
        return found


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@dataclass(frozen=True)
class Recorded:
    """A reply to send back as recorded."""

    seq: int
    status: int
    headers: dict[str, str]
    body: bytes


class ReplayIndex:
    """The replies of a recording, by what a request must match; the download sequence counter is per process
    unless a ``counter`` (key -> next index, shared through the store) is given."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.uploads: dict[tuple, Recorded] = {}
        self.downloads: dict[tuple, list[Recorded]] = {}
        for exchange, folder in recording.exchanges():
            if exchange.error is not None or exchange.action not in ("upload", "download"):
                continue
            reply = Recorded(exchange.seq, exchange.status, exchange.headers, (folder / "reply.bin").read_bytes())
            if exchange.action == "upload":
                self.uploads.setdefault(exchange.key(), reply)  # a re-sent document: SEVIS's first answer
            else:
                self.downloads.setdefault(exchange.key(), []).append(reply)

    @classmethod
    def load(cls, path: Path) -> ReplayIndex:
        path = Path(path)
        if not (path / "recording.json").is_file():
            raise ValueError(f"{path} is not a recording (no recording.json); record one with `sevis-mock proxy`")
        return cls(Recording(path))

    def __len__(self) -> int:
        return len(self.uploads) + sum(len(v) for v in self.downloads.values())

    def upload(self, environment: str, org_id: str, batch_id: str, document: bytes) -> Recorded | None:
        return self.uploads.get((environment, org_id, batch_id, digest(document)))

    def download(self, environment: str, org_id: str, batch_id: str, nth: int) -> Recorded | None:
        """The reply to the ``nth`` (0-based) download of that batch, the last recorded one after the end."""
        replies = self.downloads.get((environment, org_id, batch_id))
        if not replies:
            return None
        return replies[min(nth, len(replies) - 1)]

    def has_download(self, environment: str, org_id: str, batch_id: str) -> bool:
        return (environment, org_id, batch_id) in self.downloads
