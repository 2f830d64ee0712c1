"""request search and list indexes: pg_trgm for the search box, the open requests with what their filters read,
the priority and response-due orders, the kept counts per status and priority

Revision ID: d3f7b9a2c6e1
Revises: d3b8f2a6c915
Create Date: 2026-12-06 04:40:00.000000

"""
import logging

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3f7b9a2c6e1'
down_revision = 'd3b8f2a6c915'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

OPEN = "status IN ('assigned', 'awaiting_assignment', 'locked', 'suspended')"
OPEN_INCLUDE = ["status", "priority", "customer_id", "engineer_id", "response_breached", "resolution_breached"]
TRIGRAM = [
    ("service_requests", "ix_service_requests_number_trgm", "number"),
    ("service_requests", "ix_service_requests_description_trgm", "description"),
    ("customers", "ix_customers_name_trgm", "name"),
    ("customers", "ix_customers_phone_trgm", "phone"),
]
# A copy of requests/models.py COUNT_TRIGGER_SQL as of this revision (a migration does not import the app).
COUNT_TRIGGER_SQL = [
    """
CREATE OR REPLACE FUNCTION service_request_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO service_request_counts (status, priority, delta)
        SELECT status, priority, count(*) FROM new_rows GROUP BY status, priority;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO service_request_counts (status, priority, delta)
        SELECT status, priority, -count(*) FROM old_rows GROUP BY status, priority;
    ELSE
        INSERT INTO service_request_counts (status, priority, delta)
        SELECT status, priority, sum(delta) FROM (
            SELECT status, priority, 1 AS delta FROM new_rows
            UNION ALL
            SELECT status, priority, -1 AS delta FROM old_rows
        ) AS changes
        GROUP BY status, priority
        HAVING sum(delta) <> 0;
    END IF;
    RETURN NULL;
END
$$
""",
    "CREATE OR REPLACE TRIGGER service_request_counts_insert AFTER INSERT ON service_requests"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION service_request_counts_changed()",
    "CREATE OR REPLACE TRIGGER service_request_counts_update AFTER UPDATE ON service_requests"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION service_request_counts_changed()",
    "CREATE OR REPLACE TRIGGER service_request_counts_delete AFTER DELETE ON service_requests"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION service_request_counts_changed()",
]


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _trigram_available() -> bool:
    """pg_trgm installed here, or installable (it ships with PostgreSQL's contrib; a trusted extension)."""
    bind = op.get_bind()
    if not bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).scalar():
        log.warning("pg_trgm is not available: the search box reads the rows (install postgresql-contrib)")
        return False
    bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    return True


def upgrade():
    op.create_table('service_request_counts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('delta', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_request_counts'))
    )
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.create_index(
            'ix_service_requests_open_required_by', ['required_by', 'id'], unique=False,
            postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN), postgresql_include=OPEN_INCLUDE,
        )
        batch_op.create_index(
            'ix_service_requests_priority_required_by_id', ['priority', 'required_by', 'id'], unique=False
        )
        batch_op.create_index(
            'ix_service_requests_priority_created_at_id', ['priority', 'created_at', 'id'], unique=False
        )
        batch_op.create_index('ix_service_requests_response_due_id', ['response_due', 'id'], unique=False)
        batch_op.create_index('ix_service_requests_status_customer_id', ['status', 'customer_id'], unique=False)
    trigram = not _postgres() or _trigram_available()
    for table, name, column in TRIGRAM:
        if _postgres() and trigram:
            op.create_index(
                name, table, [column], unique=False,
                postgresql_using='gin', postgresql_ops={column: 'gin_trgm_ops'},
            )
        elif not _postgres():
            op.create_index(name, table, [column], unique=False)
    if _postgres():
        for statement in COUNT_TRIGGER_SQL:
            op.execute(statement)
        op.execute(
            "INSERT INTO service_request_counts (status, priority, delta)"
            " SELECT status, priority, count(*) FROM service_requests GROUP BY status, priority"
        )


def downgrade():
    if _postgres():
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS service_request_counts_{name} ON service_requests")
        op.execute("DROP FUNCTION IF EXISTS service_request_counts_changed()")
    for table, name, _column in TRIGRAM:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_service_requests_status_customer_id')
        batch_op.drop_index('ix_service_requests_response_due_id')
        batch_op.drop_index('ix_service_requests_priority_created_at_id')
        batch_op.drop_index('ix_service_requests_priority_required_by_id')
        batch_op.drop_index('ix_service_requests_open_required_by')
    op.drop_table('service_request_counts')
