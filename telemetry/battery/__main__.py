"""Command line: `python -m telemetry.battery estimate|simulate`.

    python -m telemetry.battery estimate --sessions sessions.csv [--details]
    python -m telemetry.battery simulate --cars 20 --days 180 --seed 1 > sessions.csv

`estimate` prints JSON on stdout. A row it cannot use (soc_end ≤ soc_start, energy ≤ 0,
an unreadable time or number, a charger type other than AC or DC) is skipped and
counted in `skipped_rows`; a file that is missing, empty or has no header ends with a
one-line `error: ...` on stderr and exit status 2. See docs/battery-health.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .estimator import FleetEstimate, VehicleEstimate, estimate_fleet
from .sessions import SessionFileError, read_sessions, write_sessions
from .simulate import simulate_fleet

EXIT_BAD_INPUT = 2


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def vehicle_json(estimate: VehicleEstimate, details: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {
        "soh_percent": _round(estimate.soh_percent),
        "soh_low": _round(estimate.soh_low),
        "soh_high": _round(estimate.soh_high),
        "capacity_kwh": _round(estimate.capacity_kwh),
        "fade_percent_per_year": _round(estimate.fade_percent_per_year),
        "sessions_used": estimate.sessions_used,
    }
    if details:
        document |= {
            "model": estimate.model,
            "nominal_kwh": estimate.nominal_kwh,
            "as_of": estimate.as_of.isoformat().replace("+00:00", "Z") if estimate.as_of else None,
            "sessions_total": estimate.sessions_total,
            "fade_low": _round(estimate.fade_low),
            "fade_high": _round(estimate.fade_high),
            "fade_percent_per_10000_km": _round(estimate.fade_percent_per_10000_km),
            "efficiency": {t: round(v, 4) for t, v in sorted(estimate.efficiency.items())},
            "dc_share": _round(estimate.dc_share),
            "fade_z": _round(estimate.fade_z),
            "alerts": list(estimate.alerts),
            "trend": [
                {"month": p.month, "soh_percent": p.soh_percent, "sessions": p.sessions}
                for p in estimate.trend
            ],
        }
    return document


def fleet_json(fleet: FleetEstimate, skipped_rows: int, details: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {
        "vehicles": {v: vehicle_json(e, details) for v, e in fleet.vehicles.items()},
        "fleet": {"fade_percent_per_year": _round(fleet.fade_percent_per_year)},
        "skipped_rows": skipped_rows,
    }
    if details:
        document["fleet"] |= {
            "fade_median": _round(fleet.fade_median),
            "fade_mad": _round(fleet.fade_mad),
            "efficiency_per_degree": _round(fleet.efficiency_per_degree, 6),
        }
    return document


def estimate_command(args: argparse.Namespace) -> int:
    path = Path(args.sessions)
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            sessions, skipped = read_sessions(stream)
    except (OSError, UnicodeDecodeError, SessionFileError) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"error: {path}: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    fleet = estimate_fleet(sessions, seed=args.seed, temperature=args.temperature)
    json.dump(fleet_json(fleet, skipped, args.details), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def simulate_command(args: argparse.Namespace) -> int:
    fleet = simulate_fleet(args.cars, args.days, seed=args.seed, start=args.start)
    write_sessions(sys.stdout, fleet.sessions)
    if args.truth:
        truth = {
            car.vehicle_id: {
                "model": car.model,
                "nominal_kwh": car.nominal_kwh,
                "fade_percent_per_year": round(car.fade_percent_per_year, 4),
                "dc_share": round(car.dc_share, 4),
                "commissioned": car.commissioned.isoformat().replace("+00:00", "Z"),
            }
            for car in fleet.cars
        }
        Path(args.truth).write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return 0


def _utc_date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date: {text!r}") from None
    return value.replace(tzinfo=value.tzinfo or UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m telemetry.battery", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    estimate = commands.add_parser("estimate", help="state of health per car, as JSON")
    estimate.add_argument("--sessions", required=True, help="CSV of charging sessions")
    estimate.add_argument(
        "--details", action="store_true", help="add efficiencies, bands, alerts and trends"
    )
    estimate.add_argument("--seed", type=int, default=0, help="seed of the bootstrap band")
    estimate.add_argument(
        "--no-temperature",
        dest="temperature",
        action="store_false",
        help="ignore the battery_temp_c column (no temperature term)",
    )
    estimate.set_defaults(run=estimate_command)
    simulate = commands.add_parser("simulate", help="a simulated fleet's sessions as CSV")
    simulate.add_argument("--cars", type=int, default=20)
    simulate.add_argument("--days", type=int, default=180)
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--start", type=_utc_date, default=None, help="commissioning date")
    simulate.add_argument("--truth", help="also write each car's true fade rate to this JSON")
    simulate.set_defaults(run=simulate_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
