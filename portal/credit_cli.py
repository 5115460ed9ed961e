"""`flask credit ...`: train the synthetic driver model, register models, export outcomes."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app

from portal.db import Session
from portal.services import DomainError
from portal.services.credit.features import FEATURES, TARGET
from portal.timeutil import local_today
from scoring.store import activate_model, train_synthetic_model


def models_dir() -> Path:
    return Path(current_app.config["CREDIT_MODELS_DIR"])


def register_credit_commands(app: Flask) -> None:
    group = click.Group("credit", help="Credit scoring: models and outcomes.")
    app.cli.add_command(group)

    @group.command("train-synthetic")
    @click.option("--rows", default=5000, show_default=True, help="Synthetic applicants.")
    @click.option("--seed", default=7, show_default=True)
    @click.option("--folds", default=5, show_default=True)
    @click.option("--name", default=None, help="Version name (default: sintetico-<time>).")
    def train_synthetic(rows: int, seed: int, folds: int, name: str | None) -> None:
        """Train the driver model on SYNTHETIC applicants and register it (activated if
        no model is active)."""
        name = name or f"sintetico-{datetime.now(UTC):%Y%m%d-%H%M%S}-s{seed}"
        out = models_dir() / name
        if out.exists():
            raise click.ClickException(f"{out} already exists")
        manifest = train_synthetic_model(out, rows=rows, seed=seed, folds=folds)
        version = register_model(Session(), out, name=name)
        Session.commit()
        for kind, m in manifest["metrics"]["models"].items():
            click.echo(f"{kind}: AUC {m['auc']:.4f}, KS {m['ks']:.4f}, Brier {m['brier']:.4f}")
        state = "active" if version.active else "registered (not active)"
        click.echo(f"SYNTHETIC model {version.name} {state}: {out}")

    @group.command("register-model")
    @click.argument("directory", type=click.Path(exists=True, file_okay=False))
    @click.option("--name", default=None)
    @click.option("--activate", is_flag=True, help="Make it the active model.")
    def register_model(directory: str, name: str | None, activate: bool) -> None:
        """Register a model directory written by `python -m scoring train`."""
        try:
            version = register_model(Session(), directory, name=name)
            if activate:
                activate_model(Session(), version.id, actor_id=None, ip=None)
        except DomainError as error:
            raise click.ClickException(error.message % error.params) from None
        Session.commit()
        label = "SYNTHETIC " if version.synthetic else ""
        click.echo(
            f"{label}model {version.name} registered{' and active' if version.active else ''}"
        )

    @group.command("export-outcomes")
    @click.argument("file", type=click.Path(dir_okay=False, writable=True))
    def export_outcomes(file: str) -> None:
        """Write the company's own labelled outcomes (CSV) for `python -m scoring train
        --target incumplimiento`: 1 = a contract 30+ days past due in its first 26 weeks."""
        rows = export_outcomes(Session(), local_today())
        columns = ["contrato_id", *FEATURES, TARGET]
        with open(file, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if row[k] is None else row[k] for k in columns})
        bad = sum(r[TARGET] for r in rows)
        click.echo(f"{len(rows)} contracts with a known outcome ({bad} bad) written to {file}")
