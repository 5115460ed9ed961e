"""Simulated charge points speaking real OCPP (the `ocpp` library as the client).

`python -m charging.simulate` connects the demo chargers (demo mode only: it knows
their password) to the CSMS: each boots, heartbeats, reports its connectors and answers
remote commands. Its sessions are the demo world's (`portal.demo.world`, the plan the
simulated trackers follow too): a connector runs an OCPP session exactly while the plan
has a car plugged in on it, with that car's driver's card, metering the energy the plan
says the car takes; a driver's remote start or stop is accepted when the plan, with that
request in it, starts or ends a session. Chargers with an odd number speak OCPP 1.6J,
even ones 2.0.1.

Options: `--url` (default ws://127.0.0.1:9000/ocpp), `--limit N`, `--meter-interval`
seconds; `--no-world`: the chargers only answer commands (a remote start charges the car
to full), plus random sessions at `--session-chance` (per connector per minute).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call as c16
from ocpp.v16 import call_result as r16
from ocpp.v16.enums import Action as A16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call as c201
from ocpp.v201 import call_result as r201
from ocpp.v201.enums import Action as A201

from charging import profiles as cp

if TYPE_CHECKING:
    from portal.demo.world import LiveWorld, PlannedSession, World

log = logging.getLogger("charging.simulate")


def stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Outlet:
    evse_id: int
    max_kw: float = 60.0
    energy_wh: int = 0  # the register, never goes back
    transaction_id: str | None = None
    id_tag: str | None = None
    soc: float = 30.0
    limit_kw: float | None = None
    task: asyncio.Task[None] | None = None
    connector_id: int | None = None  # charger_connectors.id: where the world's plan puts cars
    plan: PlannedSession | None = None  # the world's session this outlet runs
    joined_wh: int = 0  # the register when it joined the plan's session
    joined_soc: float = 0.0
    planned_kw: float | None = None  # what the plan's car draws now
    joined_at: datetime | None = None
    started_at: datetime | None = None  # the running transaction's start (Relative profiles)


@dataclass
class ChargerSpec:
    identity: str
    password: str
    version: str = "ocpp1.6"  # or "ocpp2.0.1"
    outlets: int = 2
    id_tags: list[str] = field(default_factory=list)
    connectors: dict[int, int] = field(default_factory=dict)  # evse id → connector id
    refuses_profiles: bool = False  # answers SetChargingProfile NotSupported / Rejected


class WorldFollower:
    """The demo world for a process of chargers: read again from the database as often
    as the world says and at once when a remote command arrives (off the event loop)."""

    def __init__(self, live: LiveWorld) -> None:
        self.live = live
        self.lock = asyncio.Lock()

    async def world(self, fresh: bool = False) -> World:
        asked = self.live.monotonic()
        if fresh or asked - self.live.loaded_at >= self.live.refresh:
            async with self.lock:
                if self.live.loaded_at < asked:  # nobody read it since this charger asked
                    inputs = await asyncio.to_thread(self.live.load)
                    self.live.use(inputs)
        return self.live.world


class SimMixin:
    """Shared behaviour of a simulated charge point of either version."""

    spec: ChargerSpec
    outlets: dict[int, Outlet]
    meter_interval: float
    heartbeat_interval: float
    booted: asyncio.Event

    def init_sim(
        self,
        spec: ChargerSpec,
        meter_interval: float,
        world: WorldFollower | None = None,
        outlets: dict[int, Outlet] | None = None,
    ) -> None:
        self.spec = spec
        self.meter_interval = meter_interval
        self.heartbeat_interval = 60.0
        self.booted = asyncio.Event()
        self.world = world
        self.outlets = outlets if outlets is not None else new_outlets(spec)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.profiles: list[cp.Profile] = []  # installed charging profiles

    def later(self, coroutine: Any) -> None:
        """Run after answering (never call the CSMS from inside a handler)."""
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def limit_now(self, outlet: Outlet, now: datetime | None = None) -> float | None:
        """The outlet's limit in kW now: the composite of its charging profiles (and
        `outlet.limit_kw`, a cap set by hand), None when nothing limits it."""
        composite = cp.limit_kw(
            self.profiles,
            outlet.evse_id,
            now or datetime.now(UTC),
            outlet.transaction_id,
            outlet.started_at,
        )
        limits = [x for x in (outlet.limit_kw, composite) if x is not None]
        return min(limits) if limits else None

    def power_kw(self, outlet: Outlet) -> float:
        """The power the outlet delivers now: what the car draws (the world's plan says,
        else the outlet's rating, less above 80 %), under the charging profiles' limit."""
        if outlet.planned_kw is not None:
            kw = outlet.planned_kw
        else:
            kw = outlet.max_kw * (0.95 if outlet.soc < 80 else 0.4)
        limit = self.limit_now(outlet)
        return min(kw, limit) if limit is not None else kw

    def install_profile(self, profile: cp.Profile) -> str:
        """Keep a profile sent by SetChargingProfile: the status to answer. A profile
        replaces one of the same id, or of the same purpose, stack level and outlet."""
        if profile.evse_id != 0 and profile.evse_id not in self.outlets:
            return "Rejected"
        if profile.purpose == cp.TX:
            outlet = self.outlets.get(profile.evse_id)
            running = outlet.transaction_id if outlet else None
            if running is None or profile.transaction_id not in (None, running):
                return "Rejected"  # a TxProfile needs its transaction running there
        self.profiles = [
            p
            for p in self.profiles
            if p.id != profile.id
            and (p.purpose, p.stack_level, p.evse_id)
            != (profile.purpose, profile.stack_level, profile.evse_id)
        ]
        self.profiles.append(profile)
        return "Accepted"

    def clear_profiles(
        self,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> bool:
        """ClearChargingProfile: drop the profiles matching every criterion given."""
        kind = cp.PURPOSES.get(purpose or "")

        def matches(p: cp.Profile) -> bool:
            if profile_id is not None:
                return p.id == profile_id
            return (
                (evse_id is None or p.evse_id == evse_id)
                and (kind is None or p.purpose == kind)
                and (stack_level is None or p.stack_level == stack_level)
            )

        kept = [p for p in self.profiles if not matches(p)]
        cleared = len(kept) < len(self.profiles)
        self.profiles = kept
        return cleared

    def transaction_ended(self, outlet: Outlet) -> None:
        """A TxProfile lives as long as its transaction."""
        self.profiles = [
            p for p in self.profiles if not (p.purpose == cp.TX and p.evse_id == outlet.evse_id)
        ]
        outlet.started_at = None

    def composite(
        self, evse_id: int, duration: int, unit: str | None
    ) -> tuple[datetime, str, list[dict[str, Any]]] | None:
        """GetCompositeSchedule: (start, unit, periods) from now, None for an unknown
        outlet. Where no profile limits, the outlet's rating."""
        outlet = self.outlets.get(evse_id)
        if outlet is None:
            return None
        unit = unit or "W"
        start = datetime.now(UTC).replace(microsecond=0)
        periods = cp.composite_kw(
            self.profiles,
            evse_id,
            start,
            duration,
            outlet.max_kw,
            outlet.transaction_id,
            outlet.started_at,
        )
        answer = []
        for p in periods:
            period: dict[str, Any] = {"start_period": p.start_s, "limit": cp.from_kw(p.kw, unit)}
            if unit == "A":
                period["number_phases"] = cp.PHASES
            answer.append(period)
        return start, unit, answer

    async def charge(self, outlet: Outlet) -> None:
        """Meter values while the car charges, until stopped (or, outside the world's
        plan, full)."""
        while outlet.transaction_id is not None:
            await asyncio.sleep(self.meter_interval)
            if outlet.plan is not None:
                kw = self.follow_meter(outlet, datetime.now(UTC))
            else:
                kw = self.power_kw(outlet)
                outlet.energy_wh += int(kw * 1000 * self.meter_interval / 3600)
                outlet.soc = min(100.0, outlet.soc + kw * self.meter_interval / 3600 / 0.4)
            await self.send_meter_values(outlet, kw)
            if outlet.plan is None and outlet.soc >= 100:
                await self.stop_session(outlet, "EVDisconnected")

    def follow_meter(self, outlet: Outlet, now: datetime) -> float:
        """The register and the car's state of charge as the plan has them now. Under a
        charging profile's limit the outlet meters the limited power instead, and the
        battery gains what was metered × the car's efficiency ÷ its capacity."""
        plan = outlet.plan
        if plan is None:
            return 0.0
        outlet.planned_kw = plan.power_kw(now)
        kw = self.power_kw(outlet)
        if kw >= outlet.planned_kw:
            joined = outlet.joined_at or plan.start
            exact = outlet.joined_wh + plan.energy_wh(now) - plan.energy_wh(joined)
            outlet.energy_wh = max(outlet.energy_wh, round(exact))
        else:
            outlet.energy_wh += round(kw * 1000 * self.meter_interval / 3600)
        gained_kwh = (outlet.energy_wh - outlet.joined_wh) / 1000 * plan.efficiency
        outlet.soc = min(100.0, outlet.joined_soc + gained_kwh / plan.capacity_kwh * 100)
        return kw

    async def follow_world(self) -> None:
        """Run the world's sessions on this charger's outlets: start one when the plan
        plugs a car in, stop it when the plan unplugs it."""
        if self.world is None:
            return
        while True:
            world = await self.world.world()
            now = datetime.now(UTC)
            plan = planned_sessions(world, self.outlets.values(), now)
            for outlet in self.outlets.values():
                planned = plan.get(outlet.evse_id)
                running = outlet.plan
                if running is not None and (planned is None or planned.key != running.key):
                    current = world.session_on(outlet.connector_id or 0, running.start)
                    reason = current.stop_reason if current is not None else "EVDisconnected"
                    outlet.plan, outlet.planned_kw = None, None
                    await self.stop_session(outlet, reason)
                if planned is not None and outlet.plan is None and outlet.transaction_id is None:
                    outlet.plan = planned
                    outlet.joined_wh, outlet.joined_soc = outlet.energy_wh, planned.soc(now)
                    outlet.joined_at = now
                    outlet.soc, outlet.planned_kw = planned.soc(now), planned.power_kw(now)
                    await self.start_session(outlet, planned.id_tag)  # type: ignore[attr-defined]
            await asyncio.sleep(min(self.meter_interval, 5.0))

    async def world_accepts_start(self, evse_id: int | None, id_tag: str) -> bool:
        """A driver's remote start: accepted when the plan, read again with the request
        in it, plugs their car in on this outlet for it."""
        if self.world is None:
            return False
        world = await self.world.world(fresh=True)
        outlet = self.outlets.get(evse_id or 0)
        if outlet is None or outlet.connector_id is None:
            return False
        since = datetime.now(UTC) - timedelta(minutes=5)
        asked = [
            r
            for r in world.inputs.starts
            if r.connector_id == outlet.connector_id and r.id_tag == id_tag and r.at >= since
        ]
        return bool(asked) and world.remote_session(asked[-1]) is not None

    async def world_accepts_stop(self, outlet: Outlet) -> bool:
        """A remote stop: accepted when the plan, read again, ends the outlet's session."""
        if self.world is None or outlet.plan is None or outlet.connector_id is None:
            return False
        world = await self.world.world(fresh=True)
        current = world.session_on(outlet.connector_id, outlet.plan.start)
        return current is not None and current.stop_reason == "Remote"

    async def send_meter_values(self, outlet: Outlet, kw: float) -> None:
        raise NotImplementedError

    async def stop_session(self, outlet: Outlet, reason: str) -> None:
        raise NotImplementedError


def planned_sessions(
    world: World, outlets: Iterable[Outlet], at: datetime
) -> dict[int, PlannedSession]:
    """What the chargers run: the world's session on each outlet at `at`, by EVSE id."""
    found = {}
    for outlet in outlets:
        session = world.session_on(outlet.connector_id, at) if outlet.connector_id else None
        if session is not None:
            found[outlet.evse_id] = session
    return found


def new_outlets(spec: ChargerSpec) -> dict[int, Outlet]:
    """A charger's outlets, each with its own energy register."""
    rng = random.Random(spec.identity)
    return {
        i: Outlet(
            i, energy_wh=rng.randrange(100_000, 9_000_000), connector_id=spec.connectors.get(i)
        )
        for i in range(1, spec.outlets + 1)
    }


class Sim16(SimMixin, Cp16):
    async def boot(self) -> None:
        answer = await self.call(
            c16.BootNotification(
                charge_point_vendor="LAFA-Sim",
                charge_point_model="DC60-2",
                charge_point_serial_number=self.spec.identity,
                firmware_version="1.4.2",
            )
        )
        self.heartbeat_interval = float(answer.interval)
        for outlet in self.outlets.values():
            await self.status(outlet.evse_id, "Charging" if outlet.transaction_id else "Available")
        self.booted.set()

    async def status(self, connector_id: int, status: str) -> None:
        await self.call(
            c16.StatusNotification(
                connector_id=connector_id, error_code="NoError", status=status, timestamp=stamp()
            )
        )

    async def heartbeat(self) -> None:
        await self.call(c16.Heartbeat())

    async def start_session(self, outlet: Outlet, id_tag: str) -> None:
        if outlet.transaction_id is not None:
            return
        await self.status(outlet.evse_id, "Preparing")
        answer = await self.call(
            c16.StartTransaction(
                connector_id=outlet.evse_id,
                id_tag=id_tag,
                meter_start=outlet.energy_wh,
                timestamp=stamp(),
            )
        )
        if answer.id_tag_info["status"] != "Accepted":
            await self.call(
                c16.StopTransaction(
                    meter_stop=outlet.energy_wh,
                    timestamp=stamp(),
                    transaction_id=answer.transaction_id,
                    reason="DeAuthorized",
                )
            )
            await self.status(outlet.evse_id, "Available")
            return
        outlet.transaction_id, outlet.id_tag = str(answer.transaction_id), id_tag
        outlet.started_at = datetime.now(UTC)
        await self.status(outlet.evse_id, "Charging")
        outlet.task = asyncio.create_task(self.charge(outlet))

    async def send_meter_values(self, outlet: Outlet, kw: float) -> None:
        if outlet.transaction_id is None:
            return
        await self.call(
            c16.MeterValues(
                connector_id=outlet.evse_id,
                transaction_id=int(outlet.transaction_id),
                meter_value=[
                    {
                        "timestamp": stamp(),
                        "sampled_value": [
                            {
                                "value": str(outlet.energy_wh),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                            {
                                "value": f"{kw * 1000:.0f}",
                                "measurand": "Power.Active.Import",
                                "unit": "W",
                            },
                            {"value": f"{outlet.soc:.0f}", "measurand": "SoC", "unit": "Percent"},
                        ],
                    }
                ],
            )
        )

    async def stop_session(self, outlet: Outlet, reason: str) -> None:
        if outlet.transaction_id is None:
            return
        transaction_id, outlet.transaction_id = outlet.transaction_id, None
        self.transaction_ended(outlet)
        await self.call(
            c16.StopTransaction(
                meter_stop=outlet.energy_wh,
                timestamp=stamp(),
                transaction_id=int(transaction_id),
                reason=reason,
                id_tag=outlet.id_tag,
            )
        )
        await self.status(outlet.evse_id, "Available")

    @on(A16.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **kw: Any) -> Any:
        if self.world is not None:
            accepted = await self.world_accepts_start(connector_id, id_tag)
            return r16.RemoteStartTransaction(status="Accepted" if accepted else "Rejected")
        free = [o for o in self.outlets.values() if o.transaction_id is None]
        outlet = self.outlets.get(connector_id) if connector_id else (free[0] if free else None)
        if outlet is None or outlet.transaction_id is not None:
            return r16.RemoteStartTransaction(status="Rejected")
        self.later(self.start_session(outlet, id_tag))
        return r16.RemoteStartTransaction(status="Accepted")

    @on(A16.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int, **kw: Any) -> Any:
        for outlet in self.outlets.values():
            if outlet.transaction_id == str(transaction_id):
                if self.world is not None:
                    accepted = await self.world_accepts_stop(outlet)
                    return r16.RemoteStopTransaction(status="Accepted" if accepted else "Rejected")
                self.later(self.stop_session(outlet, "Remote"))
                return r16.RemoteStopTransaction(status="Accepted")
        return r16.RemoteStopTransaction(status="Rejected")

    @on(A16.unlock_connector)
    def on_unlock(self, connector_id: int, **kw: Any) -> Any:
        return r16.UnlockConnector(
            status="Unlocked" if connector_id in self.outlets else "NotSupported"
        )

    @on(A16.reset)
    def on_reset(self, type: str, **kw: Any) -> Any:
        return r16.Reset(status="Accepted")

    @on(A16.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **kw: Any) -> Any:
        return r16.ChangeAvailability(status="Accepted")

    @on(A16.reserve_now)
    def on_reserve_now(self, connector_id: int, **kw: Any) -> Any:
        outlet = self.outlets.get(connector_id)
        ok = outlet is not None and outlet.transaction_id is None
        return r16.ReserveNow(status="Accepted" if ok else "Occupied")

    @on(A16.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **kw: Any) -> Any:
        return r16.CancelReservation(status="Accepted")

    @on(A16.trigger_message)
    def on_trigger(self, requested_message: str, **kw: Any) -> Any:
        if requested_message == "Heartbeat":
            self.later(self.heartbeat())
        elif requested_message == "StatusNotification":
            for outlet in self.outlets.values():
                state = "Charging" if outlet.transaction_id else "Available"
                self.later(self.status(outlet.evse_id, state))
        elif requested_message == "BootNotification":
            self.later(self.boot())
        else:
            return r16.TriggerMessage(status="NotImplemented")
        return r16.TriggerMessage(status="Accepted")

    @on(A16.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **kw: Any) -> Any:
        known = {
            "HeartbeatInterval": str(int(self.heartbeat_interval)),
            "MeterValueSampleInterval": str(int(self.meter_interval)),
            "NumberOfConnectors": str(len(self.outlets)),
        }
        wanted = key or list(known)
        return r16.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": k == "NumberOfConnectors", "value": known[k]}
                for k in wanted
                if k in known
            ],
            unknown_key=[k for k in wanted if k not in known] or None,
        )

    @on(A16.change_configuration)
    def on_change_configuration(self, key: str, value: str, **kw: Any) -> Any:
        if key == "MeterValueSampleInterval" and value.isdigit():
            self.meter_interval = float(value)
            return r16.ChangeConfiguration(status="Accepted")
        return r16.ChangeConfiguration(status="NotSupported")

    @on(A16.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **kw: Any
    ) -> Any:
        if self.spec.refuses_profiles:
            return r16.SetChargingProfile(status="NotSupported")
        profile = cp.profile_from_16(connector_id, cs_charging_profiles)
        return r16.SetChargingProfile(status=self.install_profile(profile))

    @on(A16.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **kw: Any,
    ) -> Any:
        cleared = self.clear_profiles(id, connector_id, charging_profile_purpose, stack_level)
        return r16.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    @on(A16.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **kw: Any
    ) -> Any:
        found = self.composite(connector_id, duration, charging_rate_unit)
        if found is None:
            return r16.GetCompositeSchedule(status="Rejected")
        start, unit, periods = found
        begins = start.isoformat().replace("+00:00", "Z")
        return r16.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=begins,
            charging_schedule={
                "duration": duration,
                "start_schedule": begins,
                "charging_rate_unit": unit,
                "charging_schedule_period": periods,
            },
        )


