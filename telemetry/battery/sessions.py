"""Charging sessions as the battery estimator reads them, and their CSV form.

One `ChargeSession` is one completed charging session joined to the car that was
plugged in: the energy the charger metered, the tracker's state of charge just before
and just after, the charger type and the odometer. The portal fills them from the
database (`telemetry.battery.store`); anyone else writes the CSV of `CSV_COLUMNS` (and,
if known, the battery's temperature at the start: `OPTIONAL_COLUMNS`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Literal

ChargerType = Literal["AC", "DC"]
CHARGER_TYPES: tuple[ChargerType, ...] = ("AC", "DC")

CSV_COLUMNS = (
    "vehicle_id",
    "model",
    "nominal_kwh",
    "started_at",
    "ended_at",
    "energy_kwh",
    "soc_start",
    "soc_end",
    "charger_type",
    "odometer_km",
)
OPTIONAL_COLUMNS = ("battery_temp_c",)
"""Read when present: the battery's temperature at the start (the tracker's IO 151)."""


class SessionFileError(ValueError):
    """The file cannot be read as a sessions CSV at all (empty, no header, missing columns)."""


@dataclass(frozen=True, slots=True)
class ChargeSession:
    vehicle_id: str
    model: str
    nominal_kwh: float  # the battery's usable capacity when new
    started_at: datetime  # UTC
    ended_at: datetime
    energy_kwh: float  # metered by the charger (AC: at the socket; DC: at the plug)
    soc_start: float  # percent, the tracker's last reading before the session
    soc_end: float  # percent, the tracker's first reading after
    charger_type: ChargerType
    odometer_km: float | None = None
    battery_temp_c: float | None = None

    @property
    def delta_soc(self) -> float:
        return self.soc_end - self.soc_start


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:  # ISO 8601 without an offset: read as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_row(row: dict[str, str]) -> ChargeSession | None:
    """The session of one CSV row, or None for a row the estimator cannot use: an
    unreadable time or number, an unknown charger type, soc_end ≤ soc_start, energy ≤ 0,
    a state of charge outside 0-100 or a nominal capacity ≤ 0."""
    try:
        odometer = (row.get("odometer_km") or "").strip()
        temperature = (row.get("battery_temp_c") or "").strip()
        session = ChargeSession(
            vehicle_id=(row["vehicle_id"] or "").strip(),
            model=(row["model"] or "").strip(),
            nominal_kwh=_number(row["nominal_kwh"]),
            started_at=_time(row["started_at"]),
            ended_at=_time(row["ended_at"]),
            energy_kwh=_number(row["energy_kwh"]),
            soc_start=_number(row["soc_start"]),
            soc_end=_number(row["soc_end"]),
            charger_type=(row["charger_type"] or "").strip().upper(),  # type: ignore[arg-type]
            odometer_km=_number(odometer) if odometer else None,
            battery_temp_c=_number(temperature) if temperature else None,
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if (
        not session.vehicle_id
        or session.charger_type not in CHARGER_TYPES
        or session.nominal_kwh <= 0
        or session.energy_kwh <= 0
        or session.soc_end <= session.soc_start
        or not 0 <= session.soc_start <= 100
        or not 0 <= session.soc_end <= 100
        or session.ended_at < session.started_at
    ):
        return None
    return session


def read_sessions(stream: IO[str]) -> tuple[list[ChargeSession], int]:
    """The sessions of a CSV stream and how many rows were skipped as bad.

    Raises `SessionFileError` for an empty file, or one whose first line is not a
    header naming every column of `CSV_COLUMNS` (`OPTIONAL_COLUMNS` are read when
    present, other columns ignored).
    """
    reader = csv.DictReader(stream)
    header = reader.fieldnames
    if not header:
        raise SessionFileError("the file is empty")
    missing = [c for c in CSV_COLUMNS if c not in {h.strip() for h in header}]
    if missing:
        raise SessionFileError(
            f"the first line is not the header: missing column(s) {', '.join(missing)}"
        )
    reader.fieldnames = [h.strip() for h in header]
    sessions: list[ChargeSession] = []
    skipped = 0
    for row in reader:
        session = parse_row(row)
        if session is None:
            skipped += 1
        else:
            sessions.append(session)
    return sessions, skipped


def _format(value: float | None, decimals: int | None = None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if decimals is None else f"{value:.{decimals}f}"


def session_rows(sessions: Iterable[ChargeSession]) -> Iterator[list[str]]:
    """CSV rows (without the header): `CSV_COLUMNS`, then `OPTIONAL_COLUMNS`."""
    for s in sessions:
        yield [
            s.vehicle_id,
            s.model,
            _format(s.nominal_kwh),
            s.started_at.isoformat().replace("+00:00", "Z"),
            s.ended_at.isoformat().replace("+00:00", "Z"),
            f"{s.energy_kwh:.3f}",
            _format(s.soc_start),
            _format(s.soc_end),
            s.charger_type,
            _format(s.odometer_km, 1),
            _format(s.battery_temp_c, 1),
        ]


def write_sessions(stream: IO[str], sessions: Iterable[ChargeSession]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + OPTIONAL_COLUMNS)
    writer.writerows(session_rows(sessions))
