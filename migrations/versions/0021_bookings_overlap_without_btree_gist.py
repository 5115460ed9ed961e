"""bookings: the no-overlap constraint without btree_gist (core PostgreSQL's range GiST)

The constraint keeps its meaning (no two live bookings on one connector with
overlapping windows) and its name; the connector is compared as a one-value range, so
that a PostgreSQL without contrib (the embedded one of `make run`) can hold it. Databases
migrated before this revision had it built on btree_gist; new ones get it from 0008.

Revision ID: 0021
Revises: 0015
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('booked', 'charging', 'reserved')"


def upgrade() -> None:
    op.execute("ALTER TABLE bookings DROP CONSTRAINT IF EXISTS no_overlap_on_connector")
    op.execute(
        "ALTER TABLE bookings ADD CONSTRAINT no_overlap_on_connector"
        " EXCLUDE USING gist (int4range(connector_id, connector_id, '[]') WITH &&,"
        " tstzrange(window_start, window_end) WITH &&)"
        f" WHERE ({LIVE} AND connector_id IS NOT NULL)"
    )


def downgrade() -> None:
    # The earlier form needs the btree_gist extension (PostgreSQL's contrib).
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("ALTER TABLE bookings DROP CONSTRAINT no_overlap_on_connector")
    op.execute(
        "ALTER TABLE bookings ADD CONSTRAINT no_overlap_on_connector"
        " EXCLUDE USING gist (connector_id WITH =, tstzrange(window_start, window_end) WITH &&)"
        f" WHERE ({LIVE})"
    )
