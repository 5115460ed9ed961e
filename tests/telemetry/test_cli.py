"""`python -m telemetry decode HEX`, run as an operator would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS: list[dict[str, Any]] = json.loads(
    (REPO_ROOT.parent / "shared" / "domain" / "teltonika-vectors.json").read_text()
)
NOW = "2026-06-01T00:00:00Z"


def hex_of(name: str) -> str:
    return next(v["hex"] for v in VECTORS if v["name"] == name)


def telemetry_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "telemetry", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def decoded(*args: str) -> dict[str, Any]:
    result = telemetry_cli("decode", *args, "--now", NOW)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_decode_prints_the_frame_as_json() -> None:
    document = decoded(hex_of("synthetic_codec8_mexico_city_ev"))
    assert document["transport"] == "tcp"
    assert document["codec"] == "8"
    assert document["ack"] == "00000001"
    (record,) = document["records"]
    assert record["timestamp"] == "2026-01-01T00:00:00Z"
    assert (record["longitude"], record["latitude"]) == (-99.1332, 19.4326)
    assert record["altitude"] == 2240
    assert record["event_id"] == 239
    assert record["position_valid"] is True
    assert record["io"]["152"] == 78
    assert record["fields"]["hv_battery_soc_pct"] == 78
    assert record["fields"]["ignition"] is True


def test_decode_codec8e_with_variable_length_value_shows_bytes_as_hex() -> None:
    avl_data = (
        "8E01 0000019B76DAA800 00 C4E97960 0B952DF0 08C0 0000 00 0000"
        " 0000 0001 0000 0000 0000 0000 0001 0100 0003 56494E 01"
    )
    document = decoded(avl_data)  # spaced hex, as the wiki prints it
    assert document["transport"] == "avl"
    assert document["codec"] == "8E"
    assert document["records"][0]["io"] == {"256": "56494e"}


def test_decode_udp_datagram() -> None:
    document = decoded(hex_of("wiki_codec8_udp"))
    assert document["transport"] == "udp"
    assert document["imei"] == "352093086403655"
    assert document["ack"] == "0005CAFE010501"


def test_decode_imei_packet() -> None:
    document = decoded(hex_of("wiki_imei_login"))
    assert document == {"transport": "imei", "imei": "356307042441013", "accept_reply": "01"}


def test_decode_codec_json() -> None:
    payload = '{"state": {"reported": {"ts": 1767225600000, "latlng": "19.4326,-99.1332"}}}'
    document = decoded(payload)
    assert document["codec"] == "JSON"
    assert document["records"][0]["latitude"] == 19.4326


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ([hex_of("negative_bad_crc")], "CRC mismatch"),
        ([hex_of("wiki_codec8_ex1_tcp")[:-2]], "truncated frame"),
        ([hex_of("wiki_codec8_ex1_tcp") + "00"], "trailing bytes"),
        (["not hex"], "not hexadecimal"),
        ([hex_of("synthetic_codec8_mexico_city_ev"), "--now", "2025-06-01T00:00:00Z"], "future"),
    ],
)
def test_decode_rejects_with_status_2_and_one_line(args: list[str], reason: str) -> None:
    if "--now" not in args:
        args = [*args, "--now", NOW]
    result = telemetry_cli("decode", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_needs_a_subcommand() -> None:
    result = telemetry_cli()
    assert result.returncode == 2
    assert "decode" in result.stderr
