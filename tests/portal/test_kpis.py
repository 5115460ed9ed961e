"""The KPI dashboard's panels, each on a few rows."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from portal.models import (
    Booking,
    BookingStatus,
    ConnectorType,
    EntryKind,
    IncidentStatus,
    SessionStatus,
    VehicleDailyKm,
    VehicleStatus,
)
from portal.services import kpis
from portal.services.ledger import post_entry

START, END = date(2026, 3, 2), date(2026, 3, 8)  # a Monday to a Sunday


def _at(day: date, hour: int) -> datetime:
    # Mexico City is UTC-6 all year (no DST since 2022).
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) + timedelta(hours=6)


def test_fleet_utilization_counts_status_and_cars_that_drove(db, make_depot, make_vehicle):
    depot, other = make_depot(), make_depot()
    leased = make_vehicle(depot=depot, status=VehicleStatus.LEASED)
    make_vehicle(depot=depot, status=VehicleStatus.IN_REPAIR)
    make_vehicle(depot=depot, status=VehicleStatus.AVAILABLE)
    make_vehicle(depot=depot, status=VehicleStatus.RETIRED)
    elsewhere = make_vehicle(depot=other, status=VehicleStatus.LEASED)
    for vehicle, day, km in (
        (leased, START, "120.5"),
        (leased, END, "80"),
        (elsewhere, START, "50"),
    ):
        db.add(
            VehicleDailyKm(
                vehicle_id=vehicle.id,
                day=day,
                km=Decimal(km),
                first_odometer_m=0,
                last_odometer_m=1,
            )
        )
    db.flush()

    panel = kpis.fleet_utilization(db, START, END, depot.id)

    assert (panel.vehicles, panel.on_road, panel.assigned, panel.in_repair, panel.idle) == (
        3,
        1,
        1,
        1,
        1,
    )
    assert panel.daily_on_road[0] == (START, 1)
    assert panel.daily_on_road[1] == (
        START + timedelta(days=1),
        0,
    )
    assert len(panel.daily_on_road) == 7
    km = kpis.km_per_car(db, START, END, None)
    assert km.car_days == 3
    assert km.km == 250.5
    assert km.daily[0] == (START, 85.25)


def test_collections_billed_collected_and_overdue_buckets(db, make_contract):
    contract = make_contract()
    driver = contract.driver
    base = {"driver_id": driver.id, "contract_id": contract.id, "description": "x"}
    post_entry(
        db,
        kind=EntryKind.RENT,
        amount_cents=350_000,
        posted_at=_at(START, 0),
        idempotency_key="k1",
        **base,
    )
    post_entry(
        db,
        kind=EntryKind.RENT,
        amount_cents=350_000,
        posted_at=_at(START - timedelta(days=21), 0),
        idempotency_key="k0",
        **base,
    )
    post_entry(
        db,
        kind=EntryKind.PAYMENT,
        amount_cents=-100_000,
        posted_at=_at(START + timedelta(days=2), 9),
        idempotency_key="k2",
        **base,
    )

    panel = kpis.collections_summary(db, START, END, None)

    assert panel.billed_cents == 350_000
    assert panel.collected_cents == 100_000
    assert panel.weekly == [(START, 350_000, 100_000)]
    assert panel.drivers_late == 1
    assert panel.overdue_cents == 600_000
    assert [cents for _, cents, _ in panel.overdue] == [0, 0, 600_000, 0, 0]  # 25 days late
    assert (
        kpis.collections_summary(db, START, END, contract.vehicle.depot_id + 999).billed_cents == 0
    )


def test_energy_and_charging(db, make_charger, make_charging_session, make_vehicle, make_driver):
    charger = make_charger(connectors=[(ConnectorType.CCS2, "60"), (ConnectorType.CCS2, "60")])
    vehicle = make_vehicle(depot=charger.depot)
    make_charging_session(
        charger,
        status=SessionStatus.COMPLETED,
        started_at=_at(START, 10),
        stopped_at=_at(START, 12) + timedelta(minutes=30),
        energy_wh=40_000,
        cost_cents=16_000,
    )
    db.add(
        VehicleDailyKm(
            vehicle_id=vehicle.id,
            day=START,
            km=Decimal("200"),
            first_odometer_m=0,
            last_odometer_m=1,
        )
    )
    driver = make_driver()
    for status in (BookingStatus.NO_SHOW, BookingStatus.COMPLETED, BookingStatus.CANCELLED):
        db.add(
            Booking(
                driver_id=driver.id,
                vehicle_id=vehicle.id,
                depot_id=charger.depot_id,
                connector_type=ConnectorType.CCS2,
                window_start=_at(START, 8),
                window_end=_at(START, 9),
                status=status,
                cancelled_at=_at(START, 7) if status == BookingStatus.CANCELLED else None,
            )
        )
    db.flush()

    energy = kpis.energy(db, START, END, charger.depot_id)
    assert energy.kwh == 40.0
    assert energy.cost_cents == 16_000
    assert energy.km == 200.0
    assert energy.cost_per_km_cents == 80.0
    assert energy.daily[0] == (START, 40.0, 16_000)

    panel = kpis.charging(db, START, END, charger.depot_id)
    assert panel.sessions == 1
    assert panel.connectors == 2
    hourly = dict(panel.hourly)
    capacity = 2 * 7 * 3600
    assert hourly[10] == 3600 / capacity
    assert hourly[12] == 1800 / capacity
    assert hourly[13] == 0
    assert (panel.bookings, panel.no_shows) == (2, 1)


def test_incidents_open_by_status_and_days_to_close(db, make_incident):
    open_one = make_incident()
    closed = make_incident()
    closed.status = IncidentStatus.CLOSED
    closed.created_at = _at(START, 10)
    closed.status_changed_at = _at(START, 10) + timedelta(days=3)
    db.flush()

    panel = kpis.incidents(db, START, END, None)

    assert dict(panel.open_by_status)[IncidentStatus(open_one.status)] >= 1
    assert panel.closed == 1
    assert panel.average_days_to_close == 3.0
    assert kpis.incidents(db, START, END, closed.vehicle.depot_id).open == 0


def test_credit_applications_and_approval_rate(db, make_application):
    from portal.models.credit import CreditDecision, Outcome

    applications = [make_application() for _ in range(3)]
    for app, outcome in zip(applications, (Outcome.APPROVE, Outcome.DECLINE, None), strict=True):
        app.submitted_at = _at(START, 9)
        if outcome:
            db.add(
                CreditDecision(
                    application_id=app.id,
                    outcome=outcome,
                    created_at=_at(START, 12),
                    proposed_weekly_rent_cents=350_000,
                    proposed_deposit_cents=0,
                    proposed_term_weeks=156,
                    automatic=True,
                )
            )
    db.flush()

    panel = kpis.credit(db, START, END, None)

    assert panel.applications == 3
    assert panel.decided == 2
    assert panel.approval_rate == 0.5
    assert panel.weekly == [(START, 3, 1)]
