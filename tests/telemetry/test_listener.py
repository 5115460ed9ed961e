"""The MQTT listener against a real (private) Mosquitto: what is stored, what is
refused, and that killing the listener or restarting the broker mid-stream loses no
record the broker accepted."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.config import ROOT
from portal.models import TelemetryReading, TelemetryReject, VehicleState
from telemetry.codec import encode_8e_frame, make_record
from telemetry.listener import Listener
from telemetry.simulate import MqttPublisher
from tests.waiting import wait_until

from .conftest import count_readings, new_imei

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def frame(at: datetime, soc: int = 70) -> bytes:
    record = make_record(
        at, longitude=-99.14, latitude=19.43, satellites=9, speed=20, io={239: 1, 152: soc}
    )
    return encode_8e_frame([record])


class Running:
    """A listener in a thread of the test process."""

    def __init__(self, mqtt, engine, client_id: str, **options) -> None:
        options.setdefault("batch_wait", 0.05)
        self.listener = Listener(mqtt, engine, client_id=client_id, **options)
        self.thread = threading.Thread(target=self.listener.run, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        assert self.listener.subscribed.wait(10)
        return self.listener

    def __exit__(self, *exc) -> None:
        self.listener.stop()
        self.thread.join(timeout=15)


def publisher(mqtt) -> MqttPublisher:
    pub = MqttPublisher(mqtt, client_id=f"test-pub-{uuid.uuid4().hex[:8]}")
    pub.start()
    assert pub.connected.wait(10)
    return pub


def rejects(engine, topic_prefix: str) -> list[TelemetryReject]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(TelemetryReject).where(TelemetryReject.topic.startswith(topic_prefix))
            )
        )


def test_stores_known_trackers_and_quarantines_the_rest_then_acknowledges_it(
    engine, mqtt, committed_fleet
):
    fleet = committed_fleet(2)
    imei_a, imei_b = fleet.vehicles
    now = datetime.now(UTC).replace(microsecond=0)
    stranger = new_imei()
    client_id = f"test-listener-{uuid.uuid4().hex[:8]}"
    pub = publisher(mqtt)
    bad_crc = bytearray(frame(now))
    bad_crc[-1] ^= 0xFF
    with Running(mqtt, engine, client_id):
        pub.send(imei_a, frame(now - timedelta(seconds=20), 71))
        pub.send(imei_a, frame(now, 70))
        pub.send(imei_a, frame(now - timedelta(seconds=10), 99))  # late: stored, not state
        pub.send(imei_a, frame(now, 70))  # duplicate
        pub.send(imei_b, frame(now, 55))
        pub.send(stranger, frame(now))  # unknown IMEI
        pub.send(imei_b, bytes(bad_crc))  # bad CRC
        pub.send(imei_b, b"\x8e\x01garbage")  # truncated AVL data
        pub.send(imei_b, frame(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=1)))
        pub.client.publish(f"{mqtt.topic_root}/not-an-imei/data", frame(now), qos=1)
        wait_until(lambda: len(rejects(engine, mqtt.topic_root)) == 5, what="5 rejects")
        wait_until(lambda: count_readings(engine, [imei_a, imei_b]) == 4, what="4 readings")

    with Session(engine) as session:
        state = session.get(VehicleState, fleet.vehicles[imei_a])
        assert state.soc_pct == 70
        codes = sorted(r.reason_code for r in rejects(engine, mqtt.topic_root))
        assert codes == ["bad_topic", "malformed", "malformed", "malformed", "unknown_imei"]
        assert session.scalar(select(func.count()).where(TelemetryReading.imei == stranger)) == 0

    # The refused messages were acknowledged: a restarted listener on the same session
    # gets only what is new (the broker sends redeliveries before new messages).
    with Running(mqtt, engine, client_id):
        pub.send(imei_b, frame(now + timedelta(seconds=5), 54))
        wait_until(lambda: count_readings(engine, [imei_a, imei_b]) == 5, what="the sentinel")
    assert len(rejects(engine, mqtt.topic_root)) == 5
    pub.close()


def readings_per_vehicle(engine, imeis: list[str]) -> list[int]:
    with Session(engine) as session:
        rows = session.execute(
            select(TelemetryReading.imei, func.count())
            .where(TelemetryReading.imei.in_(imeis))
            .group_by(TelemetryReading.imei)
        ).all()
    return sorted(count for _, count in rows)


def _listener_process(
    engine, mqtt, client_id: str, group: str | None = None
) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "MQTT_URL": f"mqtt://{mqtt.host}:{mqtt.port}",
        "TELEMETRY_TOPIC_ROOT": mqtt.topic_root,
        "TELEMETRY_CLIENT_ID": client_id,
    }
    env.pop("TELEMETRY_SHARED_GROUP", None)
    if group:
        env["TELEMETRY_SHARED_GROUP"] = group
    return subprocess.Popen(
        [sys.executable, "-m", "telemetry", "listen", "--batch-wait", "0.05"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_killing_the_listener_mid_stream_loses_nothing(engine, mqtt, committed_fleet):
    fleet = committed_fleet(20)
    imeis = list(fleet.vehicles)
    client_id = f"test-listener-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    per_vehicle = 150
    frames = [
        (imei, frame(start + timedelta(seconds=10 * i), 90 - i // 10))
        for i in range(per_vehicle)
        for imei in imeis
    ]
    total = len(frames)

    listener = _listener_process(engine, mqtt, client_id)
    pub = publisher(mqtt)

    # The first frame, sent until it is stored, makes sure the session and its
    # subscription exist (the broker drops what nobody has subscribed to yet).
    def first_stored() -> bool:
        pub.send(*frames[0])
        return count_readings(engine, imeis) == 1

    wait_until(first_stored, what="the listener to subscribe")

    def publish_rest() -> None:
        for imei, data in frames[1:]:
            pub.send(imei, data)
            time.sleep(0.0005)

    sender = threading.Thread(target=publish_rest)
    sender.start()
    wait_until(lambda: count_readings(engine, imeis) > total // 4, what="a quarter stored")
    listener.kill()  # SIGKILL: no goodbye, unacknowledged batches in flight
    listener.wait()
    stored_at_kill = count_readings(engine, imeis)
    sender.join()
    assert pub.pending() == 0 or pub.close() is None  # the broker accepted everything
    restarted = _listener_process(engine, mqtt, client_id)
    try:
        wait_until(lambda: count_readings(engine, imeis) == total, what="every record")
    finally:
        restarted.terminate()
        restarted.wait(timeout=20)
    assert stored_at_kill < total
    assert readings_per_vehicle(engine, imeis) == [per_vehicle] * len(imeis)
    pub.close()


def test_restarting_the_broker_mid_stream_loses_nothing(engine, mqtt, broker, committed_fleet):
    fleet = committed_fleet(10)
    imeis = list(fleet.vehicles)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    frames = [(imei, frame(start + timedelta(seconds=5 * i))) for i in range(200) for imei in imeis]
    pub = publisher(mqtt)
    with Running(mqtt, engine, f"test-listener-{uuid.uuid4().hex[:8]}") as listener:
        for imei, data in frames[: len(frames) // 2]:
            pub.send(imei, data)
        wait_until(lambda: count_readings(engine, imeis) > 0, what="the first readings")
        broker.restart()  # SIGTERM: mosquitto saves its persistence file
        # Published while the broker is down or coming back: paho keeps and resends.
        for imei, data in frames[len(frames) // 2 :]:
            pub.send(imei, data)
        wait_until(lambda: listener.subscribed.is_set(), what="the listener to reconnect")
        wait_until(lambda: count_readings(engine, imeis) == len(frames), what="every record")
    pub.close()


def test_a_full_listener_holds_back_the_broker_and_loses_nothing(engine, mqtt, committed_fleet):
    """At most `max_waiting` messages wait in the listener; the broker keeps the rest."""
    fleet = committed_fleet(5)
    imeis = list(fleet.vehicles)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    frames = [(imei, frame(start + timedelta(seconds=i))) for i in range(100) for imei in imeis]
    pub = publisher(mqtt)
    client_id = f"test-listener-{uuid.uuid4().hex[:8]}"
    waiting: list[int] = []
    running = Running(
        mqtt,
        engine,
        client_id,
        max_waiting=3,
        batch_size=2,
        on_batch=lambda _b: waiting.append(running.listener.inbox.qsize()),
    )
    with running as listener:
        for imei, data in frames:
            pub.send(imei, data)
        wait_until(lambda: count_readings(engine, imeis) == len(frames), what="every record")
        assert listener.stats.messages == len(frames)
    assert max(waiting) <= 3
    pub.close()


def test_killing_one_of_two_shared_listeners_loses_nothing(engine, mqtt, committed_fleet):
    """Two listeners split the stream (a shared subscription, persistent sessions); one
    is killed and restarted under its own client id: every record is stored once."""
    fleet = committed_fleet(10)
    imeis = list(fleet.vehicles)
    group = f"g{uuid.uuid4().hex[:8]}"
    ids = [f"test-shared-{group}-{n}" for n in (1, 2)]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=4)
    per_vehicle = 200
    frames = [
        (imei, frame(start + timedelta(seconds=10 * i)))
        for i in range(per_vehicle)
        for imei in imeis
    ]
    listeners = [_listener_process(engine, mqtt, client_id, group) for client_id in ids]
    pub = publisher(mqtt)

    # Until the group has a member the broker drops what is published: the first frame
    # is sent until it is stored (once the group exists, nothing is dropped).
    def first_stored() -> bool:
        pub.send(*frames[0])
        return count_readings(engine, imeis) == 1

    wait_until(first_stored, what="the listeners to subscribe")
    for imei, data in frames[1 : len(frames) // 2]:
        pub.send(imei, data)
    wait_until(lambda: count_readings(engine, imeis) > len(frames) // 8, what="some stored")
    listeners[0].kill()  # SIGKILL, with messages received and not acknowledged
    listeners[0].wait()
    for imei, data in frames[len(frames) // 2 :]:
        pub.send(imei, data)
    wait_until(lambda: pub.pending() == 0, what="the broker to accept every frame")
    listeners[0] = _listener_process(engine, mqtt, ids[0], group)
    try:
        wait_until(lambda: count_readings(engine, imeis) == len(frames), what="every record")
    finally:
        for process in listeners:
            process.terminate()
            process.wait(timeout=20)
    assert readings_per_vehicle(engine, imeis) == [per_vehicle] * len(imeis)
    pub.close()


def test_on_mqtt_3_1_1_the_listener_keeps_its_session_while_away(engine, mqtt, committed_fleet):
    # MQTT_PROTOCOL=3.1.1: for a broker without MQTT 5, such as make run's embedded amqtt.
    settings = replace(mqtt, protocol="3.1.1")
    (imei,) = committed_fleet(1).vehicles
    client_id = f"test-listener-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    pub = publisher(mqtt)
    with Running(settings, engine, client_id):
        pub.send(imei, frame(now - timedelta(seconds=20)))
        wait_until(lambda: count_readings(engine, [imei]) == 1, what="the first reading")
    pub.send(imei, frame(now - timedelta(seconds=10)))  # while the listener is away
    with Running(settings, engine, client_id):
        wait_until(lambda: count_readings(engine, [imei]) == 2, what="what came meanwhile")
    pub.close()
    with pytest.raises(ValueError, match="needs MQTT 5"):
        Listener(settings, engine, shared_group="lafa")
