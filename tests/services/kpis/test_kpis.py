"""The KPI dashboard's panels, each on a few rows."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from portal.models import (
    Booking,
    BookingStatus,
    ConnectorType,
    EntryKind,
    IncidentStatus,
    KpiDay,
    SessionStatus,
    VehicleDailyKm,
    VehicleStatus,
)
from portal.services.credit.outcomes import contract_outcomes, contract_went_bad
from portal.services.kpis.charging import charging_panel
from portal.services.kpis.collections import collections_summary
from portal.services.kpis.credit import (
    COHORT_MONTHS,
    credit_panel,
    early_delinquency,
    refresh_contract_outcomes,
)
from portal.services.kpis.daily import (
    daily_figures,
    refresh_kpi_days,
    refresh_rollups,
    rollup_state,
)
from portal.services.kpis.energy import energy_panel
from portal.services.kpis.fleet import fleet_utilization
from portal.services.kpis.incidents import incidents_panel
from portal.services.kpis.km import km_per_car
from portal.services.kpis.period import each_day
from portal.services.ledger import post_entry

START, END = date(2026, 3, 2), date(2026, 3, 8)  # a Monday to a Sunday


def _at(day: date, hour: int) -> datetime:
    # Mexico City is UTC-6 all year (no DST since 2022).
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) + timedelta(hours=6)


def _booking(driver, vehicle, depot_id: int, day: date, status: BookingStatus) -> Booking:
    """A booking for 08:00-09:00 local on `day`."""
    return Booking(
        driver_id=driver.id,
        vehicle_id=vehicle.id,
        depot_id=depot_id,
        connector_type=ConnectorType.CCS2,
        window_start=_at(day, 8),
        window_end=_at(day, 9),
        status=status,
        cancelled_at=_at(day, 7) if status == BookingStatus.CANCELLED else None,
    )


def test_fleet_utilization_counts_status_and_cars_that_drove(db, make_depot, make_vehicle):
    depot, other = make_depot(), make_depot()
    leased = make_vehicle(depot=depot, status=VehicleStatus.LEASED)
    make_vehicle(depot=depot, status=VehicleStatus.IN_REPAIR)
    make_vehicle(depot=depot, status=VehicleStatus.AVAILABLE)
    make_vehicle(depot=depot, status=VehicleStatus.SOLD)
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

    panel = fleet_utilization(db, START, END, depot.id)

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
    km = km_per_car(db, START, END, None)
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

    panel = collections_summary(db, START, END, None)

    assert panel.billed_cents == 350_000
    assert panel.collected_cents == 100_000
    assert panel.weekly == [(START, 350_000, 100_000)]
    assert panel.drivers_late == 1
    assert panel.overdue_cents == 600_000
    assert [cents for _, cents, _ in panel.overdue] == [0, 0, 600_000, 0, 0]  # 25 days late
    assert collections_summary(db, START, END, contract.vehicle.depot_id + 999).billed_cents == 0


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
        db.add(_booking(driver, vehicle, charger.depot_id, START, status))
    db.flush()

    energy = energy_panel(db, START, END, charger.depot_id)
    assert energy.kwh == 40.0
    assert energy.cost_cents == 16_000
    assert energy.km == 200.0
    assert energy.cost_per_km_cents == 80.0
    assert energy.daily[0] == (START, 40.0, 16_000)

    panel = charging_panel(db, START, END, charger.depot_id)
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

    panel = incidents_panel(db, START, END, None)

    assert dict(panel.open_by_status)[IncidentStatus(open_one.status)] >= 1
    assert panel.closed == 1
    assert panel.average_days_to_close == 3.0
    assert incidents_panel(db, START, END, closed.vehicle.depot_id).open == 0


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

    panel = credit_panel(db, START, END, None)

    assert panel.applications == 3
    assert panel.decided == 2
    assert panel.approval_rate == 0.5
    assert panel.weekly == [(START, 3, 1)]


# --- the rollup of closed days ------------------------------------------------------


def _history(db, make_charger, make_charging_session, make_contract, make_vehicle, make_driver):
    """Two depots with km, rent and payments, sessions (one across midnight, one still
    running), and bookings on every day of START..END."""
    chargers = [make_charger(connectors=[(ConnectorType.CCS2, "60")] * 2) for _ in range(2)]
    for n, charger in enumerate(chargers):
        contract = make_contract(
            vehicle=make_vehicle(depot=charger.depot, status=VehicleStatus.LEASED)
        )
        vehicle, driver = contract.vehicle, contract.driver
        base = {"driver_id": driver.id, "description": "x"}
        for i, day in enumerate(each_day(START, END)):
            db.add(
                VehicleDailyKm(
                    vehicle_id=vehicle.id,
                    day=day,
                    km=Decimal(f"{(i * 37 + n * 11) % 180}.{i % 10}"),
                    first_odometer_m=0,
                    last_odometer_m=1,
                )
            )
            post_entry(
                db,
                kind=EntryKind.RENT,
                amount_cents=10_000 + i * 100 + n,
                posted_at=_at(day, 9),
                idempotency_key=f"r{n}-{i}",
                contract_id=contract.id,
                **base,
            )
            post_entry(
                db,
                kind=EntryKind.PAYMENT,
                amount_cents=-(5_000 + i),
                posted_at=_at(day, 23) + timedelta(minutes=30),  # 23:30 local
                idempotency_key=f"p{n}-{i}",
                contract_id=contract.id if i % 2 else None,
                **base,
            )
            make_charging_session(
                charger,
                status=SessionStatus.COMPLETED,
                started_at=_at(day, 22),
                stopped_at=_at(day, 22) + timedelta(hours=3, minutes=10),  # past midnight
                energy_wh=20_000 + i * 1_000,
                cost_cents=9_000 + i,
            )
            status = BookingStatus.NO_SHOW if i % 3 == 0 else BookingStatus.COMPLETED
            db.add(_booking(driver, vehicle, charger.depot_id, day, status))
        make_charging_session(charger, started_at=_at(END - timedelta(days=1), 20))  # running
    db.flush()
    return chargers


def _all_panels(db, start, end, depot_id, days):
    return (
        fleet_utilization(db, start, end, depot_id, days),
        km_per_car(db, start, end, depot_id, days),
        collections_summary(db, start, end, depot_id, days),
        energy_panel(db, start, end, depot_id, days),
        charging_panel(db, start, end, depot_id, days),
    )


def test_panels_from_the_rollup_and_the_open_day_equal_the_all_live_panels(
    db, make_charger, make_charging_session, make_contract, make_vehicle, make_driver
):
    chargers = _history(
        db, make_charger, make_charging_session, make_contract, make_vehicle, make_driver
    )
    assert rollup_state(db).last_day is None
    never_ran = daily_figures(db, START, END, None)
    assert never_ran.live_days == 7

    days_written = refresh_kpi_days(db, START, END, today=END)  # END is the open day

    assert days_written == 6
    state = rollup_state(db)
    assert (state.first_day, state.last_day) == (START, END - timedelta(days=1))
    for depot_id in (None, chargers[0].depot_id):
        for start, end in ((START, END), (START + timedelta(days=2), END), (START, START)):
            mixed = daily_figures(db, start, end, depot_id)
            live = daily_figures(db, start, end, depot_id, use_rollup=False)
            assert mixed.live_days == (1 if end == END else 0)
            assert live.live_days == (end - start).days + 1
            assert _all_panels(db, start, end, depot_id, mixed) == _all_panels(
                db, start, end, depot_id, live
            )
    # The figures are not trivially zero: sessions across midnight, payments at 23:30.
    week = charging_panel(db, START, END, None)
    assert week.sessions == 16  # 14 + the 2 still running
    assert energy_panel(db, START, END, chargers[1].depot_id).depots[0].sessions == 8
    assert collections_summary(db, START, END, None).collected_cents == sum(
        2 * (5_000 + i) for i in range(7)
    )


def test_refreshing_a_day_replaces_its_rows(
    db, make_charger, make_charging_session, make_contract, make_vehicle, make_driver
):
    chargers = _history(
        db, make_charger, make_charging_session, make_contract, make_vehicle, make_driver
    )
    refresh_kpi_days(db, START, END, today=END)
    rows = db.scalar(select(func.count()).select_from(KpiDay))
    before = km_per_car(db, START, START, None).km
    db.add(
        VehicleDailyKm(
            vehicle_id=make_vehicle(depot=chargers[0].depot).id,
            day=START,
            km=Decimal("100.0"),
            first_odometer_m=0,
            last_odometer_m=1,
        )
    )
    db.flush()
    assert km_per_car(db, START, START, None).km == before  # the rollup holds START

    refresh_kpi_days(db, START, START, today=END)
    refresh_kpi_days(db, START, START, today=END)

    assert db.scalar(select(func.count()).select_from(KpiDay)) == rows  # 7 x (2 depots + none)
    assert rows == 6 * 3
    assert km_per_car(db, START, START, None).km == before + 100


def test_refresh_rollups_the_first_time_covers_the_history_then_the_recent_days(
    db, make_charger, make_charging_session, make_contract, make_vehicle, make_driver
):
    _history(db, make_charger, make_charging_session, make_contract, make_vehicle, make_driver)
    today = END + timedelta(days=30)

    days, contracts = refresh_rollups(db, today)

    state = rollup_state(db)
    assert state.last_day == today - timedelta(days=1)
    assert state.first_day is not None
    assert state.first_day <= START
    assert days == (state.last_day - state.first_day).days + 1
    assert contracts == 2
    assert refresh_rollups(db, today)[0] == 7  # the last week, rechecked


# --- early delinquency by cohort ----------------------------------------------------


def test_early_delinquency_by_cohort_uses_the_credit_outcome_and_marks_young_cohorts(
    db, make_contract
):
    today = date(2026, 11, 20)
    old = date(2026, 1, 5)  # January: 26 weeks are over
    good = make_contract(starts_on=old, grace_days=2)
    bad = make_contract(starts_on=old + timedelta(days=7), grace_days=2)
    young = make_contract(starts_on=date(2026, 10, 5), grace_days=2)
    make_contract(starts_on=old)  # its first weeks are not in the ledger: not judged
    for contract, paid in ((good, True), (bad, False), (young, True)):
        rent_at = _at(contract.starts_on, 0) - timedelta(hours=6)  # Monday 00:00 local
        post_entry(
            db,
            kind=EntryKind.RENT,
            amount_cents=350_000,
            posted_at=rent_at,
            idempotency_key=f"rent-{contract.id}",
            driver_id=contract.driver_id,
            contract_id=contract.id,
            description="x",
        )
        if paid:
            post_entry(
                db,
                kind=EntryKind.PAYMENT,
                amount_cents=-350_000,
                posted_at=rent_at + timedelta(days=1),
                idempotency_key=f"pay-{contract.id}",
                driver_id=contract.driver_id,
                contract_id=contract.id,
                description="x",
            )
    expected = {c.id: contract_went_bad(db, c, today) for c in (good, bad, young)}
    assert expected == {good.id: False, bad.id: True, young.id: None}
    outcomes = contract_outcomes(db, today)
    assert {c: outcomes[c] for c in expected} == expected

    # Computed live before the job ran, then read from what the job stored: the same.
    live = early_delinquency(db, today, None)
    assert live.computed_at is None
    refresh_contract_outcomes(db, today)
    stored = early_delinquency(db, today, None)
    assert stored.computed_at is not None
    assert live.cohorts == stored.cohorts

    cohorts = {c.month: c for c in stored.cohorts}
    assert len(stored.cohorts) == COHORT_MONTHS
    january = cohorts[date(2026, 1, 1)]
    assert (january.contracts, january.judged, january.bad, january.unobserved) == (3, 2, 1, 1)
    assert not january.too_young
    assert january.rate == 0.5
    october = cohorts[date(2026, 10, 1)]
    assert october.too_young
    assert october.rate is None
    assert cohorts[date(2026, 2, 1)].contracts == 0
    only_depot = early_delinquency(db, today, bad.vehicle.depot_id)
    assert {c.month: c.bad for c in only_depot.cohorts}[date(2026, 1, 1)] == 1
