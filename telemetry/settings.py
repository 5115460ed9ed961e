"""The telemetry processes' settings, from the environment (no Flask)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_TOPIC_ROOT = "lafa/teltonika"
MQTT_PROTOCOLS = ("5", "3.1.1")


@dataclass(frozen=True, slots=True)
class MqttSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    topic_root: str
    # The listener speaks MQTT 5 (shared subscriptions, session expiry); "3.1.1" for a
    # broker without it, such as the embedded one of `make run` (amqtt).
    protocol: str = "5"

    def data_topic(self, imei: str) -> str:
        return f"{self.topic_root}/{imei}/data"

    @property
    def data_filter(self) -> str:
        return f"{self.topic_root}/+/data"


def mqtt_settings(url: str | None = None, topic_root: str | None = None) -> MqttSettings:
    """The broker from `url` or MQTT_URL (mqtt://user:pass@host:port), the topic root
    from TELEMETRY_TOPIC_ROOT (default `lafa/teltonika`) and the listener's protocol
    from MQTT_PROTOCOL (`5`, the default, or `3.1.1`)."""
    raw = url or os.environ.get("MQTT_URL") or "mqtt://127.0.0.1:1883"
    parts = urlsplit(raw if "://" in raw else f"mqtt://{raw}")
    root = topic_root or os.environ.get("TELEMETRY_TOPIC_ROOT") or DEFAULT_TOPIC_ROOT
    protocol = os.environ.get("MQTT_PROTOCOL") or "5"
    if protocol not in MQTT_PROTOCOLS:
        raise ValueError(f"MQTT_PROTOCOL must be 5 or 3.1.1, not {protocol!r}")
    return MqttSettings(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 1883,
        username=parts.username,
        password=parts.password,
        topic_root=root.strip("/"),
        protocol=protocol,
    )


def default_client_id(role: str) -> str:
    """A fixed client id per host and role, so a restarted process resumes its session."""
    return f"lafa-{role}-{socket.gethostname()}"[:64]
