"""appointments: an index on starts_at for the schedule board's days across all engineers

Revision ID: d3b8f5a2c901
Revises: d3b8f6a2c1e9
Create Date: 2026-12-06 05:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd3b8f5a2c901'
down_revision = 'd3b8f6a2c1e9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_starts_at', ['starts_at'], unique=False)


def downgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_starts_at')
