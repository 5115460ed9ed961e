"""A car's battery on its pages (portal.web.battery_health): the gauges' scales and the
trend's axis follow the figures; nothing is drawn before there is a figure."""

from types import SimpleNamespace

import pytest

from portal.services.battery import VehicleBattery
from portal.web.battery_health import battery_health, fade_gauge, soh_gauge, trend_range


def _estimate(**kw):
    values = {
        "soh_percent": 96.4,
        "soh_low": 95.1,
        "soh_high": 97.3,
        "fade_percent_per_year": 2.1,
        "fade_low": 1.6,
        "fade_high": 2.6,
        "trend": [
            {"month": "2026-05", "soh_percent": 97.0, "sessions": 20},
            {"month": "2026-06", "soh_percent": 96.5, "sessions": 18},
        ],
    }
    return SimpleNamespace(**(values | kw))


@pytest.fixture
def es(app):
    with app.test_request_context(headers={"Accept-Language": "es-MX"}):
        yield


def test_the_state_of_health_gauge_runs_from_70_to_100_with_the_alert_zone(es):
    g = soh_gauge(_estimate())
    assert [t.text for t in g.ticks] == ["70%", "75%", "80%", "85%", "90%", "95%", "100%"]
    assert [z.tone for z in g.zones] == ["low", "ok"]
    assert g.zones[0].x + g.zones[0].width == pytest.approx(g.ticks[3].x)  # 85 %
    # A worn pack widens the scale down; a reading over 100 % widens it up.
    assert soh_gauge(_estimate(soh_percent=66.0, soh_low=64.2)).ticks[0].text == "60%"
    assert soh_gauge(_estimate(soh_percent=100.4, soh_high=101.2)).ticks[-1].text == "105%"


def test_the_fade_gauge_pins_the_fleets_median_and_keeps_about_five_ticks(es):
    g = fade_gauge(_estimate(), 2.3)
    assert [t.text for t in g.ticks] == ["0%", "1%", "2%", "3%", "4%"]
    assert [p.text for p in g.pins] == ["Flota: 2.3%"]
    wide = fade_gauge(_estimate(fade_percent_per_year=34.0, fade_low=32.6, fade_high=35.7), 2.2)
    assert [t.text for t in wide.ticks] == ["0%", "10%", "20%", "30%", "40%"]
    gaining = fade_gauge(_estimate(fade_percent_per_year=0.2, fade_low=-1.4), None)
    assert gaining.ticks[0].text == "-2%"
    assert gaining.pins == []


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        ([100.0, 99.6, 96.6], (80, 100)),
        ([100.8, 84.6], (80, 100)),  # a point over 100 sits on the top
        ([101.8, 99.0, 97.0], (85, 105)),
        ([101.0, 70.2], (60, 100)),  # by tens when it fades that far
    ],
)
def test_the_trend_axis_is_four_round_steps_that_hold_every_month(months, expected):
    assert trend_range(months) == expected


def test_nothing_is_drawn_before_there_is_a_figure(es):
    assert battery_health(VehicleBattery(None, 2.0)).measured is False
    waiting = battery_health(VehicleBattery(_estimate(soh_percent=None), 2.0))
    assert (waiting.soh, waiting.trend) == (None, None)
    young = battery_health(VehicleBattery(_estimate(fade_percent_per_year=None, trend=[]), None))
    assert young.soh is not None
    assert (young.fade, young.trend) == (None, None)
    phone = battery_health(VehicleBattery(_estimate(), 2.0), compact=True)
    assert phone.trend.width == 360
    assert [m.label for m in phone.trend.marks] == ["may 26", "jun 26"]
