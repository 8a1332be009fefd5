"""``POST /control/seed``: one more approved, batch-registered organization for a CI job.

Body (JSON, every key optional except ``kind``)::

    {"kind": "F/M" | "J", "org_id": "ABC214F00000001", "name": "...",
     "officials": [{"user_id": "ABCDSO0001", "name": "...", "role": "PDSO"}],
     "profile": {"english_language_school": true}}

``profile`` sets the school's Form I-17 facts or the sponsor's designation (``mockserver/profiles.py``;
the same keys as ``POST /control/orgs/<id>/profile``).

Creates the organization (registered for batch, customer agreement on file), its officials
(registered for batch, logged in now on the mock clock) and, for each official, a client certificate
issued by the mock's CA into the data dir's ``clients/`` and registered to that org and user. The
reply carries each certificate's and key's path and PEM. Missing IDs are generated in SEVIS's formats.
"""

from __future__ import annotations

import re
import secrets

from flask import abort, jsonify, request

from ..datadir import DataDir, registration
from ..store import Official, Organization
from ..profiles import ProfileError, validate
from ..profiles import save as save_profile
from ..tls import CertificateAuthority, fingerprint
from . import bp, mock, refresh_connection_file

SCHOOL_CODE = re.compile(r"[A-Z]{3}214F\d{8}")
PROGRAM_NUMBER = re.compile(r"(P-[1-4]|G-[1-7])-\d{5}")
USER_ID = re.compile(r"[A-Za-z0-9]{10}")  # PROTOCOL §5: exactly 10 characters
ROLES = {"F/M": ("PDSO", "DSO"), "J": ("RO", "ARO")}
MAX_OFFICIALS = 20


@bp.post("/seed")
def seed():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description='send JSON such as {"kind": "F/M"} or {"kind": "J", "org_id": "P-1-00042"}')
    kind = body.get("kind")
    if kind not in ROLES:
        abort(400, description=f'kind must be "F/M" (school) or "J" (sponsor), not {kind!r}')
    m = mock()
    data_dir = DataDir(m.settings)
    ca = CertificateAuthority.load_or_create(data_dir.certs)
    now = m.clock.now()
    with m.store.write() as s:
        org_id = _org_id(s, kind, body.get("org_id"))
        name = _string(body, "name", f"Seeded {'School' if kind == 'F/M' else 'Sponsor'} {org_id}", 200)
        officials = _officials(s, kind, body.get("officials"))
        try:
            profile_changes = validate(kind, body.get("profile") or {})
        except ProfileError as err:
            abort(400, description=f"profile: {err}")
        s.add(
            Organization(
                org_id=org_id, kind=kind, name=name, batch_registered=True, agreement_on_file=True, created_at=now
            )
        )
        s.flush()
        profile = save_profile(s, s.get(Organization, org_id), profile_changes, now)
        out = []
        for user_id, official_name, role in officials:
            s.add(
                Official(
                    user_id=user_id,
                    org_id=org_id,
                    name=official_name,
                    email=f"{user_id.lower()}@example.edu",
                    role=role,
                    batch_registered=True,
                    last_login_at=now,
                )
            )
            s.flush()
            issued = ca.issue_client(data_dir.clients, org_id=org_id, user_id=user_id)
            s.add(registration(issued.certificate, org_id, user_id, now))
            out.append(
                {
                    "user_id": user_id,
                    "name": official_name,
                    "role": role,
                    "client_cert": str(issued.cert_path),
                    "client_key": str(issued.key_path),
                    "cert_pem": issued.cert_path.read_text(),
                    "key_pem": issued.key_path.read_text(),
                    "fingerprint": fingerprint(issued.certificate),
                }
            )
    refresh_connection_file()
    return jsonify(
        {
            "org_id": org_id,
            "kind": kind,
            "name": name,
            "user_id": out[0]["user_id"],
            "officials": out,
            "profile": profile,
            "ca_cert": str(data_dir.ca_cert),
        }
    ), 201


def _org_id(session, kind: str, given) -> str:
    pattern = SCHOOL_CODE if kind == "F/M" else PROGRAM_NUMBER
    if given is None:
        for _ in range(100):
            candidate = (
                f"SDM214F{secrets.randbelow(10**8):08d}"
                if kind == "F/M"
                else f"P-{1 + secrets.randbelow(4)}-{secrets.randbelow(10**5):05d}"
            )
            if session.get(Organization, candidate) is None:
                return candidate
        abort(409, description="could not find an unused organization ID; pass org_id")
    if not isinstance(given, str) or not pattern.fullmatch(given):
        shape = "a school code like ABC214F00000001" if kind == "F/M" else "a program number like P-1-00042"
        abort(400, description=f"org_id {given!r} is not {shape}")
    if session.get(Organization, given) is not None:
        abort(409, description=f"organization {given} already exists; reset the mock or choose another org_id")
    return given


def _officials(session, kind: str, given) -> list[tuple[str, str, str]]:
    if given is None:
        given = [{}]
    if not isinstance(given, list) or not 1 <= len(given) <= MAX_OFFICIALS:
        abort(400, description=f"officials must be a list of 1 to {MAX_OFFICIALS} objects")
    chosen: list[tuple[str, str, str]] = []
    for n, item in enumerate(given):
        if not isinstance(item, dict):
            abort(400, description=f"officials[{n}] must be an object with user_id, name, role")
        role = item.get("role", ROLES[kind][0] if n == 0 else ROLES[kind][1])
        if role not in ROLES[kind]:
            abort(
                400,
                description=f"officials[{n}].role must be one of {', '.join(ROLES[kind])} for a {kind} organization",
            )
        user_id = item.get("user_id") or _new_user_id(session, {c[0] for c in chosen})
        if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
            abort(400, description=f"officials[{n}].user_id {user_id!r} must be exactly 10 letters or digits")
        if session.get(Official, user_id) is not None or user_id in {c[0] for c in chosen}:
            abort(409, description=f"user ID {user_id} already exists; choose another")
        chosen.append((user_id, _string(item, "name", f"Seeded {role} {user_id}", 200), role))
    return chosen


def _new_user_id(session, taken: set[str]) -> str:
    while True:
        candidate = f"SEED{secrets.randbelow(10**6):06d}"
        if candidate not in taken and session.get(Official, candidate) is None:
            return candidate


def _string(body: dict, key: str, default: str, limit: int) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        abort(400, description=f"{key} must be a non-empty string of at most {limit} characters")
    return value.strip()
