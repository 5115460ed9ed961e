"""End to end: MQTT publish -> rows in PostgreSQL. `python bench/telemetry_e2e.py`.

Sets up its own database (10,000 vehicles) and its own Mosquitto on a free port, runs
the real listener (`telemetry.listener.Listener`) in a child process, and publishes
pre-encoded one-record Codec 8E frames (the simulator's fast mode) from another child
process at a fixed rate, each frame stamped with the moment it is due to be published.
Reports:

- sustained stored records/s and publish->stored delay (p50/p99): stored = the batch's
  commit, as the listener's `on_batch` hook sees it after the commit and the PUBACKs;
- the listener's resident memory while it drains a backlog of `--backlog` seconds of
  traffic published while it was stopped;
- in the same run, a plain bulk insert (COPY into a table without keys) of the same rows,
  and the ratio; and the cost of handing a batch to the RQ queue instead (serialise +
  enqueue) to compare with writing it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pickle
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = f"lafa_bench_tel_{os.getpid()}"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
ROOT = "bench/teltonika"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def setup_database(vehicles: int) -> list[str]:
    from portal.cli import upgrade_database
    from telemetry.simulate import synthetic_imei

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}"')
        conn.execute(f'CREATE DATABASE "{DB}"')
    upgrade_database(URL)
    imeis = [synthetic_imei(i) for i in range(vehicles)]
    with psycopg.connect(URL.replace("+psycopg", "")) as conn:
        depot = conn.execute(
            "INSERT INTO depots (code, name, address, timezone, cfe_tariff, site_power_kw,"
            " created_at) VALUES ('BEN', 'Bench', 'CDMX', 'America/Mexico_City', 'GDMTH', 300,"
            " now()) RETURNING id"
        ).fetchone()[0]
        with conn.cursor().copy(
            "COPY vehicles (vin, plate, make, model, year, battery_kwh, range_km,"
            " connector_type, tracker_imei, depot_id, status, created_at) FROM STDIN"
        ) as copy:
            for i, imei in enumerate(imeis):
                copy.write_row(
                    (
                        f"LGXBENCH{i:09d}",
                        f"B{i:06d}",
                        "BYD",
                        "Dolphin Mini",
                        2025,
                        38.8,
                        380,
                        "CCS2",
                        imei,
                        depot,
                        "leased",
                        datetime.now(UTC),
                    )
                )
    return imeis


def start_broker(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    directory.chmod(0o777)
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_inflight_messages 0\n"
    )
    broker = subprocess.Popen(
        [shutil.which("mosquitto") or "mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return broker, port


# --- Child processes ------------------------------------------------------------------------


def listener_main(port: int, result_path: str, ready: mp.Event) -> None:
    """The real listener, recording each batch's delay after its commit and PUBACKs."""
    from portal.db import make_engine
    from telemetry.listener import Listener
    from telemetry.settings import mqtt_settings

    delays: list[float] = []
    stored: list[tuple[float, int]] = []

    def on_batch(batch: list) -> None:
        now = time.time()
        for message in batch:
            (stamp_ms,) = struct.unpack_from(">Q", message.payload, 10)
            delays.append(now - stamp_ms / 1000)
        stored.append((now, len(batch)))

    listener = Listener(
        mqtt_settings(f"mqtt://127.0.0.1:{port}", topic_root=ROOT),
        make_engine(URL, pool_size=2),
        client_id="bench-listener",
        on_batch=on_batch,
    )
    signal.signal(signal.SIGTERM, lambda *_: listener.stop())
    listener.start()
    listener.subscribed.wait(10)
    ready.set()
    try:
        while not listener.stopping.is_set():
            batch = listener._next_batch()
            if batch:
                listener.process(batch)
    finally:
        listener.close()
        with open(result_path, "wb") as out:
            pickle.dump({"delays": delays, "stored": stored}, out)


