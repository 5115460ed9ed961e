"""Hostile payloads through the listener's batch path: never a crash, never a partial
write; every message either stored as readings or quarantined."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import TelemetryReading, TelemetryReject
from telemetry.codec import encode_8e_frame, make_record
from telemetry.listener import Inbound, Listener
from telemetry.settings import mqtt_settings


def good_frame() -> bytes:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    return encode_8e_frame([make_record(at, longitude=-99.1, latitude=19.4, satellites=7)])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    payloads=st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.builds(lambda f, n: f[:n], st.just(good_frame()), st.integers(0, 80)),
            st.builds(
                lambda f, i, b: f[:i] + bytes([b]) + f[i + 1 :],
                st.just(good_frame()),
                st.integers(0, 80),
                st.integers(0, 255),
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_bytes_are_stored_or_quarantined(engine, committed_fleet, payloads):
    fleet = committed_fleet(1)
    (imei,) = fleet.vehicles
    root = f"fuzz-{uuid.uuid4().hex}/teltonika"  # unique per example: rejects are counted by it
    listener = Listener(mqtt_settings("mqtt://127.0.0.1:1", topic_root=root), engine)
    batch = [
        Inbound(0, i, 0, f"{root}/{imei}/data", payload, time.time())
        for i, payload in enumerate(payloads)
    ]
    readings = select(func.count()).where(TelemetryReading.imei == imei)
    with Session(engine) as session:
        # hypothesis reuses the fixture's fleet across examples: count only this batch
        before = session.scalar(readings) or 0
    listener.process(batch)
    with Session(engine) as session:
        rejected = session.scalar(
            select(func.count()).where(TelemetryReject.topic.startswith(root))
        )
        stored = (session.scalar(readings) or 0) - before
    assert listener.stats.messages == len(payloads)
    assert rejected == sum(listener.stats.rejected.values())
    assert rejected + (len(payloads) - rejected) == len(payloads)
    assert stored <= len(payloads) - rejected
