"""`python -m telemetry.battery estimate --sessions FILE.csv`: the JSON of the issue, bad
rows skipped and counted, unreadable files refused with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from telemetry.battery import CSV_COLUMNS, simulate_fleet, write_sessions
from telemetry.battery.__main__ import main

HEADER = ",".join(CSV_COLUMNS)


@pytest.fixture
def sessions_csv(tmp_path):
    path = tmp_path / "sessions.csv"
    with path.open("w", encoding="utf-8") as stream:
        write_sessions(stream, simulate_fleet(3, 100, seed=4).sessions)
    return path


def run(capsys, *args):
    status = main(["estimate", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_estimate_prints_the_issues_json(capsys, sessions_csv):
    status, out, err = run(capsys, "--sessions", str(sessions_csv))
    assert status == 0, err
    document = json.loads(out)
    assert set(document) == {"vehicles", "fleet", "skipped_rows"}
    assert set(document["vehicles"]) == {"car-0000", "car-0001", "car-0002"}
    for vehicle in document["vehicles"].values():
        assert set(vehicle) == {
            "soh_percent",
            "soh_low",
            "soh_high",
            "capacity_kwh",
            "fade_percent_per_year",
            "sessions_used",
        }
        assert vehicle["soh_low"] <= vehicle["soh_percent"] <= vehicle["soh_high"]
        assert 95 < vehicle["soh_percent"] < 102
        assert vehicle["sessions_used"] > 40
        assert isinstance(vehicle["fade_percent_per_year"], float)
    assert isinstance(document["fleet"]["fade_percent_per_year"], float)
    assert document["skipped_rows"] == 0


def test_details_add_efficiencies_alerts_and_the_trend(capsys, sessions_csv):
    status, out, _ = run(capsys, "--sessions", str(sessions_csv), "--details")
    assert status == 0
    vehicle = json.loads(out)["vehicles"]["car-0000"]
    assert vehicle["efficiency"]
    assert all(0.8 < value < 0.97 for value in vehicle["efficiency"].values())
    assert vehicle["alerts"] == []
    assert vehicle["trend"][0]["month"] == "2026-01"
    assert vehicle["as_of"].startswith("2026-04")


def test_the_battery_temperature_column_is_optional():
    from io import StringIO

    from telemetry.battery import read_sessions

    row = "car-1,BYD,38.8,2026-04-20T05:00:00,2026-04-20T09:00:00Z,20,20,80,dc,1"
    with_column, skipped = read_sessions(StringIO(f"{HEADER},battery_temp_c\n{row},12.5\n"))
    assert skipped == 0
    assert with_column[0].battery_temp_c == 12.5
    assert with_column[0].charger_type == "DC"
    assert with_column[0].started_at.tzinfo is not None  # no offset: UTC
    without, _ = read_sessions(StringIO(f"{HEADER}\n{row}\n"))
    assert without[0].battery_temp_c is None


def test_bad_rows_are_skipped_and_counted(capsys, sessions_csv):
    good = sessions_csv.read_text(encoding="utf-8")
    bad = [
        "car-0000,BYD Dolphin Mini,38.8,2026-04-20T05:00:00Z,2026-04-20T09:00:00Z,20,80,40,AC,1",
        "car-0000,BYD Dolphin Mini,38.8,2026-04-20T05:00:00Z,2026-04-20T09:00:00Z,20,40,40,AC,1",
        "car-0000,BYD Dolphin Mini,38.8,2026-04-20T05:00:00Z,2026-04-20T09:00:00Z,0,20,80,AC,1",
        "car-0000,BYD Dolphin Mini,38.8,2026-04-20T05:00:00Z,2026-04-20T09:00:00Z,-3,20,80,AC,1",
        "car-0000,BYD Dolphin Mini,38.8,ayer en la noche,2026-04-20T09:00:00Z,20,20,80,AC,1",
        "car-0000,BYD Dolphin Mini,38.8,2026-04-20T05:00:00Z,,20,20,80,AC,1",
        "car-0000,BYD Dolphin Mini,38.8,2026-04-20T05:00:00Z,2026-04-20T09:00:00Z,20,20,80,XX,1",
        "car-0000,BYD Dolphin Mini,38.8,2026-04-20T05:00:00Z",
    ]
    sessions_csv.write_text(good + "\n".join(bad) + "\n", encoding="utf-8")
    status, out, err = run(capsys, "--sessions", str(sessions_csv))
    assert status == 0, err
    assert json.loads(out)["skipped_rows"] == len(bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("car-0000,BYD,38.8,2026-04-20T05:00:00Z,2026-04-20T09:00:00Z,20,20,80,AC,1\n", "header"),
        ("vehicle_id,energy_kwh\ncar-0000,20\n", "header"),
    ],
)
def test_an_empty_or_headerless_file_is_one_line_and_status_2(capsys, tmp_path, content, message):
    path = tmp_path / "sessions.csv"
    path.write_text(content, encoding="utf-8")
    status, out, err = run(capsys, "--sessions", str(path))
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert message in err


def test_a_missing_file_is_status_2(capsys, tmp_path):
    status, _, err = run(capsys, "--sessions", str(tmp_path / "nada.csv"))
    assert status == 2
    assert err.startswith("error: ")
    assert err.count("\n") == 1


def test_the_module_runs_from_the_command_line(tmp_path):
    made = subprocess.run(
        [sys.executable, "-m", "telemetry.battery", "simulate", "--cars", "2", "--days", "40"],
        capture_output=True,
        text=True,
        check=True,
    )
    path = tmp_path / "sessions.csv"
    path.write_text(made.stdout, encoding="utf-8")
    estimated = subprocess.run(
        [sys.executable, "-m", "telemetry.battery", "estimate", "--sessions", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    document = json.loads(estimated.stdout)
    assert set(document["vehicles"]) == {"car-0000", "car-0001"}
    assert document["fleet"]["fade_percent_per_year"] is None  # 40 days: too early
