"""customer links hashed only: drop the clear token; one row per issued link (serial), revocable

Revision ID: e6a1f0c7d2b4
Revises: a5e9c1d7f3b2
Create Date: 2026-12-06 01:10:00.000000

Existing links keep their hash and stay valid: they become serial 0 (a random token from before links were
derived from SECRET_KEY), opened by their hash until revoked or expired. The next link the app shows for such a
request is derived (serial 1).
"""
from alembic import op
import sqlalchemy as sa

import fieldservice.core.models


# revision identifiers, used by Alembic.
revision = 'e6a1f0c7d2b4'
down_revision = 'a5e9c1d7f3b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('serial', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('revoked_at', fieldservice.core.models.UTCDateTime(), nullable=True))
        batch_op.drop_constraint('uq_customer_links_request_id', type_='unique')
        batch_op.create_unique_constraint('uq_customer_links_request_serial', ['request_id', 'serial'])
        batch_op.drop_column('token')
    with op.batch_alter_table('customer_links', schema=None) as batch_op:
        batch_op.alter_column('serial', server_default=None)


def downgrade():
    # The clear tokens cannot come back: the links are forgotten, and the old code makes new ones on first use.
    op.execute('DELETE FROM customer_links')
    with op.batch_alter_table('customer_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token', sa.String(length=64), nullable=False))
        batch_op.drop_constraint('uq_customer_links_request_serial', type_='unique')
        batch_op.create_unique_constraint('uq_customer_links_request_id', ['request_id'])
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('serial')
