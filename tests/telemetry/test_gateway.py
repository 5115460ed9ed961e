"""The TCP gateway with a real TCP client: the IMEI handshake, frames split and
coalesced, keep-alives, and an acknowledgement only once the broker has the frame."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import TelemetryReject
from telemetry.codec import encode_8e_frame, make_record
from telemetry.gateway import Gateway, serve
from telemetry.settings import mqtt_settings

from .conftest import free_port, new_imei


def frame(records: int, start: datetime | None = None) -> bytes:
    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    return encode_8e_frame(
        make_record(start + timedelta(seconds=i), longitude=-99.1, latitude=19.4, satellites=8)
        for i in range(records)
    )


class RunningGateway:
    def __init__(self, settings, engine, **kw) -> None:
        self.gateway = Gateway(settings, engine, client_id=f"gw-{uuid.uuid4().hex[:8]}", **kw)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self.stop = asyncio.Event()
            self.ready.set()
            await serve(self.gateway, "127.0.0.1", self.port, self.stop)

        self.loop.run_until_complete(main())
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()

    def __enter__(self) -> RunningGateway:
        self.gateway.start_mqtt()
        self.thread.start()
        assert self.ready.wait(5)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                break
            except OSError:
                threading.Event().wait(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=10)
        self.gateway.stop_mqtt()

    def device(self, imei: str) -> tuple[socket.socket, bytes]:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            sock.sendall(struct.pack(">H", 15) + imei.encode())
            return sock, sock.recv(1)
        except OSError:
            sock.close()
            raise


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class Subscriber:
    def __init__(self, settings) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.got = threading.Condition()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4()}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(settings.host, settings.port)
        self.client.loop_start()
        self.client.subscribe(settings.data_filter, qos=1)
        assert subscribed.wait(5)

    def _on_message(self, _c, _u, message) -> None:
        with self.got:
            self.messages.append((message.topic, message.payload))
            self.got.notify_all()

    def wait_for(self, n: int) -> list[tuple[str, bytes]]:
        with self.got:
            assert self.got.wait_for(lambda: len(self.messages) >= n, timeout=10)
            return list(self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def known(committed_fleet):
    return next(iter(committed_fleet(1).vehicles))


def test_unknown_imei_is_refused_and_quarantined(engine, mqtt, known):
    stranger = new_imei()
    with RunningGateway(mqtt, engine) as gw:
        sock, reply = gw.device(stranger)
        assert reply == b"\x00"
        assert sock.recv(1) == b""  # closed
        sock.close()
    with Session(engine) as session:
        reject = session.scalars(
            select(TelemetryReject).where(TelemetryReject.imei == stranger)
        ).one()
        assert (reject.source, reject.reason_code) == ("tcp", "unknown_imei")


def test_split_and_coalesced_frames_and_keepalives(engine, mqtt, known):
    subscriber = Subscriber(mqtt)
    first, second, third = frame(3), frame(2), frame(1)
    with RunningGateway(mqtt, engine) as gw:
        sock, reply = gw.device(known)
        assert reply == b"\x01"
        # One frame in three pieces, with pauses between them.
        for piece in (first[:5], first[5:40], first[40:]):
            sock.sendall(piece)
            threading.Event().wait(0.05)
        assert recv_exactly(sock, 4) == struct.pack(">I", 3)
        # A keep-alive and two frames in one write.
        sock.sendall(b"\xff" + second + b"\xff" + third)
        assert recv_exactly(sock, 8) == struct.pack(">II", 2, 1)
        sock.close()
    messages = subscriber.wait_for(3)
    subscriber.close()
    assert messages == [(mqtt.data_topic(known), f) for f in (first, second, third)]


def test_a_bad_frame_gets_no_acknowledgement(engine, mqtt, known):
    bad = bytearray(frame(3))
    bad[-1] ^= 0x55  # CRC
    good = frame(2)
    with RunningGateway(mqtt, engine) as gw:
        sock, _ = gw.device(known)
        sock.sendall(bytes(bad) + good)
        # The only answer is the good frame's: the bad one was never acknowledged.
        assert recv_exactly(sock, 4) == struct.pack(">I", 2)
        # A stream that is not frames (bad preamble) is closed.
        sock.sendall(b"\x01\x02\x03\x04\x05\x06\x07\x08")
        assert sock.recv(4) == b""
        sock.close()
    with Session(engine) as session:
        reasons = session.scalars(
            select(TelemetryReject.reason).where(TelemetryReject.imei == known)
        ).all()
    assert any("CRC" in r for r in reasons)
    assert any("preamble" in r for r in reasons)


def test_no_acknowledgement_until_the_broker_has_the_frame(engine, known):
    nowhere = mqtt_settings(f"mqtt://127.0.0.1:{free_port()}", topic_root="lafa-test/none")
    with RunningGateway(nowhere, engine, publish_timeout=1.0) as gw:
        sock, reply = gw.device(known)
        assert reply == b"\x01"
        sock.sendall(frame(2))
        assert sock.recv(4) == b""  # closed without an acknowledgement
        sock.close()
    assert gw.gateway.frames_acknowledged == 0


def test_a_connection_that_sends_nothing_is_closed_within_seconds(engine, mqtt):
    """It used to have IDLE_TIMEOUT_S (600 s) to send its IMEI, holding a session."""
    with RunningGateway(mqtt, engine, first_bytes_timeout=0.5) as gw:
        sock = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
        assert sock.recv(1) == b""  # the gateway hung up
        sock.close()


def _answer(gw: RunningGateway, imei: str) -> tuple[socket.socket, bytes]:
    try:
        return gw.device(imei)
    except ConnectionResetError:  # refused while the IMEI was on its way
        return socket.socket(), b""


def test_the_gateway_holds_at_most_max_connections(engine, mqtt, known):
    with RunningGateway(mqtt, engine, max_connections=2) as gw:
        while gw.gateway.connections:  # the start-up probe's session ends
            threading.Event().wait(0.02)
        held = [gw.device(known) for _ in range(2)]
        assert [reply for _, reply in held] == [b"\x01", b"\x01"]
        refused, reply = _answer(gw, known)
        assert reply == b""
        refused.close()
        held[0][0].close()
        while gw.gateway.connections == 2:  # the closed session ends
            threading.Event().wait(0.02)
        again, reply = gw.device(known)
        assert reply == b"\x01"
        for sock in (again, held[1][0]):
            sock.close()
    assert gw.gateway.connections_refused == 1


def test_made_up_imeis_do_not_each_reload_the_trackers(engine, mqtt, known):
    gateway = Gateway(mqtt, engine, unknown_imei_reload_s=3600)
    assert gateway.is_known(known)
    for _ in range(20):
        assert not gateway.is_known(new_imei())
    assert gateway.imei_loads == 1
    eager = Gateway(mqtt, engine, unknown_imei_reload_s=0)
    for _ in range(3):
        eager.is_known(new_imei())
    assert eager.imei_loads == 3  # the window is what holds the reloads back