class Sim201(SimMixin, Cp201):
    async def boot(self) -> None:
        answer = await self.call(
            c201.BootNotification(
                charging_station={
                    "model": "DC60-2",
                    "vendor_name": "LAFA-Sim",
                    "serial_number": self.spec.identity,
                    "firmware_version": "2.1.0",
                },
                reason="PowerUp",
            )
        )
        self.heartbeat_interval = float(answer.interval)
        for outlet in self.outlets.values():
            await self.status(outlet.evse_id, "Occupied" if outlet.transaction_id else "Available")
        self.booted.set()

    async def status(self, evse_id: int, status: str) -> None:
        await self.call(
            c201.StatusNotification(
                timestamp=stamp(), connector_status=status, evse_id=evse_id, connector_id=1
            )
        )

    async def heartbeat(self) -> None:
        await self.call(c201.Heartbeat())

    def _meter(self, outlet: Outlet, kw: float | None, context: str) -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = [
            {
                "value": outlet.energy_wh,
                "measurand": "Energy.Active.Import.Register",
                "context": context,
                "unit_of_measure": {"unit": "Wh"},
            }
        ]
        if kw is not None:
            values.append(
                {
                    "value": round(kw * 1000),
                    "measurand": "Power.Active.Import",
                    "context": context,
                    "unit_of_measure": {"unit": "W"},
                }
            )
            values.append(
                {
                    "value": round(outlet.soc),
                    "measurand": "SoC",
                    "context": context,
                    "unit_of_measure": {"unit": "Percent"},
                }
            )
        return [{"timestamp": stamp(), "sampled_value": values}]

    async def event(
        self,
        outlet: Outlet,
        event_type: str,
        trigger: str,
        seq: int,
        stopped_reason: str | None = None,
        **extra: Any,
    ) -> Any:
        info: dict[str, Any] = {"transaction_id": outlet.transaction_id}
        if stopped_reason:
            info["stopped_reason"] = stopped_reason
        return await self.call(
            c201.TransactionEvent(
                event_type=event_type,
                timestamp=stamp(),
                trigger_reason=trigger,
                seq_no=seq,
                transaction_info=info,
                evse={"id": outlet.evse_id, "connector_id": 1},
                **extra,
            )
        )

    async def start_session(self, outlet: Outlet, id_tag: str) -> None:
        if outlet.transaction_id is not None:
            return
        outlet.transaction_id, outlet.id_tag = uuid.uuid4().hex[:20], id_tag
        outlet.started_at = datetime.now(UTC)
        outlet.seq = 0  # type: ignore[attr-defined]
        await self.status(outlet.evse_id, "Occupied")
        answer = await self.event(
            outlet,
            "Started",
            "Authorized",
            0,
            id_token={"id_token": id_tag, "type": "ISO14443"},
            meter_value=self._meter(outlet, None, "Transaction.Begin"),
        )
        status = (answer.id_token_info or {}).get("status") if answer else None
        if status != "Accepted":
            await self.stop_session(outlet, "DeAuthorized")
            return
        outlet.task = asyncio.create_task(self.charge(outlet))

    async def send_meter_values(self, outlet: Outlet, kw: float) -> None:
        if outlet.transaction_id is None:
            return
        outlet.seq += 1  # type: ignore[attr-defined]
        await self.event(
            outlet,
            "Updated",
            "MeterValuePeriodic",
            outlet.seq,  # type: ignore[attr-defined]
            meter_value=self._meter(outlet, kw, "Sample.Periodic"),
        )

    async def stop_session(self, outlet: Outlet, reason: str) -> None:
        if outlet.transaction_id is None:
            return
        outlet.seq = getattr(outlet, "seq", 0) + 1  # type: ignore[attr-defined]
        await self.event(
            outlet,
            "Ended",
            "RemoteStop" if reason == "Remote" else "EVCommunicationLost",
            outlet.seq,  # type: ignore[attr-defined]
            stopped_reason=reason,
            meter_value=self._meter(outlet, None, "Transaction.End"),
        )
        outlet.transaction_id = None
        self.transaction_ended(outlet)
        await self.status(outlet.evse_id, "Available")

    @on(A201.request_start_transaction)
    async def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None, **kw: Any
    ) -> Any:
        if self.world is not None:
            accepted = await self.world_accepts_start(evse_id, id_token["id_token"])
            return r201.RequestStartTransaction(status="Accepted" if accepted else "Rejected")
        free = [o for o in self.outlets.values() if o.transaction_id is None]
        outlet = self.outlets.get(evse_id) if evse_id else (free[0] if free else None)
        if outlet is None or outlet.transaction_id is not None:
            return r201.RequestStartTransaction(status="Rejected")
        self.later(self.start_session(outlet, id_token["id_token"]))
        return r201.RequestStartTransaction(status="Accepted")

    @on(A201.request_stop_transaction)
    async def on_request_stop(self, transaction_id: str, **kw: Any) -> Any:
        for outlet in self.outlets.values():
            if outlet.transaction_id == transaction_id:
                if self.world is not None:
                    accepted = await self.world_accepts_stop(outlet)
                    status = "Accepted" if accepted else "Rejected"
                    return r201.RequestStopTransaction(status=status)
                self.later(self.stop_session(outlet, "Remote"))
                return r201.RequestStopTransaction(status="Accepted")
        return r201.RequestStopTransaction(status="Rejected")

    @on(A201.unlock_connector)
    def on_unlock(self, evse_id: int, connector_id: int, **kw: Any) -> Any:
        return r201.UnlockConnector(
            status="Unlocked" if evse_id in self.outlets else "UnknownConnector"
        )

    @on(A201.reset)
    def on_reset(self, type: str, **kw: Any) -> Any:
        return r201.Reset(status="Accepted")

    @on(A201.change_availability)
    def on_change_availability(self, operational_status: str, **kw: Any) -> Any:
        return r201.ChangeAvailability(status="Accepted")

    @on(A201.reserve_now)
    def on_reserve_now(
        self, id: int, expiry_date_time: str, id_token: dict[str, Any], **kw: Any
    ) -> Any:
        return r201.ReserveNow(status="Accepted")

    @on(A201.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **kw: Any) -> Any:
        return r201.CancelReservation(status="Accepted")

    @on(A201.trigger_message)
    def on_trigger(self, requested_message: str, **kw: Any) -> Any:
        if requested_message == "Heartbeat":
            self.later(self.heartbeat())
        elif requested_message == "StatusNotification":
            for outlet in self.outlets.values():
                self.later(
                    self.status(
                        outlet.evse_id, "Occupied" if outlet.transaction_id else "Available"
                    )
                )
        elif requested_message == "BootNotification":
            self.later(self.boot())
        else:
            return r201.TriggerMessage(status="NotImplemented")
        return r201.TriggerMessage(status="Accepted")

    @on(A201.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        known = {("OCPPCommCtrlr", "HeartbeatInterval"): str(int(self.heartbeat_interval))}
        results = []
        for item in get_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            results.append(
                {
                    "attribute_status": "Accepted" if key in known else "UnknownVariable",
                    "component": item["component"],
                    "variable": item["variable"],
                    **({"attribute_value": known[key]} if key in known else {}),
                }
            )
        return r201.GetVariables(get_variable_result=results)

    @on(A201.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        return r201.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": "Rejected",
                    "component": i["component"],
                    "variable": i["variable"],
                }
                for i in set_variable_data
            ]
        )

    @on(A201.set_charging_profile)
    def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **kw: Any
    ) -> Any:
        if self.spec.refuses_profiles:
            return r201.SetChargingProfile(status="Rejected")
        profile = cp.profile_from_201(evse_id, charging_profile)
        return r201.SetChargingProfile(status=self.install_profile(profile))

    @on(A201.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Any:
        criteria = charging_profile_criteria or {}
        cleared = self.clear_profiles(
            charging_profile_id,
            criteria.get("evse_id"),
            criteria.get("charging_profile_purpose"),
            criteria.get("stack_level"),
        )
        return r201.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    @on(A201.get_composite_schedule)
    def on_get_composite_schedule(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **kw: Any
    ) -> Any:
        found = self.composite(evse_id, duration, charging_rate_unit)
        if found is None:
            return r201.GetCompositeSchedule(status="Rejected")
        start, unit, periods = found
        return r201.GetCompositeSchedule(
            status="Accepted",
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": start.isoformat().replace("+00:00", "Z"),
                "charging_rate_unit": unit,
                "charging_schedule_period": periods,
            },
        )


