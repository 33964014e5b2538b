"""Password guessing: throttled per address, locked out per username and address."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt

from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle

from tests.security.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
ADMIN_LOGIN = f"/{settings.ADMIN_URL_PATH}login/"


@pytest.fixture(autouse=True)
def no_throttle(unthrottled):
    """Let the lockout, not the rate, answer in these tests unless said."""


@pytest.fixture
def user(db):
    return make_user("guessed")


def login(api_client, password, *, username="guessed", address="192.0.2.10"):
    return api_client.post(
        "/auth/token",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def test_repeated_failures_lock_the_username_at_that_address(api_client, user):
    answers = [login(api_client, f"guess-{n}") for n in range(LIMIT)]
    with_the_password = login(api_client, PASSWORD)

    assert [a.status_code for a in answers[:-1]] == [401] * (LIMIT - 1)
    assert answers[-1].status_code == 429
    assert with_the_password.status_code == 429
    error = with_the_password.json()["error"]
    assert error["code"] == "login_locked"
    assert error["message"].startswith("Too many failed logins")
    assert int(with_the_password["Retry-After"]) == settings.AXES_COOLOFF_TIME.seconds


def test_lock_holds_neither_other_addresses_nor_other_users(api_client, user):
    make_user("bystander")
    for n in range(LIMIT):
        login(api_client, f"guess-{n}")

    elsewhere = login(api_client, PASSWORD, address="198.51.100.7")
    bystander = login(api_client, PASSWORD, username="bystander")

    assert elsewhere.status_code == 200
    assert bystander.status_code == 200


def test_lock_ends_after_the_cool_off(api_client, user):
    for n in range(LIMIT):
        login(api_client, f"guess-{n}")

    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time
        - settings.AXES_COOLOFF_TIME
        - timedelta(seconds=1)
    )

    assert login(api_client, PASSWORD).status_code == 200


def test_a_successful_login_clears_the_failures(api_client, user):
    for n in range(LIMIT - 1):
        login(api_client, f"guess-{n}")
    assert login(api_client, PASSWORD).status_code == 200

    answers = [login(api_client, f"again-{n}") for n in range(LIMIT - 1)]

    assert {a.status_code for a in answers} == {401}
    assert login(api_client, PASSWORD).status_code == 200


def test_unknown_usernames_are_counted_too(api_client):
    answers = [login(api_client, "x", username="nobody") for _ in range(LIMIT)]

    assert answers[-1].status_code == 429


def test_token_requests_are_throttled_per_address(api_client, user, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "3/minute"})

    answers = [login(api_client, PASSWORD) for _ in range(4)]
    other_address = login(api_client, PASSWORD, address="198.51.100.7")

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["error"]["code"] == "throttled"
    assert int(answers[-1]["Retry-After"]) > 0
    assert other_address.status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(
    api_client, user, monkeypatch
):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "3/minute"})
    for n in range(LIMIT):
        api_client.post(
            "/auth/token",
            {"username": "guessed", "password": f"guess-{n}"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )

    # Neither the lock nor the rate is escaped by writing another address.
    answer = login(api_client, PASSWORD, address="127.0.0.1")
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] in ("login_locked", "throttled")


def test_forwarded_for_names_the_client_behind_trusted_proxies(
    api_client, user, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for n in range(LIMIT):
        api_client.post(
            "/auth/token",
            {"username": "guessed", "password": f"guess-{n}"},
            format="json",
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )

    locked = api_client.post(
        "/auth/token",
        {"username": "guessed", "password": PASSWORD},
        format="json",
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    other_client = api_client.post(
        "/auth/token",
        {"username": "guessed", "password": PASSWORD},
        format="json",
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.10",
    )

    assert locked.status_code == 429
    assert other_client.status_code == 200


def test_admin_login_form_is_locked_by_the_same_count(client, user):
    user.is_staff = True
    user.save()
    for n in range(LIMIT):
        client.post(ADMIN_LOGIN, {"username": "guessed", "password": f"guess-{n}"})

    response = client.post(ADMIN_LOGIN, {"username": "guessed", "password": PASSWORD})

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_failed_logins_are_logged_without_what_was_typed(api_client, user):
    typed_password = "my-Secret-pa55word-typed-as-username"

    login(api_client, "wrong-password-1")
    login(api_client, "x", username=typed_password)

    logs = "".join(p.read_text("utf-8") for p in Path(settings.LOG_DIR).glob("*.log"))
    assert typed_password not in logs
    assert "wrong-password-1" not in logs
    events = [json.loads(line) for line in logs.splitlines() if "auth.login" in line]
    failed = [e for e in events if e["event"] == "auth.login_failed"]
    assert failed[-2]["username"] == "guessed"
    assert failed[-1]["username"].startswith("unknown:")
    assert failed[-1]["remote_addr"] == "192.0.2.10"
