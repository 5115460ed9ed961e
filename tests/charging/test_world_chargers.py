"""The demo's simulated chargers follow the demo world (charging.simulate with the world),
against a real CSMS over real OCPP: a session runs on a connector exactly while the plan
has the car plugged in there, with its driver's card, metering the energy the plan says
and the car's state of charge; a remote stop the plan accepts ends it."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from charging.simulate import ChargerSpec, WorldFollower, connect
from portal.db import utcnow
from portal.demo.world import LiveWorld, load_inputs
from portal.models import (
    ChargerCommand,
    ChargerConnector,
    ChargingSession,
    CommandAction,
    CommandStatus,
    SessionStatus,
    VehicleStatus,
)
from tests.waiting import wait_until

from .conftest import CHARGER_PASSWORD


class ChargerThread:
    """One simulated charger following the world, with its own event loop in a thread."""

    def __init__(self, url: str, spec: ChargerSpec, world: WorldFollower) -> None:
        self.loop = asyncio.new_event_loop()
        self.url, self.spec, self.world = url, spec, world
        self.charger = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self.charger, self.receiver = await connect(
            self.url, self.spec, meter_interval=1, world=self.world
        )
        self.follower = asyncio.create_task(self.charger.follow_world())

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def __enter__(self) -> ChargerThread:
        self.thread.start()
        assert self.ready.wait(30)
        return self

    def __exit__(self, *_exc: object) -> None:
        async def close() -> None:
            self.follower.cancel()
            self.receiver.cancel()
            await self.charger._connection.close()

        self.call(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_a_charger_runs_the_worlds_session_and_a_remote_stop_ends_it(
    csms, db, engine, make_depot, make_charger, make_vehicle, make_contract, make_driver, make_tag
):
    depot = make_depot(latitude=Decimal("19.4895"), longitude=Decimal("-99.1468"))
    charger = make_charger(depot=depot, price_cents=450)
    car = make_vehicle(depot=depot, status=VehicleStatus.LEASED)
    driver = make_driver(curp=f"TEST{uuid.uuid4().hex[:14].upper()}")
    tag = make_tag(contract=make_contract(driver=driver, vehicle=car))
    connectors = {
        c.evse_id: c.id
        for c in db.scalars(
            select(ChargerConnector).where(ChargerConnector.charger_id == charger.id)
        )
    }
    # The driver asked for a session on connector 1 half a minute ago (their phone).
    db.add(
        ChargerCommand(
            charger_id=charger.id,
            action=CommandAction.REMOTE_START,
            params={"id_tag": tag.tag, "evse_id": 1},
            status=CommandStatus.ACCEPTED,
            requested_at=utcnow() - timedelta(seconds=30),
        )
    )
    db.commit()

    def load():
        with OrmSession(engine) as session:
            return load_inputs(session)

    live = LiveWorld(load)
    spec = ChargerSpec(charger.identity, CHARGER_PASSWORD, connectors=connectors)
    with ChargerThread(csms.url, spec, WorldFollower(live)) as running:

        def metering() -> ChargingSession | None:
            db.expire_all()
            found = db.scalar(
                select(ChargingSession).where(
                    ChargingSession.charger_id == charger.id,
                    ChargingSession.status == SessionStatus.ACTIVE,
                )
            )
            meter = found and found.last_meter_wh and found.meter_start_wh
            return found if meter and found.last_meter_wh > found.meter_start_wh else None

        session = wait_until(metering, what="the world's session metering on the CSMS")
        assert session.evse_id == 1
        assert session.id_tag == tag.tag
        assert session.driver_id == tag.driver_id
        assert session.vehicle_id == car.id
        planned = live.get().session_on(connectors[1], session.last_meter_at)
        assert planned is not None
        assert planned.manual
        assert abs(session.last_soc - planned.soc(session.last_meter_at)) <= 1
        # Only that connector charges: the plan has no car on connector 2.
        assert live.get().session_on(connectors[2], session.last_meter_at) is None

        # The plan, read again with the request in it, accepts the start on connector 1
        # for this card only.
        assert running.call(running.charger.world_accepts_start(1, tag.tag))
        assert not running.call(running.charger.world_accepts_start(2, tag.tag))

        # A remote stop of that session: the plan ends it and the charger stops it.
        db.add(
            ChargerCommand(
                charger_id=charger.id,
                action=CommandAction.REMOTE_STOP,
                params={"session_id": session.id},
                status=CommandStatus.SENT,
                requested_at=utcnow(),
            )
        )
        db.commit()

        def stopped() -> ChargingSession | None:
            db.expire_all()
            found = db.get(ChargingSession, session.id)
            return found if found and found.status == SessionStatus.COMPLETED else None

        done = wait_until(stopped, what="the charger to stop the session the plan ended")
        assert done.stop_reason == "Remote"
        assert done.energy_wh > 0
        assert done.ledger_entry_id is not None  # billed to the driver
