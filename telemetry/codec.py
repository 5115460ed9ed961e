"""Teltonika AVL codecs: a strict decoder and a Codec 8 Extended encoder.

Decodes Codec 8 (0x08), Codec 8 Extended (0x8E) and Codec 16 (0x10) AVL data, bare or in
the TCP wrapper (preamble, length, CRC) or in a UDP datagram, and Codec JSON payloads.
Anything malformed raises `FrameError` with a one-line reason for the logs; no other
exception escapes a decoder, whatever the bytes. The wire format is described in the
domain note `telemetry-teltonika.md`; all integers are big-endian.

Also: the IMEI handshake and acknowledgement values of the TCP and UDP sessions.
"""

from __future__ import annotations

import json
import math
import re
import struct
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from telemetry.io_elements import (
    IO_ELEMENTS_BY_ID,
    SIGNED_IO_IDS,
    FieldValue,
    named_fields,
    to_signed,
)

Buffer = bytes | bytearray | memoryview

MAX_AVL_PACKET_SIZE = 1280
"""Largest data field (codec id .. second record count) a TCP frame may declare."""

DEFAULT_NOT_BEFORE = datetime(2015, 1, 1, tzinfo=UTC)
"""Records stamped earlier than this are rejected (a zero or unset device clock)."""

DEFAULT_MAX_AHEAD = timedelta(days=1)
"""Records stamped further than this ahead of `now` are rejected."""

IMEI_ACCEPT = b"\x01"
IMEI_REJECT = b"\x00"
KEEPALIVE = b"\xff"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_DEGREE = 10_000_000
_LON_LIMIT = 180 * _DEGREE
_LAT_LIMIT = 90 * _DEGREE
_MIN_AVL_DATA = 3  # codec id, record count, record count


class FrameError(ValueError):
    """Bytes the decoder rejects. `str(error)` is a short English reason for the logs."""


class Codec(StrEnum):
    CODEC_8 = "8"
    CODEC_8E = "8E"
    CODEC_16 = "16"
    JSON = "JSON"


@dataclass(slots=True)
class AvlRecord:
    """One AVL record: a position fix (or the last one, repeated) and its IO values.

    `io` holds every IO element as sent: an int (unsigned unless the id is known to be
    signed) or bytes for a variable-length value. `fields` holds the known ids named and
    scaled (see `telemetry.io_elements`), computed on first use. `generation_type` is
    only sent by Codec 16.

    Treat a record as immutable. It is a plain (not frozen) slots dataclass because a
    frozen one sets each attribute through `object.__setattr__`, which made building
    records a sixth of the decoder's time.
    """

    timestamp: datetime
    timestamp_ms: int
    priority: int
    longitude: float
    latitude: float
    altitude: int
    angle: int
    satellites: int
    speed: int
    event_id: int
    io: dict[int, int | bytes]
    position_valid: bool
    generation_type: int | None = None
    _fields: dict[str, FieldValue] | None = field(default=None, repr=False, compare=False)

    @property
    def fields(self) -> dict[str, FieldValue]:
        """The named, scaled values of the known IO ids (computed once, on first use)."""
        if self._fields is None:
            self._fields = named_fields(self.io)
        return self._fields


@dataclass(frozen=True, slots=True)
class AvlPacket:
    """The records of one frame. Acknowledge with `tcp_ack(len(packet.records))`."""

    codec: Codec
    records: tuple[AvlRecord, ...]


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    """A UDP AVL datagram: the channel header, the device's IMEI and its AVL packet."""

    packet_id: int
    packet_type: int
    avl_packet_id: int
    imei: str
    packet: AvlPacket


# --- CRC-16/IBM (ARC): reflected polynomial 0xA001, init 0, no final xor -----------------


def _crc_byte_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC8 = _crc_byte_table()


def _crc_two_zero_bytes(register: int) -> int:
    register = (register >> 8) ^ _CRC8[register & 0xFF]
    return (register >> 8) ^ _CRC8[register & 0xFF]


