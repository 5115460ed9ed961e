"""Alembic environment: the schema is portal.models; the URL comes from the settings.

Tests and `flask db-upgrade` hand a live connection in `config.attributes["connection"]`.
"""

from logging.config import fileConfig

from alembic import context

from portal import models
from portal.config import load_config
from portal.db import make_engine
from portal.models.telemetry import include_in_schema_compare

config = context.config
if config.config_file_name is not None and not config.attributes.get("connection"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = models.Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or load_config()["DATABASE_URL"],
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # The monthly partitions of telemetry_readings are made at run time, not here.
        include_name=include_in_schema_compare,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or load_config()["DATABASE_URL"]
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
