"""The charts module's geometry: a fixed axis with reference lines and marked bars,
and a gauge (a value, its band, the scale's zones, pins)."""

import pytest

from portal.web.charts import build, gauge


def test_a_fixed_axis_places_values_and_rules_within_it():
    chart = build(
        "c",
        "SoH",
        "line",
        ["ene", "feb", "mar"],
        [100.0, 90.0, 120.0],
        ["100", "90", "120"],
        y_range=(80.0, 100.0),
        rules=[(85.0, "Alerta")],
    )
    top, bottom = chart.top, chart.bottom
    assert [t.text for t in chart.ticks] == ["80", "85", "90", "95", "100"]
    assert chart.marks[0].y == pytest.approx(top)
    assert chart.marks[1].y == pytest.approx((top + bottom) / 2)
    assert chart.marks[2].y == pytest.approx(top)  # above the axis: drawn at its top
    (rule,) = chart.rules
    assert rule.y == pytest.approx(bottom - (bottom - top) / 4)
    assert rule.text == "Alerta"


def test_bars_carry_their_tone_and_the_size_is_chosen():
    chart = build(
        "h",
        "Cars",
        "bar",
        ["83", "99"],
        [1.0, 20.0],
        ["1", "20"],
        tones=["low", ""],
        size=(360, 200),
    )
    assert [m.tone for m in chart.marks] == ["low", ""]
    assert (chart.width, chart.height) == (360, 200)
    assert chart.right == 352


def test_a_gauge_puts_the_value_band_zones_and_pins_on_its_scale():
    g = gauge(
        85.0,
        (80.0, 90.0),
        (70.0, 100.0),
        ticks=[70, 85, 100],
        tick_text=str,
        zones=[(70.0, 85.0, "low"), (85.0, 100.0, "ok")],
        pins=[(95.0, "Flota")],
        width=312,
    )
    # 12 units of margin each side: 288 units for 30 points.
    assert (g.left, g.right) == (12.0, 300.0)
    assert g.value_x == pytest.approx(156.0)
    assert (g.band_x, g.band_width) == (pytest.approx(108.0), pytest.approx(96.0))
    assert [(z.x, z.width, z.tone) for z in g.zones] == [(12.0, 144.0, "low"), (156.0, 144.0, "ok")]
    assert [(t.x, t.text) for t in g.ticks] == [(12.0, "70"), (156.0, "85"), (300.0, "100")]
    assert [(p.x, p.text) for p in g.pins] == [(pytest.approx(252.0), "Flota")]
    assert g.bar_y > 12  # room above the bar for the pin's label


def test_a_gauge_keeps_values_outside_its_scale_at_its_ends():
    g = gauge(104.0, (99.0, 106.0), (70.0, 100.0), ticks=[], tick_text=str, width=312)
    assert g.value_x == 300.0
    assert g.band_x + g.band_width == 300.0
    assert gauge(None, None, (0.0, 4.0), ticks=[], tick_text=str).value_x is None