# With a 16-bit register, two bytes b0, b1 update it as one lookup:
# crc' = Z(crc ^ (b0 | b1 << 8)) where Z runs the register over two zero bytes. Z is
# linear, so its 65,536 entries are built from two 256-entry halves.
_LOW = [_crc_two_zero_bytes(low) for low in range(256)]
_HIGH = [_crc_two_zero_bytes(high << 8) for high in range(256)]
_CRC16 = [_LOW[low] ^ _HIGH[high] for high in range(256) for low in range(256)]
_LITTLE_ENDIAN = sys.byteorder == "little"


def crc16_ibm(data: Buffer) -> int:
    """CRC-16/IBM of `data`, as Teltonika computes it over codec id .. second count."""
    view = memoryview(data).cast("B")
    even = len(view) & ~1
    table = _CRC16
    crc = 0
    if even:
        words: Iterable[int] = (
            view[:even].cast("H")
            if _LITTLE_ENDIAN
            else struct.unpack(f"<{even // 2}H", view[:even])
        )
        for word in words:
            crc = table[crc ^ word]
    if even != len(view):
        crc = (crc >> 8) ^ _CRC8[(crc ^ view[even]) & 0xFF]
    return crc


# --- Record layouts ------------------------------------------------------------------------

# timestamp, priority, longitude, latitude, altitude, angle, satellites, speed, then the
# IO header: event id and total count (Codec 8: u8 u8; 8E: u16 u16; 16: u16, generation
# type u8, u8).
_HEADER_8 = struct.Struct(">QBiihHBHBB")
_HEADER_8E = struct.Struct(">QBiihHBHHH")
_HEADER_16 = struct.Struct(">QBiihHBHHBB")
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_TWO_U16 = struct.Struct(">HH")
_TCP_HEADER = struct.Struct(">II")
_UDP_HEADER = struct.Struct(">HHBBH")
_IO_WIDTHS = ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))
_COMMAND_CODECS = frozenset({0x0C, 0x0D, 0x0E})


@dataclass(frozen=True, slots=True)
class _Layout:
    codec: Codec
    header: struct.Struct
    count: struct.Struct  # the element count of each IO group
    id_format: str  # the IO id
    variable_length: bool  # a fifth group of (id u16, length u16, bytes): 8E only
    generation_type: bool  # a byte after the event id: Codec 16 only

    @property
    def pair_sizes(self) -> tuple[int, int, int, int]:
        id_size = struct.calcsize(">" + self.id_format)
        return (id_size + 1, id_size + 2, id_size + 4, id_size + 8)


_LAYOUTS: dict[int, _Layout] = {
    0x08: _Layout(Codec.CODEC_8, _HEADER_8, _U8, "B", False, False),
    0x8E: _Layout(Codec.CODEC_8E, _HEADER_8E, _U16, "H", True, False),
    0x10: _Layout(Codec.CODEC_16, _HEADER_16, _U8, "H", False, True),
}


@lru_cache(maxsize=1024)
def _io_groups(
    count_size: int, id_format: str, n1: int, n2: int, n4: int, n8: int
) -> tuple[struct.Struct, int, int, int]:
    """A struct reading the four fixed-width IO groups at once as id, value, id, value...

    The group counts (already read) are skipped as pad bytes. Also returns where the 2-,
    4- and 8-byte values start in the unpacked tuple. Devices repeat the same IO layout
    record after record, so the cache hits almost always.
    """
    skip = f"{count_size}x"
    layout = "".join(
        skip + (id_format + value_format) * n
        for n, (_, value_format) in zip((n1, n2, n4, n8), _IO_WIDTHS, strict=True)
    )
    return struct.Struct(">" + layout), 2 * n1, 2 * (n1 + n2), 2 * (n1 + n2 + n4)


@lru_cache(maxsize=256)
def _pairs(id_format: str, value_format: str, count: int) -> struct.Struct:
    return struct.Struct(">" + (id_format + value_format) * count)


# --- Decoding ------------------------------------------------------------------------------


