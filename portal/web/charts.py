"""Server-side SVG charts, the one place their geometry is computed; the markup is in
`templates/macros/charts.html`.

- `build`: a bar or line `Chart` of already translated labels and plain numbers; the
  macro draws it (SVG attributes and CSS classes only: the CSP forbids inline styles)
  and prints the same numbers in a table for screen readers and for copying.
- `stacked`: bars of several series stacked per slot (energy per depot per day, an
  applicant's earnings per platform per day).
- `polyline`: a time series as SVG polyline runs (a vehicle's charge and speed).
- `gauge`: one value on a horizontal scale with its uncertainty band, the scale's
  zones and reference pins (a battery's state of health, its fade against the fleet's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Mark:
    x: float
    y: float
    width: float
    height: float
    label: str
    text: str  # the value as shown (for the <title> tooltip and the table)
    tone: str = ""  # a CSS modifier for this mark ("low": a bar under a threshold)


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    text: str


@dataclass(frozen=True, slots=True)
class XLabel:
    x: float
    text: str


@dataclass(slots=True)
class Chart:
    """One chart: `kind` is "bar" or "line"; `values` and `texts` align with `labels`."""

    id: str
    title: str
    kind: str
    labels: list[str]
    values: list[float]
    texts: list[str]
    unit: str = ""
    label_header: str = ""
    width: int = 640
    height: int = 240
    left: int = 56
    top: int = 12
    bottom_margin: int = 40
    marks: list[Mark] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    xlabels: list[XLabel] = field(default_factory=list)
    rules: list[Tick] = field(default_factory=list)  # labelled reference lines

    @property
    def bottom(self) -> float:
        return self.height - self.bottom_margin

    @property
    def right(self) -> float:
        return self.width - 8

    @property
    def points(self) -> str:
        """The line's points for `<polyline points=...>`."""
        return " ".join(f"{m.x:.1f},{m.y:.1f}" for m in self.marks)


def nice_max(value: float) -> float:
    """A round top for the axis with four round ticks."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 < value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (0.25, 0.5, 1, 2, 2.5, 5, 10):
        if value <= step * magnitude * 4:
            return step * magnitude * 4
    return magnitude * 40


def build(
    chart_id: str,
    title: str,
    kind: str,
    labels: list[str],
    values: list[float],
    texts: list[str],
    *,
    axis_format: str = "{:,.0f}",
    unit: str = "",
    label_header: str = "",
    y_range: tuple[float, float] | None = None,
    rules: Sequence[tuple[float, str]] = (),
    tones: Sequence[str] | None = None,
    size: tuple[int, int] = (640, 240),
) -> Chart:
    """The axis runs from 0 to a round top, or over `y_range` when given (a state of
    health between 80 and 100 %); `rules` are reference lines (value, label) and `tones`
    a CSS modifier per mark."""
    chart = Chart(chart_id, title, kind, labels, values, texts, unit, label_header, *size)
    plot_w = chart.right - chart.left
    plot_h = chart.bottom - chart.top
    # At least 4 at the top, so that four ticks of whole numbers stay distinct.
    low, top_value = y_range or (0.0, max(4.0, nice_max(max(values, default=0))))
    span = top_value - low

    def height_of(value: float) -> float:
        return plot_h * min(max(0.0, value - low), span) / span

    n = max(1, len(values))
    slot = plot_w / n
    every = max(1, -(-n // 12))  # at most ~12 axis labels
    tones = tones or [""] * len(values)
    marks = zip(labels, values, texts, tones, strict=True)
    for i, (label, value, text, tone) in enumerate(marks):
        h = height_of(value)
        if kind == "bar":
            w = slot * 0.7
            x = chart.left + i * slot + (slot - w) / 2
            chart.marks.append(Mark(x, chart.bottom - h, w, h, label, text, tone))
        else:
            x = chart.left + i * slot + slot / 2
            chart.marks.append(Mark(x, chart.bottom - h, 0, h, label, text, tone))
        if i % every == 0:
            chart.xlabels.append(XLabel(chart.left + i * slot + slot / 2, label))
    chart.ticks = [
        Tick(chart.bottom - plot_h * k / 4, axis_format.format(low + span * k / 4))
        for k in range(5)
    ]
    chart.rules = [Tick(chart.bottom - height_of(value), text) for value, text in rules]
    return chart


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str  # the <title> tooltip: the series and its value


@dataclass(slots=True)
class StackedChart:
    """Bars of several series stacked per slot, the legend's series and their colours."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    segments: list[Segment] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    xlabels: list[XLabel] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (series, colour)
    shaded: list[tuple[float, float]] = field(default_factory=list)  # (x, width) bands
    limit_y: float | None = None  # a horizontal limit line (the site's power)


# A palette that stays readable for the colour-blind and on a grey tablet screen.
PALETTE = ("#0b6e4f", "#2f6fb5", "#c77c00", "#8a3ffc", "#b42318")


