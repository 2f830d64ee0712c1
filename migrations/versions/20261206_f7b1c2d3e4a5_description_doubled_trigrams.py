"""service_requests: the description's trigram index made of its text with each character doubled

A search of two characters (漏水) has no trigram of its own and read every row; doubled, it has (漏漏水水), and the
doubled text holds it exactly where the text holds 漏水. The doubled index answers longer text as well, so it
replaces the plain trigram index of the description rather than adding a second one to every change of a request.

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

# A copy of core/search.py's doubled() as of this revision (a migration does not import the app).
DOUBLED = r"regexp_replace(description, '(.)', '\1\1', 'g')"


def upgrade():
    # SQLite had a plain index in its place (it reads the rows) and has none now.
    op.execute("DROP INDEX IF EXISTS ix_service_requests_description_trgm")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_service_requests_description_doubled_trgm ON service_requests"
            f" USING gin ({DOUBLED} gin_trgm_ops)"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_service_requests_description_doubled_trgm")
        op.execute(
            "CREATE INDEX ix_service_requests_description_trgm ON service_requests"
            " USING gin (description gin_trgm_ops)"
        )
    else:
        op.create_index("ix_service_requests_description_trgm", "service_requests", ["description"], unique=False)
