"""The start-up check on the lease against the longest upstream call."""

from integrations.checks import lease_outlasts_a_call


def test_defaults_pass():
    assert lease_outlasts_a_call(None) == []


def test_a_lease_shorter_than_two_calls_is_warned_about(settings):
    settings.PIPELINE = {**settings.PIPELINE, "LEASE_SECONDS": 20}
    settings.UPSTREAMS = {
        **settings.UPSTREAMS,
        "custom": {**settings.UPSTREAMS["custom"], "READ_TIMEOUT": 15.0},
    }

    warnings = lease_outlasts_a_call(None)

    assert [w.id for w in warnings] == ["integrations.W001"]
    assert "CUSTOM_API" in warnings[0].msg
    assert "CUSTOM_API_READ_TIMEOUT" in warnings[0].hint
