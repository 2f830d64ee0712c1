"""sync uploads: photos and signatures the phones send in chunks that resume after a dropped connection

Revision ID: d3b8f2a6c915
Revises: d3b8f51c6e27
Create Date: 2026-12-06 04:30:00.000000
"""
from alembic import op
import sqlalchemy as sa

import fieldservice.core.models


# revision identifiers, used by Alembic.
revision = 'd3b8f2a6c915'
down_revision = "d3b8f51c6e27"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sync_uploads',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('content_type', sa.String(length=50), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', fieldservice.core.models.UTCDateTime(), nullable=False),
        sa.Column('updated_at', fieldservice.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sync_uploads_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_uploads')),
    )
    with op.batch_alter_table('sync_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_uploads_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('sync_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_uploads_user_id'))
    op.drop_table('sync_uploads')
