"""analytics rollups: the request measures per day and month, zone, category and breakdown; their watermark

Revision ID: d81f3c5a7e20
Revises: d3f7b9a2c6e1
Create Date: 2026-12-06 04:30:00

"""
from alembic import op
import sqlalchemy as sa
import fieldservice.core.models


# revision identifiers, used by Alembic.
revision = 'd81f3c5a7e20'
down_revision = 'd3f7b9a2c6e1'
branch_labels = None
depends_on = None

COUNTS = (
    "requests", "open", "closed", "cancelled", "countable", "breached", "resolved", "visited", "first_fix",
    "covered", "response_n", "urgent_n", "resolution_n", "surveys", "satisfied", "low_scores",
)


def upgrade():
    op.create_table('analytics_rollups',
    sa.Column('dimension', sa.String(length=20), nullable=False),
    sa.Column('grain', sa.String(length=5), nullable=False),
    sa.Column('zone', sa.String(length=80), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('ref_id', sa.Integer(), autoincrement=False, nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
    sa.Column('response_s', sa.Numeric(), nullable=True),
    sa.Column('urgent_s', sa.Numeric(), nullable=True),
    sa.Column('resolution_s', sa.Numeric(), nullable=True),
    sa.PrimaryKeyConstraint('dimension', 'grain', 'zone', 'category', 'period', 'key', 'ref_id', name=op.f('pk_analytics_rollups'))
    )
    op.create_table('analytics_rollup_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('watermark', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('refreshed_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('days_refreshed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_rollup_state'))
    )
    op.create_index('ix_service_requests_updated_at', 'service_requests', ['updated_at'], unique=False)


def downgrade():
    op.drop_index('ix_service_requests_updated_at', table_name='service_requests')
    op.drop_table('analytics_rollup_state')
    op.drop_table('analytics_rollups')
