"""The Teltonika IO element ids that matter to an EV fleet, with names, units and scales.

Ids, sizes and scales come from the domain note (FMC130 with a CAN adapter). Any id not
listed here is still decoded and kept raw in `AvlRecord.io`; only these get a named field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

FieldValue = int | float | bool


@dataclass(frozen=True, slots=True)
class IoElement:
    """One known IO id: its field name, its size on the wire and how to read its value.

    A named field is `raw / divisor`, or `raw != 0` for a flag; `signed` ids are two's
    complement in whatever width the device sent them.
    """

    io_id: int
    name: str
    size: int
    signed: bool = False
    divisor: int = 1
    flag: bool = False


IO_ELEMENTS: tuple[IoElement, ...] = (
    IoElement(239, "ignition", 1, flag=True),
    IoElement(240, "movement", 1, flag=True),
    IoElement(21, "gsm_signal", 1),
    IoElement(66, "external_voltage_mv", 2),
    IoElement(67, "tracker_battery_voltage_mv", 2),
    IoElement(113, "tracker_battery_level_pct", 1),
    IoElement(16, "total_odometer_m", 4),
    IoElement(24, "gnss_speed_kmh", 2),
    IoElement(181, "pdop", 2, divisor=10),
    IoElement(182, "hdop", 2, divisor=10),
    IoElement(87, "can_total_mileage_m", 4),
    IoElement(152, "hv_battery_soc_pct", 1),
    IoElement(151, "battery_temperature_c", 2, signed=True, divisor=10),
    IoElement(304, "range_on_battery_m", 4),
    IoElement(914, "charging_cable_plugged", 1, flag=True),
    IoElement(915, "battery_charging", 1, flag=True),
    IoElement(916, "electric_motor_on", 1, flag=True),
)

IO_ELEMENTS_BY_ID: dict[int, IoElement] = {element.io_id: element for element in IO_ELEMENTS}

SIGNED_IO_IDS: tuple[int, ...] = tuple(e.io_id for e in IO_ELEMENTS if e.signed)

# The decoder runs these for every record: plain rows first, then flags, then scaled.
_PLAIN_ROWS = tuple((e.io_id, e.name) for e in IO_ELEMENTS if not e.flag and e.divisor == 1)
_FLAG_ROWS = tuple((e.io_id, e.name) for e in IO_ELEMENTS if e.flag)
_SCALED_ROWS = tuple((e.io_id, e.name, e.divisor) for e in IO_ELEMENTS if e.divisor != 1)


def to_signed(value: int, size: int) -> int:
    """Read an unsigned `size`-byte value as two's complement."""
    bits = size * 8
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def fields_of_ints(io: Mapping[int, int]) -> dict[str, FieldValue]:
    """The named, scaled fields of the known ids in `io`, whose values are all ints."""
    fields: dict[str, FieldValue] = {}
    for io_id, name in _PLAIN_ROWS:
        if io_id in io:
            fields[name] = io[io_id]
    for io_id, name in _FLAG_ROWS:
        if io_id in io:
            fields[name] = io[io_id] != 0
    for io_id, name, divisor in _SCALED_ROWS:
        if io_id in io:
            fields[name] = io[io_id] / divisor
    return fields


def named_fields(io: Mapping[int, int | bytes]) -> dict[str, FieldValue]:
    """The named, scaled fields of the known ids in `io`.

    A known id that arrived as a variable-length (bytes) value stays raw only.
    """
    return fields_of_ints({k: v for k, v in io.items() if not isinstance(v, bytes)})
