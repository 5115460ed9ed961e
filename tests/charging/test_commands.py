"""Remote commands end to end: service -> RQ job -> Redis bus -> CSMS -> a simulated
charger (the `ocpp` library as the client) -> the answer back in the command log."""

from __future__ import annotations

import asyncio
import threading

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from charging.simulate import ChargerSpec, connect
from portal.models import (
    ChargerCommand,
    ChargingSession,
    CommandAction,
    CommandStatus,
    SessionStatus,
)
from portal.services import DomainError
from portal.services.charging.commands import OFFLINE, request_command
from tests.waiting import wait_until
from workers import queues
from workers.ocpp import enqueue_command

from .conftest import CHARGER_PASSWORD


class SimThread:
    """A simulated charger running in its own event loop."""

    def __init__(self, url: str, spec: ChargerSpec) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.charger, self.receiver = self.run(connect(url, spec, meter_interval=0.2))

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(20)

    def close(self) -> None:
        async def shut():
            await self.charger._connection.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        self.run(shut())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def work(redis):
    SimpleWorker([Queue(n, connection=redis) for n in queues.QUEUES], connection=redis).work(
        burst=True
    )


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
def test_remote_start_and_stop_from_the_portal(
    version, csms, db, job_queues, make_charger, make_tag, make_user
):
    charger = make_charger(price_cents=500)
    tag = make_tag()
    staff = make_user()
    db.commit()
    sim = SimThread(csms.url, ChargerSpec(charger.identity, CHARGER_PASSWORD, version))
    try:
        assert wait_until(lambda: db.expire_all() or db.get(type(charger), charger.id).is_online())
        start = request_command(
            db, charger.id, CommandAction.REMOTE_START, {"id_tag": tag.tag, "evse_id": 2}, staff.id
        )
        db.commit()
        assert start.status == CommandStatus.QUEUED
        enqueue_command(start)
        work(job_queues)
        db.expire_all()
        start = db.get(ChargerCommand, start.id)
        assert start.status == CommandStatus.ACCEPTED, (start.error, start.error_detail)
        assert start.response == {"status": "Accepted"}

        def running():
            db.expire_all()
            return db.scalar(
                select(ChargingSession).where(
                    ChargingSession.charger_id == charger.id,
                    ChargingSession.status == SessionStatus.ACTIVE,
                    ChargingSession.last_meter_wh > ChargingSession.meter_start_wh,
                )
            )

        session = wait_until(running)
        assert session is not None
        assert session.driver_id == tag.driver_id

        stop = request_command(
            db, charger.id, CommandAction.REMOTE_STOP, {"session_id": session.id}, staff.id
        )
        db.commit()
        enqueue_command(stop)
        work(job_queues)
        db.expire_all()
        stop = db.get(ChargerCommand, stop.id)
        assert stop.status == CommandStatus.ACCEPTED
        assert stop.sent_at is not None
        assert stop.answered_at is not None

        def stopped():
            db.expire_all()
            return db.get(ChargingSession, session.id).status == SessionStatus.COMPLETED

        assert wait_until(stopped)
        done = db.get(ChargingSession, session.id)
        assert done.stop_reason == "Remote"
        assert done.energy_wh > 0
    finally:
        sim.close()


def test_configuration_and_charging_profile_commands(csms, db, job_queues, make_charger):
    charger = make_charger()
    sim = SimThread(csms.url, ChargerSpec(charger.identity, CHARGER_PASSWORD, "ocpp1.6"))
    try:
        assert wait_until(lambda: db.expire_all() or db.get(type(charger), charger.id).is_online())
        commands = [
            request_command(
                db,
                charger.id,
                CommandAction.GET_CONFIGURATION,
                {"keys": ["HeartbeatInterval"]},
                None,
            ),
            request_command(
                db,
                charger.id,
                CommandAction.SET_CHARGING_PROFILE,
                {"evse_id": 1, "limit_kw": "22"},
                None,
            ),
            request_command(db, charger.id, CommandAction.UNLOCK_CONNECTOR, {"evse_id": 2}, None),
            request_command(
                db,
                charger.id,
                CommandAction.CHANGE_CONFIGURATION,
                {"key": "Nope", "value": "1"},
                None,
            ),
        ]
        db.commit()
        for command in commands:
            enqueue_command(command)
        work(job_queues)
        db.expire_all()
        got, profile, unlock, change = (db.get(ChargerCommand, c.id) for c in commands)
        assert got.status == CommandStatus.ACCEPTED
        assert got.response["configuration_key"][0]["key"] == "HeartbeatInterval"
        assert profile.status == CommandStatus.ACCEPTED
        assert (
            profile.request_payload["cs_charging_profiles"]["charging_schedule"][
                "charging_schedule_period"
            ][0]["limit"]
            == 22000.0
        )
        assert sim.charger.limit_now(sim.charger.outlets[1]) == 22.0
        assert unlock.status == CommandStatus.ACCEPTED
        assert change.status == CommandStatus.REJECTED
        assert change.error == "The charger rejected the command."
    finally:
        sim.close()


def test_a_command_to_an_offline_charger_fails_fast(db, make_charger):
    charger = make_charger()
    command = request_command(db, charger.id, CommandAction.RESET, {"type": "soft"}, None)
    assert command.status == CommandStatus.FAILED
    assert command.error == OFFLINE


def test_invalid_parameters_are_refused(db, make_charger):
    charger = make_charger()
    with pytest.raises(DomainError, match="no connector 7"):
        request_command(db, charger.id, CommandAction.UNLOCK_CONNECTOR, {"evse_id": 7}, None)
    with pytest.raises(DomainError, match="soft or a hard"):
        request_command(db, charger.id, CommandAction.RESET, {"type": "gentle"}, None)
    with pytest.raises(DomainError, match="Unknown command"):
        request_command(db, charger.id, "make_coffee", {}, None)
