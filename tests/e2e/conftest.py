"""Fixtures that run the real sandbox over HTTP and the pipeline against it."""

import io

import pytest

from django.core.management import call_command

from tests.conftest import bearer


@pytest.fixture
def run_pipeline(transactional_db):
    """Return a function running ``run_pipeline --once``; it returns the output."""

    def run(*args: str) -> str:
        out = io.StringIO()
        call_command("run_pipeline", "--once", "--max-wait", "30", *args, stdout=out)
        return out.getvalue()

    return run


@pytest.fixture
def status_of(api_client, operator):
    """Return a function asking ``GET /status`` for an order, as an operator."""

    def ask(order_id: str, user=None) -> dict:
        response = api_client.get(
            "/status", {"order_id": order_id}, **bearer(user or operator)
        )
        return {"http": response.status_code, **response.json()}

    return ask
