"""one number counter table: every document number's series in number_counters

Revision ID: b7e4c2a91d3f
Revises: 5b7e2c4d9a31
Create Date: 2026-12-05 22:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e4c2a91d3f'
down_revision = '5b7e2c4d9a31'
branch_labels = None
depends_on = None

# A series is the number without its sequence: SR-20261123, TS-20261123, PR-20261123 (RO-, SC-), AG-2026, INV-2026.
COPY_IN = [
    "INSERT INTO number_counters (series, last) SELECT 'SR-' || day, last FROM request_number_counters",
    "INSERT INTO number_counters (series, last) SELECT 'TS-' || day, last FROM complaint_number_counters",
    "INSERT INTO number_counters (series, last) SELECT prefix || '-' || day, last FROM parts_number_counters",
    "INSERT INTO number_counters (series, last) SELECT series, last FROM contract_number_counters",
]
COPY_OUT = [
    "INSERT INTO request_number_counters (day, last) SELECT substr(series, 4), last FROM number_counters"
    " WHERE series LIKE 'SR-%'",
    "INSERT INTO complaint_number_counters (day, last) SELECT substr(series, 4), last FROM number_counters"
    " WHERE series LIKE 'TS-%'",
    "INSERT INTO parts_number_counters (prefix, day, last) SELECT substr(series, 1, 2), substr(series, 4), last"
    " FROM number_counters WHERE series LIKE 'PR-%' OR series LIKE 'RO-%' OR series LIKE 'SC-%'",
    "INSERT INTO contract_number_counters (series, last) SELECT series, last FROM number_counters"
    " WHERE series LIKE 'AG-%' OR series LIKE 'INV-%'",
]


def upgrade():
    op.create_table('number_counters',
    sa.Column('series', sa.String(length=40), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', name=op.f('pk_number_counters'))
    )
    for statement in COPY_IN:
        op.execute(statement)
    op.drop_table('request_number_counters')
    op.drop_table('parts_number_counters')
    op.drop_table('contract_number_counters')
    op.drop_table('complaint_number_counters')


def downgrade():
    op.create_table('complaint_number_counters',
    sa.Column('day', sa.String(length=8), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_complaint_number_counters'))
    )
    op.create_table('contract_number_counters',
    sa.Column('series', sa.String(length=20), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', name=op.f('pk_contract_number_counters'))
    )
    op.create_table('parts_number_counters',
    sa.Column('prefix', sa.String(length=4), nullable=False),
    sa.Column('day', sa.String(length=8), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', 'day', name=op.f('pk_parts_number_counters'))
    )
    op.create_table('request_number_counters',
    sa.Column('day', sa.String(length=8), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_request_number_counters'))
    )
    for statement in COPY_OUT:
        op.execute(statement)
    op.drop_table('number_counters')
