"""An applicant's daily earnings, stacked by platform (the charts module's geometry), and
what staff read after importing them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _

from portal.i18n import local_date, money
from portal.models import EarningsDay
from portal.services.credit.earnings import ImportResult
from portal.web.charts import StackedChart, stacked
from portal.web.labels import PLATFORM_LABELS

PLATFORM_COLOURS = {"uber": "#111827", "didi": "#e8710a", "indrive": "#3f8f1f", "cabify": "#6c3fc4"}


@dataclass(frozen=True, slots=True)
class EarningsChart:
    chart: StackedChart
    first: date
    last: date


def earnings_chart(days: list[EarningsDay], span_days: int = 60) -> EarningsChart | None:
    """Daily amounts (centavos) by platform over the last `span_days` days of the data;
    the axis is labelled on Mondays. None without earnings."""
    if not days:
        return None
    last = max(d.day for d in days)
    first = last - timedelta(days=span_days - 1)
    slots = [first + timedelta(days=i) for i in range(span_days)]
    by_platform: dict[str, dict[date, EarningsDay]] = defaultdict(dict)
    for d in days:
        if d.day >= first:
            by_platform[d.platform.value][d.day] = d
    platforms = sorted(by_platform)
    series = []
    for platform in platforms:
        found = by_platform[platform]
        label = PLATFORM_LABELS[platform]
        series.append(
            (
                label,
                [float(found[day].amount_cents) if day in found else 0.0 for day in slots],
                [_tooltip(day, label, found.get(day)) for day in slots],
            )
        )
    chart = stacked(
        [local_date(day, "d MMM") if day.weekday() == 0 else "" for day in slots],
        series,
        axis_text=lambda cents: money(round(cents)),
        colours=[PLATFORM_COLOURS[p] for p in platforms],
        height=260,
        bar_share=0.9,
    )
    return EarningsChart(chart, first, last)


def _tooltip(day: date, platform: str, earned: EarningsDay | None) -> str:
    if earned is None:
        return ""
    return f"{day.isoformat()} {platform}: {money(earned.amount_cents)} · {earned.trips}"


def earnings_imported(result: ImportResult) -> str:
    """The flash after an aggregator's export is imported: the days and the platforms."""
    platforms = ", ".join(PLATFORM_LABELS[p] for p in result.platforms)
    return _(
        "%(rows)d days of earnings imported (%(platforms)s).",
        rows=result.rows,
        platforms=platforms,
    )
