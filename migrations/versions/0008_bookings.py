"""bookings: charging slots per depot and connector type, no overlap on a connector

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-24 02:36:39.619434
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('driver_id', sa.Integer(), nullable=False),
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('depot_id', sa.Integer(), nullable=False),
    sa.Column('connector_type', sa.Enum('CCS2', 'GBT', name='connectortype', native_enum=False, create_constraint=True, length=12), nullable=False),
    sa.Column('charger_id', sa.Integer(), nullable=True),
    sa.Column('connector_id', sa.Integer(), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('booked', 'reserved', 'charging', 'completed', 'cancelled', 'no_show', name='bookingstatus', native_enum=False, create_constraint=True, length=17), nullable=False),
    sa.Column('reservation_id', sa.Integer(), nullable=True),
    sa.Column('reserve_command_id', sa.Integer(), nullable=True),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reserved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name=op.f('ck_bookings_cancel_recorded')),
    sa.CheckConstraint('window_end > window_start', name=op.f('ck_bookings_window_positive')),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_bookings_charger_id_chargers')),
    sa.ForeignKeyConstraint(['connector_id'], ['charger_connectors.id'], name=op.f('fk_bookings_connector_id_charger_connectors')),
    sa.ForeignKeyConstraint(['depot_id'], ['depots.id'], name=op.f('fk_bookings_depot_id_depots')),
    sa.ForeignKeyConstraint(['driver_id'], ['drivers.id'], name=op.f('fk_bookings_driver_id_drivers')),
    sa.ForeignKeyConstraint(['reserve_command_id'], ['charger_commands.id'], name=op.f('fk_bookings_reserve_command_id_charger_commands')),
    sa.ForeignKeyConstraint(['session_id'], ['charging_sessions.id'], name=op.f('fk_bookings_session_id_charging_sessions')),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_bookings_vehicle_id_vehicles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings')),
    sa.UniqueConstraint('reservation_id', name=op.f('uq_bookings_reservation_id'))
    )
    op.create_index(op.f('ix_bookings_connector_id'), 'bookings', ['connector_id'], unique=False)
    op.create_index('ix_bookings_depot_window', 'bookings', ['depot_id', 'window_start'], unique=False)
    op.create_index('ix_bookings_driver_window', 'bookings', ['driver_id', 'window_start'], unique=False)
    # No two live bookings on one connector with overlapping windows. The connector is
    # compared as a one-value range so that core PostgreSQL's GiST range operators do
    # it (no btree_gist, which the embedded PostgreSQL of `make run` does not have).
    op.execute(
        "ALTER TABLE bookings ADD CONSTRAINT no_overlap_on_connector"
        " EXCLUDE USING gist (int4range(connector_id, connector_id, '[]') WITH &&,"
        " tstzrange(window_start, window_end) WITH &&)"
        " WHERE (status IN ('booked', 'charging', 'reserved') AND connector_id IS NOT NULL)"
    )


def downgrade() -> None:
    op.drop_index('ix_bookings_driver_window', table_name='bookings')
    op.drop_index('ix_bookings_depot_window', table_name='bookings')
    op.drop_index(op.f('ix_bookings_connector_id'), table_name='bookings')
    op.drop_table('bookings')
