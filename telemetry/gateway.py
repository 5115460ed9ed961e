"""The TCP gateway: `python -m telemetry gateway` for trackers whose firmware has no MQTT.

It speaks the Teltonika TCP session to each device: the IMEI packet (`000F` + 15 ASCII
digits) answered `01` for a known tracker and `00` (then closed) for an unknown one;
frames reassembled from the stream however TCP splits or coalesces them; lone `0xFF`
keep-alives skipped. Each frame that passes its length, CRC and record-count checks is
published unchanged on `{root}/{imei}/data` with QoS 1, and the device gets its
acknowledgement (the record count, u32) only after the broker has acknowledged the
publish — so a frame is never acknowledged before it is safely handed on. A frame that
fails its checks is quarantined and not acknowledged (the device sends it again); a
stream that cannot be read as frames (a bad preamble or length) is closed.

Exposed to the internet, it bounds what a stranger can hold: at most `max_connections`
sessions at once (the next one is closed at once), `first_bytes_timeout` seconds to send
the IMEI packet (a device sends it as soon as it connects; an idle session of a known
tracker may then last IDLE_TIMEOUT_S), and an unknown IMEI reloads the list of
trackers from the database at most every UNKNOWN_IMEI_RELOAD_S, as the MQTT listener
does, so a stream of made-up IMEIs does not become a stream of queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import threading
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from telemetry import store as ingest
from telemetry.codec import (
    KEEPALIVE,
    FrameError,
    decode_tcp_frame,
    imei_reply,
    parse_imei_packet,
    tcp_ack,
    tcp_frame_length,
)
from telemetry.settings import MqttSettings, default_client_id

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 600.0
"""A device that sends nothing (not even a keep-alive) for this long is disconnected."""
FIRST_BYTES_TIMEOUT_S = 10.0
"""Time to send the IMEI packet after connecting."""
MAX_CONNECTIONS = 5000
"""Sessions held at once (a fleet of 2,000 trackers, with room for reconnections)."""
UNKNOWN_IMEI_RELOAD_S = 5.0


class Gateway:
    def __init__(
        self,
        settings: MqttSettings,
        engine: Engine,
        *,
        client_id: str | None = None,
        publish_timeout: float = 15.0,
        imei_refresh_s: float = 30.0,
        max_connections: int = MAX_CONNECTIONS,
        first_bytes_timeout: float = FIRST_BYTES_TIMEOUT_S,
        unknown_imei_reload_s: float = UNKNOWN_IMEI_RELOAD_S,
    ) -> None:
        self.settings = settings
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.publish_timeout = publish_timeout
        self.imei_refresh_s = imei_refresh_s
        self.max_connections = max_connections
        self.first_bytes_timeout = first_bytes_timeout
        self.unknown_imei_reload_s = unknown_imei_reload_s
        self.connections = 0
        self.connections_refused = 0
        self.imei_loads = 0
        self._imeis: dict[str, int] = {}
        self._imeis_loaded = -math.inf
        self._lock = threading.Lock()
        self._waiting: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}
        self.frames_acknowledged = 0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or default_client_id("gateway"),
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client.on_publish = self._on_publish

    # --- MQTT ---------------------------------------------------------------------------

    def start_mqtt(self) -> None:
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        self.client.loop_start()

    def stop_mqtt(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_publish(self, _c: Any, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        with self._lock:
            waiting = self._waiting.pop(mid, None)
        if waiting is not None:
            loop, future = waiting
            loop.call_soon_threadsafe(_resolve, future)

    async def publish(self, imei: str, frame: bytes) -> bool:
        """Publish with QoS 1; True once the broker has acknowledged it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            info = self.client.publish(self.settings.data_topic(imei), frame, qos=1)
            self._waiting[info.mid] = (loop, future)
        try:
            await asyncio.wait_for(future, self.publish_timeout)
        except TimeoutError:
            with self._lock:
                self._waiting.pop(info.mid, None)
            return False
        return True

    # --- The database (in a thread) -------------------------------------------------------

    def is_known(self, imei: str) -> bool:
        """Whether `imei` is a tracker of ours (the list reloaded every `imei_refresh_s`,
        or sooner for an IMEI it lacks, but not more than every `unknown_imei_reload_s`)."""
        age = time.monotonic() - self._imeis_loaded
        unknown = imei not in self._imeis
        if age > self.imei_refresh_s or (unknown and age > self.unknown_imei_reload_s):
            with self.sessions() as session:
                self._imeis = ingest.load_imei_map(session)
            self._imeis_loaded = time.monotonic()
            self.imei_loads += 1
        return imei in self._imeis

    def quarantine(self, code: str, reason: str, payload: bytes, imei: str | None) -> None:
        log.warning("gateway refused %s from %s: %s", code, imei or "?", reason)
        with self.sessions() as session:
            ingest.record_reject(
                session, source="tcp", reason_code=code, reason=reason, payload=payload, imei=imei
            )
            session.commit()

    # --- A device session -----------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= self.max_connections:
            self.connections_refused += 1
            if self.connections_refused % 1000 == 1:
                log.warning("gateway full (%d sessions): refusing connections", self.connections)
            await _close(writer)
            return
        self.connections += 1
        try:
            await self._session(reader, writer)
        finally:
            self.connections -= 1
            await _close(writer)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        loop = asyncio.get_running_loop()
        try:
            packet = await asyncio.wait_for(reader.readexactly(17), self.first_bytes_timeout)
            try:
                imei = parse_imei_packet(packet)
            except FrameError as error:
                await loop.run_in_executor(
                    None, self.quarantine, ingest.RejectReason.MALFORMED, str(error), packet, None
                )
                return
            known = await loop.run_in_executor(None, self.is_known, imei)
            writer.write(imei_reply(known))
            await writer.drain()
            if not known:
                await loop.run_in_executor(
                    None,
                    self.quarantine,
                    ingest.RejectReason.UNKNOWN_IMEI,
                    "unknown IMEI",
                    packet,
                    imei,
                )
                return
            log.info("tracker %s connected from %s", imei, peer)
            await self._frames(imei, reader, writer)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass

    async def _frames(
        self, imei: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await asyncio.wait_for(reader.readexactly(1), IDLE_TIMEOUT_S)
            if first == KEEPALIVE:
                continue
            header = first + await asyncio.wait_for(reader.readexactly(7), IDLE_TIMEOUT_S)
            try:
                length = tcp_frame_length(header)
            except FrameError as error:
                # Not a frame boundary: the stream cannot be resynchronised. Close it.
                await loop.run_in_executor(
                    None, self.quarantine, ingest.RejectReason.MALFORMED, str(error), header, imei
                )
                return
            rest = await asyncio.wait_for(reader.readexactly(length - 8), IDLE_TIMEOUT_S)
            frame = header + rest
            try:
                packet = decode_tcp_frame(frame, now=datetime.now(UTC))
            except FrameError as error:
                await loop.run_in_executor(
                    None, self.quarantine, ingest.RejectReason.MALFORMED, str(error), frame, imei
                )
                continue  # no acknowledgement: the device sends it again
            if packet.records and not await self.publish(imei, frame):
                log.warning("broker did not acknowledge a frame of %s; closing", imei)
                return
            writer.write(tcp_ack(len(packet.records)))
            await writer.drain()
            self.frames_acknowledged += 1


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def serve(gateway: Gateway, host: str, port: int, stop: asyncio.Event) -> None:
    server = await asyncio.start_server(gateway.handle, host, port)
    log.info("TCP gateway on %s:%d publishing to %s", host, port, gateway.settings.data_filter)
    async with server:
        await stop.wait()


def run_gateway(settings: MqttSettings, engine: Engine, *, host: str, port: int) -> None:
    logging.getLogger().setLevel(logging.INFO)
    gateway = Gateway(settings, engine)
    gateway.start_mqtt()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(gateway, host, port, stop)

    try:
        asyncio.run(main())
    finally:
        gateway.stop_mqtt()
