"""Template tags of the back-office console."""

import datetime

from django import template

from orders.dashboard import Dashboard, dashboard_build

register = template.Library()


@register.simple_tag
def order_dashboard() -> Dashboard:
    """Return the figures of the admin's front page."""
    return dashboard_build()


@register.filter
def duration_short(value: datetime.timedelta | None) -> str:
    """Return a duration as "2 d 3 h", "3 h 5 min", "4 min" or "12 s"."""
    if value is None:
        return "-"
    seconds = max(int(value.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"
