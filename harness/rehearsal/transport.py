"""HTTP to the mock's RTI, SEVP console and outbox, recording every exchange as evidence."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable

import requests

from .model import Exchange

SECRET_KEYS = {"password", "token", "certificate"}
EXCERPT = 1200


class ApiError(Exception):
    """An RTI/SEVP/outbox call did not answer as the contract says; the message says what came back."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None):
        self.status = status
        self.body = body
        super().__init__(message)


def redact(value: Any) -> Any:
    """A copy of JSON data with passwords, tokens and certificates replaced by a marker."""
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in SECRET_KEYS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


_BEARER = re.compile(r'("token"\s*:\s*")[^"]+(")')
_LINK_TOKEN = re.compile(r"(/set-password/)[A-Za-z0-9_\-.~]{6,}")


def _why(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            f"TLS failure ({exc}); if the server's certificate is not trusted, give --ca with the mock's "
            "certs/ca.pem or --connection with its connection.json"
        )
    return f"no answer ({exc})"


def _excerpt(text: str) -> str:
    text = _LINK_TOKEN.sub(r"\1<token>", _BEARER.sub(r"\1<redacted>\2", text))
    return text if len(text) <= EXCERPT else text[:EXCERPT] + f"... ({len(text)} characters)"


class Api:
    """JSON calls against the mock; `record` receives one `Exchange` per call."""

    def __init__(self, verify: str | bool, record: Callable[[Exchange], None], timeout: float = 30):
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE must not override the mock's CA
        self.session.verify = verify
        self.timeout = timeout
        self.record = record

    def close(self) -> None:
        self.session.close()

    def call(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        token: str | None = None,
        params: dict | None = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> Any:
        """Send one JSON request; return the decoded JSON body, or raise `ApiError` on another status."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        request_text = json.dumps(redact(json_body)) if json_body is not None else None
        shown_url = url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        try:
            response = self.session.request(
                method, url, json=json_body, params=params, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            self.record(
                Exchange(
                    method,
                    shown_url,
                    None,
                    request_text,
                    None,
                    int((time.monotonic() - started) * 1000),
                    error=str(exc),
                )
            )
            raise ApiError(f"{method} {shown_url}: {_why(exc)}") from exc
        self.record(
            Exchange(
                method,
                shown_url,
                response.status_code,
                request_text,
                _excerpt(response.text),
                int((time.monotonic() - started) * 1000),
            )
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code not in expect:
            said = body.get("error") if isinstance(body, dict) and body.get("error") else response.text[:300]
            extra = ""
            if isinstance(body, dict) and body.get("missing"):
                extra = "; missing: " + ", ".join(map(str, body["missing"]))
            raise ApiError(
                f"{method} {shown_url} answered HTTP {response.status_code}: {said}{extra}",
                status=response.status_code,
                body=body,
            )
        if body is None and response.status_code != 204:
            raise ApiError(
                f"{method} {shown_url} answered HTTP {response.status_code} without JSON "
                f"(Content-Type {response.headers.get('Content-Type')!r})",
                status=response.status_code,
            )
        return body

    def page(self, url: str) -> requests.Response:
        """GET an HTML page (recorded like a JSON call)."""
        started = time.monotonic()
        try:
            response = self.session.get(url, timeout=self.timeout, headers={"Accept": "text/html"})
        except requests.RequestException as exc:
            self.record(
                Exchange("GET", url, None, None, None, int((time.monotonic() - started) * 1000), error=str(exc))
            )
            raise ApiError(f"GET {url}: {_why(exc)}") from exc
        self.record(
            Exchange(
                "GET",
                url,
                response.status_code,
                None,
                _excerpt(response.text),
                int((time.monotonic() - started) * 1000),
            )
        )
        return response
