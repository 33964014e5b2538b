import json
import logging
import re
from types import SimpleNamespace

import pytest

from django.contrib import admin
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import path

from phpservice.logging import AppendFileHandler, JsonFormatter, get_request_id
from phpservice.middleware import RequestLogMiddleware


def crash(request):
    raise RuntimeError("view failed")


def authenticate_like_drf(request):
    # DRF authenticates inside the view and then sets request.user.
    request.user = SimpleNamespace(is_authenticated=True, get_username=lambda: "ops")
    return HttpResponse("ok")


def echo_request_id(request):
    return HttpResponse(get_request_id() or "")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("crash/", crash),
    path("whoami/", authenticate_like_drf),
    path("echo/", echo_request_id),
]

pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def api_log(tmp_path):
    """Collect what phpservice.requests logs, as written to api.log."""
    log_path = tmp_path / "api.log"
    handler = AppendFileHandler(log_path)
    handler.setFormatter(JsonFormatter())
    request_logger = logging.getLogger("phpservice.requests")
    request_logger.addHandler(handler)

    def records():
        text = log_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]

    yield records
    request_logger.removeHandler(handler)
    handler.close()


def test_generated_request_id_is_returned_and_logged(client, api_log):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    (record,) = api_log()
    assert record["event"] == "http.request"
    assert record["level"] == "INFO"
    assert record["logger"] == "phpservice.requests"
    assert record["request_id"] == request_id
    assert (record["method"], record["path"], record["status"]) == (
        "GET",
        "/admin/login/",
        200,
    )
    assert isinstance(record["duration_ms"], float)
    assert record["duration_ms"] >= 0
    assert record["query"] == {}
    assert record["user"] is None
    assert record["remote_addr"] == "127.0.0.1"
    assert record["response_bytes"] == len(response.content)


def test_request_id_is_bound_while_the_view_runs_and_reset_after(client):
    response = client.get("/echo/", headers={"X-Request-ID": "sync-42.A_b"})

    assert response["X-Request-ID"] == "sync-42.A_b"
    assert response.content == b"sync-42.A_b"
    assert response.wsgi_request.request_id == "sync-42.A_b"
    assert get_request_id() is None


@pytest.mark.parametrize(
    "incoming", ["has space", "x" * 65, "<script>", "", "ид-1", "a/b"]
)
def test_invalid_incoming_request_id_is_replaced(client, api_log, incoming):
    response = client.get("/echo/", headers={"X-Request-ID": incoming})

    request_id = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert api_log()[0]["request_id"] == request_id


def test_query_is_logged_redacted(client, api_log):
    client.get("/echo/?order_id=123456&token=abcdef123456&email=ivan@example.com")

    (record,) = api_log()
    assert record["query"] == {
        "order_id": "123456",
        "token": "[REDACTED]",
        "email": "i***@example.com",
    }


def test_not_found_is_logged_as_warning(client, api_log):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    (record,) = api_log()
    assert (record["level"], record["status"]) == ("WARNING", 404)


def test_view_exception_is_logged_as_server_error(api_log):
    response = Client(raise_request_exception=False).get("/crash/")

    assert response.status_code == 500
    (record,) = api_log()
    assert (record["level"], record["status"]) == ("ERROR", 500)
    assert record["request_id"] == response["X-Request-ID"]


def test_exception_escaping_the_stack_is_logged_and_raised_again(api_log):
    def get_response(request):
        raise RuntimeError("handler failed")

    middleware = RequestLogMiddleware(get_response)
    request = RequestFactory().post("/status?order_id=1")

    with pytest.raises(RuntimeError, match="handler failed"):
        middleware(request)

    (record,) = api_log()
    assert (record["level"], record["method"], record["status"]) == (
        "ERROR",
        "POST",
        500,
    )
    assert record["request_id"] == request.request_id
    assert record["response_bytes"] is None
    assert get_request_id() is None


def test_user_set_during_the_view_is_logged(client, api_log):
    client.get("/whoami/")

    assert api_log()[0]["user"] == "ops"


def test_static_files_are_not_logged(client, api_log):
    response = client.get("/static/admin/css/base.css")

    assert "X-Request-ID" not in response
    assert api_log() == []
