"""OCPP under real fleets: samples once by their natural key, lost and held sessions,
charger events, id tags as sent, chargers allowed without TLS

Revision ID: 0016
Revises: 0020
Create Date: 2026-12-01 09:00:00

- `meter_values`: unique on (charger, session, EVSE, time, measurand, phase, context),
  NULLs not distinct. Samples stored under EVSE 0 for a session with a known EVSE
  (1.6 `StopTransaction.transactionData`, 2.0.1 events without `evse`) move to that
  EVSE, and the copies this leaves are deleted (the oldest row stays).
- `charging_sessions`: status `lost`; `review` (lost, implausible), `reviewed_at`,
  `reviewed_by_id`; `last_heard_at` (our clock; for the running ones, backfilled from
  what is known); a stop is recorded for every status but `active`.
- `charger_events`: security events, firmware and diagnostics status, reports, data
  transfers.
- `id_tags`: unique without regard to case (`upper(tag)`), the tag kept as sent.
- `chargers.plain_allowed`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SAMPLE_KEY = "charger_id, session_id, evse_id, sampled_at, measurand, phase, context"
OLD_SAMPLE_KEY = "charger_id, evse_id, sampled_at, measurand, phase"


def _delete_copies(key: str) -> None:
    op.execute(
        "DELETE FROM meter_values WHERE id IN ("
        " SELECT id FROM ("
        f"  SELECT id, row_number() OVER (PARTITION BY {key} ORDER BY id) AS n"
        "   FROM meter_values) AS numbered"
        " WHERE n > 1)"
    )


def upgrade() -> None:
    # Samples: the transaction's EVSE, then once per natural key.
    op.drop_constraint("uq_meter_values_sample", "meter_values", type_="unique")
    op.execute(
        "UPDATE meter_values AS m SET evse_id = s.evse_id FROM charging_sessions AS s"
        " WHERE m.session_id = s.id AND m.evse_id = 0 AND s.evse_id IS NOT NULL"
    )
    _delete_copies(SAMPLE_KEY)
    op.create_index(
        "uq_meter_values_sample",
        "meter_values",
        SAMPLE_KEY.split(", "),
        unique=True,
        postgresql_nulls_not_distinct=True,
    )

    # Sessions: lost ones, and the staff's review.
    op.drop_constraint(op.f("ck_charging_sessions_sessionstatus"), "charging_sessions", type_="check")
    op.create_check_constraint(
        op.f("ck_charging_sessions_sessionstatus"),
        "charging_sessions",
        "status IN ('active', 'completed', 'lost')",
    )
    op.drop_constraint(op.f("ck_charging_sessions_stop_recorded"), "charging_sessions", type_="check")
    op.create_check_constraint(
        op.f("ck_charging_sessions_stop_recorded"),
        "charging_sessions",
        "(status = 'active') = (stopped_at IS NULL)",
    )
    op.add_column(
        "charging_sessions",
        sa.Column(
            "review",
            sa.Enum(
                "lost",
                "implausible",
                name="sessionreview",
                native_enum=False,
                create_constraint=True,
                length=19,
            ),
            nullable=True,
        ),
    )
    op.add_column(
        "charging_sessions", sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("charging_sessions", sa.Column("reviewed_by_id", sa.Integer(), nullable=True))
    op.add_column(
        "charging_sessions", sa.Column("last_heard_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE charging_sessions SET last_heard_at = greatest(created_at, last_meter_at)"
        " WHERE status = 'active'"
    )
    op.create_foreign_key(
        op.f("fk_charging_sessions_reviewed_by_id_users"),
        "charging_sessions",
        "users",
        ["reviewed_by_id"],
        ["id"],
    )
    op.create_index(
        "ix_charging_sessions_review",
        "charging_sessions",
        ["charger_id"],
        postgresql_where=sa.text("review IS NOT NULL AND reviewed_at IS NULL"),
    )

    op.create_table(
        "charger_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("charger_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "security",
                "firmware",
                "diagnostics",
                "report",
                "data_transfer",
                name="chargereventkind",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charger_id"], ["chargers.id"], name=op.f("fk_charger_events_charger_id_chargers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charger_events")),
        sa.UniqueConstraint(
            "charger_id", "kind", "name", "occurred_at", name="uq_charger_events_once"
        ),
    )
    op.create_index(
        "ix_charger_events_charger_received", "charger_events", ["charger_id", "received_at"]
    )

    # Id tags: as sent, unique without regard to case.
    op.drop_constraint("uq_id_tags_tag", "id_tags", type_="unique")
    op.create_index("uq_id_tags_tag_upper", "id_tags", [sa.text("upper(tag)")], unique=True)

    op.add_column(
        "chargers",
        sa.Column("plain_allowed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("chargers", "plain_allowed")

    op.drop_index("uq_id_tags_tag_upper", table_name="id_tags")
    op.create_unique_constraint("uq_id_tags_tag", "id_tags", ["tag"])

    op.drop_index("ix_charger_events_charger_received", table_name="charger_events")
    op.drop_table("charger_events")

    op.drop_index("ix_charging_sessions_review", table_name="charging_sessions")
    op.drop_constraint(
        op.f("fk_charging_sessions_reviewed_by_id_users"), "charging_sessions", type_="foreignkey"
    )
    op.drop_column("charging_sessions", "last_heard_at")
    op.drop_column("charging_sessions", "reviewed_by_id")
    op.drop_column("charging_sessions", "reviewed_at")
    op.drop_column("charging_sessions", "review")
    op.execute("UPDATE charging_sessions SET status = 'completed' WHERE status = 'lost'")
    op.drop_constraint(op.f("ck_charging_sessions_stop_recorded"), "charging_sessions", type_="check")
    op.create_check_constraint(
        op.f("ck_charging_sessions_stop_recorded"),
        "charging_sessions",
        "(status = 'completed') = (stopped_at IS NOT NULL)",
    )
    op.drop_constraint(op.f("ck_charging_sessions_sessionstatus"), "charging_sessions", type_="check")
    op.create_check_constraint(
        op.f("ck_charging_sessions_sessionstatus"),
        "charging_sessions",
        "status IN ('active', 'completed')",
    )

    op.drop_index("uq_meter_values_sample", table_name="meter_values")
    _delete_copies(OLD_SAMPLE_KEY)
    op.create_unique_constraint(
        "uq_meter_values_sample", "meter_values", OLD_SAMPLE_KEY.split(", ")
    )
