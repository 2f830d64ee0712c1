"""appointments: the visit windows agreed with customers (预约上门), their history and one booked per request

Revision ID: a4c7e1f90b3d
Revises: c5e8a13f7d42
Create Date: 2026-12-06 00:57:58.833196

"""
from alembic import op
import sqlalchemy as sa
import fieldservice.core.models


# revision identifiers, used by Alembic.
revision = 'a4c7e1f90b3d'
down_revision = 'c5e8a13f7d42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('appointments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('engineer_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('ends_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reschedules', sa.Integer(), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('change_requested_at', fieldservice.core.models.UTCDateTime(), nullable=True),
    sa.Column('change_request_note', sa.String(length=500), nullable=True),
    sa.Column('created_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('closed_at', fieldservice.core.models.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('booked', 'kept', 'missed', 'cancelled')", name=op.f('ck_appointments_status_known')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_appointments_window_order')),
    sa.ForeignKeyConstraint(['engineer_id'], ['engineers.id'], name=op.f('fk_appointments_engineer_id_engineers')),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], name=op.f('fk_appointments_request_id_service_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], name=op.f('fk_appointments_set_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_engineer_id_starts_at', ['engineer_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointments_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_appointments_status_ends_at', ['status', 'ends_at'], unique=False)
        batch_op.create_index('uq_appointments_request_booked', ['request_id'], unique=True, postgresql_where=sa.text("status = 'booked'"), sqlite_where=sa.text("status = 'booked'"))



def downgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('uq_appointments_request_booked', postgresql_where=sa.text("status = 'booked'"), sqlite_where=sa.text("status = 'booked'"))
        batch_op.drop_index('ix_appointments_status_ends_at')
        batch_op.drop_index(batch_op.f('ix_appointments_request_id'))
        batch_op.drop_index('ix_appointments_engineer_id_starts_at')

    op.drop_table('appointments')
