"""The MQTT listener: `python -m telemetry listen`.

Subscribes to `{root}/+/data` with QoS 1 on a persistent MQTT 5 session (a fixed client
id, clean start off, a session expiry), so what the broker holds while the listener is
down is delivered when it comes back. With TELEMETRY_SHARED_GROUP set it subscribes to
`$share/{group}/{root}/+/data` and several listeners split the messages. A broker
without MQTT 5 (the embedded amqtt of `make run`): MQTT_PROTOCOL=3.1.1, a persistent
3.1.1 session (clean session off) and one listener, as shared subscriptions need MQTT 5.

Messages are acknowledged by hand (paho's `manual_ack`): the network thread only queues
them; the writer thread decodes a batch, writes it to PostgreSQL in one transaction
(readings, latest states, refused messages) and only after the commit sends the PUBACKs.
A crash before the commit loses nothing (the broker redelivers); a crash after it and
before the PUBACKs gives duplicates, which the unique (IMEI, device time) ignores.

A message that cannot be stored as readings (unknown IMEI, malformed payload, a topic
that is not a tracker's) is quarantined in `telemetry_rejects` in the same transaction
and then acknowledged: not acknowledging it would make the broker redeliver it forever.

Batches are written directly, not handed to the RQ `telemetry` queue: see
docs/benchmarks.md (the queue adds a serialisation and a hop, and Redis here is not
durable, so a PUBACK after enqueueing would not be "safely handed on").
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from telemetry import store as ingest
from telemetry.codec import FrameError, decode_mqtt_payload
from telemetry.settings import MqttSettings, default_client_id

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600
"""How long the broker keeps the listener's session (and queues its messages) offline."""


