"""Bodies are bounded in size, JSON only, order ids bounded in length and form."""

import json

import pytest

from django.conf import settings

from tests.factories import make_order
from tests.security.conftest import access_header

pytestmark = pytest.mark.django_db

LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE


@pytest.fixture
def operator_bearer(accounts):
    return access_header(accounts["operator"])


@pytest.mark.parametrize("path", ["/auth/token", "/auth/token/refresh", "/notify"])
def test_body_over_the_limit_is_413(api_client, operator_bearer, path):
    body = json.dumps({"order_id": "1", "padding": "x" * LIMIT})

    response = api_client.post(
        path, body, content_type="application/json", **operator_bearer
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert str(LIMIT) in response.json()["error"]["message"]


def test_body_at_the_limit_is_read(api_client, operator_bearer):
    body = json.dumps({"order_id": "1", "notify_type": "email"})
    body = body[:-1] + ", " + '"p": "' + "x" * (LIMIT - len(body) - 9) + '"}'
    assert len(body.encode()) == LIMIT

    response = api_client.post(
        "/notify", body, content_type="application/json", **operator_bearer
    )

    assert response.status_code == 404  # parsed and checked: no such order


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/auth/token", "application/x-www-form-urlencoded", "username=a&password=b"),
        ("/auth/token", "text/plain", '{"username": "a", "password": "b"}'),
        ("/notify", "multipart/form-data; boundary=x", "--x--"),
        ("/notify", "application/xml", "<order_id>1</order_id>"),
    ],
)
def test_only_json_bodies_are_accepted(
    api_client, operator_bearer, path, content_type, body
):
    response = api_client.post(path, body, content_type=content_type, **operator_bearer)

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body", ['{"order_id": ', "[" * 60_000, '{"order_id": NaN}', "\xff\xfe"]
)
def test_broken_json_is_400(api_client, operator_bearer, body):
    response = api_client.post(
        "/notify", body, content_type="application/json", **operator_bearer
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize(
    "order_id",
    ["x" * 65, "1 OR 1=1", "../1", "1;DROP", "ид-1", "%00", "1\x00", "", " "],
)
def test_order_ids_are_bounded_in_length_and_characters(
    api_client, operator_bearer, order_id
):
    status = api_client.get("/status", {"order_id": order_id}, **operator_bearer)
    notify = api_client.post(
        "/notify",
        {"order_id": order_id, "notify_type": "email"},
        format="json",
        **operator_bearer,
    )

    assert status.status_code == notify.status_code == 400
    assert "order_id" in status.json()["error"]["fields"]
    assert "order_id" in notify.json()["error"]["fields"]


def test_order_id_of_64_characters_is_accepted(api_client, operator_bearer):
    order = make_order(order_id="A" * 64)

    response = api_client.get(
        "/status", {"order_id": order.order_id}, **operator_bearer
    )

    assert response.status_code == 200


def test_too_many_query_fields_is_400_in_the_error_shape(api_client, operator_bearer):
    query = "&".join(f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))

    response = api_client.get(f"/status?order_id=1&{query}", **operator_bearer)

    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("bad_request", "invalid")


def test_no_browsable_api_or_format_switch(api_client, operator_bearer):
    order = make_order()

    html = api_client.get(
        "/status",
        {"order_id": order.order_id},
        HTTP_ACCEPT="text/html",
        **operator_bearer,
    )
    format_api = api_client.get(
        "/status", {"order_id": order.order_id, "format": "api"}, **operator_bearer
    )

    assert html.status_code == 406
    assert format_api["Content-Type"] == "application/json"


def test_token_endpoints_take_post_only(api_client):
    for path in ("/auth/token", "/auth/token/refresh", "/auth/token/revoke"):
        response = api_client.get(path)

        assert response.status_code == 405
        assert response["Allow"] == "POST, OPTIONS"
