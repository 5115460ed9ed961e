"""`flask users create EMAIL --role admin`: the first administrator of a real deployment
(the password from a prompt, or from standard input when it is not a terminal)."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from portal.db import Session
from portal.models import Role
from portal.services import DomainError, users
from portal.web.kit import error_text


def _password() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("Contraseña", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\n")


def register_user_commands(app: Flask) -> None:
    group = AppGroup("users", help="People who log in to the portal.")

    @group.command("create")
    @click.argument("email")
    @click.option(
        "--role",
        type=click.Choice([r.value for r in users.STAFF_ROLES]),
        default=Role.STAFF.value,
        show_default=True,
    )
    @click.option("--name", default="", help="The person's full name (the e-mail's name if empty).")
    def create(email: str, role: str, name: str) -> None:
        """Create a staff, manager or admin account that logs in with EMAIL."""
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            data = users.NewUser(
                email=email,
                full_name=name or email.split("@")[0],
                role=Role(role),
                password=_password(),
            )
            session = Session()
            try:
                user = users.create_user(session, data, actor=None)
            except DomainError as error:
                session.rollback()
                raise click.ClickException(error_text(error)) from None
            session.commit()
            click.echo(f"{user.email} ({user.role.value})")

    app.cli.add_command(group)
