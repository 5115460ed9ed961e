"""Telemetry's storage: batched writes of decoded records, the latest state of each
vehicle, the monthly partitions of the readings, and refused input. The listener and
the TCP gateway write through it; the screens read through `portal.services`.

Writes are idempotent: a reading is unique on (IMEI, device time), so a resent frame
or a QoS 1 redelivery inserts nothing, and a vehicle's latest state moves only to a
reading with a newer device time. Functions flush (or execute) and never commit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.models import (
    TelemetryReject,
    Vehicle,
)
from telemetry.codec import AvlRecord

log = logging.getLogger(__name__)

MAX_REJECT_PAYLOAD = 2048
"""Bytes of a refused payload kept for staff to look at (the rest is cut)."""

READING_COLUMNS = (
    "imei",
    "device_time",
    "received_at",
    "latitude",
    "longitude",
    "altitude",
    "angle",
    "satellites",
    "speed",
    "position_valid",
    "ignition",
    "movement",
    "odometer_m",
    "soc_pct",
    "range_m",
    "charging",
    "plugged",
    "io",
)
_COLUMN_LIST = ", ".join(READING_COLUMNS)
_STAGING = "telemetry_staging"


class RejectReason:
    """Why the ingest refused a message (the `reason_code` of a TelemetryReject)."""

    UNKNOWN_IMEI = "unknown_imei"
    MALFORMED = "malformed"
    BAD_TOPIC = "bad_topic"


@dataclass(frozen=True, slots=True)
class StoreResult:
    records: int  # records handed in
    inserted: int  # new readings (the rest were already stored)
    states_updated: int  # vehicles whose latest state moved forward


# --- Rows -----------------------------------------------------------------------------------


def _flag(io: dict[int, int | bytes], io_id: int) -> bool | None:
    value = io.get(io_id)
    return None if value is None or isinstance(value, bytes) else value != 0


def _int(io: dict[int, int | bytes], io_id: int) -> int | None:
    value = io.get(io_id)
    return None if value is None or isinstance(value, bytes) else value


def io_json(io: dict[int, int | bytes]) -> dict[str, Any]:
    """The raw IO map as JSON: ids as keys, variable-length values as hex."""
    return {str(k): v.hex() if isinstance(v, bytes) else v for k, v in io.items()}


def reading_row(imei: str, record: AvlRecord, received_at: datetime) -> tuple[Any, ...]:
    """A record as a `telemetry_readings` row (READING_COLUMNS order), io as JSON text.

    Reads the IO map by id rather than through `record.fields`: this runs for every
    record. Odometer: the car's CAN mileage (87) when the adapter sends it, else the
    tracker's GNSS odometer (16). A state of charge outside 0-100 is dropped.
    """
    io = record.io
    odometer = _int(io, 87)
    if odometer is None:
        odometer = _int(io, 16)
    soc = _int(io, 152)
    if soc is not None and soc > 100:
        soc = None
    range_m = _int(io, 304)
    if range_m is not None and range_m > 2_000_000_000:
        range_m = None
    return (
        imei,
        record.timestamp,
        received_at,
        record.latitude,
        record.longitude,
        max(-32768, min(32767, record.altitude)),
        min(record.angle, 32767),
        record.satellites,
        min(record.speed, 32767),
        record.position_valid,
        _flag(io, 239),
        _flag(io, 240),
        odometer,
        soc,
        range_m,
        _flag(io, 915),
        _flag(io, 914),
        json.dumps(io_json(io), separators=(",", ":")),
    )


# --- Partitions -----------------------------------------------------------------------------


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"telemetry_readings_{month.year:04d}{month.month:02d}"


def ensure_partitions(session: Session, months: Iterable[date]) -> list[str]:
    """Create the monthly partitions of telemetry_readings that are missing.

    Cheap when they exist (one catalogue query). Creation takes a transaction-scoped
    advisory lock so two listeners do not race. Returns the partitions created.
    """
    wanted = sorted({month_start(m) for m in months})
    if not wanted:
        return []
    names = [partition_name(m) for m in wanted]
    existing = set(
        session.execute(
            text("SELECT relname FROM pg_class WHERE relname = ANY(:names) AND relkind = 'r'"),
            {"names": names},
        ).scalars()
    )
    missing = [(m, n) for m, n in zip(wanted, names, strict=True) if n not in existing]
    if not missing:
        return []
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('telemetry_partitions'))"))
    for month, name in missing:
        # The name and bounds come from a date, never from input text.
        session.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF telemetry_readings "
                f"FOR VALUES FROM ('{month.isoformat()}T00:00:00Z') "
                f"TO ('{_next_month(month).isoformat()}T00:00:00Z')"
            )
        )
        log.info("created partition %s", name)
    return [n for _, n in missing]


def ensure_partitions_ahead(session: Session, now: datetime, months_ahead: int = 2) -> list[str]:
    """This month's partition and the next `months_ahead` ones (a monthly job)."""
    month = month_start(now)
    months = [month]
    for _ in range(months_ahead):
        month = _next_month(month)
        months.append(month)
    return ensure_partitions(session, months)


# --- Ingest ---------------------------------------------------------------------------------


