"""The sandbox's scenarios, stats, control endpoints and command."""

import socket
import time

import pytest
import requests

from django.core.management import CommandError, call_command

from integrations.sandbox import ScenarioError, parse_scenario
from tests.integrations.test_sandbox import get, post, sales_order

# --- Scenarios and control ----------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ([], "scenario must be a JSON object, not a list"),
        ({"order": []}, "scenario has unknown key 'order'"),
        ({"orders": {}}, "'orders' must be a list, not an object"),
        ({"faults": {"A1": "http_500"}}, "faults['A1'] must be an object"),
        ({"faults": {"A1": {"sales": "html"}}}, "faults['A1'] has unknown upstream"),
        (
            {"faults": {"A1": {"bill": ["http_500", "http_503"]}}},
            "faults['A1']['bill'][1]: unknown fault 'http_503'",
        ),
        ({"faults": {"A1": {"bill": []}}}, "faults['A1']['bill'] is an empty list"),
        (
            {"faults": {"A1": {"bill": {"code": -1, "message": "x"}}}},
            "faults['A1']['bill'] must be a fault name or a list of them",
        ),
        (
            {"faults": {"A1": {"custom": {"code": "-1", "message": "x"}}}},
            "faults['A1']['custom']['code'] must be an integer, not a string",
        ),
        ({"reject_share": 2}, "'reject_share' must be from 0 to 1, not 2"),
    ],
)
def test_bad_scenario_is_refused_naming_the_key(scenario, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(scenario)

    assert str(caught.value).startswith(message)


def test_bad_scenario_posted_at_runtime_is_refused_and_the_old_one_kept(start):
    server = start(scenario={"orders": [sales_order("A1")]})

    response = requests.post(
        server.url + "/_sandbox/scenario", json={"orders": "A1"}, timeout=5
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "bad scenario: 'orders' must be a list, not a string"
    }
    assert get(server, "/sales/orders").json()["orders"] == [sales_order("A1")]


def test_run_sandbox_names_the_json_error_in_a_bad_scenario_file(tmp_path):
    path = tmp_path / "scenario.json"
    path.write_text('{"orders": [\n  {"order_id": "A1"},\n]}', encoding="utf-8")

    with pytest.raises(CommandError) as caught:
        call_command("run_sandbox", scenario=str(path))

    assert str(caught.value) == (
        f"Bad scenario file {path}: invalid JSON at line 3, column 1: Expecting value"
    )


def test_stats_endpoint_matches_stats_and_reset_forgets_everything(start):
    server = start()
    post(server, "/bill/invoices", sales_order("A1"), key="b")
    post(server, "/custom/invoices", {"invoice_id": "INV-A1", "order_id": "A1"})

    answered = get(server, "/_sandbox/stats").json()
    reset = requests.post(server.url + "/_sandbox/reset", timeout=5)
    post(server, "/bill/invoices", sales_order("A1"), key="b")

    assert answered == {
        "sales": {"requests": 0, "orders_served": 0},
        "bill": {
            "requests": 1,
            "effects": 1,
            "replays": 0,
            "by_order": {"A1": {"requests": 1, "effects": 1}},
            "by_idempotency_key": {"b": 1},
        },
        "custom": {
            "requests": 1,
            "effects": 1,
            "replays": 0,
            "accepted": 1,
            "rejected": 0,
            "by_order": {
                "A1": {"requests": 1, "effects": 1, "accepted": 1, "rejected": 0}
            },
            "by_idempotency_key": {},
        },
        "mailgun": {"requests": 0, "accepted": 0, "rejected": 0, "messages": []},
        "twilio": {"requests": 0, "accepted": 0, "rejected": 0, "messages": []},
    }
    assert reset.json() == {"ok": True}
    assert server.stats()["bill"]["effects"] == 1
    assert server.stats()["bill"]["replays"] == 0


def test_unknown_path_and_wrong_method_answer_json(start):
    server = start()

    missing = get(server, "/bill/orders")
    wrong_method = get(server, "/bill/invoices")

    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "no such endpoint: /bill/orders"},
    )
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"


def test_client_hanging_up_mid_request_is_not_an_error(start, capfd):
    server = start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=1) as client:
        client.sendall(
            b"POST /bill/invoices HTTP/1.1\r\nHost: sandbox\r\n"
            b'Content-Length: 500\r\n\r\n{"order_id": '
        )

    after = get(server, "/_sandbox/stats")
    time.sleep(0.05)

    assert after.status_code == 200
    assert capfd.readouterr().err == ""


def test_latency_delays_upstream_answers(start):
    server = start(latency_ms=150)

    started = time.monotonic()
    get(server, "/sales/orders")

    assert time.monotonic() - started >= 0.15
