"""A car's battery health as its pages show it — the staff's vehicle page (a tablet)
and the driver's contract page (a phone) — from `portal.services.battery.VehicleBattery`: the
state of health on a gauge with its band and the alert zone, the fade on a gauge with
the fleet's beside it, the monthly trend as a line. The words are in
`templates/battery/_vehicle_health.html` and `_driver_health.html`; the geometry comes
from the charts module."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from portal.i18n import local_date, number, percent
from portal.models import BatteryEstimate
from portal.services.battery import VehicleBattery
from portal.web.charts import Chart, Gauge, build, gauge
from telemetry.battery.estimator import (
    LOW_SOH_PERCENT,
    MIN_CALIBRATION_SESSIONS,
    MIN_DELTA_SOC,
    MIN_FADE_DAYS,
)

# SVG widths in user units: a gauge's, half a tablet's card or a phone's width, so its
# text keeps about its CSS size; the trend's on a phone.
GAUGE_WIDTH, PHONE_WIDTH = 360, 360
FADE_STEPS = (1.0, 2.0, 5.0, 10.0, 20.0)


ESTIMATE_NEEDS = {
    "sessions": MIN_CALIBRATION_SESSIONS,
    "points": int(MIN_DELTA_SOC),
    "fade_days": MIN_FADE_DAYS,
}
"""What an estimate needs, for the screens that explain why there is none yet: this many
depot sessions that each added at least `points` points of charge (with the tracker
reporting before and after), and `fade_days` days of them for a fade rate."""
LOW_SOH_THRESHOLD = LOW_SOH_PERCENT


@dataclass(frozen=True, slots=True)
class BatteryHealth:
    estimate: BatteryEstimate | None  # None: no usable session yet
    fleet_fade: float | None  # the fleet's median fade, % a year
    needs: dict[str, int]  # what an estimate needs (ESTIMATE_NEEDS)
    threshold: float  # the state of health under which a car is flagged
    soh: Gauge | None  # None until there is a state of health
    fade: Gauge | None  # None until there is a fade rate
    trend: Chart | None  # None before two months of sessions

    @property
    def measured(self) -> bool:
        return self.soh is not None


def _floor(value: float, step: float) -> float:
    return math.floor(value / step) * step


def _ceil(value: float, step: float) -> float:
    return math.ceil(value / step) * step


def soh_gauge(e: BatteryEstimate) -> Gauge | None:
    """70-100 % (wider when the band is), the zone under the alert threshold marked."""
    if e.soh_percent is None:
        return None
    low = e.soh_percent if e.soh_low is None else e.soh_low
    high = e.soh_percent if e.soh_high is None else e.soh_high
    lo, hi = min(70.0, _floor(low - 1, 5)), max(100.0, _ceil(high, 5))
    return gauge(
        e.soh_percent,
        (low, high),
        (lo, hi),
        ticks=[lo + 5 * k for k in range(int((hi - lo) / 5) + 1)],
        tick_text=lambda v: percent(v, 0),
        zones=[(lo, LOW_SOH_THRESHOLD, "low"), (LOW_SOH_THRESHOLD, hi, "ok")],
        width=GAUGE_WIDTH,
    )


def fade_gauge(e: BatteryEstimate, fleet: float | None) -> Gauge | None:
    """0-4 % a year (wider when the band or the fleet's is), about five ticks, the
    fleet's median pinned."""
    fade = e.fade_percent_per_year
    if fade is None:
        return None
    low = fade if e.fade_low is None else e.fade_low
    high = fade if e.fade_high is None else e.fade_high
    span = max(high, fleet or 0, 4.0) - min(low, 0.0)
    step = next((s for s in FADE_STEPS if span / s <= 5), FADE_STEPS[-1])
    lo, hi = min(0.0, _floor(low, step)), max(4.0, _ceil(max(high, fleet or 0), step))
    return gauge(
        fade,
        (low, high),
        (lo, hi),
        ticks=[lo + step * k for k in range(round((hi - lo) / step) + 1)],
        tick_text=lambda v: percent(v, 0),
        pins=[(fleet, _("Fleet: %(fade)s", fade=percent(fleet)))] if fleet is not None else [],
        width=GAUGE_WIDTH,
    )


def trend_range(values: list[float]) -> tuple[float, float]:
    """Four round steps that hold every month: 80-100 % (85-105 % for a month more
    than a point above 100; up to a point above is drawn at the top), by tens when the
    spread needs more."""
    top = max(values) if max(values) > 101 else 100.0
    for step in (5.0, 10.0):
        hi = _ceil(top, step)
        if min(values) >= hi - 4 * step:
            return hi - 4 * step, hi
    return _floor(min(values), 10), _ceil(top, 10)


def trend_chart(e: BatteryEstimate, compact: bool = False) -> Chart | None:
    """The median state of health of each month's sessions (`trend_range`), with the
    alert threshold as a line."""
    points = e.trend or []
    if len(points) < 2:
        return None
    values = [float(p["soh_percent"]) for p in points]
    lo, hi = trend_range(values)
    threshold = _("Alert: %(soh)s", soh=percent(LOW_SOH_THRESHOLD, 0))

    def month(p: dict) -> str:
        year, m = (int(part) for part in p["month"].split("-"))
        return local_date(date(year, m, 1), "MMM yy")

    return build(
        "battery-trend",
        _("State of health per month"),
        "line",
        [month(p) for p in points],
        values,
        [
            _("%(soh)s (%(sessions)s sessions)", soh=percent(v), sessions=number(p["sessions"]))
            for v, p in zip(values, points, strict=True)
        ],
        axis_format="{:,.0f}%",
        label_header=_("Month"),
        y_range=(lo, hi),
        rules=[(LOW_SOH_THRESHOLD, threshold)] if lo < LOW_SOH_THRESHOLD else [],
        size=(PHONE_WIDTH, 200) if compact else (640, 220),
    )


def battery_health(battery: VehicleBattery, *, compact: bool = False) -> BatteryHealth:
    """`compact`: the trend sized for a phone."""
    e = battery.estimate
    fleet = battery.fleet_fade_median
    return BatteryHealth(
        estimate=e,
        fleet_fade=fleet,
        needs=ESTIMATE_NEEDS,
        threshold=LOW_SOH_THRESHOLD,
        soh=soh_gauge(e) if e else None,
        fade=fade_gauge(e, fleet) if e else None,
        trend=trend_chart(e, compact) if e and e.soh_percent is not None else None,
    )
