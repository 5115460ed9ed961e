"""A simulated fleet of Teltonika FMC130 trackers: `python -m telemetry.simulate`.

With `--demo`, the trackers are the demo fleet's, and each reports its car as the demo
world's plan has it at that moment (`portal.demo.world`: the same plan the simulated
chargers follow, so a car reports plugged in and charging exactly while an OCPP session
runs for it). Without it, synthetic cars leave their depot for typical Mexico City
destinations and back, at 0-60 km/h in traffic, their state of charge falling by
0.12-0.15 kWh per km and rising while they charge at the depot. Either way: ignition,
odometer, no-fix gaps (satellites 0, the last position repeated), and offline spells
whose buffered records arrive later, some newest first. Every record goes out as a real
Codec 8 Extended frame, on MQTT (QoS 1, topic `{root}/{imei}/data`) or over TCP to the
gateway (`--tcp HOST:PORT`).

    python -m telemetry.simulate --demo                 # the demo fleet, from the database
    python -m telemetry.simulate --vehicles 20 --interval 2 --speedup 10

Records carry the wall-clock time; `--speedup` makes the synthetic cars move (and
charge) that many times faster, not the clock run ahead (the ingest refuses future
timestamps). The demo world follows the wall clock, so it takes no speedup.
Publishing: paho keeps every QoS 1 message until the broker acknowledges it and sends
it again after a reconnection, so a broker restart loses nothing the simulator sent.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from telemetry.codec import AvlRecord, encode_8e_frame, make_record
from telemetry.settings import MqttSettings, default_client_id, mqtt_settings

if TYPE_CHECKING:
    from portal.demo.world import CarMoment, LiveWorld

log = logging.getLogger("telemetry.simulate")

# The demo depots (portal.demo.seed.DEPOTS) and places drivers take passengers to.
DEPOTS = {
    "VAL": (19.4895, -99.1468),
    "IZT": (19.3118, -99.0673),
    "COY": (19.3246, -99.1589),
}
DESTINATIONS = (
    ("Zócalo", 19.4326, -99.1332),
    ("Polanco", 19.4333, -99.1917),
    ("Santa Fe", 19.3595, -99.2606),
    ("Aeropuerto (AICM)", 19.4361, -99.0719),
    ("Coyoacán centro", 19.3500, -99.1620),
    ("Condesa", 19.4111, -99.1733),
    ("Roma Norte", 19.4194, -99.1628),
    ("Perisur", 19.3043, -99.1903),
    ("Ciudad Universitaria", 19.3320, -99.1870),
    ("Tlatelolco", 19.4510, -99.1370),
    ("Terminal del Norte", 19.4793, -99.1402),
    ("Xochimilco", 19.2572, -99.1033),
    ("Ángel de la Independencia", 19.4270, -99.1677),
    ("Buenavista", 19.4465, -99.1527),
    ("Basílica de Guadalupe", 19.4846, -99.1176),
    ("Del Valle", 19.3850, -99.1650),
)
MAX_RECORDS_PER_FRAME = 8
_KM_PER_DEG_LAT = 111.32


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat = (b[0] - a[0]) * _KM_PER_DEG_LAT
    dlon = (b[1] - a[1]) * _KM_PER_DEG_LAT * math.cos(math.radians(a[0]))
    return math.hypot(dlat, dlon)


def _bearing(a: tuple[float, float], b: tuple[float, float]) -> int:
    dlat = b[0] - a[0]
    dlon = (b[1] - a[1]) * math.cos(math.radians(a[0]))
    return round(math.degrees(math.atan2(dlon, dlat))) % 360


TRACKER_IO = (239, 240, 21, 66, 67, 16, 87, 152, 304, 914, 915, 916)
"""The IO elements the demo's trackers send, in the order they send them."""


