"""What the planner is asked: a depot's connectors and site limit, the horizon's slots,
their prices, and the cars that will be plugged in. Checked when built."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from charging.tariffs import SlotRates


class ScenarioError(ValueError):
    """A scenario that cannot be planned; the message names the field and the value."""


@dataclass(frozen=True)
class Connector:
    id: str
    max_kw: float


@dataclass(frozen=True)
class Vehicle:
    """A car that may draw power in slots ``arrival_slot`` … ``departure_slot - 1``.

    ``energy_kwh`` is what it needs by its departure; it draws at most min(``max_kw``,
    its connector's ``max_kw``). A car that is not ``controlled`` (its charger refuses
    charging profiles) draws its full power from its arrival until its need is met, as
    in the uncontrolled plan: a fixed load the other cars are planned around.
    """

    id: str
    connector: str
    arrival_slot: int
    departure_slot: int
    energy_kwh: float
    max_kw: float
    controlled: bool = True


@dataclass(frozen=True, eq=False)
class Scenario:
    """A horizon of ``slots`` slots of ``slot_minutes`` each, and what to plan in it.

    ``energy_price_mxn_per_kwh`` and ``punta`` have one entry per slot; ``punta`` marks
    the slots whose kW set the capacity charge (``tariffs.SlotRates.capacity_slots``).
    The capacity charge is ``capacity_mxn_per_kw`` × max(``punta_peak_so_far_kw``, the
    highest total kW in a punta slot); the distribution charge is
    ``distribution_mxn_per_kw`` × max(``peak_so_far_kw``, the highest total kW in any
    slot). Cars on one connector do not overlap in time.
    """

    slots: int
    site_limit_kw: float
    energy_price_mxn_per_kwh: npt.NDArray[np.float64]
    punta: npt.NDArray[np.bool_]
    capacity_mxn_per_kw: float
    distribution_mxn_per_kw: float
    connectors: tuple[Connector, ...]
    vehicles: tuple[Vehicle, ...]
    slot_minutes: int = 15
    punta_peak_so_far_kw: float = 0.0
    peak_so_far_kw: float = 0.0

    def __post_init__(self) -> None:
        try:
            prices = np.asarray(self.energy_price_mxn_per_kwh, dtype=np.float64)
        except (TypeError, ValueError):
            raise ScenarioError("energy_price_mxn_per_kwh must hold numbers") from None
        punta = np.asarray(self.punta)
        object.__setattr__(self, "energy_price_mxn_per_kwh", prices)
        object.__setattr__(self, "punta", punta.astype(np.bool_))
        object.__setattr__(self, "connectors", tuple(self.connectors))
        object.__setattr__(self, "vehicles", tuple(self.vehicles))
        _check(self, punta)

    @property
    def slot_hours(self) -> float:
        return self.slot_minutes / 60

    @property
    def vehicle_ids(self) -> tuple[str, ...]:
        return tuple(v.id for v in self.vehicles)

    def arrays(self) -> VehicleArrays:
        connector_kw = {c.id: c.max_kw for c in self.connectors}
        vs = self.vehicles
        return VehicleArrays(
            arrival=np.array([v.arrival_slot for v in vs], dtype=np.int64),
            departure=np.array([v.departure_slot for v in vs], dtype=np.int64),
            need_kwh=np.array([v.energy_kwh for v in vs], dtype=np.float64),
            limit_kw=np.array([min(v.max_kw, connector_kw[v.connector]) for v in vs]),
            controlled=np.array([v.controlled for v in vs], dtype=np.bool_),
        )


@dataclass(frozen=True, eq=False)
class VehicleArrays:
    """The cars' windows, needs and kW limits as arrays, in the scenario's order."""

    arrival: npt.NDArray[np.int64]
    departure: npt.NDArray[np.int64]
    need_kwh: npt.NDArray[np.float64]
    limit_kw: npt.NDArray[np.float64]
    controlled: npt.NDArray[np.bool_]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_amount(name: str, value: object) -> None:
    if not _is_number(value) or not math.isfinite(float(value)) or float(value) < 0:  # type: ignore[arg-type]
        raise ScenarioError(f"{name} must be a number, not negative (got {value!r})")


def _check_slot_count(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ScenarioError(f"{name} must be a whole number of at least {minimum} (got {value!r})")


def _check(s: Scenario, punta: npt.NDArray[Any]) -> None:
    _check_slot_count("slots", s.slots, 1)
    _check_slot_count("slot_minutes", s.slot_minutes, 1)
    for name in (
        "site_limit_kw",
        "capacity_mxn_per_kw",
        "distribution_mxn_per_kw",
        "punta_peak_so_far_kw",
        "peak_so_far_kw",
    ):
        _check_amount(name, getattr(s, name))
    prices = s.energy_price_mxn_per_kwh
    if prices.shape != (s.slots,):
        raise ScenarioError(
            f"energy_price_mxn_per_kwh has {prices.size} entries, not one per slot ({s.slots})"
        )
    if not np.isfinite(prices).all():
        raise ScenarioError("energy_price_mxn_per_kwh must hold finite numbers")
    if punta.shape != (s.slots,):
        raise ScenarioError(f"punta has {punta.size} entries, not one per slot ({s.slots})")
    if punta.dtype != np.bool_:
        raise ScenarioError("punta must hold true or false for each slot")

    connectors: dict[str, Connector] = {}
    for c in s.connectors:
        if c.id in connectors:
            raise ScenarioError(f"connector {c.id} is listed twice")
        _check_amount(f"connector {c.id}: max_kw", c.max_kw)
        connectors[c.id] = c
    seen: set[str] = set()
    windows: dict[str, list[Vehicle]] = {}
    for v in s.vehicles:
        if v.id in seen:
            raise ScenarioError(f"vehicle {v.id} is listed twice")
        seen.add(v.id)
        if v.connector not in connectors:
            raise ScenarioError(f"vehicle {v.id}: unknown connector {v.connector!r}")
        _check_slot_count(f"vehicle {v.id}: arrival_slot", v.arrival_slot, 0)
        _check_slot_count(f"vehicle {v.id}: departure_slot", v.departure_slot, 0)
        if v.departure_slot < v.arrival_slot:
            raise ScenarioError(
                f"vehicle {v.id}: departure_slot {v.departure_slot} is before"
                f" arrival_slot {v.arrival_slot}"
            )
        if v.departure_slot > s.slots:
            raise ScenarioError(
                f"vehicle {v.id}: departure_slot {v.departure_slot} is after the horizon"
                f" ({s.slots} slots)"
            )
        _check_amount(f"vehicle {v.id}: energy_kwh", v.energy_kwh)
        _check_amount(f"vehicle {v.id}: max_kw", v.max_kw)
        if not isinstance(v.controlled, bool):
            raise ScenarioError(f"vehicle {v.id}: controlled must be true or false")
        windows.setdefault(v.connector, []).append(v)
    for connector, cars in windows.items():
        cars = sorted(cars, key=lambda v: (v.arrival_slot, v.departure_slot))
        for earlier, later in itertools.pairwise(cars):
            if later.arrival_slot < earlier.departure_slot:
                raise ScenarioError(
                    f"vehicles {earlier.id} and {later.id} overlap on connector {connector}"
                )


def _field(data: Mapping[str, Any], name: str, where: str = "") -> Any:
    if name not in data:
        raise ScenarioError(f"{where}missing field {name!r}")
    return data[name]


def _list(data: Mapping[str, Any], name: str) -> Sequence[Any]:
    value = _field(data, name)
    if not isinstance(value, list):
        raise ScenarioError(f"{name} must be a list")
    return value


def _objects(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = _list(data, name)
    if not all(isinstance(item, dict) for item in items):
        raise ScenarioError(f"{name} must be a list of objects")
    return list(items)


def _text(item: Mapping[str, Any], name: str, where: str) -> str:
    value = _field(item, name, where)
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}{name} must be a non-empty string (got {value!r})")
    return value


def scenario_from_dict(data: Any) -> Scenario:
    """A scenario from its JSON form (docs/smart-charging.md); ScenarioError if bad."""
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a JSON object")
    prices = _list(data, "energy_price_mxn_per_kwh")
    if not all(_is_number(p) for p in prices):
        raise ScenarioError("energy_price_mxn_per_kwh must hold numbers")
    punta = _list(data, "punta")
    if not all(isinstance(p, bool) for p in punta):
        raise ScenarioError("punta must hold true or false for each slot")
    connectors = []
    for item in _objects(data, "connectors"):
        where = "connector: "
        cid = _text(item, "id", where)
        connectors.append(Connector(id=cid, max_kw=_field(item, "max_kw", f"connector {cid}: ")))
    vehicles = []
    for item in _objects(data, "vehicles"):
        vid = _text(item, "id", "vehicle: ")
        where = f"vehicle {vid}: "
        vehicles.append(
            Vehicle(
                id=vid,
                connector=_text(item, "connector", where),
                arrival_slot=_field(item, "arrival_slot", where),
                departure_slot=_field(item, "departure_slot", where),
                energy_kwh=_field(item, "energy_kwh", where),
                max_kw=_field(item, "max_kw", where),
                controlled=item.get("controlled", True),
            )
        )
    return Scenario(
        slots=_field(data, "slots"),
        slot_minutes=data.get("slot_minutes", 15),
        site_limit_kw=_field(data, "site_limit_kw"),
        energy_price_mxn_per_kwh=np.array(prices, dtype=np.float64),
        punta=np.array(punta, dtype=np.bool_),
        capacity_mxn_per_kw=_field(data, "capacity_mxn_per_kw"),
        distribution_mxn_per_kw=_field(data, "distribution_mxn_per_kw"),
        punta_peak_so_far_kw=data.get("punta_peak_so_far_kw", 0.0),
        peak_so_far_kw=data.get("peak_so_far_kw", 0.0),
        connectors=tuple(connectors),
        vehicles=tuple(vehicles),
    )


def scenario_from_rates(
    rates: SlotRates,
    *,
    site_limit_kw: float,
    connectors: Sequence[Connector],
    vehicles: Sequence[Vehicle],
    punta_peak_so_far_kw: float = 0.0,
    peak_so_far_kw: float = 0.0,
) -> Scenario:
    """A scenario over the slots of ``rates`` (``charging.tariffs.slot_rates``): their
    prices, the slots that set the capacity charge as ``punta``, the tariff's
    capacity and distribution prices."""
    return Scenario(
        slots=len(rates.periods),
        slot_minutes=rates.slot_minutes,
        site_limit_kw=site_limit_kw,
        energy_price_mxn_per_kwh=rates.energy_mxn_per_kwh,
        punta=rates.capacity_slots,
        capacity_mxn_per_kw=rates.capacity_mxn_per_kw,
        distribution_mxn_per_kw=rates.distribution_mxn_per_kw,
        punta_peak_so_far_kw=punta_peak_so_far_kw,
        peak_so_far_kw=peak_so_far_kw,
        connectors=tuple(connectors),
        vehicles=tuple(vehicles),
    )