def _window_ms(now: datetime | None, not_before: datetime, max_ahead: timedelta) -> tuple[int, int]:
    if now is None:
        now = datetime.now(UTC)
    if now.tzinfo is None or not_before.tzinfo is None:
        raise ValueError("now and not_before must be timezone-aware")
    return (not_before - _EPOCH) // _ONE_MS, (now + max_ahead - _EPOCH) // _ONE_MS


def _iso(timestamp_ms: int) -> str:
    try:
        return (_EPOCH + timestamp_ms * _ONE_MS).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:
        return f"{timestamp_ms} ms"


def _timestamp_error(timestamp_ms: int, low_ms: int) -> FrameError:
    if timestamp_ms == 0:
        return FrameError("zero timestamp")
    if timestamp_ms < low_ms:
        return FrameError(f"timestamp {_iso(timestamp_ms)} is before {_iso(low_ms)}")
    return FrameError(f"timestamp {_iso(timestamp_ms)} is in the future")


def _position_valid(satellites: int, longitude: int, latitude: int) -> bool:
    return (
        satellites > 0
        and -_LON_LIMIT <= longitude <= _LON_LIMIT
        and -_LAT_LIMIT <= latitude <= _LAT_LIMIT
    )


def _decode_records(
    view: memoryview, layout: _Layout, count: int, low_ms: int, high_ms: int
) -> tuple[AvlRecord, ...]:
    """Decode `count` records filling `view` exactly (no codec id, counts or CRC)."""
    header = layout.header
    header_size = header.size
    count_unpack = layout.count.unpack_from
    count_size = layout.count.size
    id_format = layout.id_format
    size1, size2, size4, size8 = layout.pair_sizes
    generation = layout.generation_type
    variable_length = layout.variable_length
    records = []
    pos = 0
    for _ in range(count):
        if generation:
            (ts, priority, lon, lat, alt, angle, sats, speed, event_id, gen_type, total) = (
                header.unpack_from(view, pos)
            )
        else:
            (ts, priority, lon, lat, alt, angle, sats, speed, event_id, total) = header.unpack_from(
                view, pos
            )
            gen_type = None
        if not low_ms <= ts <= high_ms:
            raise _timestamp_error(ts, low_ms)
        pos += header_size

        # The four fixed-width groups: read the counts, then all pairs in one unpack.
        start = pos
        (n1,) = count_unpack(view, pos)
        pos += count_size + n1 * size1
        (n2,) = count_unpack(view, pos)
        pos += count_size + n2 * size2
        (n4,) = count_unpack(view, pos)
        pos += count_size + n4 * size4
        (n8,) = count_unpack(view, pos)
        pos += count_size + n8 * size8
        if pos > len(view):
            raise FrameError("truncated IO element")
        groups, start2, start4, start8 = _io_groups(count_size, id_format, n1, n2, n4, n8)
        flat = groups.unpack_from(view, start)
        pairs = iter(flat)
        io: dict[int, int | bytes] = dict(zip(pairs, pairs, strict=True))
        for signed_id in SIGNED_IO_IDS:
            if signed_id in io:
                # The last occurrence wins, as in the dict; its index tells its width.
                at = len(flat) - 2 - 2 * flat[-2::-2].index(signed_id)
                size = 1 if at < start2 else 2 if at < start4 else 4 if at < start8 else 8
                io[signed_id] = to_signed(flat[at + 1], size)
        seen = n1 + n2 + n4 + n8

        n = 0
        if variable_length:
            (n,) = _U16.unpack_from(view, pos)
            pos += 2
            for _ in range(n):
                io_id, length = _TWO_U16.unpack_from(view, pos)
                pos += 4
                end = pos + length
                if end > len(view):
                    raise FrameError("truncated variable-length IO value")
                io[io_id] = view[pos:end].tobytes()
                pos = end
            seen += n
        if seen != total:
            raise FrameError(f"IO count mismatch: header says {total}, groups hold {seen}")
        records.append(
            AvlRecord(
                _EPOCH + ts * _ONE_MS,
                ts,
                priority,
                lon / _DEGREE,
                lat / _DEGREE,
                alt,
                angle,
                sats,
                speed,
                event_id,
                io,
                sats > 0  # inlined _position_valid: this loop is the hot path
                and -_LON_LIMIT <= lon <= _LON_LIMIT
                and -_LAT_LIMIT <= lat <= _LAT_LIMIT,
                gen_type,
            )
        )
    if pos != len(view):
        raise FrameError(f"{len(view) - pos} unexpected byte(s) after the last record")
    return tuple(records)


