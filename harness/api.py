"""One JSON client for the mock's web side: RTI's API, the SEVP and Department of State consoles, the e-mail
outbox and the control API, over the same TLS listener as the batch endpoints.

:class:`MockApi` sends JSON and reads JSON. :meth:`MockApi.call` raises :class:`ApiError` (saying what came
back) unless the status is expected; :meth:`MockApi.answer` returns ``(status, body)`` whatever the status,
for callers that judge refusals themselves; :meth:`MockApi.page` fetches an HTML page; :meth:`MockApi.control`
calls the control API (bearer token and a client certificate) and raises :class:`MockControlError`.

Give ``record`` to keep every exchange as an :class:`Exchange` (the rehearsal's evidence): passwords, tokens,
certificates and Set Password links' secrets are redacted and bodies shortened before they are kept.

The batch endpoints are :class:`sevis_mock.harness.client.SevisClient`'s.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import requests

from .connection import Connection

__all__ = ["ApiError", "Exchange", "MockApi", "MockControlError", "redact"]

Params = dict[str, Any] | None  # a query string
SECRET_KEYS = {"password", "token", "certificate"}
EXCERPT = 1200


class ApiError(RuntimeError):
    """A JSON call did not answer as the contract says; the message says what came back."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None):
        self.status = status
        self.body = body
        super().__init__(message)


class MockControlError(ApiError):
    """The control API refused a request (or could not be reached); the message carries its explanation."""


@dataclass
class Exchange:
    """One HTTP exchange with the mock (secrets redacted, bodies shortened)."""

    method: str
    url: str
    status: int | None
    request: str | None
    response: str | None
    elapsed_ms: int
    error: str | None = None


def redact(value: Any) -> Any:
    """A copy of JSON data with passwords, tokens and certificates replaced by a marker."""
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in SECRET_KEYS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


_BEARER = re.compile(r'("token"\s*:\s*")[^"]+(")')
_LINK_TOKEN = re.compile(r"(/set-password/)[A-Za-z0-9_\-.~]{6,}")


def _excerpt(text: str) -> str:
    text = _LINK_TOKEN.sub(r"\1<token>", _BEARER.sub(r"\1<redacted>\2", text))
    return text if len(text) <= EXCERPT else text[:EXCERPT] + f"... ({len(text)} characters)"


def _why(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            f"TLS failure ({exc}); if the server's certificate is not trusted, give --ca with the mock's "
            "certs/ca.pem or --connection with its connection.json"
        )
    return f"no answer ({exc})"


