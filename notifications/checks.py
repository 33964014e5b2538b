from django.core.checks import Warning, register

from notifications.models import Channel
from notifications.services import missing_settings


@register()
def notification_settings(app_configs, **kwargs):
    """Warn about the settings still missing before a channel can send."""
    return [
        Warning(
            f"{Channel(channel).label} notifications are not configured.",
            hint="Set " + ", ".join(missing),
            id=f"notifications.W00{number}",
        )
        for number, channel in enumerate(Channel.values, start=1)
        if (missing := missing_settings(channel))
    ]