def _decode_avl(
    data: Buffer,
    start: int,
    end: int,
    now: datetime | None,
    not_before: datetime,
    max_ahead: timedelta,
) -> AvlPacket:
    """Decode codec id .. second record count, found at data[start:end]."""
    view = memoryview(data).cast("B")[start:end]
    if len(view) < _MIN_AVL_DATA:
        raise FrameError(f"AVL data too short: {len(view)} bytes")
    codec_id = view[0]
    layout = _LAYOUTS.get(codec_id)
    if layout is None:
        if codec_id in _COMMAND_CODECS:
            raise FrameError(f"codec 0x{codec_id:02X} is a command, not AVL data")
        raise FrameError(f"unknown codec 0x{codec_id:02X}")
    count, count_again = view[1], view[-1]
    if count != count_again:
        raise FrameError(f"record count mismatch: {count} at start, {count_again} at end")
    low_ms, high_ms = _window_ms(now, not_before, max_ahead)
    try:
        records = _decode_records(view[2:-1], layout, count, low_ms, high_ms)
    except struct.error:
        raise FrameError("truncated record") from None
    return AvlPacket(layout.codec, records)


def decode_avl_data(
    data: Buffer,
    *,
    now: datetime | None = None,
    not_before: datetime = DEFAULT_NOT_BEFORE,
    max_ahead: timedelta = DEFAULT_MAX_AHEAD,
) -> AvlPacket:
    """Decode bare AVL data: codec id, count, records, count (no wrapper, no CRC).

    Records stamped before `not_before` or more than `max_ahead` after `now` (default:
    the current time) reject the whole packet, like every other malformation.
    """
    return _decode_avl(data, 0, len(data), now, not_before, max_ahead)


def tcp_frame_length(header: Buffer, *, max_size: int = MAX_AVL_PACKET_SIZE) -> int:
    """The total length of the TCP frame that starts with these 8 (or more) bytes.

    For stream reassembly: read 8 bytes, then until the returned length is buffered.
    """
    if len(header) < _TCP_HEADER.size:
        raise FrameError(f"TCP header needs 8 bytes, got {len(header)}")
    preamble, length = _TCP_HEADER.unpack_from(header)
    if preamble != 0:
        raise FrameError(f"bad preamble 0x{preamble:08X}")
    if length < _MIN_AVL_DATA:
        raise FrameError(f"data field length {length} is too short")
    if length > max_size:
        raise FrameError(f"data field length {length} exceeds {max_size}")
    return _TCP_HEADER.size + length + _U32.size


def decode_tcp_frame(
    data: Buffer,
    *,
    now: datetime | None = None,
    not_before: datetime = DEFAULT_NOT_BEFORE,
    max_ahead: timedelta = DEFAULT_MAX_AHEAD,
    max_size: int = MAX_AVL_PACKET_SIZE,
) -> AvlPacket:
    """Decode one whole TCP frame: preamble, length, AVL data, CRC. Nothing may follow."""
    expected = tcp_frame_length(data, max_size=max_size)
    if len(data) < expected:
        raise FrameError(f"truncated frame: {len(data)} of {expected} bytes")
    if len(data) > expected:
        raise FrameError(f"{len(data) - expected} trailing bytes after the frame")
    view = memoryview(data).cast("B")
    (sent,) = _U32.unpack_from(view, expected - 4)
    computed = crc16_ibm(view[_TCP_HEADER.size : expected - 4])
    if sent != computed:
        raise FrameError(f"CRC mismatch: frame says 0x{sent:08X}, data gives 0x{computed:08X}")
    return _decode_avl(view, _TCP_HEADER.size, expected - 4, now, not_before, max_ahead)


