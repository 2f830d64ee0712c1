"""user sessions: one row per login (console session or API token), revocable, key hashed at rest

Revision ID: a5e9c1d7f3b2
Revises: b7e4c2a91d3f
Create Date: 2026-12-06 01:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

import fieldservice.core.models

# revision identifiers, used by Alembic.
revision = 'a5e9c1d7f3b2'
down_revision = 'b7e4c2a91d3f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('revoked_at', fieldservice.core.models.UTCDateTime(), nullable=True),
    sa.CheckConstraint("kind IN ('console', 'api')", name=op.f('ck_user_sessions_kind')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_user_sessions_key_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_user_sessions_user_id_revoked_at', ['user_id', 'revoked_at'], unique=False)


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_user_sessions_user_id_revoked_at')

    op.drop_table('user_sessions')
