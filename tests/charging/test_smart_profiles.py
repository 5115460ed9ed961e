"""A depot's plan sent to a charger: plan -> SetChargingProfile on the command bus -> RQ
job -> CSMS -> a simulated charger over a real websocket, which meters the profile's
power; then GetCompositeSchedule confirms what the charger applied. A charger that
refuses profiles is recorded and its car planned at full power."""

from __future__ import annotations

import dataclasses
import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from ocpp.charge_point import remove_nones, snake_to_camel_case
from ocpp.messages import Call, _validate_payload
from rq import Queue
from sqlalchemy import select

from charging.commands import build
from charging.simulate import ChargerSpec
from portal.db import utcnow
from portal.models import (
    Charger,
    ChargerCommand,
    ChargingSession,
    CommandAction,
    CommandStatus,
    MeterValue,
    SessionStatus,
)
from portal.services.charging import profiles, smart
from portal.services.charging.commands import request_command
from tests.services.charging.test_smart import _soc, _tariff
from tests.waiting import wait_until
from workers.ocpp import enqueue_command

from .conftest import CHARGER_PASSWORD
from .test_commands import SimThread

CAR_KW = 57.0  # what the simulated car draws unlimited: 95 % of the outlet's 60 kW


def _charging(db, sim, charger, tag, vehicle=None) -> ChargingSession:
    """Start a real session on outlet 1 and wait until the CSMS has it (and its car)."""
    outlet = sim.charger.outlets[1]
    sim.run(sim.charger.start_session(outlet, tag.tag))

    def running():
        db.expire_all()
        return db.scalar(
            select(ChargingSession).where(
                ChargingSession.charger_id == charger.id,
                ChargingSession.status == SessionStatus.ACTIVE,
            )
        )

    session = wait_until(running, what="the session to start")
    if vehicle is not None:
        session.vehicle_id = vehicle.id
        db.commit()
    return session


def work(redis) -> None:
    """Run the `ocpp` queue's jobs here until it is empty, the ones they queue too (the
    GetCompositeSchedule after a profile). Not an RQ burst worker: in these tests, with a
    charger metering every 0.2 s, one took a minute to close its pub/sub connection after
    its last job (RQ 3.0, not understood yet)."""
    queue = Queue("ocpp", connection=redis)
    while found := Queue.dequeue_any([queue], None, connection=redis):
        found[0].perform()


def _online(db, charger) -> bool:
    db.expire_all()
    return db.get(Charger, charger.id).is_online()


def _power_samples(db, charger, since):
    """(sampled_at, kW) of the charger's power meter values since ``since``, in order."""
    db.expire_all()
    rows = db.execute(
        select(MeterValue.sampled_at, MeterValue.value, MeterValue.unit)
        .where(
            MeterValue.charger_id == charger.id,
            MeterValue.measurand == "Power.Active.Import",
            MeterValue.sampled_at >= since,
        )
        .order_by(MeterValue.sampled_at)
    ).all()
    return [(at, float(v) if unit.lower() == "kw" else float(v) / 1000) for at, v, unit in rows]


def _sent(db, command) -> ChargerCommand:
    db.expire_all()
    return db.get(ChargerCommand, command.id)


