"""Storing decoded records: duplicates and late records change nothing; the latest
state moves only forward; partitions appear as needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from portal.models import TelemetryReading, VehicleState
from portal.services.telemetry import count_rejects, list_rejects
from telemetry import store as ingest
from telemetry.codec import decode_tcp_frame, encode_8e_frame, make_record

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
RECEIVED = T0 + timedelta(minutes=5)


def ev(at: datetime, soc: int, *, speed: int = 30, satellites: int = 9, odometer: int = 1_000):
    return make_record(
        at,
        longitude=-99.1332,
        latitude=19.4326,
        satellites=satellites,
        speed=speed,
        io={239: 1, 240: 1, 152: soc, 87: odometer, 304: soc * 3800, 914: 0, 915: 0},
    )


def store(db, imei, records):
    # Through the wire format, as the listener gets them.
    packet = decode_tcp_frame(encode_8e_frame(records), now=T0 + timedelta(hours=1))
    return ingest.store_records(db, [(imei, r) for r in packet.records], RECEIVED)


def readings(db, imei):
    return db.scalars(
        select(TelemetryReading)
        .where(TelemetryReading.imei == imei)
        .order_by(TelemetryReading.device_time)
    ).all()


def test_a_record_becomes_a_reading_and_the_latest_state(db, make_vehicle):
    car = make_vehicle()
    result = store(db, car.tracker_imei, [ev(T0, 80, odometer=12_345)])
    assert (result.inserted, result.states_updated) == (1, 1)
    (reading,) = readings(db, car.tracker_imei)
    assert reading.soc_pct == 80
    assert reading.odometer_m == 12_345
    assert reading.ignition is True
    assert reading.charging is False
    assert reading.io["152"] == 80
    state = db.get(VehicleState, car.id)
    db.refresh(state)
    assert state.soc_pct == 80
    assert state.device_time == T0
    assert state.last_record["io"]["152"] == 80


def test_duplicates_change_nothing(db, make_vehicle):
    car = make_vehicle()
    store(db, car.tracker_imei, [ev(T0, 80), ev(T0 + timedelta(seconds=10), 79)])
    again = store(db, car.tracker_imei, [ev(T0, 80), ev(T0 + timedelta(seconds=10), 79)])
    assert again.inserted == 0
    # The same record twice in one batch: stored once.
    twice = store(db, car.tracker_imei, [ev(T0 + timedelta(seconds=20), 78)] * 2)
    assert twice.inserted == 1
    assert len(readings(db, car.tracker_imei)) == 3


def test_a_late_record_is_stored_but_does_not_move_the_state_back(db, make_vehicle):
    car = make_vehicle()
    store(db, car.tracker_imei, [ev(T0 + timedelta(minutes=10), 60)])
    late = store(db, car.tracker_imei, [ev(T0, 90)])
    assert (late.inserted, late.states_updated) == (1, 0)
    state = db.get(VehicleState, car.id)
    db.refresh(state)
    assert state.soc_pct == 60
    assert state.device_time == T0 + timedelta(minutes=10)
    newer = store(db, car.tracker_imei, [ev(T0 + timedelta(minutes=20), 55)])
    assert newer.states_updated == 1
    db.refresh(state)
    assert state.soc_pct == 55


def test_newest_first_batch_keeps_the_newest_as_state(db, make_vehicle):
    car = make_vehicle()
    records = [ev(T0 + timedelta(seconds=s), 70 - s // 10) for s in (50, 40, 30, 20, 10)]
    store(db, car.tracker_imei, records)
    state = db.get(VehicleState, car.id)
    db.refresh(state)
    assert state.device_time == T0 + timedelta(seconds=50)
    assert state.soc_pct == 65


def test_a_no_fix_record_is_stored_marked_not_valid(db, make_vehicle):
    car = make_vehicle()
    store(db, car.tracker_imei, [ev(T0, 50, satellites=0, speed=0)])
    (reading,) = readings(db, car.tracker_imei)
    assert reading.position_valid is False


def test_each_month_gets_its_partition(db, make_vehicle):
    car = make_vehicle()
    old = datetime(2025, 7, 15, tzinfo=UTC)
    packet = decode_tcp_frame(encode_8e_frame([ev(old, 40)]), now=T0)
    ingest.store_records(db, [(car.tracker_imei, packet.records[0])], RECEIVED)
    partition = db.execute(
        text("SELECT tableoid::regclass::text FROM telemetry_readings WHERE imei = :i"),
        {"i": car.tracker_imei},
    ).scalar_one()
    assert partition == "telemetry_readings_202507"
    assert ingest.ensure_partitions(db, [old]) == []  # already there


def test_partitions_ahead(db):
    created = ingest.ensure_partitions_ahead(db, datetime(2031, 12, 5, tzinfo=UTC))
    assert created == [
        "telemetry_readings_203112",
        "telemetry_readings_203201",
        "telemetry_readings_203202",
    ]


def test_rejects_are_counted_by_reason(db):
    since = datetime.now(UTC) - timedelta(seconds=1)
    for code in ("unknown_imei", "unknown_imei", "malformed"):
        ingest.record_reject(
            db, source="mqtt", reason_code=code, reason="x", payload=b"\x00" * 5000
        )
    db.flush()
    counts = count_rejects(db, since)
    assert counts["unknown_imei"] >= 2
    assert counts["malformed"] >= 1
    assert all(len(r.payload) <= ingest.MAX_REJECT_PAYLOAD for r in list_rejects(db))
    assert db.scalar(select(func.count()).select_from(TelemetryReading)) is not None
