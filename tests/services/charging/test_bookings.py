"""Charging bookings: the slots offered, the limits, overlaps, cancelling, no-shows."""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from portal.db import utcnow
from portal.models import (
    Booking,
    BookingStatus,
    CommandAction,
    CommandStatus,
    ConnectorStatus,
    ConnectorType,
    IdTag,
    SessionStatus,
)
from portal.services import DomainError
from portal.services.charging import booking_clock
from portal.services.charging import bookings as svc
from portal.timeutil import MEXICO_CITY, local_today

# 10:05 in Mexico City on a Tuesday (UTC-6 all year since 2022).
NOW = datetime(2026, 3, 10, 10, 5, tzinfo=MEXICO_CITY)
TODAY = date(2026, 3, 10)
TOMORROW = date(2026, 3, 11)
RULES = svc.BookingRules()


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=MEXICO_CITY)


@pytest.fixture
def depot_with_chargers(make_depot, make_charger):
    depot = make_depot()
    make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "60"), (ConnectorType.GBT, "60")])
    make_charger(depot=depot, connectors=[(ConnectorType.CCS2, "120")])
    return depot


@pytest.fixture
def ccs_driver(make_contract, make_vehicle, depot_with_chargers):
    contract = make_contract(vehicle=make_vehicle(depot=depot_with_chargers))
    return contract.driver


def test_slots_today_start_after_now_and_tomorrow_from_opening(db, depot_with_chargers):
    today = svc.list_available_slots(
        db, depot_with_chargers.id, ConnectorType.CCS2, TODAY, now=NOW, rules=RULES
    )
    # 10:00-11:00 has 55 minutes left: still offered; 09:00 is gone.
    assert today[0].start == at(TODAY, 10)
    assert today[-1].end == at(TODAY, 23)
    assert all(s.capacity == 2 and s.free == 2 for s in today)
    tomorrow = svc.list_available_slots(
        db, depot_with_chargers.id, ConnectorType.GBT, TOMORROW, now=NOW, rules=RULES
    )
    assert len(tomorrow) == 17  # 06:00 to 23:00
    assert tomorrow[0].start == at(TOMORROW, 6)
    assert {s.capacity for s in tomorrow} == {1}


def test_slots_only_for_today_and_tomorrow(db, depot_with_chargers):
    with pytest.raises(DomainError, match="today or tomorrow"):
        svc.list_available_slots(
            db, depot_with_chargers.id, ConnectorType.CCS2, TODAY + timedelta(2), now=NOW
        )


def test_faulted_connectors_and_pending_chargers_do_not_count(
    db, make_depot, make_charger, make_contract
):
    depot = make_depot()
    faulty = make_charger(depot=depot)
    faulty.connectors[0].status = ConnectorStatus.FAULTED
    make_charger(depot=depot, registration="pending")
    make_charger(depot=depot)
    db.flush()
    slots = svc.list_available_slots(db, depot.id, ConnectorType.CCS2, TOMORROW, now=NOW)
    assert {s.capacity for s in slots} == {1}


def test_booking_takes_a_connector_and_the_slot_fills_up(
    db, depot_with_chargers, ccs_driver, make_contract, make_vehicle
):
    first = svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TOMORROW, 8), now=NOW)
    assert first.status == BookingStatus.BOOKED
    assert first.connector.connector_type == ConnectorType.CCS2
    assert first.window_end - first.window_start == timedelta(hours=1)

    other = make_contract(vehicle=make_vehicle(depot=depot_with_chargers)).driver
    second = svc.book_slot(db, other.id, depot_with_chargers.id, at(TOMORROW, 8), now=NOW)
    assert second.connector_id != first.connector_id

    slot = next(
        s
        for s in svc.list_available_slots(
            db, depot_with_chargers.id, ConnectorType.CCS2, TOMORROW, now=NOW
        )
        if s.start == at(TOMORROW, 8)
    )
    assert slot.free == 0
    assert not slot.available
    third = make_contract(vehicle=make_vehicle(depot=depot_with_chargers)).driver
    with pytest.raises(DomainError, match="full"):
        svc.book_slot(db, third.id, depot_with_chargers.id, at(TOMORROW, 8), now=NOW)


