from django.conf import settings
from django.core.checks import Warning, register


@register()
def lease_outlasts_a_call(app_configs, **kwargs):
    """Warn when an upstream call may outlive the lease on its order.

    A worker renews its lease before each call, not during it: a call longer
    than the lease lets another worker take the order up while the first is
    still waiting, and charges the order an attempt that did not fail.
    """
    lease = settings.PIPELINE["LEASE_SECONDS"]
    warnings = []
    for name in ("bill", "custom"):
        config = settings.UPSTREAMS[name]
        # The whole answer must arrive within connect + read (see http.py).
        longest = config["CONNECT_TIMEOUT"] + config["READ_TIMEOUT"]
        if lease < 2 * longest:
            prefix = f"{name.upper()}_API"
            warnings.append(
                Warning(
                    f"PIPELINE_LEASE_SECONDS ({lease}) is less than twice the "
                    f"longest {prefix} call ({longest:g} s).",
                    hint=(
                        f"Raise PIPELINE_LEASE_SECONDS or lower {prefix}_READ_TIMEOUT."
                    ),
                    id="integrations.W001",
                )
            )
    return warnings
