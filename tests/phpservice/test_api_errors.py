"""Requests refused before any view runs still answer in the JSON error shape."""

import json

import pytest

from tests.conftest import bearer

pytestmark = pytest.mark.django_db


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    return response.json()["error"]


def test_json_nested_too_deep_is_400(client):
    response = client.post(
        "/auth/token", data="[" * 5000 + "]" * 5000, content_type="application/json"
    )

    error = assert_json_error(response, 400)
    assert "nested too deeply" in error["message"]


def test_body_over_the_limit_is_413(client):
    body = json.dumps({"username": "a" * 70_000, "password": "b"})

    response = client.post("/auth/token", data=body, content_type="application/json")

    assert_json_error(response, 413)


def test_unknown_host_is_400(client):
    response = client.get("/status", {"order_id": "1"}, HTTP_HOST="evil.example")

    assert_json_error(response, 400)


def test_too_many_parameters_is_400(client, operator):
    query = "&".join(f"p{n}=1" for n in range(1001))

    response = client.get(f"/status?{query}", **bearer(operator))

    assert_json_error(response, 400)


def test_format_parameter_changes_nothing(client, operator):
    response = client.get(
        "/status", {"order_id": "404", "format": "xml"}, **bearer(operator)
    )

    assert assert_json_error(response, 404)["message"] == "No order 404."


def test_form_body_where_json_is_expected_is_415(client):
    response = client.post("/auth/token", {"username": "a", "password": "b"})

    assert assert_json_error(response, 415)["code"] == "unsupported_media_type"


def test_token_requests_are_throttled_per_address(client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "3/minute"})
    body = json.dumps({"username": "nobody", "password": "wrong"})

    answers = [
        client.post("/auth/token", data=body, content_type="application/json")
        for _ in range(4)
    ]

    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert int(answers[3]["Retry-After"]) > 0