def test_gbt_car_gets_a_gbt_connector(db, depot_with_chargers, make_contract, make_vehicle):
    vehicle = make_vehicle(depot=depot_with_chargers, connector_type=ConnectorType.GBT)
    driver = make_contract(vehicle=vehicle).driver
    booking = svc.book_slot(db, driver.id, depot_with_chargers.id, at(TOMORROW, 9), now=NOW)
    assert booking.connector.connector_type == ConnectorType.GBT
    assert booking.connector_type == ConnectorType.GBT


def test_the_database_refuses_overlapping_live_bookings_on_a_connector(
    db, depot_with_chargers, ccs_driver, make_contract, make_vehicle
):
    booking = svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TOMORROW, 8), now=NOW)
    other = make_contract(vehicle=make_vehicle(depot=depot_with_chargers)).driver
    overlapping = Booking(
        driver_id=other.id,
        vehicle_id=other.contracts[0].vehicle_id,
        depot_id=booking.depot_id,
        connector_type=booking.connector_type,
        charger_id=booking.charger_id,
        connector_id=booking.connector_id,
        window_start=at(TOMORROW, 8) + timedelta(minutes=30),
        window_end=at(TOMORROW, 9) + timedelta(minutes=30),
    )
    with pytest.raises(IntegrityError, match="no_overlap_on_connector"), db.begin_nested():
        db.add(overlapping)
    # Back to back is fine, and so is overlapping a cancelled booking.
    overlapping.window_start, overlapping.window_end = at(TOMORROW, 9), at(TOMORROW, 10)
    with db.begin_nested():
        db.add(overlapping)
    svc.cancel_booking(db, booking, now=NOW)
    again = svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TOMORROW, 8), now=NOW)
    assert again.status == BookingStatus.BOOKED


def test_only_the_same_connector_counts_as_an_overlap(
    db, depot_with_chargers, ccs_driver, make_contract, make_vehicle
):
    booking = svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TOMORROW, 8), now=NOW)
    other = make_contract(vehicle=make_vehicle(depot=depot_with_chargers)).driver
    same_window = {
        "driver_id": other.id,
        "vehicle_id": other.contracts[0].vehicle_id,
        "depot_id": booking.depot_id,
        "connector_type": booking.connector_type,
        "window_start": booking.window_start,
        "window_end": booking.window_end,
    }
    elsewhere = next(c for c in booking.charger.connectors if c.id != booking.connector_id)
    with db.begin_nested():  # another connector of the charger, the same hour
        db.add(Booking(**same_window, charger_id=booking.charger_id, connector_id=elsewhere.id))
    with db.begin_nested():  # no connector yet: it holds none
        db.add(Booking(**same_window))


def test_limits_per_day_and_upcoming(db, depot_with_chargers, ccs_driver):
    svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TODAY, 12), now=NOW)
    with pytest.raises(DomainError, match="per day"):
        svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TODAY, 15), now=NOW)
    svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TOMORROW, 7), now=NOW)
    generous = svc.BookingRules(max_per_day=3, max_future=2)
    with pytest.raises(DomainError, match="at most 2 upcoming"):
        svc.book_slot(
            db, ccs_driver.id, depot_with_chargers.id, at(TOMORROW, 12), now=NOW, rules=generous
        )


def test_cannot_book_twice_at_the_same_time(db, depot_with_chargers, ccs_driver):
    rules = svc.BookingRules(max_per_day=3, max_future=3)
    svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TOMORROW, 8), now=NOW, rules=rules)
    with pytest.raises(DomainError, match="already have a booking"):
        svc.book_slot(
            db, ccs_driver.id, depot_with_chargers.id, at(TOMORROW, 8), now=NOW, rules=rules
        )


@pytest.mark.parametrize(
    "start",
    [
        at(TODAY, 9),  # over
        at(TODAY, 23),  # after closing
        at(TOMORROW, 8) + timedelta(minutes=15),  # off the grid
        at(TOMORROW + timedelta(1), 8),  # too far ahead
        datetime(2026, 3, 11, 8),  # no time zone
    ],
)
def test_only_slots_on_offer_can_be_booked(db, depot_with_chargers, ccs_driver, start):
    with pytest.raises(DomainError, match="not on offer"):
        svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, start, now=NOW)


