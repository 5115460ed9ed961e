"""A car arriving or leaving asks for a re-plan of its depot: the real CSMS stores the
start or stop, then (after the commit, off its event loop) schedules
`replan_depot_job(depot_id)` — once per depot while one is pending."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rq import Queue
from sqlalchemy import select

from charging import replan
from portal.models import ChargerCommand, ChargingPlan, CommandAction
from portal.services.charging import smart
from tests.services.charging.test_smart import _tariff
from tests.waiting import wait_until

from .conftest import CHARGER_PASSWORD
from .test_commands import work
from .test_csms import boot16, ts
from .wire import Wire


def _scheduled(redis) -> list[tuple[str, tuple]]:
    queue = Queue(replan.REPLAN_QUEUE, connection=redis)
    jobs = [queue.fetch_job(i) for i in queue.scheduled_job_registry.get_job_ids()]
    return [(j.func_name, j.args) for j in jobs]


def _replans(redis, depot_id: int, count: int) -> bool:
    return _scheduled(redis) == [(replan.REPLAN_JOB, (depot_id,))] * count


class Noted:
    """The chargers the CSMS has asked re-plans for, once its after-commit hook is done:
    the point after which a test may say that nothing was asked."""

    def __init__(self, server) -> None:
        self.chargers: set[int] = set()
        db = server.csms.db
        ask = db.on_sessions_changed

        def noting(charger_ids: set[int]) -> None:
            ask(charger_ids)
            self.chargers |= charger_ids

        db.on_sessions_changed = noting


@pytest.fixture
def planned_charger(db, make_depot, make_charger):
    """A charger (two 60 kW connectors) of a depot with a tariff and planning on."""

    def make(enabled: bool = True):
        depot = make_depot(site_power_kw=Decimal("100"))
        _tariff(db, depot)
        smart.set_planning(db, depot, enabled, actor_id=None)
        charger = make_charger(depot=depot)  # commits
        return charger

    return make


def test_a_16_start_stop_and_lost_session_each_ask_for_a_replan(
    csms, db, redis_db, planned_charger
):
    charger = planned_charger()
    depot_id = charger.depot_id
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        start = {"connectorId": 1, "idTag": "ANYONE", "meterStart": 1_000, "timestamp": ts()}
        tx = wire.ok("StartTransaction", start)["transactionId"]
        wait_until(lambda: _replans(redis_db, depot_id, 1), what="a re-plan after the start")
        replan.take_request(redis_db, depot_id)  # the job ran: the next change asks again
        wire.ok(
            "StopTransaction",
            {"transactionId": tx, "meterStop": 5_000, "timestamp": ts(600), "reason": "Local"},
        )
        wait_until(lambda: _replans(redis_db, depot_id, 2), what="a re-plan after the stop")
        replan.take_request(redis_db, depot_id)
        wire.ok("StartTransaction", start | {"timestamp": ts(700)})
        wait_until(lambda: _replans(redis_db, depot_id, 3), what="a re-plan after the start")
        replan.take_request(redis_db, depot_id)
        boot16(wire)  # a reboot: its running session is closed as lost
        wait_until(lambda: _replans(redis_db, depot_id, 4), what="a re-plan after the reboot")


def test_201_started_and_ended_each_ask_for_a_replan(csms, db, redis_db, planned_charger):
    charger = planned_charger()
    depot_id = charger.depot_id

    def event(kind: str, seconds: int) -> dict:
        return {
            "eventType": kind,
            "timestamp": ts(seconds),
            "triggerReason": "EVDetected",
            "seqNo": seconds,
            "transactionInfo": {"transactionId": "TX-REPLAN"},
            "evse": {"id": 1, "connectorId": 1},
        }

    with Wire(csms.url, charger.identity, CHARGER_PASSWORD, version="ocpp2.0.1") as wire:
        wire.ok(
            "BootNotification",
            {"chargingStation": {"model": "X", "vendorName": "Y"}, "reason": "PowerUp"},
        )
        wire.ok("TransactionEvent", event("Started", 0))
        wait_until(lambda: _replans(redis_db, depot_id, 1), what="a re-plan after Started")
        replan.take_request(redis_db, depot_id)
        wire.ok("TransactionEvent", event("Updated", 60))
        wire.ok("TransactionEvent", event("Ended", 120))
        wait_until(lambda: _replans(redis_db, depot_id, 2), what="a re-plan after Ended")


def test_no_replan_for_a_depot_with_planning_off(csms, db, redis_db, planned_charger):
    charger = planned_charger(enabled=False)
    noted = Noted(csms)
    with Wire(csms.url, charger.identity, CHARGER_PASSWORD) as wire:
        boot16(wire)
        start = {"connectorId": 1, "idTag": "ANYONE", "meterStart": 1_000, "timestamp": ts()}
        wire.ok("StartTransaction", start)
    wait_until(lambda: charger.id in noted.chargers, what="the CSMS's after-commit hook")
    assert _scheduled(redis_db) == []


def test_a_burst_of_20_arrivals_is_one_plan(
    csms, db, redis_db, job_queues, make_charger, planned_charger
):
    first = planned_charger()
    chargers = [first] + [make_charger(depot=first.depot) for _ in range(9)]
    noted = Noted(csms)
    wires = [Wire(csms.url, c.identity, CHARGER_PASSWORD) for c in chargers]
    try:
        for wire in wires:
            boot16(wire)
        for wire in wires:
            for connector in (1, 2):
                start = {"connectorId": connector, "idTag": "X", "meterStart": 0, "timestamp": ts()}
                wire.ok("StartTransaction", start)
    finally:
        for wire in wires:  # offline now: the profiles fail at once when sent
            wire.close()
    wait_until(
        lambda: noted.chargers == {c.id for c in chargers}, what="the CSMS's after-commit hook"
    )
    assert _replans(redis_db, first.depot_id, 1)
    # The job runs when its time comes (here: now): one plan with the 20 cars.
    queue = Queue(replan.REPLAN_QUEUE, connection=redis_db)
    for job_id in queue.scheduled_job_registry.get_job_ids():
        job = queue.fetch_job(job_id)
        queue.scheduled_job_registry.remove(job)
        queue.enqueue_job(job)
    work(redis_db)
    (plan,) = db.scalars(select(ChargingPlan)).all()
    assert len(plan.schedule) == 20
    profiles = db.scalars(
        select(ChargerCommand).where(ChargerCommand.action == CommandAction.SET_CHARGING_PROFILE)
    ).all()
    assert len(profiles) == 20
    assert {p.params["purpose"] for p in profiles} == {"tx"}