def decode_udp(
    data: Buffer,
    *,
    now: datetime | None = None,
    not_before: datetime = DEFAULT_NOT_BEFORE,
    max_ahead: timedelta = DEFAULT_MAX_AHEAD,
) -> UdpDatagram:
    """Decode a UDP datagram: length, packet id, type, AVL packet id, IMEI, AVL data."""
    if len(data) < _UDP_HEADER.size:
        raise FrameError(f"UDP datagram too short: {len(data)} bytes")
    length, packet_id, packet_type, avl_packet_id, imei_length = _UDP_HEADER.unpack_from(data)
    if length != len(data) - 2:
        raise FrameError(f"UDP length says {length} bytes, datagram holds {len(data) - 2}")
    avl_start = _UDP_HEADER.size + imei_length
    if avl_start > len(data):
        raise FrameError("truncated IMEI")
    imei = _parse_imei(bytes(memoryview(data)[_UDP_HEADER.size : avl_start]))
    packet = _decode_avl(data, avl_start, len(data), now, not_before, max_ahead)
    return UdpDatagram(packet_id, packet_type, avl_packet_id, imei, packet)


# --- Codec JSON ----------------------------------------------------------------------------

_JSON_INTEGER = re.compile(r"-?[0-9]{1,20}")
_JSON_INT_KEYS = ("ts", "pr", "alt", "ang", "sat", "sp", "evt")


def _json_int(value: object, what: str) -> int:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _JSON_INTEGER.fullmatch(value.strip()):
        return int(value)
    raise FrameError(f"{what} is not an integer")


def _json_io_value(value: object, io_id: int) -> int | bytes:
    if isinstance(value, str) and not _JSON_INTEGER.fullmatch(value.strip()):
        return value.encode("utf-8", "surrogatepass")
    return _json_int(value, f"IO {io_id}")


def _json_latlng(value: object) -> tuple[float, float]:
    if not isinstance(value, str):
        raise FrameError("latlng is not a string")
    parts = value.split(",")
    if len(parts) != 2:
        raise FrameError("latlng is not 'lat,lng'")
    try:
        lat, lng = float(parts[0]), float(parts[1])
    except ValueError:
        raise FrameError("latlng is not 'lat,lng'") from None
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise FrameError("latlng is not finite")
    return round(lat, 7), round(lng, 7)


def decode_json(
    data: str | Buffer,
    *,
    now: datetime | None = None,
    not_before: datetime = DEFAULT_NOT_BEFORE,
    max_ahead: timedelta = DEFAULT_MAX_AHEAD,
) -> AvlPacket:
    """Decode a Codec JSON payload: `{"state": {"reported": {"ts": ..., "239": 1, ...}}}`.

    `ts` (ms) is required; `pr`, `alt`, `ang`, `sat`, `sp`, `evt` default to 0 and a
    missing `latlng` gives 0,0 marked not valid. Numeric keys are IO ids, their values
    taken as the device states them (signed ids may be negative); other keys are ignored.
    An IO value that is not an integer is kept as its UTF-8 text, in bytes.
    """
    try:
        text = data if isinstance(data, str) else bytes(data).decode()
        document: Any = json.loads(text)
    except (ValueError, RecursionError):
        raise FrameError("not a JSON document") from None
    state = document.get("state") if isinstance(document, dict) else None
    reported = state.get("reported") if isinstance(state, dict) else None
    if not isinstance(reported, dict):
        raise FrameError("JSON payload has no state.reported object")
    if "ts" not in reported:
        raise FrameError("JSON record has no ts")
    values = {key: _json_int(reported.get(key, 0), key) for key in _JSON_INT_KEYS}
    ts = values["ts"]
    low_ms, high_ms = _window_ms(now, not_before, max_ahead)
    if not low_ms <= ts <= high_ms:
        raise _timestamp_error(ts, low_ms)
    has_position = "latlng" in reported
    lat, lng = _json_latlng(reported["latlng"]) if has_position else (0.0, 0.0)
    io: dict[int, int | bytes] = {}
    for key, value in reported.items():
        if key.isascii() and key.isdigit():
            io_id = int(key) if len(key) <= 5 else 0x10000
            if io_id > 0xFFFF:
                raise FrameError(f"IO id {key} is out of range")
            io[io_id] = _json_io_value(value, io_id)
    record = AvlRecord(
        timestamp=_EPOCH + ts * _ONE_MS,
        timestamp_ms=ts,
        priority=values["pr"],
        longitude=lng,
        latitude=lat,
        altitude=values["alt"],
        angle=values["ang"],
        satellites=values["sat"],
        speed=values["sp"],
        event_id=values["evt"],
        io=io,
        position_valid=has_position
        and values["sat"] > 0
        and -180 <= lng <= 180
        and -90 <= lat <= 90,
    )
    return AvlPacket(Codec.JSON, (record,))


