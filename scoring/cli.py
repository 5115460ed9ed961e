"""Command line: ``python -m scoring evaluate|train|psi`` on any CSV.

Results are JSON on stdout; warnings go to stderr; bad input ends with a one-line
``error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scoring.columns import check_trainable, feature_frame, plan_columns, target_vector
from scoring.errors import ScoringError

EXIT_BAD_INPUT = 2


def _columns(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def _monotone(value: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in _columns(value):
        name, _, sign = item.rpartition("=")
        if not name or sign not in {"+1", "1", "-1", "0"}:
            raise argparse.ArgumentTypeError(f"expected COL=+1, COL=-1 or COL=0, got {item!r}")
        out[name] = int(sign)
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scoring", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def data_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data", required=True, help="CSV file")
        sp.add_argument("--target", required=True, help="0/1 column, 1 = default")
        sp.add_argument("--model", choices=["scorecard", "boosting", "both"], default="both")
        sp.add_argument("--folds", type=int, default=5)
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument(
            "--jobs",
            type=int,
            default=min(2, os.cpu_count() or 1),
            help="folds fitted at once, in separate processes (default: 2 or the CPUs)",
        )
        sp.add_argument("--numeric", type=_columns, default=None, help="COL,... as numbers")
        sp.add_argument("--categorical", type=_columns, default=None, help="COL,... as text")
        sp.add_argument("--ignore", type=_columns, default=None, help="COL,... not inputs")
        sp.add_argument(
            "--monotone",
            type=_monotone,
            default={},
            help="COL=+1 (risk grows with it), COL=-1 (falls), COL=0 (unconstrained)",
        )

    ev = sub.add_parser("evaluate", help="cross-validated metrics as JSON")
    data_options(ev)
    tr = sub.add_parser("train", help="train on all rows and save a versioned model")
    data_options(tr)
    tr.add_argument("--out", required=True, help="new model directory")
    ps = sub.add_parser("psi", help="stability of score and characteristics as JSON")
    ps.add_argument("--model", required=True, help="model directory")
    ps.add_argument("--data", required=True, help="CSV of recent applications")
    return p


def _read_csv(path: str) -> pd.DataFrame:
    if not Path(path).is_file():
        raise ScoringError(f"data file {path!r} not found")
    try:
        return pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScoringError(f"cannot read {path!r} as CSV: {first}") from exc


def _kinds(model: str) -> tuple[str, ...]:
    return ("scorecard", "boosting") if model == "both" else (model,)


def _run(args: argparse.Namespace) -> dict[str, Any]:
    # scikit-learn is imported only once the input has passed the cheap checks
    if args.command == "psi":
        from scoring.artifact import load_model

        saved = load_model(args.model)
        df = _read_csv(args.data)
        model = saved.model
        result = model.stability(feature_frame(df, model.plan))
        return {"model": args.model, "primary": saved.primary, **result}
    if args.command == "train" and Path(args.out).exists():
        raise ScoringError(f"{args.out} already exists; choose a new directory for this version")
    df = _read_csv(args.data)
    y = target_vector(df, args.target)
    plan = plan_columns(
        df, args.target, numeric=args.numeric, categorical=args.categorical, ignore=args.ignore
    )
    if args.folds < 2:
        raise ScoringError("--folds must be at least 2")
    check_trainable(y, args.folds)
    feature_frame(df, plan)  # text in a numeric column fails here

    from scoring.model import ModelConfig
    from scoring.training import evaluate, train_and_save

    common: dict[str, Any] = {
        "models": _kinds(args.model),
        "folds": args.folds,
        "seed": args.seed,
        "jobs": max(1, args.jobs),
        "config": ModelConfig(risk_direction=args.monotone),
        "plan": plan,
    }
    if args.command == "evaluate":
        return evaluate(df, args.target, **common)
    manifest = train_and_save(df, args.target, args.out, **common)
    return {"saved": args.out, **{k: manifest[k] for k in ("primary", "models", "code_version")}}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    args = _parser().parse_args(argv)
    try:
        result = _run(args)
    except ScoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
    return 0
