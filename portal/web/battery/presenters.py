"""The fleet battery page's figures and charts: the state of health's distribution, fade
by model and by share of fast (DC) charging (the charts module's bars)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import ngettext

from portal.i18n import percent
from portal.services.battery import FadeGroup, FleetBattery
from portal.web.battery_health import ESTIMATE_NEEDS, LOW_SOH_THRESHOLD
from portal.web.charts import Chart, build

MAX_BINS = 16


@dataclass(frozen=True, slots=True)
class FleetBatteryPage:
    report: FleetBattery
    measured: int  # cars with a state of health
    waiting: int  # cars with sessions but no estimate yet
    median_soh: float | None
    low_soh: int
    fast_fade: int
    histogram: Chart | None
    by_model: Chart | None
    by_dc_share: Chart | None
    dc_labels: list[str]  # the DC share groups' names
    needs: dict[str, int]
    threshold: float


def _cars(n: int) -> str:
    return ngettext("%(num)d car", "%(num)d cars", n)


def soh_histogram(sohs: list[float]) -> Chart | None:
    """Cars per band of state of health: 1-point bins (wider for a wide spread), those
    under the alert threshold marked."""
    if not sohs:
        return None
    low, high = math.floor(min(sohs)), math.floor(max(sohs))
    width = max(1, math.ceil((high - low + 1) / MAX_BINS))
    low -= (low - int(LOW_SOH_THRESHOLD)) % width  # the threshold is a bin's edge
    starts = list(range(low, high + 1, width))
    counts = [sum(1 for s in sohs if start <= s < start + width) for start in starts]
    counts[-1] += sum(1 for s in sohs if s >= starts[-1] + width)  # floor rounding at the top
    return build(
        "battery-soh-histogram",
        _("Cars by state of health"),
        "bar",
        [percent(start, 0) for start in starts],
        [float(n) for n in counts],
        [
            _(
                "%(cars)s (%(low)s to %(high)s)",
                low=percent(s, 0),
                high=percent(s + width, 0),
                cars=_cars(n),
            )
            for s, n in zip(starts, counts, strict=True)
        ],
        label_header=_("State of health from"),
        tones=["low" if start + width <= LOW_SOH_THRESHOLD else "" for start in starts],
    )


def fade_chart(
    chart_id: str, title: str, header: str, labels: list[str], groups: list[FadeGroup]
) -> Chart | None:
    """The mean fade (% a year) of each group's cars, with how many cars it is."""
    if not any(g.cars for g in groups):
        return None
    return build(
        chart_id,
        title,
        "bar",
        labels,
        [g.fade_percent_per_year for g in groups],
        [
            _(
                "%(fade)s a year, %(cars)s",
                fade=percent(g.fade_percent_per_year),
                cars=_cars(g.cars),
            )
            if g.cars
            else _("no cars")
            for g in groups
        ],
        axis_format="{:,.1f}%",
        label_header=header,
    )


def dc_share_label(bucket: tuple[float, float]) -> str:
    return _(
        "%(low)s to %(high)s", low=percent(bucket[0] * 100, 0), high=percent(bucket[1] * 100, 0)
    )


def fleet_battery_page(report: FleetBattery) -> FleetBatteryPage:
    measured = report.measured
    dc_labels = [dc_share_label(g.key) for g in report.by_dc_share if isinstance(g.key, tuple)]
    sohs = [e.soh_percent for e in measured if e.soh_percent is not None]
    return FleetBatteryPage(
        report=report,
        measured=len(measured),
        waiting=len(report.cars) - len(measured),
        median_soh=statistics.median(sohs) if sohs else None,
        low_soh=sum(1 for e in measured if e.low_soh),
        fast_fade=sum(1 for e in measured if e.fast_fade),
        histogram=soh_histogram(sohs),
        by_model=fade_chart(
            "battery-fade-model",
            _("Fade per year by model"),
            _("Model"),
            [str(g.key) for g in report.by_model],
            report.by_model,
        ),
        by_dc_share=fade_chart(
            "battery-fade-dc",
            _("Fade per year by share of fast charging"),
            _("Sessions on DC"),
            dc_labels,
            report.by_dc_share,
        ),
        dc_labels=dc_labels,
        needs=ESTIMATE_NEEDS,
        threshold=LOW_SOH_THRESHOLD,
    )
