"""Derived state: trips, charging episodes, km per day and alerts, recomputed the same
way however often the jobs run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from portal.models import AlertKind, ChargingEpisode, VehicleAlert, VehicleState, VehicleTrip
from portal.services import telemetry_rollups as rollups
from telemetry import store as ingest
from telemetry.codec import make_record

# 10:00 in Mexico City (UTC-6).
T0 = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
DEPOT = (19.4895, -99.1468)


def day_of_driving(db, vehicle):
    """Parked 10 min, a 20-minute drive of 6 km, then 30 min charging at the depot."""
    records = []
    odometer, soc = 10_000_000, 50
    at = T0
    for _ in range(10):  # parked, ignition off
        records.append(
            make_record(
                at,
                latitude=19.40,
                longitude=-99.16,
                satellites=9,
                io={239: 0, 240: 0, 87: odometer, 152: soc, 915: 0, 914: 0},
            )
        )
        at += timedelta(minutes=1)
    for i in range(20):  # driving towards the depot
        lat = 19.40 + (DEPOT[0] - 19.40) * (i + 1) / 20
        lon = -99.16 + (DEPOT[1] + 99.16) * (i + 1) / 20
        odometer += 300
        soc -= 0.5 if i % 2 else 0
        records.append(
            make_record(
                at,
                latitude=lat,
                longitude=lon,
                satellites=9,
                speed=25,
                io={239: 1, 240: 1, 87: odometer, 152: int(soc), 915: 0, 914: 0},
            )
        )
        at += timedelta(minutes=1)
    for i in range(30):  # charging at the depot
        records.append(
            make_record(
                at,
                latitude=DEPOT[0],
                longitude=DEPOT[1],
                satellites=9,
                io={239: 0, 240: 0, 87: odometer, 152: int(soc) + i, 915: 1, 914: 1},
            )
        )
        at += timedelta(minutes=1)
    records.append(
        make_record(
            at,
            latitude=DEPOT[0],
            longitude=DEPOT[1],
            satellites=9,
            io={239: 0, 240: 0, 87: odometer, 152: 75, 915: 0, 914: 0},
        )
    )
    ingest.store_records(db, [(vehicle.tracker_imei, r) for r in records], at)
    return at


def test_trips_episodes_and_km(db, make_vehicle, make_depot):
    depot = make_depot(latitude=Decimal(str(DEPOT[0])), longitude=Decimal(str(DEPOT[1])))
    car = make_vehicle(depot=depot)
    end = day_of_driving(db, car)
    now = end + timedelta(minutes=30)
    assert rollups.derive_activity(db, car.id, now) == (1, 1)
    assert rollups.derive_activity(db, car.id, now) == (1, 1)  # again: the same rows
    (trip,) = db.scalars(select(VehicleTrip).where(VehicleTrip.vehicle_id == car.id)).all()
    assert trip.started_at == T0 + timedelta(minutes=10)
    assert trip.ended_at == T0 + timedelta(minutes=30)
    assert trip.distance_m == 6_000
    assert trip.max_speed == 25
    (episode,) = db.scalars(
        select(ChargingEpisode).where(ChargingEpisode.vehicle_id == car.id)
    ).all()
    assert episode.depot_id == depot.id
    assert episode.ended_at == end
    assert episode.end_soc_pct > episode.start_soc_pct
    daily = rollups.rollup_daily_km(db, car.id, date(2026, 3, 2))
    assert daily.km == Decimal("6.0")


def test_a_trip_still_going_has_no_end(db, make_vehicle):
    car = make_vehicle()
    records = [
        make_record(
            T0 + timedelta(minutes=i),
            latitude=19.4,
            longitude=-99.1 + i * 0.002,
            satellites=9,
            speed=30,
            io={239: 1, 87: 1_000_000 + i * 250},
        )
        for i in range(5)
    ]
    ingest.store_records(db, [(car.tracker_imei, r) for r in records], T0)
    rollups.derive_activity(db, car.id, T0 + timedelta(minutes=6))
    (trip,) = db.scalars(select(VehicleTrip).where(VehicleTrip.vehicle_id == car.id)).all()
    assert trip.ended_at is None


def test_silent_and_low_charge_alerts_open_and_close(db, make_vehicle):
    car = make_vehicle()
    ingest.store_records(
        db,
        [(car.tracker_imei, make_record(T0, satellites=5, io={152: 12, 915: 0}))],
        T0,
    )
    later = T0 + timedelta(hours=1)
    rollups.check_alerts(db, later, silent_after=timedelta(minutes=30), low_soc_pct=20)
    kinds = set(
        db.scalars(
            select(VehicleAlert.kind).where(
                VehicleAlert.vehicle_id == car.id, VehicleAlert.closed_at.is_(None)
            )
        )
    )
    assert kinds == {AlertKind.SILENT, AlertKind.LOW_SOC}
    # Running again opens nothing new.
    rollups.check_alerts(db, later, silent_after=timedelta(minutes=30), low_soc_pct=20)
    assert len(db.scalars(select(VehicleAlert).where(VehicleAlert.vehicle_id == car.id)).all()) == 2
    # It reports again, charging: both clear.
    ingest.store_records(
        db,
        [(car.tracker_imei, make_record(later, satellites=5, io={152: 14, 915: 1}))],
        later,
    )
    db.expire_all()
    assert db.get(VehicleState, car.id).charging is True
    rollups.check_alerts(db, later, silent_after=timedelta(minutes=30), low_soc_pct=20)
    still_open = db.scalars(
        select(VehicleAlert).where(
            VehicleAlert.vehicle_id == car.id, VehicleAlert.closed_at.is_(None)
        )
    ).all()
    assert still_open == []