@pytest.mark.parametrize(("version", "unit"), [("ocpp1.6", "W"), ("ocpp2.0.1", "A")])
def test_the_metered_power_follows_the_profile_across_a_period_boundary(
    version, unit, csms, db, job_queues, make_charger, make_tag
):
    charger = make_charger()
    tag = make_tag()
    db.commit()
    sim = SimThread(csms.url, ChargerSpec(charger.identity, CHARGER_PASSWORD, version))
    try:
        assert wait_until(lambda: _online(db, charger))
        session = _charging(db, sim, charger, tag)
        start = utcnow().replace(microsecond=0)
        boundary = start + timedelta(seconds=10)
        command = request_command(
            db,
            charger.id,
            CommandAction.SET_CHARGING_PROFILE,
            {
                "evse_id": 1,
                "profile_id": 4201,
                "stack_level": 1,
                "purpose": "tx",
                "transaction_id": session.transaction_id,
                "periods": [{"start_s": 0, "limit_kw": "20"}, {"start_s": 10, "limit_kw": "35"}],
                "start_at": start.isoformat(),
                "unit": unit,
            },
            None,
        )
        db.commit()
        enqueue_command(command)
        work(job_queues)  # the profile, then the GetCompositeSchedule it queues
        sent = _sent(db, command)
        assert sent.status == CommandStatus.ACCEPTED, (sent.error, sent.error_detail)
        assert sent.response["composite"]["verdict"] == profiles.CONFIRMED
        composite = db.get(ChargerCommand, sent.response["composite"]["command_id"])
        assert composite.action == CommandAction.GET_COMPOSITE_SCHEDULE
        assert composite.ocpp_action == "GetCompositeSchedule"
        assert composite.status == CommandStatus.ACCEPTED
        applied = sent.answered_at
        settled = boundary + timedelta(seconds=1)  # samples are stamped to the second

        def past_the_boundary():
            return [kw for at, kw in _power_samples(db, charger, settled) if at >= settled]

        assert wait_until(past_the_boundary, what="meter values after the period boundary")
        samples = _power_samples(db, charger, applied + timedelta(seconds=1))
        before = [kw for at, kw in samples if at < boundary - timedelta(seconds=1)]
        after = [kw for at, kw in samples if at >= settled]
        assert before
        assert all(kw == pytest.approx(20.0, abs=0.1) for kw in before), before
        assert all(kw == pytest.approx(35.0, abs=0.1) for kw in after), after
    finally:
        sim.close()


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
def test_the_plan_reaches_the_charger_as_a_tx_profile_and_is_confirmed(
    version, csms, db, job_queues, make_depot, make_charger, make_vehicle, make_tag
):
    depot = make_depot(site_power_kw=Decimal("100"))
    _tariff(db, depot)
    charger = make_charger(depot=depot)  # two 60 kW connectors
    car = make_vehicle(depot=depot, battery_kwh=Decimal("60"))
    _soc(db, car, 30)
    tag = make_tag()
    db.commit()
    sim = SimThread(csms.url, ChargerSpec(charger.identity, CHARGER_PASSWORD, version))
    try:
        assert wait_until(lambda: _online(db, charger))
        session = _charging(db, sim, charger, tag, car)
        plan = smart.plan_depot(db, depot).plan
        db.commit()
        now = utcnow()
        (command,) = smart.send_plan(db, plan, now)
        db.commit()
        enqueue_command(command)
        work(job_queues)
        sent = _sent(db, command)
        assert sent.status == CommandStatus.ACCEPTED, (sent.error, sent.error_detail)
        if version == "ocpp1.6":
            profile = sent.request_payload["cs_charging_profiles"]
            assert profile["transaction_id"] == int(session.transaction_id)
            assert profile["charging_schedule"]["charging_rate_unit"] == "W"  # 60 kW: DC
        else:
            profile = sent.request_payload["charging_profile"]
            assert profile["transaction_id"] == session.transaction_id
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert sent.response["composite"]["verdict"] == profiles.CONFIRMED
        assert profiles.plan_profiles(db, plan)[f"v{car.id}"].state == profiles.CONFIRMED

        slot = round((smart.slot_start(now) - plan.start_at) / smart.SLOT)
        planned_now = round(plan.schedule[f"v{car.id}"][slot], 1)
        outlet = sim.charger.outlets[1]
        assert sim.charger.limit_now(outlet) == pytest.approx(planned_now)
        expected = min(planned_now, CAR_KW)
        assert wait_until(
            lambda: any(
                kw == pytest.approx(expected, abs=0.1)
                for _, kw in _power_samples(db, charger, sent.answered_at)
            ),
            what="the metered power at the plan's kW",
        )
    finally:
        sim.close()