def load_imei_map(session: Session) -> dict[str, int]:
    """Every tracker IMEI the fleet knows, with its vehicle id."""
    rows = session.execute(
        select(Vehicle.tracker_imei, Vehicle.id).where(Vehicle.tracker_imei.is_not(None))
    )
    return {imei: vehicle_id for imei, vehicle_id in rows if imei}


def _staging(session: Session) -> None:
    session.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} "
            "(LIKE telemetry_readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    )
    session.execute(text(f"TRUNCATE {_STAGING}"))


def store_rows(session: Session, rows: Sequence[tuple[Any, ...]]) -> StoreResult:
    """Store reading rows (see `reading_row`) and move the latest states forward.

    PostgreSQL: COPY into a temporary staging table, then one INSERT … SELECT … ON
    CONFLICT DO NOTHING into the readings and one upsert of `vehicle_states` from the
    newest staged reading of each vehicle, applied only where it is newer. Three
    statements per batch, whatever its size; nothing is committed here.
    """
    if not rows:
        return StoreResult(0, 0, 0)
    ensure_partitions(session, {month_start(row[1]) for row in rows})
    _staging(session)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {_STAGING} ({_COLUMN_LIST}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    inserted: int = session.execute(  # type: ignore[attr-defined]
        text(
            f"INSERT INTO telemetry_readings ({_COLUMN_LIST}) "  # noqa: S608
            f"SELECT {_COLUMN_LIST} FROM {_STAGING} ON CONFLICT DO NOTHING"
        )
    ).rowcount
    states: int = session.execute(text(_UPSERT_STATES)).rowcount  # type: ignore[attr-defined]
    session.execute(text(f"TRUNCATE {_STAGING}"))
    return StoreResult(len(rows), inserted, states)


_BINARY_TYPES = (
    "varchar",
    "timestamptz",
    "timestamptz",
    "float8",
    "float8",
    "int2",
    "int2",
    "int2",
    "int2",
    "bool",
    "bool",
    "bool",
    "int8",
    "int2",
    "int4",
    "bool",
    "bool",
    "jsonb",
)


def _as_is(text: Any) -> str:
    return str(text)


def copy_new_rows(session: Session, rows: Sequence[tuple[Any, ...]]) -> int:
    """Store reading rows that are all new (the caller knows: a simulated history after
    each tracker's last reading) straight into the readings with one binary COPY, then
    move the latest states forward from each tracker's newest row. The bulk load's way
    round the staging table; PostgreSQL only. Returns the rows stored."""
    if not rows:
        return 0
    ensure_partitions(session, {month_start(row[1]) for row in rows})
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(
        f"COPY telemetry_readings ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(list(_BINARY_TYPES))
        for row in rows:  # io is JSON text already: sent as it is
            copy.write_row((*row[:-1], Jsonb(row[-1], dumps=_as_is)))
    newest: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        if row[0] not in newest or row[1] > newest[row[0]][1]:
            newest[row[0]] = row
    _staging(session)
    with cursor.copy(f"COPY {_STAGING} ({_COLUMN_LIST}) FROM STDIN") as copy:
        for row in newest.values():
            copy.write_row(row)
    session.execute(text(_UPSERT_STATES))
    session.execute(text(f"TRUNCATE {_STAGING}"))
    return len(rows)


_STATE_COLUMNS = (
    "imei, device_time, received_at, latitude, longitude, angle, satellites, speed, "
    "position_valid, ignition, movement, odometer_m, soc_pct, range_m, charging, plugged"
)
_UPSERT_STATES = f"""
INSERT INTO vehicle_states (vehicle_id, {_STATE_COLUMNS}, last_record)
SELECT DISTINCT ON (v.id) v.id, {", ".join("s." + c.strip() for c in _STATE_COLUMNS.split(","))},
       jsonb_build_object(
           'timestamp', s.device_time, 'latitude', s.latitude, 'longitude', s.longitude,
           'altitude', s.altitude, 'angle', s.angle, 'satellites', s.satellites,
           'speed', s.speed, 'position_valid', s.position_valid, 'io', s.io)
FROM {_STAGING} s JOIN vehicles v ON v.tracker_imei = s.imei
ORDER BY v.id, s.device_time DESC
ON CONFLICT (vehicle_id) DO UPDATE SET
    {", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _STATE_COLUMNS.split(","))},
    last_record = excluded.last_record
WHERE excluded.device_time > vehicle_states.device_time
"""  # noqa: S608 - fixed column names only


def store_records(
    session: Session, batch: Iterable[tuple[str, AvlRecord]], received_at: datetime
) -> StoreResult:
    """Store decoded records, each with its tracker's IMEI (already checked as known)."""
    return store_rows(session, [reading_row(imei, r, received_at) for imei, r in batch])


def record_reject(
    session: Session,
    *,
    source: str,
    reason_code: str,
    reason: str,
    payload: bytes,
    imei: str | None = None,
    topic: str | None = None,
    received_at: datetime | None = None,
) -> TelemetryReject:
    """Keep a refused message for staff (its first MAX_REJECT_PAYLOAD bytes)."""
    reject = TelemetryReject(
        source=source,
        reason_code=reason_code,
        reason=reason[:200],
        payload=bytes(payload[:MAX_REJECT_PAYLOAD]),
        imei=imei[:40] if imei else None,
        topic=topic[:200] if topic else None,
        received_at=received_at or datetime.now(UTC),
    )
    session.add(reject)
    return reject
