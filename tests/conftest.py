import pytest

from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from integrations.sandbox import SandboxServer
from orders.management.commands.create_api_user import operators_group
from orders.models import CustomerAccount


@pytest.fixture(autouse=True)
def empty_cache():
    """Start every test with no throttle counters left by another."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    return APIClient()


def _user(username: str):
    return get_user_model().objects.create_user(username, password="pw-Ax8!mQ2z#")


@pytest.fixture
def operator(db):
    user = _user("operator")
    user.groups.add(operators_group())
    return user


@pytest.fixture
def customer_factory(db):
    def make(username: str, customer_id: str):
        user = _user(username)
        CustomerAccount.objects.create(user=user, customer_id=customer_id)
        return user

    return make


def bearer(user) -> dict:
    """Return request headers carrying a fresh access token for ``user``."""
    token = RefreshToken.for_user(user).access_token
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def sandbox(settings):
    """Start a sandbox on a free loopback port and point the upstreams at it."""
    server = SandboxServer(port=0, timeout_seconds=2.0, reject_share=0.0).start()
    settings.UPSTREAMS = {
        name: {**config, "URL": f"{server.url}/{name}"}
        for name, config in settings.UPSTREAMS.items()
    }
    yield server
    server.stop()
