"""service_requests: a GIN index of the description's bigrams (a search of two characters, which have no trigram)

Revision ID: f7b1c2d3e4a5
Revises: f2c4a8e61b3d
Create Date: 2026-12-06 11:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f7b1c2d3e4a5'
down_revision = 'f2c4a8e61b3d'
branch_labels = None
depends_on = None

# A copy of core/search.py's BIGRAMS_FUNCTION_SQL as of this revision (a migration does not import the app).
BIGRAMS_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION fs_bigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT lower(substr(t, i, 2))), '{}')
    FROM generate_series(1, length(t) - 1) AS i
$$
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(BIGRAMS_FUNCTION_SQL)
    op.execute(
        "CREATE INDEX ix_service_requests_description_bigrams ON service_requests USING gin (fs_bigrams(description))"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_service_requests_description_bigrams")
    op.execute("DROP FUNCTION fs_bigrams(text)")
