"""`sevis-mock certs export FILE` / `certs import FILE`: what instances on several hosts must have alike, for hosts
that share a database but not a folder.

Instances on one PostgreSQL database behave as one SEVIS only if they also share the files of the data dir: the
development CA (which issued every client certificate the mock accepts) and its key, the server certificate, the
seeded officials' client certificates, the control token, the key that signs RTI's session cookies and the SEVP
operator's login. ``export`` writes them to one gzip'd tar, readable by its owner only (it holds private keys and
secrets); ``import`` unpacks such a file into another data dir (0700, every file 0600), taking nothing but those
files: a member with another name, a link, a directory entry or one over 1 MiB is refused, named, and nothing is
written. A data dir that holds another CA is kept unless ``replace`` (the client certificates that CA issued would
stop working), and a data dir a ``serve`` holds is not touched.
"""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

from .datadir import write_private
from .instances import DataDirBusy, DataDirLock
from .keys import OPERATOR_FILE, SESSION_KEY_FILE

#: the files a bundle may hold, relative to the data dir
SHARED = re.compile(
    r"certs/(?:ca|ca\.key|server|server\.key)\.pem|certs/server\.host|clients/[A-Za-z0-9-]{1,64}(?:\.key)?\.pem"
    rf"|control-token|{re.escape(SESSION_KEY_FILE)}|{re.escape(OPERATOR_FILE)}"
)
MAX_MEMBER = 1024 * 1024


class SharingProblem(Exception):
    """The bundle cannot be written or taken; the message says what to do."""


def shared_files(root: Path) -> list[Path]:
    """The files of data dir ``root`` that a bundle holds, those present."""
    root = Path(root)
    found = [
        root / name
        for name in (
            "certs/ca.pem",
            "certs/ca.key.pem",
            "certs/server.pem",
            "certs/server.key.pem",
            "certs/server.host",
            "control-token",
            SESSION_KEY_FILE,
            OPERATOR_FILE,
        )
    ]
    found += sorted((root / "clients").glob("*.pem"))
    return [p for p in found if p.is_file() and not p.is_symlink() and SHARED.fullmatch(_name(root, p))]


def _name(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def export_bundle(root: Path, bundle: Path) -> list[str]:
    """Write the shared files of data dir ``root`` to ``bundle`` (mode 0600); returns their names."""
    root = Path(root)
    if not (root / "certs" / "ca.pem").is_file():
        raise SharingProblem(f"{root} has no development CA yet: run `sevis-mock serve --data-dir {root}` once first")
    files = shared_files(root)
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for path in files:
            content = path.read_bytes()
            info = tarfile.TarInfo(_name(root, path))
            info.size, info.mode = len(content), 0o600
            tar.addfile(info, io.BytesIO(content))
    write_private(Path(bundle), data.getvalue())
    return [_name(root, p) for p in files]


def import_bundle(root: Path, bundle: Path, *, replace: bool = False) -> list[str]:
    """Unpack ``bundle`` (from :func:`export_bundle`) into data dir ``root``; returns the names written."""
    root = Path(root)
    try:
        with tarfile.open(bundle, mode="r:gz") as tar:
            members = tar.getmembers()
            contents = {}
            for member in members:
                if not member.isfile() or not SHARED.fullmatch(member.name) or member.size > MAX_MEMBER:
                    raise SharingProblem(
                        f"{bundle} holds {member.name[:200]!r}, which is not a file `sevis-mock certs export` writes: "
                        "nothing was imported. Export the bundle again from the data dir of a running instance."
                    )
                extracted = tar.extractfile(member)
                contents[member.name] = extracted.read() if extracted is not None else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SharingProblem(
            f"{bundle} is not a bundle written by `sevis-mock certs export` ({exc}): nothing was imported"
        ) from None
    if "certs/ca.pem" not in contents or "certs/ca.key.pem" not in contents:
        raise SharingProblem(f"{bundle} holds no development CA and its key: nothing was imported")
    ours = root / "certs" / "ca.pem"
    if ours.is_file() and ours.read_bytes() != contents["certs/ca.pem"] and not replace:
        raise SharingProblem(
            f"{root} already has another development CA: importing would make the client certificates it issued "
            "stop working. Import into a new data dir, or pass --replace to take the bundle's CA."
        )
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    root.chmod(0o700)
    lock = DataDirLock(root, exclusive=True)
    try:
        lock.acquire()  # no serve may run on the data dir while its CA and secrets change
    except DataDirBusy as exc:
        raise SharingProblem(f"{exc} Stop it before importing.") from None
    try:
        for name, content in contents.items():
            target = root / name
            target.parent.mkdir(exist_ok=True, mode=0o700)
            target.parent.chmod(0o700)
            tmp = target.with_name(f".{target.name}.tmp")
            write_private(tmp, content)
            tmp.replace(target)  # whole or not at all
    finally:
        lock.release()
    return sorted(contents)
