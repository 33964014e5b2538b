"""Serve the upstream sandbox (SalesAPI, BillAPI, CustomAPI, Mailgun, Twilio)."""

import argparse
import os
import signal

from django.core.management.base import BaseCommand, CommandError

from integrations.sandbox import SandboxServer, ScenarioError, load_scenario_file

DEFAULT_PORT = 8081
# Credential options: the environment variable read when one is not given,
# as the service reads it, so that both agree; and what it is.
CREDENTIAL_OPTIONS = {
    "mailgun_api_key": ("MAILGUN_API_KEY", "Mailgun API key to expect"),
    "mailgun_webhook_signing_key": (
        "MAILGUN_WEBHOOK_SIGNING_KEY",
        "key to sign Mailgun's webhooks with",
    ),
    "twilio_account_sid": ("TWILIO_ACCOUNT_SID", "Twilio account SID to expect"),
    "twilio_auth_token": (
        "TWILIO_AUTH_TOKEN",
        "Twilio auth token to expect and to sign status callbacks with",
    ),
}


def share(value: str) -> float:
    """Return the share ``value``, a number from 0 to 1."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {value!r}")
    return number


class Command(BaseCommand):
    help = (
        "Serve SalesAPI, BillAPI, CustomAPI, Mailgun and Twilio stand-ins over "
        "HTTP until Ctrl-C or SIGTERM. Touches no database."
    )
    # The sandbox needs nothing from the project, so it starts even while the
    # project itself does not pass its checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        parser.add_argument(
            "--scenario",
            metavar="FILE",
            help="JSON file of scripted orders and faults (default: generated).",
        )
        parser.add_argument(
            "--latency-ms",
            type=int,
            default=0,
            help="Delay every upstream answer by this many milliseconds.",
        )
        parser.add_argument(
            "--timeout-seconds",
            type=float,
            default=30.0,
            help="How long a 'timeout' fault holds its answer back.",
        )
        parser.add_argument(
            "--seed", type=int, help="Seed of the generated orders' content."
        )
        parser.add_argument(
            "--reject-share",
            type=share,
            default=0.1,
            help="Share of generated orders CustomAPI rejects (0 to 1).",
        )
        parser.add_argument(
            "--orders-per-minute",
            type=float,
            default=60,
            help="How fast new generated orders become available.",
        )
        parser.add_argument(
            "--strict-json",
            action="store_true",
            help="Answer CustomAPI in strict JSON, not its documented relaxed form.",
        )
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="Log every request to stderr.",
        )
        for dest, (variable, what) in CREDENTIAL_OPTIONS.items():
            parser.add_argument(
                "--" + dest.replace("_", "-"),
                metavar="VALUE",
                help=f"The {what} (default: ${variable}, else the sandbox's own).",
            )

    def handle(self, *args, **options):
        scenario = None
        if options["scenario"]:
            try:
                scenario = load_scenario_file(options["scenario"])
            except ScenarioError as err:
                raise CommandError(f"Bad scenario file {err}") from err
        if options["latency_ms"] < 0 or options["timeout_seconds"] < 0:
            raise CommandError("--latency-ms and --timeout-seconds must be >= 0")
        if options["orders_per_minute"] < 0:
            raise CommandError("--orders-per-minute must be >= 0")

        server = SandboxServer(
            host=options["host"],
            port=options["port"],
            scenario=scenario,
            latency_ms=options["latency_ms"],
            timeout_seconds=options["timeout_seconds"],
            seed=options["seed"],
            reject_share=options["reject_share"],
            orders_per_minute=options["orders_per_minute"],
            relaxed_json=not options["strict_json"],
            verbose=options["verbose"],
            **credentials(options),
        )
        try:
            server.start()
        except OSError as err:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: "
                f"{err.strerror or err}"
            ) from err

        self.stdout.write(
            " ".join(f"{name}={url}" for name, url in server.upstream_urls().items())
        )
        # Whoever started us may be reading a pipe: show the URLs now.
        self.stdout.flush()

        previous_handler = signal.signal(signal.SIGTERM, interrupt)
        try:
            server.serve_until_stopped()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
            server.stop()


def credentials(options: dict) -> dict[str, str]:
    """Return the credentials given as options or in the environment."""
    given = {}
    for dest, (variable, _) in CREDENTIAL_OPTIONS.items():
        value = options.get(dest) or os.environ.get(variable, "")
        if value:
            given[dest] = value
    return given


def interrupt(signum, frame):
    """Treat SIGTERM as Ctrl-C, so the sandbox stops the same way."""
    raise KeyboardInterrupt
