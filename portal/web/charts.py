"""Server-side SVG charts, the one place their geometry is computed; the markup is in
`templates/macros/charts.html`.

- `build`: a bar or line `Chart` of already translated labels and plain numbers; the
  macro draws it (SVG attributes and CSS classes only: the CSP forbids inline styles)
  and prints the same numbers in a table for screen readers and for copying.
- `stacked`: bars of several series stacked per slot (energy per depot per day, an
  applicant's earnings per platform per day).
- `polyline`: a time series as SVG polyline runs (a vehicle's charge and speed).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Mark:
    x: float
    y: float
    width: float
    height: float
    label: str
    text: str  # the value as shown (for the <title> tooltip and the table)


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
) -> Chart:
    chart = Chart(chart_id, title, kind, labels, values, texts, unit, label_header)
    plot_w = chart.right - chart.left
    plot_h = chart.bottom - chart.top
    # At least 4 at the top, so that four ticks of whole numbers stay distinct.
    top_value = max(4.0, nice_max(max(values, default=0)))
    n = max(1, len(values))
    slot = plot_w / n
    every = max(1, -(-n // 12))  # at most ~12 axis labels
    for i, (label, value, text) in enumerate(zip(labels, values, texts, strict=True)):
        h = plot_h * max(0.0, value) / top_value
        if kind == "bar":
            w = slot * 0.7
            chart.marks.append(
                Mark(chart.left + i * slot + (slot - w) / 2, chart.bottom - h, w, h, label, text)
            )
        else:
            x = chart.left + i * slot + slot / 2
            chart.marks.append(Mark(x, chart.bottom - h, 0, h, label, text))
        if i % every == 0:
            chart.xlabels.append(XLabel(chart.left + i * slot + slot / 2, label))
    chart.ticks = [
        Tick(chart.bottom - plot_h * k / 4, axis_format.format(top_value * k / 4)) for k in range(5)
    ]
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
