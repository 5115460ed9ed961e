"""Fixtures for the telemetry transport: a private Mosquitto, committed vehicles.

Each test run starts its own broker on a free port with its own configuration
(persistence on, in a temporary directory; no queue limit), so restarting it is safe
and other people's tests on the shared broker are not disturbed. Topics live under a
per-run root as well.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal.models import (
    ChargingEpisode,
    ConnectorType,
    Depot,
    TelemetryReading,
    TelemetryReject,
    Vehicle,
    VehicleAlert,
    VehicleDailyKm,
    VehicleState,
    VehicleTrip,
)
from portal.services.identifiers import luhn_complete
from telemetry.settings import MqttSettings, mqtt_settings
from tests.waiting import wait_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
_imeis = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A private mosquitto. `restart()` stops it cleanly (it saves its persistence file)."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        # Started as root, mosquitto drops to its own user: let it write here.
        self.directory.chmod(0o777)
        conf = self.directory / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.directory}/\n"
            "max_queued_messages 0\n"
            f"log_dest file {self.directory}/mosquitto.log\n"
        )
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(conf)])
        wait_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
            self.process = None
        wait_port(self.port, up=False)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed")
    # Not under pytest's tmp_path: its parents are private to us, and mosquitto runs as
    # its own user when started as root.
    directory = Path(tempfile.mkdtemp(prefix="lafa-mosquitto-"))
    broker = Broker(directory)
    broker.start()
    yield broker
    broker.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def mqtt(broker: Broker, request: pytest.FixtureRequest) -> MqttSettings:
    """Settings for this test: the private broker and a topic root of its own."""
    root = f"lafa-test-{os.getpid()}-{request.node.name[:40]}/teltonika"
    return mqtt_settings(broker.url, topic_root=root)


def new_imei() -> str:
    return luhn_complete(f"3577{os.getpid() % 10000:04d}{next(_imeis):06d}")


@dataclass
class Fleet:
    depot_id: int
    vehicles: dict[str, int]  # imei -> vehicle id


@pytest.fixture
def committed_fleet(engine: Engine) -> Iterator[Callable[[int], Fleet]]:
    """Vehicles committed to the test database (for processes other than the test's
    transaction: the listener, the gateway); removed with all their telemetry after."""
    made: list[Fleet] = []

    def make(count: int) -> Fleet:
        with Session(engine) as session:
            tag = next(_imeis)
            depot = Depot(
                code=f"T{os.getpid() % 1000:03d}{tag:04d}"[:10],
                name="Depósito de prueba",
                address="Calz. Vallejo 1090, CDMX",
                site_power_kw=Decimal("300"),
                latitude=Decimal("19.4895"),
                longitude=Decimal("-99.1468"),
            )
            session.add(depot)
            vehicles = []
            for _ in range(count):
                n = next(_imeis)
                vehicles.append(
                    Vehicle(
                        vin=f"LGXTEL{os.getpid() % 1000:03d}{n:08d}"[:17],
                        plate=f"T{n:05d}-{os.getpid() % 100:02d}"[:10],
                        make="BYD",
                        model="Dolphin Mini",
                        year=2025,
                        battery_kwh=Decimal("38.8"),
                        range_km=380,
                        connector_type=ConnectorType.CCS2,
                        tracker_imei=new_imei(),
                        depot=depot,
                    )
                )
            session.add_all(vehicles)
            session.commit()
            fleet = Fleet(depot.id, {str(v.tracker_imei): v.id for v in vehicles})
        made.append(fleet)
        return fleet

    yield make
    with Session(engine) as session:
        for fleet in made:
            ids = list(fleet.vehicles.values())
            imeis = list(fleet.vehicles)
            session.execute(delete(TelemetryReading).where(TelemetryReading.imei.in_(imeis)))
            session.execute(delete(TelemetryReject).where(TelemetryReject.imei.in_(imeis)))
            for model in (VehicleState, VehicleTrip, ChargingEpisode, VehicleDailyKm, VehicleAlert):
                session.execute(delete(model).where(model.vehicle_id.in_(ids)))
            session.execute(delete(Vehicle).where(Vehicle.id.in_(ids)))
            session.execute(delete(Depot).where(Depot.id == fleet.depot_id))
        session.commit()


def count_readings(engine: Engine, imeis: list[str]) -> int:
    with Session(engine) as session:
        return len(
            session.execute(
                select(TelemetryReading.imei).where(TelemetryReading.imei.in_(imeis))
            ).all()
        )