def auth_header(identity: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{identity}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def connect(
    url: str,
    spec: ChargerSpec,
    meter_interval: float = 10.0,
    world: WorldFollower | None = None,
    outlets: dict[int, Outlet] | None = None,
) -> tuple[SimMixin, asyncio.Task[None]]:
    """Open one simulated charger's socket, start its receive loop, and boot it. Given
    the outlets of an earlier connection, their registers and running sessions go on."""
    ws = await websockets.connect(
        f"{url.rstrip('/')}/{spec.identity}",
        subprotocols=[spec.version],  # type: ignore[list-item]
        additional_headers=auth_header(spec.identity, spec.password),
        open_timeout=30,
    )
    cls = Sim201 if spec.version == "ocpp2.0.1" else Sim16
    charger = cls(spec.identity, ws)
    charger.init_sim(spec, meter_interval, world, outlets)
    receiver = asyncio.create_task(charger.start())
    await charger.boot()
    for outlet in charger.outlets.values():
        if outlet.transaction_id is not None:  # a session that ran through the reconnection
            outlet.task = asyncio.create_task(charger.charge(outlet))
    return charger, receiver


async def run_charger(
    url: str,
    spec: ChargerSpec,
    meter_interval: float,
    session_chance: float,
    stop: asyncio.Event,
    world: WorldFollower | None = None,
) -> None:
    """Keep one charger connected (reconnecting with back-off) until `stop`. With the
    world, its sessions are the plan's; without, random ones at `session_chance`."""
    rng = random.Random(spec.identity)
    outlets = new_outlets(spec)
    backoff = 1.0
    while not stop.is_set():
        try:
            charger, receiver = await connect(url, spec, meter_interval, world, outlets)
            follower = asyncio.create_task(charger.follow_world())
            backoff = 1.0
            log.info("%s booted (%s)", spec.identity, spec.version)
            while not stop.is_set() and not receiver.done():
                await asyncio.sleep(charger.heartbeat_interval)
                await charger.heartbeat()  # type: ignore[attr-defined]
                for outlet in charger.outlets.values():
                    chance = session_chance * charger.heartbeat_interval / 60
                    random_session = world is None and spec.id_tags and rng.random() < chance
                    if outlet.transaction_id is None and random_session:
                        outlet.soc = rng.uniform(10, 60)
                        charger.later(charger.start_session(outlet, rng.choice(spec.id_tags)))  # type: ignore[attr-defined]
            follower.cancel()
            receiver.cancel()
            await charger._connection.close()  # type: ignore[attr-defined]
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as error:
            log.warning("%s: %s; retrying in %.0f s", spec.identity, error, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 60)


def demo_specs(limit: int | None = None) -> list[ChargerSpec]:
    """The demo chargers and id tags, from the database (demo mode only)."""
    from sqlalchemy import select

    from portal.config import load_config
    from portal.db import make_engine, session_factory
    from portal.demo.charging import DEMO_CHARGER_PASSWORD
    from portal.models import Charger, ChargerRegistration, IdTag

    config = load_config()
    if not config["DEMO_MODE"]:
        raise SystemExit("charging.simulate only runs in demo mode (LAFA_DEMO=1)")
    session_factory.configure(bind=make_engine(config["DATABASE_URL"]))
    with session_factory() as session:
        chargers = list(
            session.scalars(
                select(Charger)
                .where(
                    Charger.registration == ChargerRegistration.ACCEPTED,
                    Charger.identity.like("LAFA-%"),
                )
                .order_by(Charger.identity)
            )
        )
        tags = list(
            session.scalars(select(IdTag.tag).where(IdTag.active).order_by(IdTag.tag).limit(200))
        )
        specs = []
        for n, charger in enumerate(chargers[:limit] if limit else chargers):
            specs.append(
                ChargerSpec(
                    identity=charger.identity,
                    password=DEMO_CHARGER_PASSWORD,
                    version="ocpp1.6" if n % 2 == 0 else "ocpp2.0.1",
                    outlets=max(1, len(charger.connectors)),
                    id_tags=tags,
                    connectors={c.evse_id: c.id for c in charger.connectors},
                )
            )
    return specs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--session-chance", type=float, default=0.05)
    parser.add_argument("--meter-interval", type=float, default=10.0)
    parser.add_argument(
        "--no-world", action="store_true", help="answer commands only; random sessions"
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    specs = demo_specs(args.limit)
    if not specs:
        raise SystemExit("no demo chargers: run `flask seed-demo` first")
    world = None
    if not args.no_world:
        from portal.config import load_config
        from portal.demo.world import LiveWorld, database_loader

        load = database_loader(load_config()["DATABASE_URL"])
        world = WorldFollower(LiveWorld(load, inputs=await asyncio.to_thread(load)))
    stop = asyncio.Event()
    await asyncio.gather(
        *(
            run_charger(args.url, s, args.meter_interval, args.session_chance, stop, world)
            for s in specs
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
