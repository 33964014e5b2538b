"""Accounts of every kind, tokens, key pairs and a server on 127.0.0.1."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pytest_django.live_server_helper import LiveServer

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken

from orders.management.commands.create_api_user import operators_group
from orders.models import CustomerAccount

# Fixtures of other suites, used here too.
from tests.e2e.conftest import run_pipeline  # noqa: F401
from tests.notifications.conftest import messaging_sandbox  # noqa: F401

PASSWORD = "pw-Ax8!mQ2z#"
ROLES = (
    "anonymous",
    "customer_a",
    "customer_b",
    "operator_without_permission",
    "operator",
    "staff",
)


def make_user(username: str, **fields):
    return get_user_model().objects.create_user(username, password=PASSWORD, **fields)


@pytest.fixture
def accounts(db):
    """Return one user per role (None for anonymous), by role name.

    Customer A owns SalesAPI customer "A-1", customer B owns "B-2". The
    operator without the permission is in a group that lacks
    ``orders.view_any_order``; staff users see every order by being staff.
    """
    customer_a = make_user("customer-a")
    CustomerAccount.objects.create(user=customer_a, customer_id="A-1")
    customer_b = make_user("customer-b")
    CustomerAccount.objects.create(user=customer_b, customer_id="B-2")
    without_permission = make_user("operator-without-permission")
    without_permission.groups.add(Group.objects.create(name="read-nothing"))
    operator = make_user("operator")
    operator.groups.add(operators_group())
    staff = make_user("staff", is_staff=True)
    return {
        "anonymous": None,
        "customer_a": customer_a,
        "customer_b": customer_b,
        "operator_without_permission": without_permission,
        "operator": operator,
        "staff": staff,
    }


def access_header(user) -> dict:
    """Return the test client's keyword for a fresh access token of ``user``."""
    if user is None:
        return {}
    return {"HTTP_AUTHORIZATION": f"Bearer {RefreshToken.for_user(user).access_token}"}


@pytest.fixture
def unthrottled(monkeypatch):
    """Lift the per-user and per-address rates for tests that call often."""
    monkeypatch.setattr(
        ScopedRateThrottle,
        "THROTTLE_RATES",
        {"notify": "100000/hour", "login": "100000/minute"},
    )


@pytest.fixture
def loopback_server(transactional_db):
    """Run the whole service on 127.0.0.1 on a free port, in a thread."""
    server = LiveServer("127.0.0.1:0")
    server._live_server_modified_settings.enable()
    yield server
    server.stop()
    server._live_server_modified_settings.disable()


def rsa_key_pair(bits: int = 2048) -> tuple[str, str]:
    """Return a new RSA key pair as (private PEM, public PEM)."""
    return _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=bits))


def ec_key_pair(curve=None) -> tuple[str, str]:
    """Return a new EC key pair (P-256 unless said) as (private PEM, public PEM)."""
    return _pem_pair(ec.generate_private_key(curve or ec.SECP256R1()))


def _pem_pair(private_key) -> tuple[str, str]:
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )
    return private_pem, public_pem
