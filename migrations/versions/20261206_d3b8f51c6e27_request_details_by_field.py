"""request details merged by field: the site address, the engineer's note and who changed which detail when

Revision ID: d3b8f51c6e27
Revises: d3b7f2a9c614
Create Date: 2026-12-06 04:30:00.000000

"""
from alembic import op
import sqlalchemy as sa
import fieldservice.core.models


# revision identifiers, used by Alembic.
revision = 'd3b8f51c6e27'
down_revision = 'd3b7f2a9c614'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('site_address', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('engineer_note', sa.Text(), nullable=True))

    op.create_table('request_field_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=120), nullable=False),
    sa.Column('at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_request_field_changes_actor_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], name=op.f('fk_request_field_changes_request_id_service_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_field_changes'))
    )
    with op.batch_alter_table('request_field_changes', schema=None) as batch_op:
        batch_op.create_index('ix_request_field_changes_request_id_version', ['request_id', 'version'], unique=False)


def downgrade():
    with op.batch_alter_table('request_field_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_request_field_changes_request_id_version')

    op.drop_table('request_field_changes')
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_column('engineer_note')
        batch_op.drop_column('site_address')
