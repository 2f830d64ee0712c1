"""service_requests: partial indexes for the sweep's breach rules (the open requests not yet flagged, by due time)

Revision ID: f2c4a8e61b3d
Revises: d81f3c5a7e20
Create Date: 2026-12-06 08:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f2c4a8e61b3d'
down_revision = 'd81f3c5a7e20'
branch_labels = None
depends_on = None

# A copy of requests/models.py's predicates as of this revision (a migration does not import the app).
ACTIVE = "status IN ('assigned', 'awaiting_assignment', 'locked')"
INDEXES = [
    ("ix_service_requests_response_unbreached", "response_due",
     ACTIVE + " AND responded_at IS NULL AND NOT response_breached"),
    ("ix_service_requests_resolution_unbreached", "resolution_due", ACTIVE + " AND NOT resolution_breached"),
]


def upgrade():
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        for name, column, where in INDEXES:
            batch_op.create_index(
                name, [column, 'id'], unique=False,
                postgresql_where=sa.text(where), sqlite_where=sa.text(where),
            )


def downgrade():
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        for name, _column, _where in INDEXES:
            batch_op.drop_index(name)