@pytest.mark.parametrize(
    ("version", "answer"), [("ocpp1.6", "NotSupported"), ("ocpp2.0.1", "Rejected")]
)
def test_a_charger_that_refuses_profiles_is_planned_at_full_power(
    version, answer, csms, db, job_queues, make_depot, make_charger, make_vehicle, make_tag
):
    depot = make_depot(site_power_kw=Decimal("100"))
    _tariff(db, depot)
    charger = make_charger(depot=depot)
    car = make_vehicle(depot=depot, battery_kwh=Decimal("60"))
    _soc(db, car, 30)
    tag = make_tag()
    db.commit()
    spec = ChargerSpec(charger.identity, CHARGER_PASSWORD, version, refuses_profiles=True)
    sim = SimThread(csms.url, spec)
    try:
        assert wait_until(lambda: _online(db, charger))
        _charging(db, sim, charger, tag, car)
        first = smart.plan_depot(db, depot).plan
        db.commit()
        (command,) = smart.send_plan(db, first)
        db.commit()
        enqueue_command(command)
        work(job_queues)
        sent = _sent(db, command)
        assert sent.status == CommandStatus.REJECTED
        assert sent.response == {"status": answer}
        assert db.get(Charger, charger.id).profiles_refused_at is not None

        key = f"v{car.id}"
        replan = smart.plan_depot(db, depot)
        db.commit()
        assert replan.new  # the charger's refusal ends the plan that counted on it
        car_plan = replan.plan.cars[key]
        assert car_plan["uncontrolled"] is True
        need_kw = car_plan["energy_kwh"] / 0.25
        assert replan.plan.schedule[key][0] == pytest.approx(min(60.0, need_kw), abs=1e-3)
        assert smart.send_plan(db, replan.plan) == []  # no profile for a charger that refuses
        assert profiles.plan_profiles(db, replan.plan)[key].state == profiles.REFUSES
        assert sim.charger.limit_now(sim.charger.outlets[1]) is None
    finally:
        sim.close()


def test_an_ac_connector_is_limited_in_amperes_per_phase():
    params = {
        "evse_id": 1,
        "profile_id": 4201,
        "stack_level": 1,
        "purpose": "tx_default",
        "periods": [{"start_s": 0, "limit_kw": "0.0"}, {"start_s": 900, "limit_kw": "11.0"}],
        "unit": "A",
        "start_at": "2026-12-08T04:00:00Z",
    }
    _, payload = build("ocpp2.0.1", CommandAction.SET_CHARGING_PROFILE, params, 1)
    schedule = payload["charging_profile"]["charging_schedule"][0]
    assert schedule["charging_rate_unit"] == "A"
    assert schedule["start_schedule"] == "2026-12-08T04:00:00Z"
    assert [p["limit"] for p in schedule["charging_schedule_period"]] == [
        0.0,
        15.9,
    ]  # 11 kW / 690 V


@pytest.mark.parametrize(
    ("version", "module", "address"),
    [("ocpp1.6", "ocpp.v16", "connectorId"), ("ocpp2.0.1", "ocpp.v201", "evseId")],
)
def test_get_composite_schedule_is_built_to_the_official_schema(version, module, address):
    params = {"evse_id": 2, "duration_s": 3600, "unit": "A", "confirms": 5}
    action, payload = build(version, CommandAction.GET_COMPOSITE_SCHEDULE, params, 6)
    assert action == "GetCompositeSchedule"
    call = getattr(importlib.import_module(f"{module}.call"), action)(**payload)
    wire = snake_to_camel_case(remove_nones(dataclasses.asdict(call)))
    _validate_payload(Call("1", action, wire), version.removeprefix("ocpp"))  # raises if not
    assert wire == {address: 2, "duration": 3600, "chargingRateUnit": "A"}
