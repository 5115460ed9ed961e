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
import multiprocessing
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

# Children start fresh ("spawn"), as the real processes do: forked from this one they
# would carry its hundreds of thousands of encoded frames in their resident memory.
mp = multiprocessing.get_context("spawn")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = os.environ.setdefault("LAFA_BENCH_TEL_DB", f"lafa_bench_tel_{os.getpid()}")  # children
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listener_main(port: int, group: str | None, index: int, result_path: str, ready) -> None:
    """The real listener, recording each batch's delay after its commit and PUBACKs.

    A frame carries its records 2 s apart and is stamped so that its last record's
    time is the moment it was due to be published: the delay is counted per frame,
    from that moment to the commit that stored it.
    """
    from portal.db import make_engine
    from telemetry.listener import Listener
    from telemetry.settings import mqtt_settings

    delays: list[float] = []
    stored: list[tuple[float, int]] = []
    waiting = [0]  # the most messages received and not yet written

    def on_batch(batch: list) -> None:
        now = time.time()
        waiting[0] = max(waiting[0], listener.inbox.qsize() + len(batch))
        records = 0
        for message in batch:
            (stamp_ms,) = struct.unpack_from(">Q", message.payload, 10)
            count = message.payload[9]
            records += count
            delays.append(now - stamp_ms / 1000 - RECORD_INTERVAL_S * (count - 1))
        stored.append((now, records))

    listener = Listener(
        mqtt_settings(f"mqtt://127.0.0.1:{port}", topic_root=ROOT),
        make_engine(URL, pool_size=2),
        client_id=f"bench-listener-{index}",
        shared_group=group,
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
            pickle.dump({"delays": delays, "stored": stored, "waiting": waiting[0]}, out)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish_packet(topic: str, payload: bytes, mid: int) -> bytes:
    body = struct.pack(">H", len(topic)) + topic.encode() + struct.pack(">H", mid) + payload
    return b"\x32" + _varint(len(body)) + body  # PUBLISH, QoS 1


def publisher_main(port: int, frames_path: str, rate: float, result_path: str) -> None:
    """A lean MQTT 3.1.1 QoS 1 publisher on a raw socket, for this benchmark only.

    The PUBLISH packets are encoded before the start; then every due packet goes out in
    one `sendall` and a thread counts the PUBACKs (4 bytes each), so publishing costs
    the machine little next to the broker and the listeners. Waits for every PUBACK:
    "published" means the broker accepted it.
    """
    import threading

    with open(frames_path, "rb") as f:
        frames, start_at = pickle.load(f)
    packets = [_publish_packet(t, p, i % 65535 + 1) for i, (t, p) in enumerate(frames)]
    sock = socket.create_connection(("127.0.0.1", port))
    client_id = f"bench-pub-{os.getpid()}".encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack(">H", len(client_id)) + client_id
    sock.sendall(b"\x10" + _varint(len(body)) + body)
    if sock.recv(4)[:1] != b"\x20":
        raise SystemExit("the broker refused the publisher")
    acked_bytes = 0

    def read_acks() -> None:
        nonlocal acked_bytes
        while acked_bytes < 4 * len(packets):
            data = sock.recv(65536)
            if not data:
                return
            acked_bytes += len(data)

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    behind = 0.0
    sent = 0
    while sent < len(packets):
        now = time.time()
        due = min(len(packets), int((now - start_at) * rate) + 1)
        if due <= sent or sent - acked_bytes // 4 > 60_000:  # packet ids must not collide
            time.sleep(0.001)
            continue
        behind = max(behind, now - (start_at + sent / rate))
        sock.sendall(b"".join(packets[sent:due]))
        sent = due
    reader.join(600)
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    with open(result_path, "wb") as out:
        pickle.dump({"max_behind": behind, "acked": acked_bytes // 4}, out)


RECORD_INTERVAL_S = 2.0


def build_frames(imeis: list[str], count: int, start_at: float, rate: float, per_frame: int):
    """`count` frames at `rate` frames/s, each with `per_frame` records 2 s apart, the
    last one stamped with the moment the frame is due."""
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
        due = start_at + i / rate
        records = []
        for k in range(per_frame):
            vehicle.step(RECORD_INTERVAL_S)
            vehicle.no_fix_s = 0
            stamp = due - RECORD_INTERVAL_S * (per_frame - 1 - k)
            records.append(vehicle.record(datetime.fromtimestamp(stamp, UTC)))
        frames.append((f"{ROOT}/{vehicle.imei}/data", encode_8e_frame(records)))
    return frames


def publish(port: int, frames: list, start_at: float, rate: float, tmp: Path) -> dict:
    path = tmp / f"frames-{start_at}.pickle"
    with open(path, "wb") as f:
        pickle.dump((frames, start_at), f)
    result = tmp / f"pub-{start_at}.pickle"
    proc = mp.Process(target=publisher_main, args=(port, str(path), rate, str(result)))
    proc.start()
    return {"process": proc, "result": result}


def start_listeners(port: int, count: int, tmp: Path, tag: str) -> list[tuple]:
    group = "bench" if count > 1 else None
    started = []
    for index in range(count):
        ready = mp.Event()
        result = tmp / f"listen-{tag}-{index}.pickle"
        proc = mp.Process(target=listener_main, args=(port, group, index, str(result), ready))
        proc.start()
        started.append((proc, ready, result))
    for _, ready, _ in started:
        ready.wait(30)
    return started


def stop_listeners(started: list[tuple]) -> dict:
    for proc, _, _ in started:
        proc.terminate()
    merged: dict = {"delays": [], "stored": [], "waiting": 0}
    for proc, _, result in started:
        proc.join(60)
        if proc.is_alive():
            proc.kill()
            proc.join()
            raise SystemExit(f"listener {proc.pid} did not stop in 60 s")
        with open(result, "rb") as f:
            part = pickle.load(f)
        merged["delays"] += part["delays"]
        merged["stored"] += part["stored"]
        merged["waiting"] = max(merged["waiting"], part["waiting"])
    return merged


def count_rows() -> int:
    with psycopg.connect(URL.replace("+psycopg", "")) as conn:
        return int(conn.execute("SELECT count(*) FROM telemetry_readings").fetchone()[0])


def worker_memory(rollups: int) -> dict:
    """Run the telemetry jobs on what the backlog left (the alert check over every
    vehicle's state, `rollups` vehicles' trips and km) in a real `flask worker --burst`,
    sampling the resident memory of the worker and of its work horse."""
    from redis import Redis

    from workers import queues
    from workers.telemetry import check_vehicle_alerts_job, rollup_vehicle_job

    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/10")
    queues.configure(redis_url)
    queue = queues.get_queue("telemetry")
    queue.empty()
    with psycopg.connect(URL.replace("+psycopg", "")) as conn:
        ids = [
            r[0] for r in conn.execute("SELECT vehicle_id FROM vehicle_states LIMIT %s", (rollups,))
        ]
    check_vehicle_alerts_job.delay()
    for vehicle_id in ids:
        rollup_vehicle_job.delay(vehicle_id)
    started = time.time()
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst", "telemetry"],
        cwd=Path(__file__).resolve().parents[1],
        env=os.environ | {"DATABASE_URL": URL, "REDIS_URL": redis_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak_worker = peak_horse = 0.0
    while worker.poll() is None:
        try:
            peak_worker = max(peak_worker, rss_mb(worker.pid))
            with open(f"/proc/{worker.pid}/task/{worker.pid}/children") as f:
                for child in f.read().split():
                    peak_horse = max(peak_horse, rss_mb(int(child)))
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.05)
    seconds = time.time() - started
    queue.empty()
    Redis.from_url(redis_url).close()
    queues.configure("")
    return {"jobs": len(ids) + 1, "seconds": seconds, "worker": peak_worker, "horse": peak_horse}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def plain_bulk_insert(frames: list) -> float:
    """Rows/s of COPY of the same rows into a plain table (no keys, no upsert)."""
    from telemetry.codec import decode_mqtt_payload
    from telemetry.store import READING_COLUMNS, reading_row

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

    from telemetry.codec import decode_mqtt_payload
    from telemetry.store import reading_row

    received = datetime.now(UTC)
    rows = [
        reading_row(t.split("/")[-2], record, received)
        for t, p in frames[:batch]
        for record in decode_mqtt_payload(p).records
    ][:batch]
    redis = Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/10"))
    queue = Queue(f"bench-telemetry-{os.getpid()}", connection=redis)
    started = time.perf_counter()
    for _ in range(20):
        queue.enqueue("telemetry.store.store_rows", rows)
    elapsed = (time.perf_counter() - started) / 20
    queue.empty()
    queue.delete(delete_jobs=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=5_000, help="records published per s")
    parser.add_argument(
        "--records-per-frame", type=int, default=1, help="records in one MQTT message"
    )
    parser.add_argument("--listeners", type=int, default=2, help="in one shared subscription")
    parser.add_argument("--seconds", type=float, default=30, help="live phase duration")
    parser.add_argument("--backlog", type=float, default=60, help="backlog phase, seconds")
    parser.add_argument("--backlog-rate", type=float, default=0, help="default: --rate")
    parser.add_argument(
        "--worker-rollups", type=int, default=200, help="vehicles rolled up by the worker"
    )
    args = parser.parse_args()
    per_frame = args.records_per_frame
    frame_rate = args.rate / per_frame
    backlog_rate = (args.backlog_rate or args.rate) / per_frame

    tmp = Path(tempfile.mkdtemp(prefix="lafa-bench-"))
    print(f"setting up {args.vehicles:,} vehicles in {DB} ...", flush=True)
    imeis = setup_database(args.vehicles)
    broker, port = start_broker(tmp)
    try:
        # --- Live: the listeners keep up (or not) with `rate` records/s ---------------
        live_frames = int(frame_rate * args.seconds)
        live_count = live_frames * per_frame
        started = time.perf_counter()
        build_frames(imeis[:500], 500, time.time(), frame_rate, per_frame)
        encode_s = (time.perf_counter() - started) / 500
        # Frames are stamped with the moment they are due; schedule after the encoding.
        start_at = time.time() + live_frames * encode_s * 1.3 + 15
        print(f"encoding {live_frames:,} frames of {per_frame} record(s) ...", flush=True)
        frames = build_frames(imeis, live_frames, start_at, frame_rate, per_frame)
        listeners = start_listeners(port, args.listeners, tmp, "live")
        if time.time() > start_at:
            raise SystemExit("encoding took longer than planned; run again")
        cpu_before = {p.pid: cpu_seconds(p.pid) for p, _, _ in listeners}
        broker_cpu_before = cpu_seconds(broker.pid)
        pub = publish(port, frames, start_at, frame_rate, tmp)
        peak_live = 0.0
        while pub["process"].is_alive():
            peak_live = max(peak_live, sum(rss_mb(p.pid) for p, _, _ in listeners))
            time.sleep(0.5)
        loads = os.getloadavg()
        for _ in range(240):
            stored_rows = count_rows()
            if stored_rows >= live_count:
                break
            time.sleep(0.5)
        listener_cpu = sum(cpu_seconds(p.pid) - cpu_before[p.pid] for p, _, _ in listeners)
        broker_cpu = cpu_seconds(broker.pid) - broker_cpu_before
        live = stop_listeners(listeners)
        with open(pub["result"], "rb") as f:
            pub_result = pickle.load(f)
        last = max(t for t, _ in live["stored"])
        sustained = sum(n for _, n in live["stored"]) / max(1e-9, last - start_at)

        # --- Backlog: published while the listeners are stopped, then drained ---------
        backlog_frames_n = int(args.backlog * backlog_rate)
        backlog_count = backlog_frames_n * per_frame
        print(f"encoding {backlog_frames_n:,} backlog frames ...", flush=True)
        stamp_base = time.time() - args.backlog - 60
        backlog_frames = build_frames(imeis, backlog_frames_n, stamp_base, backlog_rate, per_frame)
        accept_started = time.time()
        pub2 = publish(port, backlog_frames, time.time(), 1e9, tmp)
        pub2["process"].join()
        accept_s = time.time() - accept_started
        with open(pub2["result"], "rb") as f:
            accepted = pickle.load(f)["acked"]
        broker_rss = rss_mb(broker.pid)
        drain_started = time.time()
        drainers = start_listeners(port, args.listeners, tmp, "drain")
        peak_drain = 0.0
        target = stored_rows + backlog_count
        while True:
            peak_drain = max(peak_drain, sum(rss_mb(p.pid) for p, _, _ in drainers))
            n = count_rows()
            if n >= target or time.time() - drain_started > 600:
                break
            time.sleep(0.5)
        drain_seconds = time.time() - drain_started
        drained = n - stored_rows
        drain = stop_listeners(drainers)
        work = worker_memory(args.worker_rollups)

        plain = plain_bulk_insert(frames)
        enqueue = enqueue_cost(frames)
    finally:
        broker.terminate()
        broker.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')

    delays = live["delays"]
    n = args.listeners
    print()
    print(
        f"{os.cpu_count()} cores; load average during the live phase "
        f"{loads[0]:.2f} {loads[1]:.2f} {loads[2]:.2f}; {args.vehicles:,} vehicles; "
        f"{per_frame}-record Codec 8E frames; {n} listener(s)"
        + (" in one shared subscription" if n > 1 else "")
    )
    print(
        f"Live phase: published {live_count:,} records in {live_frames:,} frames at "
        f"{args.rate:,.0f} records/s ({frame_rate:,.0f} messages/s) for {args.seconds:.0f} s"
    )
    print(f"  publisher at most {pub_result['max_behind']:.2f} s behind its schedule")
    print(f"  stored {stored_rows:,} rows; sustained {sustained:,.0f} records/s")
    print(
        f"  publish -> stored delay per frame: p50 {percentile(delays, 50):.3f} s, "
        f"p99 {percentile(delays, 99):.3f} s, max {max(delays):.3f} s"
    )
    print(
        f"  CPU: listeners {listener_cpu:.1f} s ({1000 * listener_cpu / live_count:.3f} ms per "
        f"record), mosquitto {broker_cpu:.1f} s; listeners' RSS peak {peak_live:.0f} MB (sum)"
    )
    print(
        f"Backlog phase: {backlog_count:,} records ({args.backlog:.0f} s of traffic) published "
        f"while the listeners were stopped; the broker accepted {accepted:,} frames in "
        f"{accept_s:.1f} s (RSS {broker_rss:.0f} MB)"
    )
    print(
        f"  drained {drained:,} in {drain_seconds:.1f} s = {drained / drain_seconds:,.0f} "
        f"records/s; listeners' RSS peak {peak_drain:.0f} MB (sum of {n}); at most "
        f"{drain['waiting']:,} messages waiting in one listener"
    )
    print(
        f"Worker after the backlog: the alert check over every vehicle and "
        f"{work['jobs'] - 1:,} vehicles' rollups, {work['jobs']:,} jobs in "
        f"{work['seconds']:.1f} s; RSS peak: worker {work['worker']:.0f} MB, "
        f"work horse {work['horse']:.0f} MB"
    )
    print(f"Baseline, same rows, same run: plain COPY {plain:,.0f} rows/s")
    print(f"  end to end sustained / plain COPY = {sustained / plain:.3f}")
    print(f"  drain / plain COPY = {drained / drain_seconds / plain:.3f}")
    print(
        f"Queue alternative: serialise + enqueue a 2,000-row batch on RQ: "
        f"{enqueue * 1000:.1f} ms (before any worker has written it)"
    )


if __name__ == "__main__":
    main()
