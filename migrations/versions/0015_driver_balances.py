"""driver_balances: each driver's balance, last payment and oldest unpaid charge

Revision ID: 0015
Revises: 0011
Create Date: 2026-11-24 06:25:00

A summary of the ledger per driver, kept current by every posting
(`services.balances.refresh`), so the collections list and the dashboard's overdue
figures stop summing and walking the whole ledger. Backfilled here with the same
computation: the balance, the last payment, and the oldest charge not covered by
credits (walking the driver's charges newest first until they reach the balance).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
INSERT INTO driver_balances (driver_id, balance_cents, oldest_unpaid_at, last_payment_at,
                             updated_at)
SELECT t.driver_id, t.balance, o.posted_at, t.last_payment, now()
FROM (
    SELECT driver_id, sum(amount_cents) AS balance,
           max(posted_at) FILTER (WHERE kind = 'payment') AS last_payment
    FROM ledger_entries GROUP BY driver_id
) AS t
LEFT JOIN LATERAL (
    SELECT w.posted_at
    FROM (
        SELECT e.posted_at,
               sum(e.amount_cents) OVER (ORDER BY e.posted_at DESC, e.id DESC) AS reached
        FROM ledger_entries AS e
        WHERE e.driver_id = t.driver_id AND e.amount_cents > 0
        ORDER BY e.posted_at DESC, e.id DESC
    ) AS w
    WHERE t.balance > 0 AND w.reached >= t.balance
    LIMIT 1
) AS o ON true
"""


def upgrade() -> None:
    op.create_table(
        "driver_balances",
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("oldest_unpaid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_payment_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["driver_id"],
            ["drivers.id"],
            name=op.f("fk_driver_balances_driver_id_drivers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("driver_id", name=op.f("pk_driver_balances")),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("driver_balances")
