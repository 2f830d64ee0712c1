"""holiday calendar: the site's public holidays and make-up working days, seeded for 2026 and 2027

Revision ID: 5b7e2c4d9a31
Revises: 3f1d2a9b7c10
Create Date: 2026-12-05 22:40:00.000000

"""
from datetime import date

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5b7e2c4d9a31'
down_revision = '3f1d2a9b7c10'
branch_labels = None
depends_on = None

# A copy of fieldservice/core/holidays.py as it was when this revision was written: a migration must not change
# when the app's code does. 2027 is provisional (see that module).
CALENDAR_DAYS = [
    ("2026-01-01", "holiday", "元旦", "New Year's Day"),
    ("2026-01-02", "holiday", "元旦", "New Year's Day"),
    ("2026-01-03", "holiday", "元旦", "New Year's Day"),
    ("2026-01-04", "workday", "元旦调休上班", "New Year's Day make-up working day"),
    ("2026-02-14", "workday", "春节调休上班", "Spring Festival make-up working day"),
    ("2026-02-15", "holiday", "春节", "Spring Festival"),
    ("2026-02-16", "holiday", "春节", "Spring Festival"),
    ("2026-02-17", "holiday", "春节", "Spring Festival"),
    ("2026-02-18", "holiday", "春节", "Spring Festival"),
    ("2026-02-19", "holiday", "春节", "Spring Festival"),
    ("2026-02-20", "holiday", "春节", "Spring Festival"),
    ("2026-02-21", "holiday", "春节", "Spring Festival"),
    ("2026-02-22", "holiday", "春节", "Spring Festival"),
    ("2026-02-23", "holiday", "春节", "Spring Festival"),
    ("2026-02-28", "workday", "春节调休上班", "Spring Festival make-up working day"),
    ("2026-04-04", "holiday", "清明节", "Qingming Festival"),
    ("2026-04-05", "holiday", "清明节", "Qingming Festival"),
    ("2026-04-06", "holiday", "清明节", "Qingming Festival"),
    ("2026-05-01", "holiday", "劳动节", "Labour Day"),
    ("2026-05-02", "holiday", "劳动节", "Labour Day"),
    ("2026-05-03", "holiday", "劳动节", "Labour Day"),
    ("2026-05-04", "holiday", "劳动节", "Labour Day"),
    ("2026-05-05", "holiday", "劳动节", "Labour Day"),
    ("2026-05-09", "workday", "劳动节调休上班", "Labour Day make-up working day"),
    ("2026-06-19", "holiday", "端午节", "Dragon Boat Festival"),
    ("2026-06-20", "holiday", "端午节", "Dragon Boat Festival"),
    ("2026-06-21", "holiday", "端午节", "Dragon Boat Festival"),
    ("2026-09-20", "workday", "国庆节调休上班", "National Day make-up working day"),
    ("2026-09-25", "holiday", "中秋节", "Mid-Autumn Festival"),
    ("2026-09-26", "holiday", "中秋节", "Mid-Autumn Festival"),
    ("2026-09-27", "holiday", "中秋节", "Mid-Autumn Festival"),
    ("2026-10-01", "holiday", "国庆节", "National Day"),
    ("2026-10-02", "holiday", "国庆节", "National Day"),
    ("2026-10-03", "holiday", "国庆节", "National Day"),
    ("2026-10-04", "holiday", "国庆节", "National Day"),
    ("2026-10-05", "holiday", "国庆节", "National Day"),
    ("2026-10-06", "holiday", "国庆节", "National Day"),
    ("2026-10-07", "holiday", "国庆节", "National Day"),
    ("2026-10-10", "workday", "国庆节调休上班", "National Day make-up working day"),
    ("2027-01-01", "holiday", "元旦", "New Year's Day"),
    ("2027-02-05", "holiday", "春节", "Spring Festival"),
    ("2027-02-06", "holiday", "春节", "Spring Festival"),
    ("2027-02-07", "holiday", "春节", "Spring Festival"),
    ("2027-02-08", "holiday", "春节", "Spring Festival"),
    ("2027-02-09", "holiday", "春节", "Spring Festival"),
    ("2027-02-10", "holiday", "春节", "Spring Festival"),
    ("2027-04-05", "holiday", "清明节", "Qingming Festival"),
    ("2027-05-01", "holiday", "劳动节", "Labour Day"),
    ("2027-05-02", "holiday", "劳动节", "Labour Day"),
    ("2027-05-03", "holiday", "劳动节", "Labour Day"),
    ("2027-05-04", "holiday", "劳动节", "Labour Day"),
    ("2027-06-09", "holiday", "端午节", "Dragon Boat Festival"),
    ("2027-09-15", "holiday", "中秋节", "Mid-Autumn Festival"),
    ("2027-10-01", "holiday", "国庆节", "National Day"),
    ("2027-10-02", "holiday", "国庆节", "National Day"),
    ("2027-10-03", "holiday", "国庆节", "National Day"),
    ("2027-10-04", "holiday", "国庆节", "National Day"),
    ("2027-10-05", "holiday", "国庆节", "National Day"),
]


def upgrade():
    calendar_days = op.create_table(
        'calendar_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('name_zh', sa.String(length=80), nullable=False),
        sa.Column('name_en', sa.String(length=80), nullable=False),
        sa.CheckConstraint("kind IN ('holiday', 'workday')", name=op.f('ck_calendar_days_kind')),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days')),
    )
    op.bulk_insert(
        calendar_days,
        [
            {'day': date.fromisoformat(day), 'kind': kind, 'name_zh': name_zh, 'name_en': name_en}
            for day, kind, name_zh, name_en in CALENDAR_DAYS
        ],
    )


def downgrade():
    op.drop_table('calendar_days')
