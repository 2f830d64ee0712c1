"""selfservice: equipment labels (hash at rest), one-time phone codes, label sheets

Revision ID: d3b8f6a2c1e9
Revises: a4c7e1f90b3d
Create Date: 2026-12-06 04:50:00

"""
from alembic import op
import sqlalchemy as sa
import fieldservice.core.models


# revision identifiers, used by Alembic.
revision = 'd3b8f6a2c1e9'
down_revision = "a4c7e1f90b3d"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('equipment_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('equipment_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', fieldservice.core.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_equipment_labels_created_by_id_users')),
    sa.ForeignKeyConstraint(['equipment_id'], ['equipment.id'], name=op.f('fk_equipment_labels_equipment_id_equipment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_equipment_labels')),
    sa.UniqueConstraint('equipment_id', 'serial', name='uq_equipment_labels_equipment_serial'),
    sa.UniqueConstraint('token_hash', name=op.f('uq_equipment_labels_token_hash'))
    )
    op.create_table('selfservice_phone_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('equipment_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('used_at', fieldservice.core.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['equipment_id'], ['equipment.id'], name=op.f('fk_selfservice_phone_codes_equipment_id_equipment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_selfservice_phone_codes'))
    )
    op.create_index('ix_selfservice_phone_codes_equipment_phone', 'selfservice_phone_codes', ['equipment_id', 'phone'], unique=False)
    op.create_table('label_sheets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('equipment_ids', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('pdf_size', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fieldservice.core.models.UTCDateTime(), nullable=False),
    sa.Column('finished_at', fieldservice.core.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_label_sheets_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_sheets'))
    )


def downgrade():
    op.drop_table('label_sheets')
    op.drop_index('ix_selfservice_phone_codes_equipment_phone', table_name='selfservice_phone_codes')
    op.drop_table('selfservice_phone_codes')
    op.drop_table('equipment_labels')
