"""Command line for the telemetry engine: `python -m telemetry decode HEX`.

Subcommands are added with `add_parser` in `build_parser`; each one is a function taking
the parsed arguments and returning the exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from telemetry.codec import (
    AvlPacket,
    AvlRecord,
    FrameError,
    UdpDatagram,
    decode_avl_data,
    decode_json,
    decode_tcp_frame,
    decode_udp,
    imei_reply,
    parse_imei_packet,
    tcp_ack,
    udp_ack,
)

EXIT_REJECTED = 2
_CODEC_IDS = (0x08, 0x8E, 0x10)
TRANSPORTS = ("auto", "tcp", "udp", "avl", "json", "imei")


def _timestamp_iso(record: AvlRecord) -> str:
    timespec = "milliseconds" if record.timestamp_ms % 1000 else "seconds"
    return record.timestamp.isoformat(timespec=timespec).replace("+00:00", "Z")


def record_as_json(record: AvlRecord) -> dict[str, Any]:
    """A record as plain JSON values: ISO-8601 UTC time, IO ids as keys, bytes as hex."""
    document: dict[str, Any] = {
        "timestamp": _timestamp_iso(record),
        "timestamp_ms": record.timestamp_ms,
        "priority": record.priority,
        "longitude": record.longitude,
        "latitude": record.latitude,
        "altitude": record.altitude,
        "angle": record.angle,
        "satellites": record.satellites,
        "speed": record.speed,
        "event_id": record.event_id,
        "position_valid": record.position_valid,
    }
    if record.generation_type is not None:
        document["generation_type"] = record.generation_type
    document["io"] = {
        str(io_id): value.hex() if isinstance(value, bytes) else value
        for io_id, value in record.io.items()
    }
    document["fields"] = record.fields
    return document


def _packet_json(transport: str, packet: AvlPacket, ack: bytes | None) -> dict[str, Any]:
    return {
        "transport": transport,
        "codec": packet.codec.value,
        "record_count": len(packet.records),
        "ack": ack.hex().upper() if ack is not None else None,
        "records": [record_as_json(record) for record in packet.records],
    }


def _guess_transport(data: bytes) -> str:
    if data.lstrip()[:1] == b"{":
        return "json"
    if data[:4] == b"\x00\x00\x00\x00":
        return "tcp"
    if data[:1] and data[0] in _CODEC_IDS:
        return "avl"
    if len(data) == 17 and data[:2] == b"\x00\x0f":
        return "imei"
    return "udp"


def decode_command(args: argparse.Namespace) -> int:
    """Decode one frame given in hex (or a Codec JSON document) and print it as JSON."""
    text: str = args.frame.strip()
    if text.startswith("{"):
        data = text.encode()
    else:
        try:
            data = bytes.fromhex(text)
        except ValueError:
            print("error: the frame is not hexadecimal", file=sys.stderr)
            return EXIT_REJECTED
    transport = args.transport if args.transport != "auto" else _guess_transport(data)
    now: datetime | None = args.now
    try:
        document: dict[str, Any]
        if transport == "tcp":
            packet = decode_tcp_frame(data, now=now)
            document = _packet_json(transport, packet, tcp_ack(len(packet.records)))
        elif transport == "udp":
            datagram: UdpDatagram = decode_udp(data, now=now)
            ack = udp_ack(datagram, len(datagram.packet.records))
            document = _packet_json(transport, datagram.packet, ack)
            document.update(
                packet_id=datagram.packet_id,
                packet_type=datagram.packet_type,
                avl_packet_id=datagram.avl_packet_id,
                imei=datagram.imei,
            )
        elif transport == "avl":
            packet = decode_avl_data(data, now=now)
            document = _packet_json(transport, packet, tcp_ack(len(packet.records)))
        elif transport == "json":
            document = _packet_json(transport, decode_json(data, now=now), None)
        else:
            imei = parse_imei_packet(data)
            document = {"transport": "imei", "imei": imei, "accept_reply": imei_reply(True).hex()}
    except FrameError as error:
        print(f"error: rejected {transport} frame: {error}", file=sys.stderr)
        return EXIT_REJECTED
    print(json.dumps(document, indent=2))
    return 0


def _aware_datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2026-01-01T00:00:00Z")
    return moment.astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m telemetry", description="LAFA telemetry tools (Teltonika trackers)."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    decode = commands.add_parser(
        "decode",
        help="decode one frame and print it as JSON",
        description="Decode a Teltonika frame given in hex (or a Codec JSON document) and "
        "print it as JSON. Exits with status 2 and a one-line reason if it is rejected.",
    )
    decode.add_argument("frame", metavar="HEX", help="the frame in hex (spaces allowed)")
    decode.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="auto",
        help="how the frame is wrapped (default: guess from its first bytes)",
    )
    decode.add_argument(
        "--now",
        type=_aware_datetime,
        default=None,
        help="the current time for the timestamp sanity check (default: the clock)",
    )
    decode.set_defaults(handler=decode_command)

    listen = commands.add_parser(
        "listen",
        help="the MQTT listener: store the trackers' frames in PostgreSQL",
        description="Subscribe to {root}/+/data (QoS 1, persistent MQTT 5 session), store "
        "each batch and acknowledge it after the commit. Settings: MQTT_URL, DATABASE_URL, "
        "TELEMETRY_TOPIC_ROOT, TELEMETRY_SHARED_GROUP, TELEMETRY_CLIENT_ID.",
    )
    listen.add_argument("--batch-size", type=int, default=2000, help="messages per batch")
    listen.add_argument(
        "--batch-wait", type=float, default=0.2, help="seconds to wait for a batch to fill"
    )
    listen.add_argument(
        "--instance",
        type=int,
        default=None,
        help="this listener's number among several in TELEMETRY_SHARED_GROUP: its client id "
        "(and so its broker session) is lafa-telemetry-N-<host>",
    )
    listen.set_defaults(handler=listen_command)

    gateway = commands.add_parser(
        "gateway",
        help="the TCP gateway: Teltonika TCP sessions republished on MQTT",
        description="Accept Teltonika TCP sessions (IMEI handshake, frames, keep-alives), "
        "publish each valid frame on {root}/{imei}/data with QoS 1 and acknowledge it to "
        "the device only after the broker has. Settings: MQTT_URL, DATABASE_URL, "
        "TELEMETRY_TOPIC_ROOT.",
    )
    gateway.add_argument("--bind", default="0.0.0.0", help="address to listen on")  # noqa: S104
    gateway.add_argument("--port", type=int, default=5027, help="TCP port (default 5027)")
    gateway.set_defaults(handler=gateway_command)
    return parser


def _logging() -> None:
    import logging

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _database_engine() -> Any:
    from portal.config import checked_config
    from portal.db import make_engine

    # The listener and the gateway refuse development defaults outside development.
    return make_engine(checked_config()["DATABASE_URL"], pool_size=2)


def listen_command(args: argparse.Namespace) -> int:
    """Run the MQTT listener until SIGTERM."""
    from telemetry.listener import run_listener
    from telemetry.settings import mqtt_settings

    _logging()
    run_listener(
        mqtt_settings(),
        _database_engine(),
        instance=args.instance,
        batch_size=args.batch_size,
        batch_wait=args.batch_wait,
    )
    return 0


def gateway_command(args: argparse.Namespace) -> int:
    """Run the TCP gateway until SIGTERM."""
    from telemetry.gateway import run_gateway
    from telemetry.settings import mqtt_settings

    _logging()
    run_gateway(mqtt_settings(), _database_engine(), host=args.bind, port=args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
