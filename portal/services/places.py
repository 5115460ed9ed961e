"""Where a car is, in words people use: "En el Depósito Vallejo", "A 300 m de Metro
Insurgentes", "En Narvarte". No Flask here; the words are the templates' (macros/place.html).

The places are the depots (from the database) and a small offline gazetteer of Mexico
City's Metro stations, landmarks and colonias (`places_cdmx.csv`, with its sources in its
header). No network and no geocoding service: the phone and the depot's tablet lose
connectivity, and a third party would learn where every car is.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Depot

GAZETTEER = Path(__file__).with_name("places_cdmx.csv")
AT_DEPOT_M = 150
"""Closer than this to a depot, the car is at the depot."""
NEAR_DEPOT_M = 600
"""Closer than this, the depot is what the car is near, before any other place."""
NEAR_LANDMARK_M = 1_500
"""A Metro station or landmark this close names the place; else the nearest colonia."""
IN_COLONIA_M = 1_000
"""A colonia's centre this close: the car is in it."""


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    kind: str  # depot | metro | landmark | colonia
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class NearbyPlace:
    """A place and how far the car is from it, in metres rounded the way people say it
    (50 m steps under a kilometre, 100 m steps above)."""

    place: Place
    distance_m: int

    @property
    def kind(self) -> str:
        return self.place.kind

    @property
    def name(self) -> str:
        return self.place.name

    @property
    def at(self) -> bool:
        """At the place itself (a depot), or in it (a colonia)."""
        limit = AT_DEPOT_M if self.kind == "depot" else IN_COLONIA_M
        return self.kind in ("depot", "colonia") and self.distance_m < limit


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(math.sqrt(a))


def spoken_metres(metres: float) -> int:
    """50 m steps under a kilometre (at least 50 m), 100 m steps above."""
    step = 50 if metres < 1_000 else 100
    return max(50, round(metres / step) * step)


@cache
def gazetteer() -> tuple[Place, ...]:
    """The gazetteer's places (read once per process)."""
    with GAZETTEER.open(encoding="utf-8") as file:
        rows = csv.DictReader(line for line in file if not line.startswith("#"))
        return tuple(
            Place(row["name"], row["kind"], float(row["latitude"]), float(row["longitude"]))
            for row in rows
        )


def _nearest(latitude: float, longitude: float, places: Iterable[Place]) -> NearbyPlace | None:
    best: tuple[float, Place] | None = None
    for place in places:
        d = distance_m(latitude, longitude, place.latitude, place.longitude)
        if best is None or d < best[0]:
            best = (d, place)
    return None if best is None else NearbyPlace(best[1], spoken_metres(best[0]))


def describe_position(
    latitude: float, longitude: float, depots: Sequence[Place] = ()
) -> NearbyPlace | None:
    """The place that best says where a point is: a depot within NEAR_DEPOT_M, else a
    Metro station or landmark within NEAR_LANDMARK_M, else the nearest colonia (the
    template says "in" it when its centre is within IN_COLONIA_M, else how far)."""
    near_depot = _nearest(latitude, longitude, depots)
    if near_depot is not None and near_depot.distance_m < NEAR_DEPOT_M:
        return near_depot
    places = gazetteer()
    landmark = _nearest(latitude, longitude, (p for p in places if p.kind != "colonia"))
    if landmark is not None and landmark.distance_m <= NEAR_LANDMARK_M:
        return landmark
    return _nearest(latitude, longitude, (p for p in places if p.kind == "colonia"))


def near_a_depot(
    latitude: float, longitude: float, depots: Sequence[Place], radius_m: float = 500
) -> bool:
    """Within `radius_m` of one of the depots (where its chargers are)."""
    return any(distance_m(latitude, longitude, d.latitude, d.longitude) < radius_m for d in depots)


def depot_places(session: Session) -> list[Place]:
    """The depots with a position, as places."""
    rows = session.execute(select(Depot.name, Depot.latitude, Depot.longitude).order_by(Depot.id))
    return [
        Place(name, "depot", float(lat), float(lon))
        for name, lat, lon in rows
        if lat is not None and lon is not None
    ]
