"""schemathesis against the whole service, live on 127.0.0.1.

The service runs in this process on a free loopback port with the sandbox
playing Mailgun and Twilio; schemathesis runs as its own process with every
check it has, from the schema the service serves to staff. Kept bounded
(FUZZ_MAX_EXAMPLES per operation, a fixed FUZZ_SEED) to stay under two
minutes; raise both by the environment for a longer hunt.
"""

import json
import logging
import os
import subprocess
import sys

import pytest

from orders.models import OrderStatus
from tests.factories import make_order
from tests.security.conftest import access_header, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "40"))
SEED = os.environ.get("FUZZ_SEED", "20261204")

# A valid request may still be refused for the state it meets: an
# Idempotency-Key used before for another channel answers 422 by design.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"""


def test_schemathesis_finds_no_5xx_and_no_answer_off_the_schema(
    loopback_server, messaging_sandbox, unthrottled, answered, tmp_path, settings
):
    # The schema's example order exists and can be notified; everything else
    # the fuzzer makes up is unknown. Locks after 5 failures would end the
    # login fuzzing early; they have tests of their own.
    settings.AXES_FAILURE_LIMIT = 10_000
    staff = make_user("fuzz-staff", is_staff=True)
    make_user("fuzz-customer")
    make_order(order_id="123456", status=OrderStatus.SENT)
    report = tmp_path / "schemathesis.json"
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{loopback_server.url}/api/schema",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            SEED,
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--max-redirects",
            "0",
            "--header",
            access_header(staff)["HTTP_AUTHORIZATION"].join(("Authorization: ", "")),
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path,  # its cache of crashes stays out of the work tree
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    summary = json.loads(report.read_text())
    statuses = answered.statuses
    server_errors = [status for status in statuses if status >= 500]
    print(
        f"schemathesis: {summary['test_cases']['generated']} test cases on "
        f"{summary['operations']['tested']} operations, "
        f"{summary['test_cases']['with_failures']} failing; the service answered "
        f"{len(statuses)} requests, {len(server_errors)} with 5xx"
    )
    assert summary["operations"]["tested"] == 5
    assert summary["test_cases"]["with_failures"] == 0
    assert summary["test_cases"]["generated"] >= 100
    assert server_errors == []
    assert any(status == 200 for status in statuses)


class StatusRecorder(logging.Handler):
    """Keep the status of every request the service logs to api.log."""

    def __init__(self):
        super().__init__()
        self.statuses = []

    def emit(self, record):
        self.statuses.append(record.status)


@pytest.fixture
def answered():
    """Record the status of each answer while the test runs."""
    recorder = StatusRecorder()
    request_logger = logging.getLogger("phpservice.requests")
    request_logger.addHandler(recorder)
    yield recorder
    request_logger.removeHandler(recorder)