def stacked(
    slot_labels: list[str],
    series: list[tuple[str, list[float], list[str]]],
    *,
    axis_text: Callable[[float], str],
    colours: Sequence[str] = PALETTE,
    width: int = 960,
    height: int = 300,
    left: int = 64,
    bar_share: float = 0.62,
    floor: float = 4.0,
    shade: Sequence[bool] = (),
    limit: float | None = None,
) -> StackedChart:
    """`series` are (name, a value per slot, a tooltip text per slot); a slot label of ""
    is left off the axis. The axis top is round, at least `floor` and `limit`, with four
    ticks. Slots whose `shade` is true are shaded (punta); `limit` is drawn as a line."""
    chart = StackedChart(width, height, left, width - 8, 12, height - 36)
    plot_w, plot_h = chart.right - chart.left, chart.bottom - chart.top
    totals = [sum(values[i] for _n, values, _t in series) for i in range(len(slot_labels))]
    top_value = max(floor, nice_max(max([*totals, limit or 0.0])))
    slot = plot_w / max(1, len(slot_labels))
    chart.shaded = [(chart.left + i * slot, slot) for i, on in enumerate(shade) if on]
    if limit is not None:
        chart.limit_y = chart.bottom - plot_h * limit / top_value
    bar_w = slot * bar_share
    used: set[int] = set()
    for i, label in enumerate(slot_labels):
        x = chart.left + i * slot + (slot - bar_w) / 2
        y = float(chart.bottom)
        for n, (_name, values, texts) in enumerate(series):
            h = plot_h * max(0.0, values[i]) / top_value
            if h <= 0:
                continue
            y -= h
            used.add(n)
            colour = colours[n % len(colours)]
            chart.segments.append(Segment(x, y, bar_w, h, colour, texts[i]))
        if label:
            chart.xlabels.append(XLabel(chart.left + i * slot + slot / 2, label))
    chart.ticks = [
        Tick(chart.bottom - plot_h * k / 4, axis_text(top_value * k / 4)) for k in range(5)
    ]
    chart.legend = [(series[n][0], colours[n % len(colours)]) for n in sorted(used)]
    return chart


def polyline(
    points: list[tuple[float, float | None]],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    width: float,
    height: float,
) -> list[str]:
    """SVG polyline `points` strings, one per unbroken run (a None value breaks it)."""
    x0, x1 = x_range
    y0, y1 = y_range
    runs: list[list[str]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
            continue
        px = (x - x0) / (x1 - x0) * width if x1 > x0 else 0
        py = height - (y - y0) / (y1 - y0) * height if y1 > y0 else height
        runs[-1].append(f"{px:.1f},{py:.1f}")
    return [" ".join(run) for run in runs if run]


@dataclass(frozen=True, slots=True)
class Zone:
    x: float
    width: float
    tone: str  # a CSS modifier: "low", "ok"


@dataclass(frozen=True, slots=True)
class Pin:
    """A reference on a gauge's scale (the fleet's average), with its label."""

    x: float
    text: str


@dataclass(slots=True)
class Gauge:
    """One value on a horizontal scale: the bar's zones, the value's band and mark,
    ticks under the bar, pins above it. x in SVG units of a `width` x `height` box."""

    width: int
    height: int
    bar_y: float
    bar_height: float
    left: float
    right: float
    value_x: float | None
    band_x: float
    band_width: float
    zones: list[Zone] = field(default_factory=list)
    ticks: list[XLabel] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)


def gauge(
    value: float | None,
    band: tuple[float, float] | None,
    domain: tuple[float, float],
    *,
    ticks: Sequence[float],
    tick_text: Callable[[float], str],
    zones: Sequence[tuple[float, float, str]] = (),
    pins: Sequence[tuple[float, str]] = (),
    width: int = 600,
    height: int = 64,
) -> Gauge:
    """`value` (None: no mark) with its `band` (low, high) on a scale over `domain`;
    `zones` are (from, to, tone) stretches of the scale; values outside the domain sit
    at its ends."""
    lo, hi = domain
    left, right = 12.0, width - 12.0
    top = 22.0 if pins else 6.0
    bar_height = height - top - 22.0

    def x_of(v: float) -> float:
        return left + (right - left) * (min(max(v, lo), hi) - lo) / (hi - lo)

    band_x, band_end = (x_of(band[0]), x_of(band[1])) if band else (0.0, 0.0)
    return Gauge(
        width=width,
        height=height,
        bar_y=top,
        bar_height=bar_height,
        left=left,
        right=right,
        value_x=None if value is None else x_of(value),
        band_x=band_x,
        band_width=band_end - band_x,
        zones=[Zone(x_of(a), x_of(b) - x_of(a), tone) for a, b, tone in zones],
        ticks=[XLabel(x_of(t), tick_text(t)) for t in ticks],
        pins=[Pin(x_of(v), text) for v, text in pins],
    )
