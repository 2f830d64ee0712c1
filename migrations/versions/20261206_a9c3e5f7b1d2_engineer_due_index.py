"""service_requests: an engineer's requests by due time; the customer's with their status; three indexes dropped

The sweep's breach rules read the partial indexes of f2c4a8e61b3d since then: nothing reads the two status and due
time indexes. Nothing looks requests up by problem type. Each index costs every UPDATE of a request an entry. The
customer index takes the status too (a search's customers among the open requests, counted from the index).

Revision ID: a9c3e5f7b1d2
Revises: f7b1c2d3e4a5
Create Date: 2026-12-06 11:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a9c3e5f7b1d2'
down_revision = 'f7b1c2d3e4a5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_service_requests_status_response_due')
        batch_op.drop_index('ix_service_requests_status_resolution_due')
        batch_op.drop_index('ix_service_requests_problem_type')
        batch_op.drop_index('ix_service_requests_customer_id')
        batch_op.create_index('ix_service_requests_customer_id_status', ['customer_id', 'status'], unique=False)
        batch_op.create_index(
            'ix_service_requests_engineer_id_required_by_id', ['engineer_id', 'required_by', 'id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_service_requests_engineer_id_required_by_id')
        batch_op.create_index('ix_service_requests_problem_type', ['problem_type'], unique=False)
        batch_op.drop_index('ix_service_requests_customer_id_status')
        batch_op.create_index('ix_service_requests_customer_id', ['customer_id'], unique=False)
        batch_op.create_index('ix_service_requests_status_resolution_due', ['status', 'resolution_due'], unique=False)
        batch_op.create_index('ix_service_requests_status_response_due', ['status', 'response_due'], unique=False)