def test_a_driver_without_a_contract_cannot_book(db, depot_with_chargers, make_driver):
    driver = make_driver()
    with pytest.raises(DomainError, match="active contract"):
        svc.book_slot(db, driver.id, depot_with_chargers.id, at(TOMORROW, 8), now=NOW)


def test_cancel_frees_the_slot_and_the_daily_limit(db, depot_with_chargers, ccs_driver):
    booking = svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TODAY, 12), now=NOW)
    assert svc.cancel_booking(db, booking, now=NOW) is None  # not reserved: no command
    assert booking.status == BookingStatus.CANCELLED
    assert booking.cancelled_at == NOW
    with pytest.raises(DomainError, match="no longer be cancelled"):
        svc.cancel_booking(db, booking, now=NOW)
    svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TODAY, 13), now=NOW)


def test_get_driver_booking_is_scoped_to_the_driver(
    db, depot_with_chargers, ccs_driver, make_driver
):
    booking = svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TODAY, 12), now=NOW)
    assert svc.get_driver_booking(db, booking.id, ccs_driver.id) is booking
    assert svc.get_driver_booking(db, booking.id, make_driver().id) is None


def test_no_shows_are_released_after_the_grace_period(db, depot_with_chargers, ccs_driver):
    booking = svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TODAY, 12), now=NOW)
    grace = timedelta(minutes=15)
    released, commands = booking_clock.release_no_shows(
        db, at(TODAY, 12) + timedelta(minutes=14), grace
    )
    assert released == []
    assert booking.status == BookingStatus.BOOKED
    released, commands = booking_clock.release_no_shows(db, at(TODAY, 12) + grace, grace)
    assert released == [booking]
    assert commands == []
    assert booking.status == BookingStatus.NO_SHOW
    assert booking.released_at == at(TODAY, 12) + grace
    # The connector is free again for the rest of the window.
    slots = svc.list_available_slots(
        db, depot_with_chargers.id, ConnectorType.CCS2, TODAY, now=at(TODAY, 12) + grace
    )
    assert slots[0].start == at(TODAY, 12)
    assert slots[0].free == 2


def test_a_driver_who_started_charging_is_not_a_no_show(
    db, depot_with_chargers, ccs_driver, make_charging_session
):
    booking = svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TODAY, 12), now=NOW)
    charging = make_charging_session(
        booking.charger, driver_id=ccs_driver.id, started_at=at(TODAY, 12) + timedelta(minutes=5)
    )
    released, _ = booking_clock.release_no_shows(
        db, at(TODAY, 12) + timedelta(minutes=20), RULES.no_show_grace
    )
    assert released == []
    assert booking.status == BookingStatus.CHARGING
    assert booking.session_id == charging.id
    charging.status = SessionStatus.COMPLETED
    charging.stopped_at = at(TODAY, 12) + timedelta(minutes=50)
    db.flush()
    booking_clock.release_no_shows(db, at(TODAY, 13), RULES.no_show_grace)
    assert booking.status == BookingStatus.COMPLETED
    assert booking.released_at == charging.stopped_at


def test_depot_bookings_for_the_staff_board(db, depot_with_chargers, ccs_driver):
    booking = svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, at(TODAY, 12), now=NOW)
    assert svc.list_depot_bookings(db, depot_with_chargers.id, TODAY) == [booking]
    assert svc.list_depot_bookings(db, depot_with_chargers.id, TOMORROW) == []


def test_rules_from_settings():
    rules = svc.rules_from_config({"BOOKING_MAX_FUTURE": "3", "BOOKING_NO_SHOW_GRACE_MINUTES": 10})
    assert rules.max_future == 3
    assert rules.no_show_grace == timedelta(minutes=10)
    assert rules.max_per_day == 1
    with pytest.raises(ValueError, match="slot_minutes"):
        svc.BookingRules(slot_minutes=7)


# --- reservations on the charger (ReserveNow through the command log) -----------------


# The command log checks expiry times against the real clock: book for tomorrow noon.
NOON = datetime.combine(
    local_today(MEXICO_CITY) + timedelta(days=1), datetime.min.time(), MEXICO_CITY
) + timedelta(hours=12)


@pytest.fixture
def tagged_driver(db, ccs_driver):
    db.add(IdTag(tag="LAFA000777", driver_id=ccs_driver.id))
    db.flush()
    return ccs_driver