def publisher_main(port: int, frames_path: str, rate: float, result_path: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    with open(frames_path, "rb") as f:
        frames, start_at = pickle.load(f)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}")
    client.max_inflight_messages_set(5000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    behind = 0.0
    while time.time() < start_at:
        time.sleep(0.001)
    for i, (topic, payload) in enumerate(frames):
        due = start_at + i / rate
        lag = time.time() - due
        if lag < 0:
            time.sleep(-lag)
        else:
            behind = max(behind, lag)
        client.publish(topic, payload, qos=1)
    while client._out_messages:
        time.sleep(0.01)
    client.loop_stop()
    client.disconnect()
    with open(result_path, "wb") as out:
        pickle.dump({"max_behind": behind}, out)


def build_frames(imeis: list[str], count: int, start_at: float, rate: float) -> list:
    import random

    from telemetry.codec import encode_8e_frame
    from telemetry.simulate import SimVehicle

    fleet = [
        SimVehicle(imei, 38.8, 380, (19.43, -99.13), random.Random(i))
        for i, imei in enumerate(imeis)
    ]
    frames = []
    for i in range(count):
        vehicle = fleet[i % len(fleet)]
        vehicle.step(2.0)
        vehicle.no_fix_s = 0
        stamp = datetime.fromtimestamp(start_at + i / rate, UTC)
        frames.append((f"{ROOT}/{vehicle.imei}/data", encode_8e_frame([vehicle.record(stamp)])))
    return frames


def publish(port: int, frames: list, start_at: float, rate: float, tmp: Path) -> dict:
    path = tmp / f"frames-{start_at}.pickle"
    with open(path, "wb") as f:
        pickle.dump((frames, start_at), f)
    result = tmp / f"pub-{start_at}.pickle"
    proc = mp.Process(target=publisher_main, args=(port, str(path), rate, str(result)))
    proc.start()
    return {"process": proc, "result": result}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def plain_bulk_insert(frames: list) -> float:
    """Rows/s of COPY of the same rows into a plain table (no keys, no upsert)."""
    from portal.services.telemetry import READING_COLUMNS, reading_row
    from telemetry.codec import decode_mqtt_payload

    rows = []
    received = datetime.now(UTC)
    for topic, payload in frames:
        for record in decode_mqtt_payload(payload).records:
            rows.append(reading_row(topic.split("/")[-2], record, received))
    with psycopg.connect(URL.replace("+psycopg", "")) as conn:
        conn.execute("CREATE TABLE plain_readings AS SELECT * FROM telemetry_readings WITH NO DATA")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor().copy(
            f"COPY plain_readings ({', '.join(READING_COLUMNS)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return len(rows) / (time.perf_counter() - started)


def enqueue_cost(frames: list, batch: int = 2000) -> float:
    """Seconds per batch to serialise decoded rows and enqueue them on RQ (not run)."""
    from redis import Redis
    from rq import Queue

    from portal.services.telemetry import reading_row
    from telemetry.codec import decode_mqtt_payload

    received = datetime.now(UTC)
    rows = [
        reading_row(t.split("/")[-2], decode_mqtt_payload(p).records[0], received)
        for t, p in frames[:batch]
    ]
    redis = Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/10"))
    queue = Queue(f"bench-telemetry-{os.getpid()}", connection=redis)
    started = time.perf_counter()
    for _ in range(20):
        queue.enqueue("portal.services.telemetry.store_rows", rows)
    elapsed = (time.perf_counter() - started) / 20
    queue.empty()
    queue.delete(delete_jobs=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=5_000, help="records published per s")
    parser.add_argument("--seconds", type=float, default=30, help="live phase duration")
    parser.add_argument("--backlog", type=float, default=60, help="backlog phase, seconds")
    parser.add_argument("--backlog-rate", type=float, default=1_000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lafa-bench-"))
    print(f"setting up {args.vehicles:,} vehicles in {DB} ...", flush=True)
    imeis = setup_database(args.vehicles)
    broker, port = start_broker(tmp)
    try:
        # --- Live: the listener keeps up (or not) with `rate` records/s ---------------
        live_count = int(args.rate * args.seconds)
        started = time.perf_counter()
        build_frames(imeis[:500], 500, time.time(), args.rate)
        per_frame = (time.perf_counter() - started) / 500
        # Frames are stamped with the moment they are due; schedule after the encoding.
        start_at = time.time() + live_count * per_frame * 1.3 + 10
        print(f"encoding {live_count:,} frames ...", flush=True)
        frames = build_frames(imeis, live_count, start_at, args.rate)
        ready = mp.Event()
        listen_result = tmp / "listen.pickle"
        listener = mp.Process(target=listener_main, args=(port, str(listen_result), ready))
        listener.start()
        ready.wait(30)
        if time.time() > start_at:
            raise SystemExit("encoding took longer than planned; run again")
        pub = publish(port, frames, start_at, args.rate, tmp)
        peak_live = 0.0
        while pub["process"].is_alive():
            peak_live = max(peak_live, rss_mb(listener.pid))
            time.sleep(0.5)
        with psycopg.connect(URL.replace("+psycopg", "")) as conn:
            for _ in range(120):
                stored_rows = conn.execute("SELECT count(*) FROM telemetry_readings").fetchone()[0]
                if stored_rows >= live_count:
                    break
                time.sleep(0.5)
        listener.terminate()
        listener.join(30)
        with open(listen_result, "rb") as f:
            live = pickle.load(f)
        with open(pub["result"], "rb") as f:
            pub_result = pickle.load(f)
        last = max(t for t, _ in live["stored"])
        sustained = sum(n for _, n in live["stored"]) / max(1e-9, last - start_at)

        # --- Backlog: published while the listener is stopped, then drained -----------
        backlog_count = int(args.backlog * args.backlog_rate)
        print(f"encoding {backlog_count:,} backlog frames ...", flush=True)
        stamp_base = time.time() - args.backlog
        backlog_frames = build_frames(imeis, backlog_count, stamp_base, args.backlog_rate)
        pub2 = publish(port, backlog_frames, time.time(), 1e9, tmp)
        pub2["process"].join()
        ready2 = mp.Event()
        listen2 = tmp / "listen2.pickle"
        drainer = mp.Process(target=listener_main, args=(port, str(listen2), ready2))
        drain_started = time.time()
        drainer.start()
        peak_drain = 0.0
        target = stored_rows + backlog_count
        with psycopg.connect(URL.replace("+psycopg", "")) as conn:
            while True:
                peak_drain = max(peak_drain, rss_mb(drainer.pid))
                n = conn.execute("SELECT count(*) FROM telemetry_readings").fetchone()[0]
                if n >= target or time.time() - drain_started > 300:
                    break
                time.sleep(0.5)
        drain_seconds = time.time() - drain_started
        drainer.terminate()
        drainer.join(30)

        plain = plain_bulk_insert(frames)
        enqueue = enqueue_cost(frames)
    finally:
        broker.terminate()
        broker.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')

    delays = live["delays"]
    print()
    print(f"{os.cpu_count()} cores; {args.vehicles:,} vehicles; one-record Codec 8E frames")
    print(f"Live phase: published {live_count:,} at {args.rate:,.0f}/s for {args.seconds:.0f} s")
    print(f"  publisher at most {pub_result['max_behind']:.2f} s behind its schedule")
    print(f"  stored {stored_rows:,} rows; sustained {sustained:,.0f} records/s")
    print(
        f"  publish -> stored delay: p50 {percentile(delays, 50):.3f} s, "
        f"p99 {percentile(delays, 99):.3f} s, max {max(delays):.3f} s"
    )
    print(f"  listener RSS peak {peak_live:.0f} MB")
    print(f"Backlog phase: {backlog_count:,} records queued in the broker, listener stopped")
    print(
        f"  drained in {drain_seconds:.1f} s = {backlog_count / drain_seconds:,.0f} records/s;"
        f" listener RSS peak {peak_drain:.0f} MB"
    )
    print(f"Baseline, same rows, same run: plain COPY {plain:,.0f} rows/s")
    print(f"  end to end sustained / plain COPY = {sustained / plain:.3f}")
    print(f"  drain / plain COPY = {backlog_count / drain_seconds / plain:.3f}")
    print(
        f"Queue alternative: serialise + enqueue a 2,000-row batch on RQ: "
        f"{enqueue * 1000:.1f} ms (before any worker has written it)"
    )


if __name__ == "__main__":
    main()
