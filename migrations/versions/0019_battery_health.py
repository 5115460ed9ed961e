"""battery health: charging sessions joined to the car plugged in, and each car's
latest battery estimate

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-07 04:33:39

`battery_sessions`: one row per completed charging session (the car, its tracker's state
of charge before and after, charger type, energy, odometer, battery temperature), for the estimator and for
BI tools. `battery_estimates`: the latest state of health per vehicle. Both are filled
by `portal.services.battery` (nightly job); nothing to backfill here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0019"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "battery_estimates",
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("estimated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("nominal_kwh", sa.Float(), nullable=False),
        sa.Column("sessions_total", sa.Integer(), nullable=False),
        sa.Column("sessions_used", sa.Integer(), nullable=False),
        sa.Column("soh_percent", sa.Float(), nullable=True),
        sa.Column("soh_low", sa.Float(), nullable=True),
        sa.Column("soh_high", sa.Float(), nullable=True),
        sa.Column("capacity_kwh", sa.Float(), nullable=True),
        sa.Column("fade_percent_per_year", sa.Float(), nullable=True),
        sa.Column("fade_low", sa.Float(), nullable=True),
        sa.Column("fade_high", sa.Float(), nullable=True),
        sa.Column("fade_percent_per_10000_km", sa.Float(), nullable=True),
        sa.Column("efficiency_ac", sa.Float(), nullable=True),
        sa.Column("efficiency_dc", sa.Float(), nullable=True),
        sa.Column("dc_share", sa.Float(), nullable=True),
        sa.Column("fade_z", sa.Float(), nullable=True),
        sa.Column("low_soh", sa.Boolean(), nullable=False),
        sa.Column("fast_fade", sa.Boolean(), nullable=False),
        sa.Column("trend", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicles.id"],
            name=op.f("fk_battery_estimates_vehicle_id_vehicles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("vehicle_id", name=op.f("pk_battery_estimates")),
    )
    op.create_table(
        "battery_sessions",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column(
            "matched_by",
            sa.Enum(
                "booking",
                "id_tag",
                "tracker",
                "none",
                name="vehiclematch",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("tracker_confirmed", sa.Boolean(), nullable=True),
        sa.Column("charger_id", sa.Integer(), nullable=False),
        sa.Column("depot_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("energy_kwh", sa.Numeric(precision=9, scale=3), nullable=False),
        sa.Column("charger_type", sa.String(length=2), nullable=True),
        sa.Column("max_kw", sa.Numeric(precision=6, scale=1), nullable=True),
        sa.Column("soc_start_pct", sa.SmallInteger(), nullable=True),
        sa.Column("soc_start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("soc_end_pct", sa.SmallInteger(), nullable=True),
        sa.Column("soc_end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("odometer_km", sa.Numeric(precision=9, scale=1), nullable=True),
        sa.Column("battery_temp_c", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("nominal_kwh", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("usable", sa.Boolean(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "charger_type IN ('AC', 'DC')", name=op.f("ck_battery_sessions_charger_type_known")
        ),
        sa.ForeignKeyConstraint(
            ["charger_id"],
            ["chargers.id"],
            name=op.f("fk_battery_sessions_charger_id_chargers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["depot_id"],
            ["depots.id"],
            name=op.f("fk_battery_sessions_depot_id_depots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["charging_sessions.id"],
            name=op.f("fk_battery_sessions_session_id_charging_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicles.id"],
            name=op.f("fk_battery_sessions_vehicle_id_vehicles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_battery_sessions")),
    )
    op.create_index("ix_battery_sessions_ended", "battery_sessions", ["ended_at"], unique=False)
    op.create_index(
        "ix_battery_sessions_vehicle_started",
        "battery_sessions",
        ["vehicle_id", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_battery_sessions_vehicle_started", table_name="battery_sessions")
    op.drop_index("ix_battery_sessions_ended", table_name="battery_sessions")
    op.drop_table("battery_sessions")
    op.drop_table("battery_estimates")
