"""Staff users, orders in every state, and a sandbox for the back-office tests."""

import pytest

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from orders.models import OrderStatus
from orders.services import order_transition
from tests.factories import make_order

STAFF_PASSWORD = "staff-pw-Qx7!rT2m"
# What a support agent is given: see orders, replay them, notify customers.
SUPPORT_PERMISSIONS = ("view_order", "replay_order", "notify_customer")


def staff_member(username: str, *codenames: str):
    """Return a staff user (not a superuser) holding the orders permissions."""
    user = get_user_model().objects.create_user(
        username, password=STAFF_PASSWORD, is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="orders", codename__in=codenames
        )
    )
    return user


@pytest.fixture
def support(db):
    return staff_member("alice", *SUPPORT_PERMISSIONS)


@pytest.fixture
def viewer(db):
    """A staff member who may look at orders and do nothing else."""
    return staff_member("victor", "view_order")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def support_client(support) -> Client:
    return logged_in(support)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return logged_in(viewer)


def failed_order(*, invoiced: bool, **overrides):
    """Return an order resting in error after BillAPI (no invoice) or CustomAPI."""
    order = make_order()
    if invoiced:
        invoice_id = f"INV-{order.order_id}"
        order = order_transition(
            order=order,
            to_status=OrderStatus.INVOICED,
            actor="pipeline",
            message=f"BillAPI made invoice {invoice_id}",
            updates={
                "invoice_id": invoice_id,
                "invoice": {"invoice_id": invoice_id, "order_id": order.order_id},
            },
        )
    return order_transition(
        order=order,
        to_status=OrderStatus.ERROR,
        actor="pipeline",
        message=overrides.pop("message", "Неверный формат данных"),
        error_code=overrides.pop("error_code", "-1" if invoiced else ""),
        updates=overrides,
    )
