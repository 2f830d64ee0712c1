"""request list order indexes: all statuses by due time, newest first, the open ones by due time

Revision ID: 3f1d2a9b7c10
Revises: 8c93acc2b770
Create Date: 2026-11-23 15:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3f1d2a9b7c10'
down_revision = '8c93acc2b770'
branch_labels = None
depends_on = None

ACTIVE = "status IN ('awaiting_assignment', 'assigned', 'locked')"


def upgrade():
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.create_index('ix_service_requests_required_by_id', ['required_by', 'id'], unique=False)
        batch_op.create_index('ix_service_requests_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index(
            'ix_service_requests_active_required_by', ['required_by', 'id'], unique=False,
            postgresql_where=sa.text(ACTIVE), sqlite_where=sa.text(ACTIVE),
        )


def downgrade():
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_service_requests_active_required_by')
        batch_op.drop_index('ix_service_requests_created_at_id')
        batch_op.drop_index('ix_service_requests_required_by_id')
