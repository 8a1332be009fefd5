"""``/control/orgs/<org_id>/profile``: what SEVIS holds about an organization, as a test lever.

``GET`` returns the profile (a school's Form I-17 facts or a sponsor's designation, see
``mockserver/profiles.py``); ``POST`` with a JSON object changes the keys it names and returns the
whole profile; ``DELETE`` puts the defaults back. Batch rules read the profile when they process.
"""

from __future__ import annotations

from flask import abort, jsonify, request

from ..store import Organization, OrganizationProfile
from .. import profiles
from ..profiles import ProfileError, defaults
from . import bp, mock


def _org(session, org_id: str) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:
        abort(404, description=f"no organization {org_id[:40]!r}; list them in connection.json or seed one")
    return org


def _reply(org: Organization, profile: dict):
    return jsonify({"org_id": org.org_id, "kind": org.kind, "profile": profile})


@bp.get("/orgs/<org_id>/profile")
def profile_get(org_id: str):
    m = mock()
    with m.store.session() as s:
        org = _org(s, org_id)
        return _reply(org, profiles.load(s, org.org_id, org.kind))


@bp.post("/orgs/<org_id>/profile")
def profile_set(org_id: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description='send a JSON object such as {"english_language_school": true} or {"active": false}')
    m = mock()
    with m.store.write() as s:
        org = _org(s, org_id)
        try:
            profile = profiles.save(s, org, body, m.clock.now())
        except ProfileError as err:
            abort(400, description=f"profile of {org.org_id}: {err}")
    return _reply(org, profile)


@bp.delete("/orgs/<org_id>/profile")
def profile_reset(org_id: str):
    m = mock()
    with m.store.write() as s:
        org = _org(s, org_id)
        row = s.get(OrganizationProfile, org.org_id)
        if row is not None:
            s.delete(row)
    return _reply(org, defaults(org.kind))
