"""The fleet's pictures: the board's map (Web Mercator over Mexico City, with slippy-map
tiles when a tile server is configured, else a schematic with landmarks) and a
vehicle's page (its charge and speed charts, battery health, last frame)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from portal.models import Depot
from portal.services.fleet_status import BoardRow
from portal.services.vehicle_page import VehiclePage
from portal.web.battery_health import battery_health
from portal.web.charts import polyline
from portal.web.labels import VEHICLE_STATUS_LABELS

MAP_WIDTH = 800.0
CHART_WIDTH, CHART_HEIGHT = 600, 140
LANDMARKS = (
    ("Zócalo", 19.4326, -99.1332),
    ("Polanco", 19.4333, -99.1917),
    ("Santa Fe", 19.3595, -99.2606),
    ("AICM", 19.4361, -99.0719),
    ("Ciudad Universitaria", 19.3320, -99.1870),
    ("Xochimilco", 19.2572, -99.1033),
)

Point = tuple[float, float]


# The area the map shows: Mexico City's urban core (WGS84 degrees).
MAP_BOUNDS = {"south": 19.20, "north": 19.58, "west": -99.32, "east": -98.96}


def _mercator_y(latitude: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(latitude) / 2))


def project(latitude: float, longitude: float, width: float, height: float) -> tuple[float, float]:
    """Web Mercator position of a point on a map of MAP_BOUNDS `width` x `height`."""
    west, east = MAP_BOUNDS["west"], MAP_BOUNDS["east"]
    top, bottom = _mercator_y(MAP_BOUNDS["north"]), _mercator_y(MAP_BOUNDS["south"])
    x = (longitude - west) / (east - west) * width
    y = (top - _mercator_y(latitude)) / (top - bottom) * height
    return round(x, 1), round(y, 1)


def on_map(latitude: float, longitude: float) -> bool:
    return (
        MAP_BOUNDS["south"] <= latitude <= MAP_BOUNDS["north"]
        and MAP_BOUNDS["west"] <= longitude <= MAP_BOUNDS["east"]
    )


@dataclass(frozen=True, slots=True)
class Tile:
    href: str
    x: float
    y: float
    size: float


def map_height(width: float) -> float:
    """The height that keeps MAP_BOUNDS undistorted at `width` (Web Mercator)."""
    lon_span = math.radians(MAP_BOUNDS["east"] - MAP_BOUNDS["west"])
    y_span = _mercator_y(MAP_BOUNDS["north"]) - _mercator_y(MAP_BOUNDS["south"])
    return round(width * y_span / lon_span, 1)


def map_tiles(template: str, width: float, height: float, zoom: int = 11) -> list[Tile]:
    """The slippy-map tiles (`{z}/{x}/{y}` URL template) behind a MAP_BOUNDS map."""

    def tile_xy(lat: float, lon: float) -> tuple[float, float]:
        n = 2**zoom
        x = (lon + 180) / 360 * n
        y = (1 - _mercator_y(lat) / math.pi) / 2 * n
        return x, y

    left, top = tile_xy(MAP_BOUNDS["north"], MAP_BOUNDS["west"])
    right, bottom = tile_xy(MAP_BOUNDS["south"], MAP_BOUNDS["east"])
    scale_x = width / (right - left)
    scale_y = height / (bottom - top)
    tiles = []
    for tx in range(math.floor(left), math.floor(right) + 1):
        for ty in range(math.floor(top), math.floor(bottom) + 1):
            href = template.replace("{z}", str(zoom)).replace("{x}", str(tx))
            href = href.replace("{y}", str(ty)).replace("{s}", "a")
            tiles.append(
                Tile(
                    href,
                    round((tx - left) * scale_x, 1),
                    round((ty - top) * scale_y, 1),
                    round(scale_x, 1),
                )
            )
    return tiles


@dataclass(frozen=True, slots=True)
class BoardMap:
    width: float
    height: float
    tiles: list[Tile]
    depots: list[tuple[Depot, Point]]
    dots: list[tuple[BoardRow, Point]]
    landmarks: list[tuple[str, Point]]


def board_map(rows: list[BoardRow], depots: list[Depot], tile_url: str) -> BoardMap:
    """Where the board's cars (those with a position on the map) and depots are drawn."""
    width = MAP_WIDTH
    height = map_height(width)

    def at(latitude: float, longitude: float) -> Point:
        return project(latitude, longitude, width, height)

    return BoardMap(
        width=width,
        height=height,
        tiles=map_tiles(tile_url, width, height) if tile_url else [],
        depots=[
            (d, at(float(d.latitude), float(d.longitude)))
            for d in depots
            if d.latitude is not None and d.longitude is not None
        ],
        dots=[
            (row, at(row.state.latitude, row.state.longitude))
            for row in rows
            if row.state and on_map(row.state.latitude, row.state.longitude)
        ],
        landmarks=[(name, at(lat, lon)) for name, lat, lon in LANDMARKS],
    )


@dataclass(frozen=True, slots=True)
class VehicleCharts:
    width: int
    height: int
    period: str
    since: datetime
    now: datetime
    soc: list[str]  # polyline runs
    speed: list[str]
    top_speed: int
    points: int


def vehicle_charts(page: VehiclePage) -> VehicleCharts:
    """The charge (0-100 %) and speed (0 to at least 60 km/h) lines over the period."""
    series = page.series
    x_range = (page.since.timestamp(), page.now.timestamp())
    top_speed = max([60.0, *(p.speed for p in series)])

    def line(values: list[tuple[float, float | None]], top: float) -> list[str]:
        return polyline(values, x_range, (0, top), CHART_WIDTH, CHART_HEIGHT)

    return VehicleCharts(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        period=page.period,
        since=page.since,
        now=page.now,
        soc=line([(p.at.timestamp(), p.soc_pct) for p in series], 100),
        speed=line([(p.at.timestamp(), p.speed) for p in series], top_speed),
        top_speed=round(top_speed),
        points=len(series),
    )


def raw_frame(page: VehiclePage) -> str | None:
    """The tracker's last record as indented JSON (the page's "raw" panel)."""
    return json.dumps(page.state.last_record, indent=2, ensure_ascii=False) if page.state else None


def vehicle_context(page: VehiclePage) -> dict[str, Any]:
    """What a vehicle's page shows beside the page itself: the charts, the battery's
    health, the last frame and the status labels."""
    return {
        "chart": vehicle_charts(page),
        "battery": battery_health(page.battery),
        "raw": raw_frame(page),
        "status_labels": VEHICLE_STATUS_LABELS,
    }