def decode_mqtt_payload(
    data: Buffer,
    *,
    now: datetime | None = None,
    not_before: datetime = DEFAULT_NOT_BEFORE,
    max_ahead: timedelta = DEFAULT_MAX_AHEAD,
) -> AvlPacket:
    """Decode an MQTT payload: a TCP frame (with CRC), bare AVL data, or Codec JSON.

    The three cannot be confused: a TCP frame starts with four zero bytes, AVL data with
    its codec id, and JSON with `{`.
    """
    view = memoryview(data).cast("B")
    if bytes(view[:64]).lstrip()[:1] == b"{":
        return decode_json(view, now=now, not_before=not_before, max_ahead=max_ahead)
    if view[:4] == b"\x00\x00\x00\x00":
        return decode_tcp_frame(view, now=now, not_before=not_before, max_ahead=max_ahead)
    return decode_avl_data(view, now=now, not_before=not_before, max_ahead=max_ahead)


# --- Session helpers -----------------------------------------------------------------------


def _parse_imei(raw: bytes) -> str:
    if len(raw) != 15 or not raw.isdigit():
        raise FrameError("IMEI is not 15 ASCII digits")
    return raw.decode("ascii")


def parse_imei_packet(data: Buffer) -> str:
    """The IMEI from the first packet of a TCP session: length u16 (15), ASCII digits."""
    raw = bytes(data)
    if len(raw) < 2:
        raise FrameError("IMEI packet too short")
    (length,) = _U16.unpack_from(raw)
    if length != len(raw) - 2:
        raise FrameError(f"IMEI packet says {length} bytes, holds {len(raw) - 2}")
    return _parse_imei(raw[2:])


def imei_reply(accepted: bool) -> bytes:
    """The server's one-byte answer to the IMEI packet."""
    return IMEI_ACCEPT if accepted else IMEI_REJECT


def tcp_ack(accepted: int) -> bytes:
    """The 4-byte acknowledgement of a TCP frame: the number of records accepted."""
    return _U32.pack(accepted)


def udp_ack(datagram: UdpDatagram, accepted: int) -> bytes:
    """The acknowledgement of a UDP datagram: 0005, packet id, 01, AVL packet id, count."""
    return struct.pack(">HHBBB", 5, datagram.packet_id, 1, datagram.avl_packet_id, accepted)


# --- Building records and encoding Codec 8 Extended ---------------------------------------