def _session(verify: str | bool, cert: tuple[str, str] | None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=, and the mock is never behind a proxy
    session.verify = verify
    session.cert = cert
    return session


class MockApi:
    """JSON calls to the mock over TLS (trusting ``verify``: the mock's CA file, or True for the system store).

    ``control_url``/``control_token``/``control_cert`` reach the control API, which wants a client certificate
    of the mock's CA besides the token. ``record`` receives one :class:`Exchange` per call (none when None).
    """

    def __init__(
        self,
        verify: str | bool = True,
        *,
        record: Callable[[Exchange], None] | None = None,
        timeout: float = 60,
        control_url: str | None = None,
        control_token: str | None = None,
        control_cert: tuple[str, str] | None = None,
    ) -> None:
        self.verify = verify
        self.record = record
        self.timeout = timeout
        self.control_url = control_url.rstrip("/") if control_url else None
        self.control_token = control_token
        self.control_cert = control_cert
        self.session = _session(verify, None)  # RTI, consoles and outbox need no client certificate
        self._control: requests.Session | None = None

    @classmethod
    def for_connection(
        cls,
        connection: Connection,
        *,
        record: Callable[[Exchange], None] | None = None,
        timeout: float = 60,
        control_cert: tuple[str, str] | None = None,
    ) -> MockApi:
        """A client for the mock ``connection`` describes; the control API is called with ``control_cert``
        (default: the first organization's certificate)."""
        if control_cert is None and connection.organizations:
            control_cert = connection.organizations[0].cert
        return cls(
            connection.ca_cert or True,
            record=record,
            timeout=timeout,
            control_url=connection.control_url,
            control_token=connection.control_token,
            control_cert=control_cert,
        )

    def close(self) -> None:
        self.session.close()
        if self._control is not None:
            self._control.close()

    def __enter__(self) -> MockApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- JSON ----------------------------------------------------------------------------------------------------
    def send(
        self,
        method: str,
        url: str,
        *,
        session: requests.Session | None = None,
        accept: str = "application/json",
        json_body: Any = None,
        token: str | None = None,
        params: Params = None,
    ) -> requests.Response:
        """Send one request (recorded); :class:`ApiError` when no HTTP answer came back."""
        headers = {"Accept": accept}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        request_text = json.dumps(redact(json_body)) if json_body is not None else None
        shown_url = _with_params(url, params)
        try:
            response = (session or self.session).request(
                method, url, json=json_body, params=params, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            self._keep(Exchange(method, shown_url, None, request_text, None, _ms(started), error=str(exc)))
            raise ApiError(f"{method} {shown_url}: {_why(exc)}") from exc
        self._keep(
            Exchange(method, shown_url, response.status_code, request_text, _excerpt(response.text), _ms(started))
        )
        return response

    def answer(self, method: str, url: str, body: Any = None, token: str | None = None, params: Params = None):
        """``(status, decoded JSON or None)`` (a ``tuple[int, Any]``), whatever the status."""
        response = self.send(method, url, json_body=body, token=token, params=params)
        return response.status_code, _json(response)

    def call(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        token: str | None = None,
        params: Params = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> Any:
        """Send one JSON request; return the decoded JSON body, or raise :class:`ApiError` on another status."""
        response = self.send(method, url, json_body=json_body, token=token, params=params)
        return _expected(response, f"{method} {_with_params(url, params)}", expect, ApiError)

    def page(self, url: str) -> requests.Response:
        """GET an HTML page (recorded like a JSON call)."""
        return self.send("GET", url, accept="text/html")

    # --- the control API -----------------------------------------------------------------------------------------
    def control(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params = None,
        expect: tuple[int, ...] = (200, 201, 202, 204),
    ) -> Any:
        """Call ``/control/<path>``; returns the decoded JSON, or raises :class:`MockControlError`."""
        if not (self.control_url and self.control_token):
            raise MockControlError(
                "no control API: give the connection.json that `sevis-mock serve` wrote (control.url, control.token)"
            )
        if self._control is None:
            self._control = _session(self.verify, self.control_cert)
        url = f"{self.control_url}/{path.lstrip('/')}"
        try:
            response = self.send(
                method, url, json_body=json, token=self.control_token, params=params, session=self._control
            )
        except ApiError as exc:
            raise MockControlError(str(exc)) from exc.__cause__
        return _expected(response, f"{method} {url}", expect, MockControlError)

    def _keep(self, exchange: Exchange) -> None:
        if self.record is not None:
            self.record(exchange)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _with_params(url: str, params: Params) -> str:
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _expected(response: requests.Response, what: str, expect: tuple[int, ...], error: type[ApiError]) -> Any:
    body = _json(response)
    if response.status_code not in expect:
        said = body.get("error") if isinstance(body, dict) and body.get("error") else response.text[:300]
        extra = ""
        if isinstance(body, dict) and body.get("missing"):
            extra = "; missing: " + ", ".join(map(str, body["missing"]))
        raise error(
            f"{what} answered HTTP {response.status_code}: {said}{extra}", status=response.status_code, body=body
        )
    if body is None and response.status_code != 204:
        raise error(
            f"{what} answered HTTP {response.status_code} without JSON "
            f"(Content-Type {response.headers.get('Content-Type')!r})",
            status=response.status_code,
        )
    return body
