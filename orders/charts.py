"""The dashboard's chart, drawn on the server as SVG: no script, no CDN.

``status_chart`` turns hourly counts into coordinates; the template
``orders/admin/status_chart.html`` draws them: for each hour a group of
bars, one per status, each titled with its count for a hover tooltip. Bars
rather than lines, because an order usually reaches ``processing`` and
``invoiced`` in the same hour, and their lines would hide each other.
"""

import datetime
import math
from dataclasses import dataclass

from django.utils import timezone

from orders.models import OrderStatus

HOURS = 24
WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 14, 30
HOUR_LABEL_EVERY = 3


@dataclass
class ChartBar:
    x: float
    y: float
    width: float
    height: float
    count: int
    title: str


@dataclass
class ChartSeries:
    code: str
    label: str
    total: int
    bars: list[ChartBar]


@dataclass
class ChartTick:
    position: float
    label: str


@dataclass
class StatusChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: list[ChartSeries]
    y_ticks: list[ChartTick]
    x_ticks: list[ChartTick]
    peak: int

    @property
    def empty(self) -> bool:
        return self.peak == 0

    @property
    def center_x(self) -> int:
        return (self.left + self.right) // 2


def nice_ceiling(value: int) -> int:
    """Return the smallest of 1, 2, 4, 5, 10, 20, 40, 50, … not below ``value``."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 4, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def status_chart(
    counts: dict[tuple[datetime.datetime, str], int], *, now: datetime.datetime
) -> StatusChart:
    """Return the chart of the last 24 hours from counts by (UTC hour, status)."""
    last = now.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    hours = [last - datetime.timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    peak = max(counts.values(), default=0)
    ceiling = nice_ceiling(peak)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    step = plot_width / HOURS

    def x_of(index: int) -> float:
        return LEFT + (index + 0.5) * step

    def y_of(count: float) -> float:
        return TOP + plot_height * (1 - count / ceiling)

    # Each hour's group leaves a fifth of its width as a gap to the next.
    bar_width = step * 0.8 / len(OrderStatus)
    series = []
    for offset, status in enumerate(OrderStatus):
        bars = []
        for index, hour in enumerate(hours):
            count = counts.get((hour, status.value), 0)
            local = timezone.localtime(hour)
            top = y_of(count)
            bars.append(
                ChartBar(
                    x=LEFT + index * step + step * 0.1 + offset * bar_width,
                    y=top,
                    width=bar_width,
                    height=TOP + plot_height - top,
                    count=count,
                    title=f"{local:%H:00}–{local:%H}:59 · {status.label}: {count}",
                )
            )
        total = sum(bar.count for bar in bars)
        series.append(ChartSeries(status.value, status.label, total, bars))

    divisions = next(d for d in (5, 4, 2, 1) if ceiling % d == 0)
    levels = [ceiling * i // divisions for i in range(divisions + 1)]
    return StatusChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=HEIGHT - BOTTOM,
        series=series,
        y_ticks=[ChartTick(y_of(value), str(value)) for value in levels],
        x_ticks=[
            ChartTick(x_of(index), f"{timezone.localtime(hour):%H:00}")
            for index, hour in enumerate(hours)
            if index % HOUR_LABEL_EVERY == 0
        ],
        peak=peak,
    )
