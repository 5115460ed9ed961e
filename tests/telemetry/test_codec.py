"""The Teltonika codecs against the shared test vectors, hostile bytes and the encoder."""

from __future__ import annotations

import contextlib
import json
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from telemetry import (
    AvlRecord,
    Codec,
    FrameError,
    crc16_ibm,
    decode_avl_data,
    decode_json,
    decode_mqtt_payload,
    decode_tcp_frame,
    decode_udp,
    encode_8e_frame,
    imei_reply,
    make_record,
    parse_imei_packet,
    tcp_ack,
    tcp_frame_length,
    udp_ack,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS_PATH = REPO_ROOT.parent / "shared" / "domain" / "teltonika-vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text())

NOW = datetime(2026, 6, 1, tzinfo=UTC)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Wiki Codec 16 example (two records, generation type 5) and wiki Codec 8 example 3
# (two records), both quoted by the wiki and by several open-source decoders.
WIKI_CODEC16 = bytes.fromhex(
    "000000000000005F10020000016BDBC7833000000000000000000000000000000000000B"
    "05040200010000030002000B00270042563A00000000016BDBC787180000000000000000"
    "0000000000000000000B05040200010000030002000B00260042563A00000200005FB3"
)
WIKI_CODEC8_TWO_RECORDS = bytes.fromhex(
    "000000000000004308020000016B40D57B480100000000000000000000000000000001010101"
    "000000000000016B40D5C1980100000000000000000000000000000001010101010000000200"
    "00252C"
)


def vector(name: str) -> dict[str, Any]:
    return next(v for v in VECTORS if v["name"] == name)


def frame_of(name: str) -> bytes:
    return bytes.fromhex(vector(name)["hex"])


def wrap(avl_data: bytes) -> bytes:
    """A TCP frame around AVL data, with a correct length and CRC."""
    return struct.pack(">II", 0, len(avl_data)) + avl_data + struct.pack(">I", crc16_ibm(avl_data))


def avl_data_of(frame: bytes) -> bytes:
    return frame[8:-4]


def crc_bitwise(data: bytes) -> int:
    """CRC-16/IBM one bit at a time, straight from its definition."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def ev_record(**overrides: Any) -> AvlRecord:
    values: dict[str, Any] = {
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "longitude": -99.1332,
        "latitude": 19.4326,
        "altitude": 2240,
        "angle": 90,
        "satellites": 12,
        "speed": 35,
        "priority": 1,
        "event_id": 239,
        "io": {239: 1, 240: 1, 152: 78, 66: 13650, 16: 123456789, 304: 182000, 916: 1},
    }
    values.update(overrides)
    return make_record(**values)


# --- The shared vectors --------------------------------------------------------------------


def assert_records_match(records: tuple[AvlRecord, ...], expected: list[dict[str, Any]]) -> None:
    assert len(records) == len(expected)
    for record, want in zip(records, expected, strict=True):
        assert record.timestamp_ms == want["timestamp_ms"]
        assert record.timestamp == datetime.fromisoformat(want["timestamp_utc"])
        assert record.timestamp.tzinfo is UTC
        assert record.priority == want["priority"]
        assert record.longitude == want["longitude"]
        assert record.latitude == want["latitude"]
        assert record.altitude == want["altitude"]
        assert record.angle == want["angle"]
        assert record.satellites == want["satellites"]
        assert record.speed == want["speed"]
        assert record.event_id == want["event_io_id"]
        assert record.io == {int(k): v for k, v in want["io"].items()}
        assert len(record.io) == want["io_total"]
        assert record.position_valid is (want["satellites"] > 0)


@pytest.mark.parametrize("case", VECTORS, ids=[v["name"] for v in VECTORS])
def test_shared_vector(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["hex"])
    expected = case["expected"]
    if "error" in expected:
        assert expected["error"] == "crc_mismatch"
        with pytest.raises(FrameError, match="CRC mismatch"):
            decode_tcp_frame(data, now=NOW)
        return
    if case["transport"] == "imei":
        assert parse_imei_packet(data) == expected["imei"]
        assert imei_reply(True).hex() == expected["reply_accept"]
        assert imei_reply(False).hex() == expected["reply_reject"]
        return
    if case["transport"] == "udp":
        datagram = decode_udp(data, now=NOW)
        assert len(data) - 2 == expected["udp_length"]
        assert f"{datagram.packet_id:04X}" == expected["packet_id"]
        assert datagram.packet_type == expected["packet_type"]
        assert datagram.avl_packet_id == expected["avl_packet_id"]
        assert datagram.imei == expected["imei"]
        assert expected["crc"] is None
        packet = datagram.packet
        ack = udp_ack(datagram, len(packet.records))
    else:
        packet = decode_tcp_frame(data, now=NOW)
        assert len(data) - 12 == expected["data_field_length"]
        assert f"{crc16_ibm(avl_data_of(data)):08X}" == expected["crc"] == data[-4:].hex().upper()
        ack = tcp_ack(len(packet.records))
    assert packet.codec == Codec(case["codec"])
    assert len(packet.records) == expected["record_count"]
    assert ack.hex().upper() == expected["ack"]
    assert_records_match(packet.records, expected["records"])


def test_mexico_city_vector_named_fields() -> None:
    (record,) = decode_tcp_frame(frame_of("synthetic_codec8_mexico_city_ev"), now=NOW).records
    assert record.longitude < 0
    assert record.fields == {
        "ignition": True,
        "movement": True,
        "gsm_signal": 4,
        "external_voltage_mv": 13650,
        "tracker_battery_voltage_mv": 4100,
        "total_odometer_m": 123456789,
        "hv_battery_soc_pct": 78,
    }


def test_wiki_codec16_two_records_with_generation_type() -> None:
    packet = decode_tcp_frame(WIKI_CODEC16, now=NOW)
    assert packet.codec is Codec.CODEC_16
    first, second = packet.records
    assert first.timestamp_ms == 1562760414000
    assert first.event_id == 11
    assert first.generation_type == 5
    assert first.io == {1: 0, 3: 0, 11: 39, 66: 22074}
    assert second.io[11] == 38
    assert tcp_ack(len(packet.records)) == b"\x00\x00\x00\x02"


def test_wiki_codec8_two_records() -> None:
    packet = decode_tcp_frame(WIKI_CODEC8_TWO_RECORDS, now=NOW)
    assert [r.io for r in packet.records] == [{1: 0}, {1: 1}]
    assert [r.generation_type for r in packet.records] == [None, None]


def test_codec8e_variable_length_and_signed_values() -> None:
    # One 8E record built by hand, independently of the encoder (spaces are ignored).
    avl_data = bytes.fromhex(
        "8E 01"  # codec, record count
        " 0000019B76DAA800 00"  # 2026-01-01T00:00:00Z, priority
        " C4E97960 0B952DF0"  # longitude -99.1332, latitude 19.4326
        " FF9C 0000 00 0000"  # altitude -100 m, angle, no satellites, speed
        " 0000 0003"  # event id, total IO
        " 0001 0398 01"  # 1-byte group: 920 = 1 (an unknown id, kept raw)
        " 0001 0097 FFCE"  # 2-byte group: 151 battery temperature = -50 (x0.1 °C)
        " 0000 0000"  # no 4- or 8-byte values
        " 0001 0100 0003 56494E"  # variable length: 256 = b"VIN"
        " 01"  # record count
    )
    (record,) = decode_avl_data(avl_data, now=NOW).records
    assert record.altitude == -100
    assert record.io == {920: 1, 151: -50, 256: b"VIN"}
    assert record.fields == {"battery_temperature_c": -5.0}
    assert record.position_valid is False
    assert decode_tcp_frame(wrap(avl_data), now=NOW).records == (record,)


def test_record_without_fix_is_kept_and_marked_not_valid() -> None:
    record = ev_record(satellites=0, angle=0, speed=0)
    (decoded,) = decode_tcp_frame(encode_8e_frame([record]), now=NOW).records
    assert decoded.position_valid is False
    assert decoded.longitude == -99.1332


def test_zero_record_frame_is_accepted_and_acknowledged_with_zero() -> None:
    packet = decode_tcp_frame(wrap(b"\x8e\x00\x00"), now=NOW)
    assert packet.records == ()
    assert tcp_ack(len(packet.records)) == b"\x00\x00\x00\x00"


def test_mqtt_payload_accepts_wrapped_bare_and_json() -> None:
    frame = frame_of("synthetic_codec8_mexico_city_ev")
    wrapped = decode_mqtt_payload(frame, now=NOW)
    assert decode_mqtt_payload(avl_data_of(frame), now=NOW) == wrapped
    document = {"state": {"reported": {"ts": 1767225600000, "latlng": "19.4326,-99.1332"}}}
    assert decode_mqtt_payload(json.dumps(document).encode(), now=NOW).codec is Codec.JSON


# --- Codec JSON ----------------------------------------------------------------------------


def test_codec_json_payload() -> None:
    payload = {
        "state": {
            "reported": {
                "ts": 1767225600000,
                "pr": 1,
                "latlng": "19.432600,-99.133200",
                "alt": "2240",
                "ang": 90,
                "sat": 12,
                "sp": 35,
                "evt": 239,
                "239": 1,
                "152": 78,
                "151": -50,
                "256": "WVWZZZ1JZXW000001",
                "imei": "ignored",
            }
        }
    }
    packet = decode_json(json.dumps(payload), now=NOW)
    assert packet.codec is Codec.JSON
    (record,) = packet.records
    assert record.timestamp == datetime(2026, 1, 1, tzinfo=UTC)
    assert (record.latitude, record.longitude, record.altitude) == (19.4326, -99.1332, 2240)
    assert record.position_valid is True
    assert record.io == {239: 1, 152: 78, 151: -50, 256: b"WVWZZZ1JZXW000001"}
    assert record.fields == {
        "hv_battery_soc_pct": 78,
        "ignition": True,
        "battery_temperature_c": -5.0,
    }


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not a JSON document"),
        (b"\xff\xfe{", "not a JSON document"),
        (b"[1, 2]", "no state.reported"),
        (b'{"state": {"reported": {"pr": 1}}}', "no ts"),
        (b'{"state": {"reported": {"ts": 0}}}', "zero timestamp"),
        (b'{"state": {"reported": {"ts": "soon"}}}', "ts is not an integer"),
        (b'{"state": {"reported": {"ts": 1767225600000, "latlng": "19.4"}}}', "latlng"),
        (b'{"state": {"reported": {"ts": 1767225600000, "66": [1]}}}', "IO 66"),
        (b'{"state": {"reported": {"ts": 1767225600000, "70000": 1}}}', "out of range"),
    ],
)
def test_codec_json_rejections(payload: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        decode_json(payload, now=NOW)


# --- Rejections ----------------------------------------------------------------------------


def test_every_truncation_of_a_valid_frame_is_rejected() -> None:
    for name in ("wiki_codec8e_ex1_tcp", "synthetic_codec8_mexico_city_ev"):
        frame = frame_of(name)
        for length in range(len(frame)):
            with pytest.raises(FrameError):
                decode_tcp_frame(frame[:length], now=NOW)
    udp = frame_of("wiki_codec8_udp")
    for length in range(len(udp)):
        with pytest.raises(FrameError):
            decode_udp(udp[:length], now=NOW)


def test_every_truncation_of_bare_avl_data_is_rejected() -> None:
    avl_data = avl_data_of(encode_8e_frame([ev_record(io={256: b"VIN", 239: 1})]))
    for length in range(len(avl_data)):
        with pytest.raises(FrameError):
            decode_avl_data(avl_data[:length], now=NOW)


def test_records_cut_short_inside_a_consistent_frame_are_rejected() -> None:
    # Length, counts and CRC all agree, but the record itself is cut: the decoder must
    # notice from the record structure, not from the wrapper.
    avl_data = avl_data_of(frame_of("synthetic_codec8_mexico_city_ev"))
    for cut in range(3, len(avl_data) - 1):
        with pytest.raises(FrameError):
            decode_tcp_frame(wrap(avl_data[:cut] + avl_data[-1:]), now=NOW)


def test_trailing_bytes_are_rejected() -> None:
    frame = frame_of("wiki_codec8_ex1_tcp")
    with pytest.raises(FrameError, match="trailing"):
        decode_tcp_frame(frame + b"\x00", now=NOW)
    avl_data = avl_data_of(frame)
    with pytest.raises(FrameError, match="after the last record"):
        decode_avl_data(avl_data[:-1] + b"\x00" + avl_data[-1:], now=NOW)


def test_record_count_mismatch_is_rejected() -> None:
    avl_data = bytearray(avl_data_of(frame_of("wiki_codec8_ex1_tcp")))
    avl_data[-1] = 2
    with pytest.raises(FrameError, match="record count mismatch: 1 at start, 2 at end"):
        decode_tcp_frame(wrap(bytes(avl_data)), now=NOW)


def test_more_records_announced_than_sent_is_rejected() -> None:
    avl_data = bytearray(avl_data_of(frame_of("wiki_codec8_ex1_tcp")))
    avl_data[1] = avl_data[-1] = 2
    with pytest.raises(FrameError, match="truncated"):
        decode_tcp_frame(wrap(bytes(avl_data)), now=NOW)


def test_io_total_mismatch_is_rejected() -> None:
    avl_data = bytearray(avl_data_of(frame_of("wiki_codec8_ex1_tcp")))
    avl_data[2 + 24 + 1] = 6  # the record's total IO count: 5 in the wiki sample
    with pytest.raises(FrameError, match="IO count mismatch"):
        decode_tcp_frame(wrap(bytes(avl_data)), now=NOW)


@pytest.mark.parametrize(
    ("codec_id", "reason"),
    [(0x09, "unknown codec 0x09"), (0x0C, "command"), (0x00, "unknown codec 0x00")],
)
def test_unknown_codec_is_rejected(codec_id: int, reason: str) -> None:
    avl_data = bytearray(avl_data_of(frame_of("wiki_codec8_ex1_tcp")))
    avl_data[0] = codec_id
    with pytest.raises(FrameError, match=reason):
        decode_tcp_frame(wrap(bytes(avl_data)), now=NOW)


def test_wrapper_errors_are_rejected() -> None:
    frame = bytearray(frame_of("wiki_codec8_ex1_tcp"))
    with pytest.raises(FrameError, match="preamble"):
        decode_tcp_frame(b"\x00\x00\x00\x01" + frame[4:], now=NOW)
    frame[7] += 1  # the length now claims one byte more than was sent
    with pytest.raises(FrameError, match="truncated frame"):
        decode_tcp_frame(bytes(frame), now=NOW)
    with pytest.raises(FrameError, match="exceeds 1280"):
        decode_tcp_frame(struct.pack(">II", 0, 1281) + bytes(1285), now=NOW)
    crc_with_high_bytes = frame_of("wiki_codec8_ex1_tcp")[:-4] + bytes.fromhex("0001C7CF")
    with pytest.raises(FrameError, match="CRC mismatch"):
        decode_tcp_frame(crc_with_high_bytes, now=NOW)


def test_tcp_frame_length_for_stream_reassembly() -> None:
    frame = frame_of("wiki_codec8e_ex1_tcp")
    assert tcp_frame_length(frame[:8]) == len(frame)
    with pytest.raises(FrameError, match="needs 8 bytes"):
        tcp_frame_length(frame[:7])


def test_zero_timestamp_is_rejected() -> None:
    frame = encode_8e_frame([ev_record(timestamp=datetime(1970, 1, 1, tzinfo=UTC))])
    with pytest.raises(FrameError, match="zero timestamp"):
        decode_tcp_frame(frame, now=NOW)


def test_timestamp_before_2015_is_rejected_unless_the_window_allows_it() -> None:
    frame = encode_8e_frame([ev_record(timestamp=datetime(2014, 12, 31, tzinfo=UTC))])
    with pytest.raises(FrameError, match="before 2015-01-01"):
        decode_tcp_frame(frame, now=NOW)
    not_before = datetime(2010, 1, 1, tzinfo=UTC)
    assert decode_tcp_frame(frame, now=NOW, not_before=not_before).records


def test_future_timestamp_is_rejected_beyond_the_allowed_lead() -> None:
    frame = encode_8e_frame([ev_record(timestamp=NOW + timedelta(hours=23))])
    assert decode_tcp_frame(frame, now=NOW).records
    late_frame = encode_8e_frame([ev_record(timestamp=NOW + timedelta(days=1, seconds=1))])
    with pytest.raises(FrameError, match="in the future"):
        decode_tcp_frame(late_frame, now=NOW)
    assert decode_tcp_frame(late_frame, now=NOW, max_ahead=timedelta(days=2)).records


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware") as caught:
        decode_tcp_frame(frame_of("wiki_codec8_ex1_tcp"), now=datetime(2026, 1, 1))
    assert not isinstance(caught.value, FrameError)


# --- CRC -----------------------------------------------------------------------------------


def test_crc_check_value() -> None:
    assert crc16_ibm(b"123456789") == 0xBB3D  # the CRC-16/ARC catalogue check value
    assert crc16_ibm(b"") == 0


@given(st.binary(max_size=2000))
@FUZZ
def test_crc_matches_the_bitwise_definition(data: bytes) -> None:
    assert crc16_ibm(data) == crc_bitwise(data)


# --- Session helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "packet",
    [
        "",
        "000F",
        "000F33353633303730343234343130",  # 14 digits
        "000E333536333037303432343431303133",  # length field disagrees
        "000F33353633303730343234343130313334",  # 16 digits
        "000F33353633303730343234343130FF",
        "000F3335363330373034323434313A33",  # not a digit
    ],
)
def test_bad_imei_packets_are_rejected(packet: str) -> None:
    with pytest.raises(FrameError):
        parse_imei_packet(bytes.fromhex(packet))


def test_acknowledgements() -> None:
    assert tcp_ack(0) == b"\x00\x00\x00\x00"
    assert tcp_ack(17) == b"\x00\x00\x00\x11"
    assert imei_reply(True) == b"\x01"
    assert imei_reply(False) == b"\x00"


def test_udp_datagram_with_a_bad_length_or_imei_is_rejected() -> None:
    udp = bytearray(frame_of("wiki_codec8_udp"))
    with pytest.raises(FrameError, match="UDP length"):
        decode_udp(bytes(udp) + b"\x00", now=NOW)
    udp[8] = ord("A")
    with pytest.raises(FrameError, match="IMEI"):
        decode_udp(bytes(udp), now=NOW)


# --- Encoder -------------------------------------------------------------------------------


def test_encoder_lays_out_codec8e_as_the_wiki_describes() -> None:
    record = ev_record(io={239: 1, 66: 13650, 16: 123456789, 256: b"VIN"})
    avl_data = bytes.fromhex(
        "8E 01"  # codec, record count
        " 0000019B76DAA800 01 C4E97960 0B952DF0 08C0 005A 0C 0023"  # time .. speed
        " 00EF 0004"  # event id 239, 4 IO elements
        " 0001 00EF 01"  # 1 byte: ignition (its table size)
        " 0001 0042 3552"  # 2 bytes: external voltage 13,650 mV
        " 0001 0010 075BCD15"  # 4 bytes: odometer 123,456,789 m
        " 0000"  # no 8-byte values
        " 0001 0100 0003 56494E"  # variable length: 256 = b"VIN"
        " 01"  # record count
    )
    assert encode_8e_frame([record]) == wrap(avl_data)


def test_encoder_round_trips_an_ev_frame() -> None:
    records = [
        ev_record(timestamp=datetime(2026, 1, 1, 0, 0, i, 250_000, tzinfo=UTC), speed=i)
        for i in range(5)
    ]
    records.append(ev_record(io={151: -50, 2: 2**64 - 1, 256: b"", 257: b"\x00\xff"}))
    packet = decode_tcp_frame(encode_8e_frame(records), now=NOW)
    assert packet.codec is Codec.CODEC_8E
    assert packet.records == tuple(records)
    assert packet.records[0].timestamp_ms % 1000 == 250
    assert packet.records[-1].fields["battery_temperature_c"] == -5.0


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ([ev_record(io={5000: -1})], "does not fit"),
        ([ev_record(io={151: 2**63})], "does not fit"),
        ([ev_record(io={2**16: 1})], "u16"),
        ([ev_record(altitude=40000)], "does not fit"),
        ([ev_record(longitude=500.0)], "does not fit"),
        ([ev_record()] * 256, "255 records"),
        ([ev_record(io={300: bytes(1300)})], "exceeds 1280"),
    ],
)
def test_encoder_refuses_what_codec8e_cannot_carry(records: list[AvlRecord], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode_8e_frame(records)


def test_make_record_refuses_naive_times_and_non_finite_positions() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_record(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="finite"):
        make_record(NOW, longitude=float("nan"))


known_ids = st.sampled_from([239, 240, 21, 66, 67, 113, 16, 24, 181, 182, 87, 152, 304, 914])
io_maps = st.dictionaries(
    st.one_of(known_ids, st.integers(0, 0xFFFF).filter(lambda i: i != 151)),
    st.one_of(st.integers(0, 2**64 - 1), st.binary(max_size=16)),
    max_size=6,
) | st.builds(
    lambda io, temperature: {**io, 151: temperature},
    st.dictionaries(known_ids, st.integers(0, 255), max_size=4),
    st.integers(-(2**63), 2**63 - 1),
)
records = st.builds(
    make_record,
    st.datetimes(
        min_value=datetime(2015, 1, 1), max_value=datetime(2026, 5, 31), timezones=st.just(UTC)
    ),
    longitude=st.floats(-180, 180),
    latitude=st.floats(-90, 90),
    altitude=st.integers(-(2**15), 2**15 - 1),
    angle=st.integers(0, 359),
    satellites=st.integers(0, 255),
    speed=st.integers(0, 0xFFFF),
    priority=st.integers(0, 2),
    event_id=st.integers(0, 0xFFFF),
    io=io_maps,
)


@given(st.lists(records, max_size=4))
@FUZZ
def test_encoder_round_trip_property(batch: list[AvlRecord]) -> None:
    frame = encode_8e_frame(batch)
    assert decode_tcp_frame(frame, now=NOW).records == tuple(batch)
    assert decode_mqtt_payload(avl_data_of(frame), now=NOW).records == tuple(batch)


# --- Fuzzing: hostile bytes raise FrameError and nothing else ------------------------------

VALID_FRAMES = [
    frame_of(v["name"]) for v in VECTORS if v["transport"] == "tcp" and "error" not in v["expected"]
] + [
    WIKI_CODEC16,
    WIKI_CODEC8_TWO_RECORDS,
    encode_8e_frame([ev_record(io={151: -5, 256: b"VIN", 2: 2**40}), ev_record()]),
]


def decode_anything(data: bytes) -> None:
    """Every decoder on the same bytes: each may accept them or raise FrameError only."""
    for decode in (decode_tcp_frame, decode_avl_data, decode_udp, decode_mqtt_payload):
        with contextlib.suppress(FrameError):
            decode(data, now=NOW)
    with contextlib.suppress(FrameError):
        parse_imei_packet(data)


@given(st.binary(max_size=1400))
@FUZZ
def test_fuzz_random_bytes(data: bytes) -> None:
    decode_anything(data)


@given(st.sampled_from([0x08, 0x8E, 0x10]), st.integers(0, 3), st.binary(max_size=600))
@FUZZ
def test_fuzz_random_records_behind_a_valid_wrapper(
    codec_id: int, count: int, records: bytes
) -> None:
    # A correct length, counts, CRC and first timestamp take random bytes past every
    # wrapper check into the record and IO parsing.
    if len(records) >= 8:
        records = struct.pack(">Q", 1767225600000) + records[8:]
    with contextlib.suppress(FrameError):
        decode_tcp_frame(wrap(bytes([codec_id, count]) + records + bytes([count])), now=NOW)


mutations = st.lists(
    st.tuples(st.sampled_from(["flip", "insert", "delete"]), st.integers(0), st.integers(0, 255)),
    min_size=1,
    max_size=4,
)


@given(st.sampled_from(VALID_FRAMES), mutations, st.booleans())
@FUZZ
def test_fuzz_mutated_valid_frames(
    frame: bytes, changes: list[tuple[str, int, int]], fix_crc: bool
) -> None:
    data = bytearray(frame)
    for kind, where, byte in changes:
        at = where % (len(data) + 1)
        if kind == "insert":
            data.insert(at, byte)
        elif at < len(data):
            if kind == "flip":
                data[at] ^= byte or 1
            else:
                del data[at]
    mutated = bytes(data)
    assume(mutated != frame)
    decode_anything(mutated)
    if fix_crc and len(mutated) >= 12:
        with contextlib.suppress(FrameError):
            decode_tcp_frame(wrap(mutated[8:-4]), now=NOW)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
reported = st.dictionaries(
    st.sampled_from(["ts", "pr", "latlng", "alt", "ang", "sat", "sp", "evt", "239", "151", "x"])
    | st.integers(0, 70000).map(str),
    json_values | st.just(1767225600000) | st.just("19.4,-99.1"),
)


@given(reported)
@FUZZ
def test_fuzz_codec_json(fields: dict[str, Any]) -> None:
    payload = json.dumps({"state": {"reported": fields}}).encode()
    for data in (payload, payload[: len(payload) // 2]):
        with contextlib.suppress(FrameError):
            decode_json(data, now=NOW)


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 100_000,
        b'{"state": {"reported": {"ts": 1767225600000, "' + b"9" * 5000 + b'": 1}}}',
        b'{"state": {"reported": {"ts": 1' + b"0" * 5000 + b"}}}",
        b'{"state": {"reported": {"ts": 1767225600000, "latlng": "1e999,0"}}}',
    ],
)
def test_hostile_json_is_rejected_cleanly(payload: bytes) -> None:
    with pytest.raises(FrameError):
        decode_json(payload, now=NOW)


def test_json_text_with_a_lone_surrogate_is_kept_raw() -> None:
    payload = b'{"state": {"reported": {"ts": 1767225600000, "256": "\\ud800"}}}'
    (record,) = decode_json(payload, now=NOW).records
    assert record.io[256] == "\ud800".encode("utf-8", "surrogatepass")
