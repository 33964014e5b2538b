"""After the whole flow, no log file holds a secret or readable contact data."""

from pathlib import Path

import pytest

from django.conf import settings
from rest_framework_simplejwt.tokens import RefreshToken

from orders.models import CustomerAccount, Order
from phpservice.redaction import configured_secrets
from tests.factories import sales_record
from tests.security.conftest import make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Customer-pw-3x!Lq9#v"
EMAIL = "olga.sec-test@example.com"
PHONE = "+7 (912) 345-67-89"
PHONE_FORMS = ("+79123456789", "79123456789", "9123456789", "912) 345-67-89")
UPSTREAM_TOKENS = {
    "sales": "sales-upstream-token-7Qm2",
    "bill": "bill-upstream-token-4Kx8",
    "custom": "custom-upstream-token-9Zt1",
}


@pytest.fixture
def upstream_tokens(settings, sandbox):
    settings.UPSTREAMS = {
        name: {**config, "TOKEN": UPSTREAM_TOKENS[name]}
        for name, config in settings.UPSTREAMS.items()
    }


def test_full_flow_leaves_no_secret_or_contact_data_in_any_log(
    api_client, sandbox, messaging_sandbox, upstream_tokens, run_pipeline, unthrottled
):
    record = sales_record(
        customer_id="C-SEC-1", customer_email=EMAIL, customer_phone=PHONE
    )
    sandbox.load_scenario({"orders": [record]})
    customer = make_user("shop-app-sec")
    customer.set_password(PASSWORD)
    customer.save()
    CustomerAccount.objects.create(user=customer, customer_id="C-SEC-1")
    issued = []

    def post(path, body, **headers):
        response = api_client.post(path, body, format="json", **headers)
        issued.extend(
            v for k, v in response.json().items() if k in ("access", "refresh")
        )
        return response

    # Log in, with a typo first; poll, invoice and file the order; read its
    # status; notify by email and SMS; refresh and log out.
    post("/auth/token", {"username": "shop-app-sec", "password": PASSWORD + "x"})
    post("/auth/token", {"username": PASSWORD, "password": PASSWORD})
    tokens = post("/auth/token", {"username": "shop-app-sec", "password": PASSWORD})
    assert tokens.status_code == 200
    run_pipeline()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens.json()['access']}"}
    status = api_client.get("/status", {"order_id": record["order_id"]}, **bearer)
    assert status.json()["status"] == "отправлен"
    for channel in ("email", "sms"):
        sent = post(
            "/notify",
            {"order_id": record["order_id"], "notify_type": channel},
            **bearer,
        )
        assert sent.status_code == 200, sent.content
    refreshed = post("/auth/token/refresh", {"refresh": tokens.json()["refresh"]})
    assert refreshed.status_code == 200
    post("/auth/token/revoke", {"refresh": refreshed.json()["refresh"]})
    api_client.get(
        "/status", {"order_id": "1"}, HTTP_AUTHORIZATION=f"Bearer {issued[0]}x"
    )
    issued.append(str(RefreshToken.for_user(customer)))

    logs = {p.name: p.read_text("utf-8") for p in Path(settings.LOG_DIR).glob("*.log")}
    everything = "\n".join(logs.values())
    secrets = {
        *configured_secrets(),
        settings.SECRET_KEY,
        settings.JWT_SIGNING_KEY,
        *UPSTREAM_TOKENS.values(),
        settings.ANYMAIL["MAILGUN_API_KEY"],
        settings.ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"],
        settings.TWILIO["AUTH_TOKEN"],
        PASSWORD,
    }
    # Tokens whole, and each signature alone.
    secrets |= set(issued) | {token.rsplit(".", 1)[1] for token in issued}
    contact_data = {EMAIL, EMAIL.split("@")[0], *PHONE_FORMS, PHONE}

    found = sorted(
        (name, value[:12])
        for value in secrets | contact_data
        for name, text in logs.items()
        if value and value in text
    )
    assert found == []
    # The flow did reach the logs, masked.
    assert record["order_id"] in logs["api.log"]
    assert "o***@example.com" in logs["upstream.log"]
    assert "+*********89" in everything
    assert Order.objects.get(order_id=record["order_id"]).customer_email == EMAIL
