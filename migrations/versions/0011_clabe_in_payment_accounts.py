"""a driver's SPEI CLABE lives only in payment_accounts (drop drivers.spei_clabe)

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-24 05:10:00

`drivers.spei_clabe` was a second copy of the CLABE a provider issues, and only the
demo ever filled it. A value that `payment_accounts` does not hold yet moves there
(as a demonstration-provider account, the only writer it ever had) before the column
goes; downgrade brings the column back, filled from `payment_accounts`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The provider's bank by the CLABE's first three digits; the demo only issued STP's.
BANKS = {"646": "STP", "002": "Banamex", "012": "BBVA México", "014": "Santander"}


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT d.id, d.spei_clabe FROM drivers d"
            " WHERE d.spei_clabe IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM payment_accounts a WHERE a.driver_id = d.id)"
            " AND NOT EXISTS (SELECT 1 FROM payment_accounts a WHERE a.clabe = d.spei_clabe)"
            " ORDER BY d.id"
        )
    ).all()
    if rows:
        bind.execute(
            sa.text(
                "INSERT INTO payment_accounts"
                " (driver_id, provider, provider_customer_id, clabe, bank_name, created_at)"
                " VALUES (:driver_id, 'demo', :customer, :clabe, :bank, CURRENT_TIMESTAMP)"
            ),
            [
                {
                    "driver_id": driver_id,
                    "customer": f"demo_cus_{driver_id}",
                    "clabe": clabe,
                    "bank": BANKS.get(clabe[:3], "SPEI"),
                }
                for driver_id, clabe in rows
            ],
        )
    with op.batch_alter_table("drivers") as batch:
        batch.drop_constraint(op.f("uq_drivers_spei_clabe"), type_="unique")
        batch.drop_column("spei_clabe")


def downgrade() -> None:
    with op.batch_alter_table("drivers") as batch:
        batch.add_column(sa.Column("spei_clabe", sa.String(length=18), nullable=True))
        batch.create_unique_constraint(op.f("uq_drivers_spei_clabe"), ["spei_clabe"])
    # The newest account's CLABE, as `payments.get_driver_clabe` reads it.
    op.execute(
        "UPDATE drivers SET spei_clabe = ("
        " SELECT a.clabe FROM payment_accounts a WHERE a.driver_id = drivers.id"
        " ORDER BY a.created_at DESC, a.id DESC LIMIT 1)"
    )
