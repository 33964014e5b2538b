import pytest

from django.contrib.auth import get_user_model

from orders.models import OrderStatus
from tests.conftest import bearer
from tests.factories import make_order

pytestmark = pytest.mark.django_db


def test_operator_reads_status_with_russian_label(api_client, operator):
    order = make_order(status=OrderStatus.ERROR, message="Неверный формат данных")

    response = api_client.get(
        "/status", {"order_id": order.order_id}, **bearer(operator)
    )

    assert response.status_code == 200
    body = response.json()
    assert body["order_id"] == order.order_id
    assert body["status"] == "ошибка"
    assert body["status_code"] == "error"
    assert body["message"] == "Неверный формат данных"
    assert body["updated_at"]
    assert response["Content-Type"] == "application/json"


def test_token_from_credentials_then_status(api_client, operator):
    order = make_order()

    token = api_client.post(
        "/auth/token",
        {"username": "operator", "password": "pw-Ax8!mQ2z#"},
        format="json",
    )
    response = api_client.get(
        "/status",
        {"order_id": order.order_id},
        HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}",
    )

    assert token.status_code == 200
    assert set(token.json()) == {"access", "refresh"}
    assert response.json()["status"] == "обрабатывается"


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": "Bearer not-a-token"}, {"HTTP_AUTHORIZATION": "x"}],
)
def test_missing_or_bad_token_is_401_with_bearer_challenge(api_client, headers):
    response = api_client.get("/status", {"order_id": "1"}, **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({}, "This field is required."),
        ({"order_id": ""}, "may not be blank"),
        ({"order_id": "x" * 65}, "no more than 64 characters"),
        ({"order_id": "1 OR 1=1"}, "Use 1-64 letters"),
    ],
)
def test_bad_order_id_is_400_naming_the_field(api_client, operator, params, problem):
    response = api_client.get("/status", params, **bearer(operator))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert problem in error["fields"]["order_id"][0]
    assert error["message"].startswith("Invalid input: order_id:")


def test_unknown_order_is_404(api_client, operator):
    response = api_client.get("/status", {"order_id": "404404"}, **bearer(operator))

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "No order 404404."}
    }


def test_customer_sees_own_order_and_not_another_customers(
    api_client, customer_factory
):
    alice = customer_factory("alice", customer_id="A-1")
    own = make_order(customer_id="A-1")
    other = make_order(customer_id="B-2")

    mine = api_client.get("/status", {"order_id": own.order_id}, **bearer(alice))
    theirs = api_client.get("/status", {"order_id": other.order_id}, **bearer(alice))

    assert mine.status_code == 200
    assert theirs.status_code == 404
    assert theirs.json()["error"]["message"] == f"No order {other.order_id}."


def test_account_without_customer_or_permission_sees_nothing(api_client):
    user = get_user_model().objects.create_user("nobody", password="pw-Ax8!mQ2z#")
    order = make_order()

    response = api_client.get("/status", {"order_id": order.order_id}, **bearer(user))

    assert response.status_code == 404


def test_token_of_deactivated_user_is_refused(api_client, operator):
    headers = bearer(operator)
    operator.is_active = False
    operator.save()

    response = api_client.get("/status", {"order_id": "1"}, **headers)

    assert response.status_code == 401


def test_revoked_refresh_token_cannot_refresh(api_client, operator):
    tokens = api_client.post(
        "/auth/token",
        {"username": "operator", "password": "pw-Ax8!mQ2z#"},
        format="json",
    ).json()

    revoked = api_client.post(
        "/auth/token/revoke", {"refresh": tokens["refresh"]}, format="json"
    )
    refreshed = api_client.post(
        "/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )

    assert revoked.status_code == 200
    assert refreshed.status_code == 401


def test_refresh_rotates_and_old_refresh_token_is_dead(api_client, operator):
    tokens = api_client.post(
        "/auth/token",
        {"username": "operator", "password": "pw-Ax8!mQ2z#"},
        format="json",
    ).json()

    first = api_client.post(
        "/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    reuse = api_client.post(
        "/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )

    assert first.status_code == 200
    assert first.json()["refresh"] != tokens["refresh"]
    assert reuse.status_code == 401


def test_wrong_password_is_401_in_the_error_shape(api_client, operator):
    response = api_client.post(
        "/auth/token", {"username": "operator", "password": "nope"}, format="json"
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "no_active_account"


def test_unknown_url_answers_json_404(client):
    response = client.get("/no-such-endpoint")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("theirs", "mine"),
    [("Ivan-7890", "ivan-7890"), ("Федор", "Фёдор"), ("c-1", "c-1 "), ("c😀", "c🙃")],
)
def test_customer_ids_match_exactly(api_client, customer_factory, theirs, mine):
    order = make_order(customer_id=theirs)
    other = customer_factory("other", customer_id=mine)

    response = api_client.get("/status", {"order_id": order.order_id}, **bearer(other))

    assert response.status_code == 404


def test_order_ids_differing_in_case_are_different_orders(api_client, operator):
    make_order(order_id="abc-1", message="lower")
    make_order(order_id="ABC-1", message="upper")

    response = api_client.get("/status", {"order_id": "ABC-1"}, **bearer(operator))

    assert response.json()["message"] == "upper"