def tracker_io(
    *,
    ignition: bool,
    moving: bool,
    odometer_m: int,
    soc_pct: int,
    range_m: int,
    plugged: bool,
    charging: bool,
    rng: random.Random,
) -> dict[int, int]:
    """The IO elements an FMC130 with the car's CAN adapter sends: ignition (239),
    movement (240), GSM signal (21), external and battery voltage (66, 67), GNSS and CAN
    odometer (16, 87), state of charge (152), range (304), plugged in (914), charging
    (915), driving (916)."""
    r = rng.random
    return {
        239: int(ignition),
        240: int(moving),
        21: 2 + int(4 * r()),
        66: 12_600 + int(1_601 * r()) if ignition or charging else 12_300,
        67: 3_950 + int(201 * r()),
        16: odometer_m,
        87: odometer_m,
        152: soc_pct,
        304: range_m,
        914: int(plugged),
        915: int(charging),
        916: int(ignition and moving),
    }


@dataclass
class SimVehicle:
    """One car and its tracker. `step(dt)` advances it; `record(now)` reads the tracker."""

    imei: str
    battery_kwh: float
    range_km: float
    depot: tuple[float, float]
    rng: random.Random
    position: tuple[float, float] = (0.0, 0.0)
    soc: float = 80.0  # percent
    odometer_m: float = 0.0
    speed: float = 0.0  # km/h
    angle: int = 0
    ignition: bool = False
    plugged: bool = False
    charging: bool = False
    state: str = "parked"  # parked | driving | charging
    target: tuple[float, float] | None = None
    dwell_s: float = 0.0
    kwh_per_km: float = 0.13
    no_fix_s: float = 0.0
    offline_s: float = 0.0
    buffered: list[AvlRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = self.rng
        self.position = (
            self.depot[0] + rng.uniform(-0.0005, 0.0005),
            self.depot[1] + rng.uniform(-0.0005, 0.0005),
        )
        self.soc = rng.uniform(35, 95)
        self.odometer_m = rng.uniform(2_000, 60_000) * 1000
        self.kwh_per_km = rng.uniform(0.12, 0.15)
        self.dwell_s = rng.uniform(0, 600)

    def at_depot(self) -> bool:
        return _distance_km(self.position, self.depot) < 0.3

    def step(self, dt: float) -> None:
        """Advance `dt` seconds of simulated time."""
        rng = self.rng
        if self.state == "driving":
            self._drive(dt)
        elif self.state == "charging":
            power_kw = 22.0 if self.battery_kwh < 35 else 40.0
            self.soc = min(100.0, self.soc + power_kw * dt / 3600 / self.battery_kwh * 100)
            if self.soc >= rng.uniform(90, 100):
                self.charging = False
                self.plugged = False
                self.state = "parked"
                self.dwell_s = rng.uniform(60, 900)
        else:
            self.dwell_s -= dt
            if self.at_depot() and self.soc < 60:
                self.state, self.plugged, self.charging = "charging", True, True
            elif self.dwell_s <= 0:
                self._depart()
        # Radio and sky: a no-fix gap now and then, an offline spell more rarely.
        self.no_fix_s = max(0.0, self.no_fix_s - dt)
        self.offline_s = max(0.0, self.offline_s - dt)
        if self.no_fix_s == 0 and rng.random() < dt / 1800:
            self.no_fix_s = rng.uniform(20, 120)
        if self.offline_s == 0 and rng.random() < dt / 3600:
            self.offline_s = rng.uniform(30, 240)

    def _depart(self) -> None:
        rng = self.rng
        if self.soc < 25:
            self.target = self.depot
        elif self.at_depot() or rng.random() < 0.8:
            _, lat, lon = rng.choice(DESTINATIONS)
            self.target = (lat + rng.uniform(-0.01, 0.01), lon + rng.uniform(-0.01, 0.01))
        else:
            self.target = self.depot
        self.state = "driving"
        self.ignition = True
        self.speed = rng.uniform(10, 30)

    def _drive(self, dt: float) -> None:
        rng = self.rng
        if self.target is None:
            self.state = "parked"
            return
        # Traffic: speed wanders between stops and 60 km/h.
        if rng.random() < 0.08:
            self.speed = 0.0  # a red light
        else:
            self.speed = min(60.0, max(0.0, self.speed + rng.uniform(-12, 14)))
        remaining = _distance_km(self.position, self.target)
        km = min(self.speed * dt / 3600, remaining)
        if remaining > 0:
            self.angle = _bearing(self.position, self.target)
            f = km / remaining
            self.position = (
                self.position[0] + (self.target[0] - self.position[0]) * f,
                self.position[1] + (self.target[1] - self.position[1]) * f,
            )
        self.odometer_m += km * 1000
        self.soc = max(0.0, self.soc - km * self.kwh_per_km / self.battery_kwh * 100)
        if km >= remaining:
            self.state, self.speed, self.ignition = "parked", 0.0, False
            self.dwell_s = rng.uniform(120, 1200)

    def record(self, now: datetime) -> AvlRecord:
        rng = self.rng
        fix = self.no_fix_s == 0
        moving = self.speed > 0
        soc = round(self.soc)
        io: dict[int, int | bytes] = dict(
            tracker_io(
                ignition=self.ignition,
                moving=moving,
                odometer_m=round(self.odometer_m),
                soc_pct=soc,
                range_m=round(self.range_km * 1000 * self.soc / 100),
                plugged=self.plugged,
                charging=self.charging,
                rng=rng,
            )
        )
        return make_record(
            now,
            longitude=self.position[1],
            latitude=self.position[0],
            altitude=2240 + rng.randint(0, 40),
            angle=self.angle if fix and moving else 0,
            satellites=rng.randint(7, 16) if fix else 0,
            speed=round(self.speed) if fix else 0,
            io=io,
        )

    def frames(self, now: datetime) -> list[bytes]:
        """Read the tracker now; return the frames to send (none while offline)."""
        self.buffered.append(self.record(now))
        if self.offline_s > 0:
            return []
        records, self.buffered = self.buffered, []
        if len(records) > 1 and self.rng.random() < 0.5:
            records.reverse()  # some devices send the newest first after an outage
        return [
            encode_8e_frame(records[i : i + MAX_RECORDS_PER_FRAME])
            for i in range(0, len(records), MAX_RECORDS_PER_FRAME)
        ]


@dataclass
class PlannedVehicle(SimVehicle):
    """A demo car whose tracker reads what the demo world's plan says at each moment
    (position, speed, ignition, odometer, state of charge, plugged in and charging);
    only the radio (no-fix gaps, offline spells) is its own."""

    vehicle_id: int = 0
    world: LiveWorld | None = None

    def step(self, dt: float) -> None:
        """Only the radio moves on here; the car is wherever the plan has it."""
        rng = self.rng
        self.no_fix_s = max(0.0, self.no_fix_s - dt)
        self.offline_s = max(0.0, self.offline_s - dt)
        if self.no_fix_s == 0 and rng.random() < dt / 1800:
            self.no_fix_s = rng.uniform(20, 120)
        if self.offline_s == 0 and rng.random() < dt / 3600:
            self.offline_s = rng.uniform(30, 240)

    def follow(self, moment: CarMoment) -> None:
        """Take the car's state from the plan; the speed wanders around the leg's
        average as city traffic does (a red light now and then)."""
        if self.no_fix_s == 0:
            self.position = (moment.latitude, moment.longitude)
        self.angle = moment.heading
        if moment.moving:
            red_light = self.rng.random() < 0.08
            self.speed = (
                0.0 if red_light else min(90.0, moment.speed_kmh * self.rng.uniform(0.6, 1.4))
            )
        else:
            self.speed = 0.0
        self.ignition = moment.ignition
        self.odometer_m = moment.odometer_m
        self.soc = moment.soc
        self.plugged = moment.plugged
        self.charging = moment.charging
        self.state = "charging" if moment.charging else "driving" if moment.ignition else "parked"

    def record(self, now: datetime) -> AvlRecord:
        if self.world is not None:
            self.follow(self.world.get().car_at(self.vehicle_id, now))
        return super().record(now)


# --- Fleets ---------------------------------------------------------------------------------


def synthetic_imei(index: int) -> str:
    """A valid (Luhn) IMEI for the index-th synthetic tracker."""
    from portal.services.identifiers import luhn_complete

    return luhn_complete(f"35999{index:09d}")


def synthetic_fleet(count: int, seed: int = 4) -> list[SimVehicle]:
    rng = random.Random(seed)
    depots = list(DEPOTS.values())
    return [
        SimVehicle(
            imei=synthetic_imei(i),
            battery_kwh=rng.choice((38.8, 30.0, 31.4)),
            range_km=rng.choice((380, 300, 320)),
            depot=depots[i % len(depots)],
            rng=random.Random(rng.getrandbits(32)),
        )
        for i in range(count)
    ]


def demo_fleet(world: LiveWorld, seed: int = 4) -> list[PlannedVehicle]:
    """The demo world's cars that have a tracker, each reporting what the plan says."""
    rng = random.Random(seed)
    fleet = []
    for car in sorted(world.get().cars.values(), key=lambda c: c.vehicle_id):
        if not car.imei:
            continue
        depot = world.get().depots[car.depot_id]
        fleet.append(
            PlannedVehicle(
                imei=car.imei,
                battery_kwh=car.nominal_kwh,
                range_km=car.range_km,
                depot=(depot.latitude, depot.longitude),
                rng=random.Random(rng.getrandbits(32)),
                vehicle_id=car.vehicle_id,
                world=world,
            )
        )
    return fleet


# --- Transports -----------------------------------------------------------------------------


class MqttPublisher:
    """QoS 1 publishing that survives broker restarts (paho keeps and resends)."""

    def __init__(self, settings: MqttSettings, client_id: str | None = None) -> None:
        self.settings = settings
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or default_client_id("simulator"),
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)  # no limit: nothing is dropped while away
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.connected = threading.Event()
        self.acked = 0
        self.client.on_connect = lambda *_a: self.connected.set()
        self.client.on_disconnect = lambda *_a: self.connected.clear()
        self.client.on_publish = self._on_publish

    def _on_publish(self, *_args: Any) -> None:
        self.acked += 1

    def start(self) -> None:
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        self.client.loop_start()

    def send(self, imei: str, frame: bytes) -> None:
        self.client.publish(self.settings.data_topic(imei), frame, qos=1)

    def pending(self) -> int:
        return len(self.client._out_messages)

    def close(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()


class TcpSender:
    """Teltonika TCP sessions to the gateway, one socket per tracker; a frame the
    gateway does not acknowledge with its record count is sent again next time."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sockets: dict[str, socket.socket] = {}
        self.unacked: dict[str, list[bytes]] = {}

    def _socket(self, imei: str) -> socket.socket | None:
        sock = self.sockets.get(imei)
        if sock is not None:
            return sock
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            sock.sendall(struct.pack(">H", 15) + imei.encode())
            if sock.recv(1) != b"\x01":
                sock.close()
                log.warning("gateway refused IMEI %s", imei)
                return None
        except OSError as error:
            log.warning("gateway unreachable for %s: %s", imei, error)
            return None
        self.sockets[imei] = sock
        return sock

    def send(self, imei: str, frame: bytes) -> None:
        queue = self.unacked.setdefault(imei, [])
        queue.append(frame)
        while queue:
            sock = self._socket(imei)
            if sock is None:
                return
            pending = queue[0]
            try:
                sock.sendall(pending)
                ack = _recv_exactly(sock, 4)
            except OSError:
                ack = b""
            if len(ack) != 4 or struct.unpack(">I", ack)[0] != pending[9]:
                self.sockets.pop(imei).close()
                return
            queue.pop(0)

    def pending(self) -> int:
        return sum(len(q) for q in self.unacked.values())

    def close(self, timeout: float = 0.0) -> None:
        for sock in self.sockets.values():
            sock.close()


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


# --- Running --------------------------------------------------------------------------------


def run(
    fleet: Sequence[SimVehicle],
    send: Callable[[str, bytes], None],
    *,
    interval: float,
    speedup: float,
    duration: float | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Tick every vehicle every `interval` seconds (staggered) until `duration` or `stop`."""
    stop = stop or threading.Event()
    started = time.monotonic()
    frames_sent = 0
    n = max(1, len(fleet))
    tick = 0
    while not stop.is_set():
        for index, vehicle in enumerate(fleet):
            due = started + tick * interval + index * interval / n
            pause = due - time.monotonic()
            if pause > 0 and stop.wait(pause):
                break
            vehicle.step(interval * speedup)
            for frame in vehicle.frames(clock()):
                send(vehicle.imei, frame)
                frames_sent += 1
        tick += 1
        if duration is not None and time.monotonic() - started >= duration:
            break
    return frames_sent


def prebuilt_frames(
    imeis: Sequence[str], per_vehicle: int, interval_s: float, start: datetime, seed: int = 7
) -> Iterator[tuple[str, bytes]]:
    """The fast mode for benchmarks: `per_vehicle` one-record frames per tracker, encoded
    ahead of time, in the order a fleet reporting every `interval_s` would send them."""
    rng = random.Random(seed)
    fleet = [
        SimVehicle(imei, 38.8, 380, rng.choice(list(DEPOTS.values())), random.Random(i))
        for i, imei in enumerate(imeis)
    ]
    for vehicle in fleet:
        vehicle.no_fix_s = vehicle.offline_s = 0
    for tick in range(per_vehicle):
        moment = start + timedelta(seconds=tick * interval_s)
        for index, vehicle in enumerate(fleet):
            vehicle.step(interval_s)
            vehicle.offline_s = 0
            stamp = moment + timedelta(milliseconds=index * 1000 * interval_s / len(fleet))
            yield vehicle.imei, encode_8e_frame([vehicle.record(stamp)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m telemetry.simulate",
        description="A simulated fleet of Teltonika trackers publishing Codec 8E frames.",
    )
    parser.add_argument("--demo", action="store_true", help="the database's vehicles")
    parser.add_argument("--vehicles", type=int, default=20, help="synthetic trackers")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between records")
    parser.add_argument("--speedup", type=float, default=1.0, help="cars move X times faster")
    parser.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="send to the TCP gateway instead")
    parser.add_argument("--seed", type=int, default=4)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    fleet: Sequence[SimVehicle]
    if args.demo:
        from portal.config import load_config
        from portal.demo.world import LiveWorld, database_loader

        if args.speedup != 1:
            log.error("the demo world follows the wall clock: --speedup does not apply")
            return 2
        world = LiveWorld(database_loader(load_config()["DATABASE_URL"]))
        fleet = demo_fleet(world, seed=args.seed)
        if not fleet:
            log.error("no vehicle with a tracker in the database; run `flask seed-demo`")
            return 1
    else:
        fleet = synthetic_fleet(args.vehicles, seed=args.seed)
    sender: MqttPublisher | TcpSender
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        sender = TcpSender(host or "127.0.0.1", int(port))
    else:
        sender = MqttPublisher(mqtt_settings())
        sender.start()
    log.info(
        "simulating %d vehicles, a record every %.1f s, moving %.0fx faster",
        len(fleet),
        args.interval,
        args.speedup,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    frames = run(
        fleet,
        sender.send,
        interval=args.interval,
        speedup=args.speedup,
        duration=args.duration,
        stop=stop,
    )
    sender.close(timeout=10)
    log.info("sent %d frames; %d not acknowledged", frames, sender.pending())
    return 0


if __name__ == "__main__":
    sys.exit(main())