def make_record(
    timestamp: datetime,
    *,
    longitude: float = 0.0,
    latitude: float = 0.0,
    altitude: int = 0,
    angle: int = 0,
    satellites: int = 0,
    speed: int = 0,
    priority: int = 0,
    event_id: int = 0,
    io: Mapping[int, int | bytes] | None = None,
) -> AvlRecord:
    """A record as the decoder would return it (position on the 1e-7° grid, time in ms).

    For simulators and tests: `decode(encode_8e_frame([record]))` gives it back equal.
    """
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    if not (math.isfinite(longitude) and math.isfinite(latitude)):
        raise ValueError("longitude and latitude must be finite")
    timestamp_ms = (timestamp - _EPOCH) // _ONE_MS
    lon = round(longitude * _DEGREE)
    lat = round(latitude * _DEGREE)
    io_map: dict[int, int | bytes] = dict(io or {})
    return AvlRecord(
        timestamp=_EPOCH + timestamp_ms * _ONE_MS,
        timestamp_ms=timestamp_ms,
        priority=priority,
        longitude=lon / _DEGREE,
        latitude=lat / _DEGREE,
        altitude=altitude,
        angle=angle,
        satellites=satellites,
        speed=speed,
        event_id=event_id,
        io=io_map,
        position_valid=_position_valid(satellites, lon, lat),
    )


def _io_width(io_id: int, value: int) -> tuple[int, int]:
    """The group width for an int IO value and the unsigned value to put on the wire."""
    element = IO_ELEMENTS_BY_ID.get(io_id)
    smallest = element.size if element else 1
    for size, _ in _IO_WIDTHS:
        if size < smallest:
            continue
        if element and element.signed:
            half = 1 << (size * 8 - 1)
            if -half <= value < half:
                return size, value & ((1 << (size * 8)) - 1)
        elif 0 <= value < 1 << (size * 8):
            return size, value
    raise ValueError(f"IO {io_id} value {value} does not fit Codec 8 Extended")


def _encode_8e_record(record: AvlRecord) -> bytes:
    groups: dict[int, list[int]] = {1: [], 2: [], 4: [], 8: []}
    variable: list[bytes] = []
    for io_id, value in record.io.items():
        if not 0 <= io_id <= 0xFFFF:
            raise ValueError(f"IO id {io_id} does not fit u16")
        if isinstance(value, bytes):
            if len(value) > 0xFFFF:
                raise ValueError(f"IO {io_id} value is longer than 65535 bytes")
            variable.append(_TWO_U16.pack(io_id, len(value)) + value)
        else:
            size, wire = _io_width(io_id, value)
            groups[size] += (io_id, wire)
    parts = [
        _HEADER_8E.pack(
            record.timestamp_ms,
            record.priority,
            round(record.longitude * _DEGREE),
            round(record.latitude * _DEGREE),
            record.altitude,
            record.angle,
            record.satellites,
            record.speed,
            record.event_id,
            len(record.io),
        )
    ]
    for size, value_format in _IO_WIDTHS:
        flat = groups[size]
        parts.append(_U16.pack(len(flat) // 2))
        parts.append(_pairs("H", value_format, len(flat) // 2).pack(*flat))
    parts.append(_U16.pack(len(variable)))
    parts.extend(variable)
    return b"".join(parts)


def encode_8e_frame(records: Iterable[AvlRecord]) -> bytes:
    """A Codec 8 Extended TCP frame (preamble, length, AVL data, CRC) for these records.

    Int IO values go in the narrowest group that holds them (at least the size the IO
    table gives a known id); bytes values go in the variable-length group. Raises
    ValueError for a value that does not fit or a frame larger than 1,280 bytes.
    """
    records = tuple(records)
    if len(records) > 255:
        raise ValueError("a frame holds at most 255 records")
    try:
        body = b"".join(
            [
                bytes((0x8E, len(records))),
                *(_encode_8e_record(record) for record in records),
                bytes((len(records),)),
            ]
        )
    except (struct.error, OverflowError) as error:
        raise ValueError(f"record does not fit Codec 8 Extended: {error}") from None
    if len(body) > MAX_AVL_PACKET_SIZE:
        raise ValueError(f"AVL data of {len(body)} bytes exceeds {MAX_AVL_PACKET_SIZE}")
    return _TCP_HEADER.pack(0, len(body)) + body + _U32.pack(crc16_ibm(body))
