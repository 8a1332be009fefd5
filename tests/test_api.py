"""The one JSON client of the mock's web side and control API (``sevis_mock.harness.api.MockApi``), over real TLS:
what it raises, what it returns, and that its exchange recorder never keeps a secret."""

from __future__ import annotations

import pytest

from sevis_mock.harness.api import ApiError, Exchange, MockApi, MockControlError

pytestmark = pytest.mark.server


@pytest.fixture
def recorded(sevis_mock):
    kept: list[Exchange] = []
    with MockApi.for_connection(sevis_mock.connection, record=kept.append) as api:
        yield api, kept


def test_call_returns_json_and_records_without_secrets(recorded, sevis_mock):
    api, kept = recorded
    sevp = sevis_mock.connection
    body = api.call(
        "POST", f"{sevp.sevp_url}/api/login", json_body={"user": sevp.sevp_user, "password": sevp.sevp_password}
    )
    assert body["token"]
    (exchange,) = kept
    assert (exchange.method, exchange.status) == ("POST", 200)
    assert sevp.sevp_password not in exchange.request and "<redacted>" in exchange.request
    assert body["token"] not in exchange.response


def test_call_raises_what_came_back_and_answer_does_not(recorded, sevis_mock):
    api, kept = recorded
    url = f"{sevis_mock.connection.outbox_url}/api/messages"
    with pytest.raises(ApiError, match="answered HTTP 401") as raised:
        api.call("GET", url, params={"to": "a@b.example"})
    assert raised.value.status == 401 and "error" in raised.value.body
    status, body = api.answer("GET", url, params={"to": "a@b.example"}, token=sevis_mock.connection.control_token)
    assert (status, body["messages"]) == (200, [])
    assert [e.url for e in kept] == [url + "?to=a@b.example"] * 2


def test_control_needs_its_token_and_says_why(sevis_mock):
    c = sevis_mock.connection
    with MockApi.for_connection(c) as api:
        assert "now" in api.control("GET", "clock")
        with pytest.raises(MockControlError, match="HTTP 404"):
            api.control("GET", "records/N9999999999")
    with MockApi(c.ca_cert) as bare, pytest.raises(MockControlError, match="no control API"):
        bare.control("GET", "clock")


def test_no_answer_is_an_api_error_naming_the_url():
    with MockApi(True, timeout=2) as api, pytest.raises(ApiError, match="GET https://127.0.0.1:9/x: no answer"):
        api.call("GET", "https://127.0.0.1:9/x")
