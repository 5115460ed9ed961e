"""`flask fleet import vehicles|drivers|contracts FILE.csv [--dry-run]`: day one from the
spreadsheets, all or nothing; every bad row named by its line, in Spanish."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from portal.db import Session
from portal.services import DomainError
from portal.services.fleet_import import importer, parse
from portal.timeutil import local_today
from portal.web.kit import error_text

from .messages import report_lines, summary_line


def register_fleet_commands(app: Flask) -> None:
    fleet = AppGroup("fleet", help="The fleet's records: import day one's spreadsheets.")

    @fleet.command("import")
    @click.argument("kind", type=click.Choice(parse.KINDS))
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check and count; change nothing.")
    def import_command(kind: str, file: Path, dry_run: bool) -> None:
        """Import vehicles, drivers or contracts from a CSV file (see docs/operations.md).

        Nothing is written if any row is bad; the same file twice changes nothing the
        second time. Exits with status 1 when it refuses anything."""
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            session = Session()
            try:
                text = file.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError:
                raise click.ClickException("El archivo no está en UTF-8.") from None
            try:
                report = importer.run_import(
                    session,
                    kind,
                    text,
                    source=file.name,
                    actor_id=None,
                    today=local_today(),
                    dry_run=dry_run,
                )
            except DomainError as error:
                session.rollback()
                raise click.ClickException(error_text(error)) from None
            for line in report_lines(report):
                click.echo(line, err=True)
            if not report.ok or dry_run:
                session.rollback()
            else:
                session.commit()
            click.echo(summary_line(report))
            if not report.ok:
                raise SystemExit(1)

    app.cli.add_command(fleet)
