"""The service's settings with one change: the baseline's URLs."""

from phpservice.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_urls"
