"""Every endpoint × every kind of caller, with the status each must get.

The order in question always belongs to customer A. Customer B, an operator
without ``orders.view_any_order`` and anonymous callers must not reach it, and
must not be able to tell it from an order that does not exist (404, not 403).
"""

import pytest

from django.conf import settings

from notifications.models import Notification
from tests.factories import make_order
from tests.security.conftest import PASSWORD, ROLES, access_header

pytestmark = pytest.mark.django_db

ADMIN = "/" + settings.ADMIN_URL_PATH

# role:            anon  cust A  cust B  op w/o  operator  staff
EXPECTED = {
    "status": (401, 200, 404, 404, 200, 200),
    "notify": (401, 200, 404, 404, 200, 200),
    "token": (401, 200, 200, 200, 200, 200),
    "token-refresh": (401, 200, 200, 200, 200, 200),
    "token-revoke": (401, 200, 200, 200, 200, 200),
    "api-schema": (401, 403, 403, 403, 403, 200),
    "api-docs": (401, 403, 403, 403, 403, 200),
    "admin": (302, 302, 302, 302, 302, 200),
    "twilio-status-callback": (403, 403, 403, 403, 403, 403),
    "mailgun-tracking": (400, 400, 400, 400, 400, 400),
}
CASES = [
    pytest.param(endpoint, role, codes[index], id=f"{endpoint}-{role}")
    for endpoint, codes in EXPECTED.items()
    for index, role in enumerate(ROLES)
]


def own_tokens(api_client, user) -> dict:
    if user is None:
        return {"refresh": "not-a-token", "access": "not-a-token"}
    response = api_client.post(
        "/auth/token", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return response.json()


def call(endpoint, user, order, api_client, client):
    """Make the request of ``endpoint`` as ``user``; return the response."""
    bearer = access_header(user)
    if endpoint == "status":
        return api_client.get("/status", {"order_id": order.order_id}, **bearer)
    if endpoint == "notify":
        body = {"order_id": order.order_id, "notify_type": "email"}
        return api_client.post("/notify", body, format="json", **bearer)
    if endpoint == "token":
        username = user.username if user else "customer-a"
        password = PASSWORD if user else "not-the-password"
        body = {"username": username, "password": password}
        return api_client.post("/auth/token", body, format="json")
    if endpoint in ("token-refresh", "token-revoke"):
        body = {"refresh": own_tokens(api_client, user)["refresh"]}
        path = "/auth/token/" + endpoint.removeprefix("token-")
        return api_client.post(path, body, format="json")
    if endpoint in ("api-schema", "api-docs"):
        return api_client.get("/" + endpoint.replace("-", "/"), **bearer)
    if endpoint == "admin":
        # The admin runs on sessions: log in the way a browser would.
        if user is not None:
            client.force_login(user)
        return client.get(ADMIN)
    if endpoint == "twilio-status-callback":
        body = {"MessageSid": "SM1", "MessageStatus": "delivered"}
        return client.post("/webhooks/twilio/status", body, **bearer)
    if endpoint == "mailgun-tracking":
        return client.post(
            "/webhooks/anymail/mailgun/tracking/",
            {"event-data": {"event": "delivered"}},
            content_type="application/json",
            **bearer,
        )
    raise AssertionError(endpoint)


@pytest.mark.parametrize(("endpoint", "role", "expected"), CASES)
def test_endpoint_answers_each_role_as_expected(
    endpoint, role, expected, accounts, api_client, client, messaging_sandbox
):
    order = make_order(customer_id="A-1")

    response = call(endpoint, accounts[role], order, api_client, client)

    assert response.status_code == expected, response.content[:300]
    if expected == 302:
        assert response["Location"].startswith(f"{ADMIN}login/")
    sent = messaging_sandbox.stats()["mailgun"]["accepted"]
    assert sent == (1 if endpoint == "notify" and expected == 200 else 0)


@pytest.mark.parametrize("role", ["customer_b", "operator_without_permission"])
def test_hidden_order_answers_like_an_unknown_one(accounts, api_client, role):
    order = make_order(customer_id="A-1")
    bearer = access_header(accounts[role])

    hidden = api_client.get("/status", {"order_id": order.order_id}, **bearer)
    unknown = api_client.get("/status", {"order_id": "no-such-order"}, **bearer)

    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["error"]["code"] == unknown.json()["error"]["code"]
    assert set(hidden.headers) == set(unknown.headers)


def test_idempotency_keys_of_one_customer_replay_nothing_to_another(
    accounts, api_client, messaging_sandbox
):
    mine = make_order(customer_id="A-1", customer_email="anna@example.com")
    theirs = make_order(customer_id="B-2", customer_email="boris@example.com")
    key = {"HTTP_IDEMPOTENCY_KEY": "shared-key-1"}

    def notify(role, order):
        body = {"order_id": order.order_id, "notify_type": "email"}
        headers = {**access_header(accounts[role]), **key}
        return api_client.post("/notify", body, format="json", **headers)

    first = notify("customer_a", mine)
    other = notify("customer_b", theirs)
    probe = notify("customer_b", mine)

    assert first.status_code == other.status_code == 200
    assert "Idempotent-Replayed" not in other
    assert other.json()["recipient"] == "b***@example.com"
    assert other.json()["notification_id"] != first.json()["notification_id"]
    assert probe.status_code == 404
    recipients = sorted(n.recipient for n in Notification.objects.all())
    assert recipients == ["anna@example.com", "boris@example.com"]