def _online_now(charger, now):
    charger.online = True
    charger.last_seen_at = now


def test_reserve_now_is_asked_when_the_window_opens(db, depot_with_chargers, tagged_driver):
    booking = svc.book_slot(db, tagged_driver.id, depot_with_chargers.id, NOON, now=utcnow())
    opening = NOON - timedelta(seconds=30)
    for charger in {c.charger for c in [booking.connector]}:
        _online_now(charger, opening)
    assert booking_clock.reserve_opening_windows(db, NOON - timedelta(hours=1)) == []  # not yet
    (command,) = booking_clock.reserve_opening_windows(db, opening, lead=timedelta(minutes=1))
    assert booking.status == BookingStatus.RESERVED
    assert booking.reservation_id == booking.id
    assert booking.reserve_command_id == command.id
    assert command.action == CommandAction.RESERVE_NOW
    assert command.charger_id == booking.charger_id
    assert command.params["evse_id"] == booking.connector.evse_id
    assert command.params["id_tag"] == "LAFA000777"
    assert command.params["reservation_id"] == booking.id
    assert command.requested_by_id is None  # the system asked
    # Running it again asks nothing twice.
    assert booking_clock.reserve_opening_windows(db, opening, lead=timedelta(minutes=1)) == []


def test_a_reservation_moves_off_an_offline_charger(
    db, depot_with_chargers, tagged_driver, make_charger
):
    booking = svc.book_slot(db, tagged_driver.id, depot_with_chargers.id, NOON, now=utcnow())
    first = booking.charger
    first.online = False
    other = next(
        c.charger
        for c in svc.usable_connectors(db, depot_with_chargers.id, ConnectorType.CCS2)
        if c.charger_id != first.id
    )
    _online_now(other, NOON)
    (command,) = booking_clock.reserve_opening_windows(db, NOON)
    assert booking.charger_id == other.id
    assert command.charger_id == other.id
    assert command.status == CommandStatus.QUEUED


def test_an_offline_depot_fails_the_reservation_fast(db, depot_with_chargers, tagged_driver):
    booking = svc.book_slot(db, tagged_driver.id, depot_with_chargers.id, NOON, now=utcnow())
    for connector in svc.usable_connectors(db, depot_with_chargers.id, ConnectorType.CCS2):
        connector.charger.online = False
    (command,) = booking_clock.reserve_opening_windows(db, NOON)
    assert command.status == CommandStatus.FAILED
    assert command.error == "The charger is offline."
    assert booking.status == BookingStatus.RESERVED  # still held in our books


def test_no_reservation_without_an_id_tag(db, depot_with_chargers, ccs_driver):
    booking = svc.book_slot(db, ccs_driver.id, depot_with_chargers.id, NOON, now=utcnow())
    assert booking_clock.reserve_opening_windows(db, NOON) == []
    assert booking.status == BookingStatus.BOOKED


def test_cancelling_or_releasing_a_reserved_booking_cancels_it_on_the_charger(
    db, depot_with_chargers, tagged_driver
):
    booking = svc.book_slot(db, tagged_driver.id, depot_with_chargers.id, NOON, now=utcnow())
    _online_now(booking.charger, NOON)
    booking_clock.reserve_opening_windows(db, NOON)
    released, commands = booking_clock.release_no_shows(
        db, NOON + timedelta(minutes=15), timedelta(minutes=15)
    )
    assert released == [booking]
    (cancel,) = commands
    assert cancel.action == CommandAction.CANCEL_RESERVATION
    assert cancel.params == {"reservation_id": booking.id}


def test_a_session_started_on_the_reservation_counts(
    db, depot_with_chargers, tagged_driver, make_charging_session
):
    booking = svc.book_slot(db, tagged_driver.id, depot_with_chargers.id, NOON, now=utcnow())
    _online_now(booking.charger, NOON)
    booking_clock.reserve_opening_windows(db, NOON)
    # The card was someone else's (a colleague plugged the car in), but on the reservation.
    charging = make_charging_session(
        booking.charger, reservation_id=booking.reservation_id, started_at=NOON
    )
    booking_clock.release_no_shows(db, NOON + timedelta(minutes=20), timedelta(minutes=15))
    assert booking.status == BookingStatus.CHARGING
    assert booking.session_id == charging.id
