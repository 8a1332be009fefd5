"""`serve --replay DIR`: requests that a recording holds get the recorded reply, byte for byte; anything else
is answered as the mock would. Either way the reply says which in ``X-Sevis-Mock-Replay``, and the request
journal shows it."""

from __future__ import annotations

import hashlib

from flask import Response

from ..recordings import NOT_RECORDED, Recorded, ReplayIndex

REPLAY_HEADER = "X-Sevis-Mock-Replay"


def recorded_response(reply: Recorded) -> Response:
    resp = Response(reply.body, status=reply.status)
    for name, value in reply.headers.items():
        resp.headers[name] = value
    resp.headers[REPLAY_HEADER] = f"recorded exchange {reply.seq:04d}"
    return resp


def replay_upload(index: ReplayIndex, environment: str, org_id: str, batch_id: str, document: bytes) -> Response | None:
    reply = index.upload(environment, org_id, batch_id, document)
    return recorded_response(reply) if reply is not None else None


def replay_download(index: ReplayIndex, store, environment: str, org_id: str, batch_id: str) -> Response | None:
    """The recorded reply to this download of the batch: the Nth download gets the Nth recorded reply, counted in
    the store so every worker process agrees."""
    if not index.has_download(environment, org_id, batch_id):
        return None
    key = "replay:" + hashlib.sha256(f"{environment}\0{org_id}\0{batch_id}".encode()).hexdigest()[:40]
    nth = int(store.update_setting(key, lambda old: str(int(old or 0) + 1))) - 1
    reply = index.download(environment, org_id, batch_id, nth)
    return recorded_response(reply) if reply is not None else None


def mark_not_recorded(resp: Response) -> Response:
    resp.headers[REPLAY_HEADER] = NOT_RECORDED
    return resp
