"""Flask CLI commands: the database, demo data, the worker."""

from __future__ import annotations

import gc
from datetime import datetime

import click
from flask import Flask, current_app

from portal.db import Session


def upgrade_database(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from portal.config import ROOT

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "heads")


def register_commands(app: Flask) -> None:
    _register_charging_commands(app)

    @app.cli.command("db-upgrade")
    def db_upgrade() -> None:
        """Migrate the database to the newest schema (Alembic)."""
        url = current_app.config["DATABASE_URL"]
        upgrade_database(url)
        click.echo(f"Database ready: {url.split('@')[-1]}")

    @app.cli.command("seed-demo")
    @click.option("--vehicles", default=150, show_default=True, help="How many cars.")
    def seed_demo_command(vehicles: int) -> None:
        """Load the demo data set (idempotent)."""
        from portal.demo.seed import DEMO_PASSWORD, demo_logins, seed_demo

        if not current_app.config["DEMO_MODE"]:
            raise click.ClickException("seed-demo runs only in demo mode (LAFA_DEMO=1)")
        summary = seed_demo(Session(), vehicles=vehicles)
        Session.commit()
        click.echo(
            f"Demo data: {summary.depots} depots, {summary.vehicles} vehicles, "
            f"{summary.drivers} drivers, {summary.contracts} active contracts, "
            f"{summary.staff} staff."
        )
        for role, login in demo_logins(Session()):
            click.echo(f"  {role:8} {login:28} {DEMO_PASSWORD}")

    payments_group = click.Group("payments", help="Payments: the demonstration mode's tools.")
    app.cli.add_command(payments_group)

    @payments_group.command("simulate-webhook")
    @click.argument("intent_id", type=int)
    @click.option(
        "--event",
        "event_type",
        default="payment_intent.succeeded",
        show_default=True,
        type=click.Choice(
            ["payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"]
        ),
    )
    @click.option(
        "--url",
        default="http://127.0.0.1:5000/webhooks/stripe",
        show_default=True,
        help="The portal's Stripe webhook endpoint.",
    )
    def simulate_webhook(intent_id: int, event_type: str, url: str) -> None:
        """Send a signed event about a demonstration-mode payment, as Stripe would.

        Only for PAYMENTS_PROVIDER=demo: it signs with STRIPE_WEBHOOK_SECRET and posts
        to the portal over HTTP, so the payment takes the same path a real one does.
        """
        import time
        import urllib.request

        from portal.models import PaymentIntent, PaymentProvider
        from portal.payments.demo import stripe_shaped_event
        from portal.payments.signatures import stripe_header

        if current_app.config["PAYMENTS_PROVIDER"] != "demo":
            raise click.ClickException("simulate-webhook works only with PAYMENTS_PROVIDER=demo")
        intent = Session.get(PaymentIntent, intent_id)
        if intent is None or intent.provider != PaymentProvider.DEMO:
            raise click.ClickException(f"no demonstration-mode payment {intent_id}")
        body = stripe_shaped_event(intent, event_type)
        now = int(time.time())
        request = urllib.request.Request(  # noqa: S310 - an operator-given local URL
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_header(
                    body, current_app.config["STRIPE_WEBHOOK_SECRET"], now
                ),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            click.echo(f"{response.status} {response.read().decode()}")

    from portal.credit_cli import register_credit_commands

    register_credit_commands(app)

    @app.cli.command("kpi-rollup")
    @click.option(
        "--since",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        help="Recompute every closed day from this one (after loading history in bulk).",
    )
    def kpi_rollup(since: datetime | None) -> None:
        """Refresh the dashboard's daily rollup and contract outcomes (the nightly job)."""
        from portal.services.kpis.credit import refresh_contract_outcomes
        from portal.services.kpis.daily import refresh_kpi_days, refresh_rollups
        from portal.timeutil import local_today

        session = Session()
        today = local_today()
        if since is not None:
            days = refresh_kpi_days(session, since.date(), today, today)
            contracts = refresh_contract_outcomes(session, today)
        else:
            days, contracts = refresh_rollups(session, today)
        Session.commit()
        click.echo(f"KPI rollup: {days} days, {contracts} contract outcomes.")

    @app.cli.command("worker")
    @click.argument("queues", nargs=-1)
    @click.option("--burst", is_flag=True, help="Run what is queued, then exit.")
    def worker(queues: tuple[str, ...], burst: bool) -> None:
        """Run an RQ worker on QUEUES (default: all of them) with the app's settings."""
        from workers.queues import QUEUES, get_queue, redis_connection, worker_class

        names = queues or QUEUES
        w = worker_class(names)([get_queue(n) for n in names], connection=redis_connection())
        # The app's long-lived objects (~230,000: models, templates, Babel's data) leave
        # the collector's generations, so a collection during a job scans that job's
        # objects only (~8% of a statement PDF's CPU time, docs/benchmarks.md).
        gc.freeze()
        w.work(burst=burst, with_scheduler=not burst)


def _run_import(kind: str, path: str) -> None:
    """Import a CSV of chargers or id tags: all lines, or none if any is bad."""
    from pathlib import Path

    from portal.services import DomainError
    from portal.services.charging.registry import import_chargers, import_tags

    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        if kind == "chargers":
            key = current_app.config["CHARGER_SECRET_KEY"]
            result = import_chargers(Session(), text, secret_key=key)
        else:
            result = import_tags(Session(), text)
    except DomainError as error:
        Session.rollback()
        raise click.ClickException(error.message % error.params) from None
    if not result.ok:
        Session.rollback()
        for line, message in result.errors:
            click.echo(f"{path}:{line}: {message}", err=True)
        raise click.ClickException(
            f"{len(result.errors)} bad line(s); nothing was imported. Fix them and run again."
        )
    Session.commit()
    click.echo(f"Imported {result.imported} {kind}.")
    if result.passwords:
        click.echo("Generated passwords, shown only now (set each on its charger):")
        for identity, password in result.passwords:
            click.echo(f"{identity},{password}")


def _charger_or_fail(key: str):  # type: ignore[no-untyped-def]
    from portal.services.charging.registry import find_charger

    charger = find_charger(Session(), key)
    if charger is None:
        raise click.ClickException(f"No charger {key}.")
    return charger


def _register_charging_commands(app: Flask) -> None:
    from portal.services import DomainError
    from portal.services.charging import registry as service

    chargers = click.Group("chargers", help="The charger registry.")
    tags = click.Group("tags", help="Charging cards (OCPP id tags) of the drivers.")

    @chargers.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    def import_chargers_command(file: str) -> None:
        """Register the chargers of a CSV file (identity,name,depot,ocpp_version,password,
        connectors); nothing is imported if any line is bad. An empty password: one is
        generated and printed once."""
        with app.app_context():
            _run_import("chargers", file)

    @chargers.command("approve")
    @click.argument("charger")
    @click.option("--depot", default=None, help="The depot's code (needed if it has none).")
    def approve_command(charger: str, depot: str | None) -> None:
        """Approve a charger waiting for approval (CHARGER: its number or identity); it is
        answered Accepted at its next BootNotification."""
        from sqlalchemy import func, select

        from portal.models import Depot

        with app.app_context():
            found = _charger_or_fail(charger)
            depot_id = None
            if depot:
                depot_id = Session().scalar(
                    select(Depot.id).where(func.upper(Depot.code) == depot.upper())
                )
                if depot_id is None:
                    raise click.ClickException(f"No depot with code {depot}.")
            try:
                service.approve_charger(Session(), found.id, depot_id=depot_id, actor_id=None)
            except DomainError as error:
                Session.rollback()
                raise click.ClickException(error.message % error.params) from None
            Session.commit()
            click.echo(f"Charger {found.identity} approved.")

    @chargers.command("reject")
    @click.argument("charger")
    def reject_command(charger: str) -> None:
        """Refuse a charger (CHARGER: its number or identity): its connections are refused."""
        with app.app_context():
            found = _charger_or_fail(charger)
            service.reject_charger(Session(), found.id, actor_id=None)
            Session.commit()
            click.echo(f"Charger {found.identity} refused.")

    @chargers.command("new-password")
    @click.argument("charger")
    def new_password_command(charger: str) -> None:
        """Give a charger a new random password, printed once; the old one stops working."""
        with app.app_context():
            found = _charger_or_fail(charger)
            password = service.rotate_charger_password(
                Session(), found.id, secret_key=app.config["CHARGER_SECRET_KEY"], actor_id=None
            )
            Session.commit()
            click.echo(f"{found.identity},{password}")

    @chargers.command("allow-plain")
    @click.argument("charger")
    @click.option("--no", "refuse", is_flag=True, help="Take the allowance back.")
    def allow_plain_command(charger: str, refuse: bool) -> None:
        """Let a charger connect without TLS (security profile 1) in production."""
        with app.app_context():
            found = _charger_or_fail(charger)
            service.allow_plain_connection(Session(), found.id, not refuse, actor_id=None)
            Session.commit()
            state = "may not" if refuse else "may"
            click.echo(f"Charger {found.identity} {state} connect without TLS.")

    @tags.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    def import_tags_command(file: str) -> None:
        """Give drivers their cards from a CSV file (tag,driver: mobile number or CURP);
        nothing is imported if any line is bad."""
        with app.app_context():
            _run_import("tags", file)

    app.cli.add_command(chargers)
    app.cli.add_command(tags)