class BufferedClient(mqtt.Client):
    """paho's client with buffered socket reads and one write for a batch of PUBACKs.

    paho 2.x reads one packet per `select()` and each packet with three or more
    `recv()` calls (the command byte, each length byte, the rest), and queues each PUBACK
    as its own packet with its own wake-up of the network thread. At thousands of
    messages a second that per-message overhead, not the decoding or the database, is
    what limited the listener. Here `recv()` fills a 64 KiB buffer that the packet
    reader is served from, `loop_read` reads packets until the buffer is empty (so
    nothing waits in it when paho goes back to `select()`), and
    `ack_many` queues the PUBACKs of a batch as one write. Relies on paho's private
    `_sock`, `_packet_read` and `_packet_queue` (pinned to paho-mqtt 2.1-2.2; the
    listener tests exercise them).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = bytearray()
        self._rbuf_sock: Any = None

    def _sock_recv(self, bufsize: int) -> bytes:
        sock = self._sock
        if sock is not self._rbuf_sock:  # a new connection: forget the old bytes
            self._rbuf = bytearray()
            self._rbuf_sock = sock
        if not self._rbuf:
            data = super()._sock_recv(65536)  # raises BlockingIOError when there is none
            if len(data) <= bufsize:
                return data
            self._rbuf += data
        chunk = bytes(self._rbuf[:bufsize])
        del self._rbuf[:bufsize]
        return chunk

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        if self._sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        while True:  # until the buffer is empty: then `select()` sees what is left
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN or self._sock is None or not self._rbuf:
                return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: list[int]) -> None:
        """PUBACK (success) for QoS 1 messages, in one write."""
        if mids:
            packet = b"".join(_PUBACK_HEAD + mid.to_bytes(2, "big") for mid in mids)
            self._packet_queue(mqtt.PUBACK, packet, 0, 0)


_PUBACK_HEAD = bytes((mqtt.PUBACK, 2))  # fixed header; no reason code means success


@dataclass(slots=True)
class Inbound:
    generation: int  # the connection the message came on: acks go to that one only
    mid: int
    qos: int
    topic: str
    payload: bytes
    received: float  # time.time() when it arrived


@dataclass(slots=True)
class Stats:
    messages: int = 0
    records: int = 0
    inserted: int = 0
    batches: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


class Listener:
    """One listener process: a paho network thread and a batch writer (`run`)."""

    def __init__(
        self,
        settings: MqttSettings,
        engine: Engine,
        *,
        client_id: str | None = None,
        shared_group: str | None = None,
        batch_size: int = 2000,
        batch_wait: float = 0.2,
        receive_maximum: int = 10_000,
        max_waiting: int = 10_000,
        imei_refresh_s: float = 60.0,
        on_batch: Callable[[list[Inbound]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.client_id = client_id or default_client_id("telemetry")
        self.mqtt5 = settings.protocol == "5"
        if shared_group and not self.mqtt5:
            raise ValueError("a shared subscription (TELEMETRY_SHARED_GROUP) needs MQTT 5")
        self.shared_group = shared_group
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.imei_refresh_s = imei_refresh_s
        self.on_batch = on_batch
        # Bounded: when the writer is behind, the network thread waits here and TCP
        # pushes back on the broker, which keeps the rest. (Mosquitto 2.0.11 with
        # max_inflight_messages 0 was seen sending a resumed session's queue far past
        # the Receive Maximum: 98,000 messages waited in one listener.)
        self.inbox: queue.Queue[Inbound] = queue.Queue(maxsize=max_waiting)
        self.stats = Stats()
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker has granted the subscription
        self.stopping = threading.Event()
        self._generation = 0
        self._imeis: dict[str, int] = {}
        self._imeis_loaded = 0.0

        if self.mqtt5:
            self.client = BufferedClient(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=True,
            )
        else:
            self.client = BufferedClient(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
                manual_ack=True,
            )
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._connect_properties = Properties(PacketTypes.CONNECT)
        self._connect_properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._connect_properties.ReceiveMaximum = receive_maximum

    @property
    def topic_filter(self) -> str:
        base = self.settings.data_filter
        return f"$share/{self.shared_group}/{base}" if self.shared_group else base

    # --- paho callbacks (network thread) -------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("MQTT connection refused: %s", reason)
            return
        log.info(
            "connected to %s:%s as %s (session present: %s); subscribing to %s",
            self.settings.host,
            self.settings.port,
            self.client_id,
            flags.session_present,
            self.topic_filter,
        )
        if self.mqtt5:
            client.subscribe(self.topic_filter, options=SubscribeOptions(qos=1))
        else:
            client.subscribe(self.topic_filter, qos=1)
        self.connected.set()

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("subscription to %s refused: %s", self.topic_filter, reasons)
            return
        self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        # Messages of the old connection will be redelivered; their mids mean nothing now.
        self._generation += 1
        self.connected.clear()
        self.subscribed.clear()
        if not self.stopping.is_set():
            log.warning("MQTT disconnected (%s); paho reconnects", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        inbound = Inbound(
            self._generation,
            message.mid,
            message.qos,
            message.topic,
            bytes(message.payload),
            time.time(),
        )
        while not self.stopping.is_set():  # stopping: never acknowledged, sent again
            try:
                self.inbox.put(inbound, timeout=0.5)
                return
            except queue.Full:
                pass

    # --- The writer (main thread) --------------------------------------------------------

    def start(self) -> None:
        if self.mqtt5:
            self.client.connect_async(
                self.settings.host,
                self.settings.port,
                keepalive=30,
                clean_start=False,
                properties=self._connect_properties,
            )
        else:  # the session persists through the client's clean_session=False
            self.client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def run(self) -> None:
        """Write batches until `stop()`; then write what was received and disconnect."""
        self.start()
        last_report = time.monotonic()
        try:
            while not self.stopping.is_set():
                batch = self._next_batch()
                if batch:
                    self.process(batch)
                if time.monotonic() - last_report > 30:
                    self._report()
                    last_report = time.monotonic()
            batch = self._drain()
            if batch:
                self.process(batch)
        finally:
            self._report()
            self.close()

    def _next_batch(self) -> list[Inbound]:
        try:
            first = self.inbox.get(timeout=0.5)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self.inbox.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _drain(self) -> list[Inbound]:
        batch = []
        while True:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                return batch

    def _imei_map(self, session: Session, unknown_seen: bool) -> dict[str, int]:
        age = time.monotonic() - self._imeis_loaded
        if age > self.imei_refresh_s or (unknown_seen and age > 5):
            self._imeis = ingest.load_imei_map(session)
            self._imeis_loaded = time.monotonic()
        return self._imeis

    def process(self, batch: list[Inbound]) -> None:
        """Decode, store and commit one batch, then acknowledge it. Retries on DB errors."""
        delay = 0.5
        while True:
            try:
                self._store(batch)
                break
            except Exception:
                log.exception("storing a batch of %d messages failed; retrying", len(batch))
                if self.stopping.is_set() and delay > 4:
                    return  # not acknowledged: the broker redelivers after the restart
                time.sleep(delay)
                delay = min(delay * 2, 10)
        generation = self._generation
        self.client.ack_many([m.mid for m in batch if m.qos == 1 and m.generation == generation])
        if self.on_batch is not None:
            self.on_batch(batch)

    def _store(self, batch: list[Inbound]) -> None:
        now = datetime.now(UTC)
        rows: list[tuple[Any, ...]] = []
        rejected: Counter[str] = Counter()
        prefix = self.settings.topic_root + "/"
        with self.sessions() as session:
            imeis = self._imei_map(session, unknown_seen=False)
            for message in batch:
                imei = _imei_from_topic(message.topic, prefix)
                if imei is None:
                    code, reason = ingest.RejectReason.BAD_TOPIC, "not a tracker data topic"
                elif imei not in imeis and imei not in self._imei_map(session, True):
                    code, reason = ingest.RejectReason.UNKNOWN_IMEI, "unknown IMEI"
                else:
                    try:
                        packet = decode_mqtt_payload(message.payload, now=now)
                    except FrameError as error:
                        code, reason = ingest.RejectReason.MALFORMED, str(error)
                    else:
                        received = datetime.fromtimestamp(message.received, UTC)
                        rows.extend(
                            ingest.reading_row(imei, record, received) for record in packet.records
                        )
                        continue
                rejected[code] += 1
                log.warning("refused message on %s: %s", message.topic[:120], reason)
                ingest.record_reject(
                    session,
                    source="mqtt",
                    reason_code=code,
                    reason=reason,
                    payload=message.payload,
                    imei=imei,
                    topic=message.topic,
                    received_at=now,
                )
            result = ingest.store_rows(session, rows)
            session.commit()
        self.stats.messages += len(batch)
        self.stats.records += result.records
        self.stats.inserted += result.inserted
        self.stats.batches += 1
        self.stats.rejected.update(rejected)

    def _report(self) -> None:
        s = self.stats
        log.info(
            "messages %d, records %d, new readings %d, duplicates %d, refused %s, batches %d",
            s.messages,
            s.records,
            s.inserted,
            s.records - s.inserted,
            dict(s.rejected) or 0,
            s.batches,
        )


def _imei_from_topic(topic: str, prefix: str) -> str | None:
    if not topic.startswith(prefix) or not topic.endswith("/data"):
        return None
    imei = topic[len(prefix) : -len("/data")]
    return imei if len(imei) == 15 and imei.isdigit() else None


def run_listener(
    settings: MqttSettings, engine: Engine, instance: int | None = None, **kwargs: Any
) -> None:
    """Run until SIGTERM or SIGINT (the Procfile's `telemetry` processes).

    Each of several listeners in a shared group needs a client id of its own that stays
    the same across restarts (its session holds what was sent to it and not yet
    acknowledged): TELEMETRY_CLIENT_ID, or one made from the host and `instance`.
    """
    role = "telemetry" if instance is None else f"telemetry-{instance}"
    listener = Listener(
        settings,
        engine,
        shared_group=os.environ.get("TELEMETRY_SHARED_GROUP") or None,
        client_id=os.environ.get("TELEMETRY_CLIENT_ID") or default_client_id(role),
        **kwargs,
    )

    def _stop(_signum: int, _frame: Any) -> None:
        listener.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    listener.run()
