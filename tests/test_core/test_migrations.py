import warnings
from datetime import date

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from fieldservice.core.holidays import CALENDAR_DAYS
from fieldservice.extensions import db


def _diff():
    with db.engine.connect() as conn:
        dialect = conn.dialect.name

        def made_here(obj, _name, type_, _reflected, _compare_to) -> bool:
            # An index made on one dialect only (Index.ddl_if, e.g. core.search.doubled_trigram_index) is compared
            # there only.
            condition = getattr(obj, "_ddl_if", None) if type_ == "index" else None
            return condition is None or condition.dialect in (None, dialect)

        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": made_here})
        with warnings.catch_warnings():
            # Alembic warns of an expression index it cannot reflect on SQLite before include_object skips it.
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
            return compare_metadata(context, db.metadata)


def test_migrations_build_the_schema_the_models_describe(fresh_app):
    upgrade()
    assert _diff() == []


def test_migrations_downgrade_to_nothing_and_up_again(fresh_app):
    upgrade()
    downgrade(revision="base")
    with db.engine.connect() as conn:
        remaining = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
    assert remaining == set()
    upgrade()
    assert _diff() == []


def test_the_migrations_create_and_seed_the_holiday_calendar(fresh_app):
    upgrade()
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT day, kind, name_zh, name_en FROM calendar_days ORDER BY day")).all()
    seeded = [(_as_date(day), kind, name_zh, name_en) for day, kind, name_zh, name_en in rows]
    # The migration carries its own copy of the seed: the same days as core/holidays.py for 2026 and 2027.
    assert seeded == [row for row in CALENDAR_DAYS if row[0].year in (2026, 2027)]
    assert (date(2026, 2, 14), "workday") in {(day, kind) for day, kind, _zh, _en in seeded}
    downgrade(revision="3f1d2a9b7c10")
    with db.engine.connect() as conn:
        assert "calendar_days" not in db.inspect(conn).get_table_names()


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)  # SQLite hands back text


def test_the_customer_links_migration_drops_the_clear_token_and_keeps_links_valid(fresh_app):
    """A row from before keeps its hash and becomes serial 0 (a random token, valid until revoked or expired)."""
    import hashlib

    upgrade(revision="b7e4c2a91d3f")
    token = "an-old-random-token-kept-in-clear-0123"
    digest = hashlib.sha256(token.encode()).hexdigest()
    insert = sa.text(
        "INSERT INTO customer_links (request_id, token_hash, token, created_at) VALUES (7, :digest, :token, :at)"
    )
    with db.engine.connect() as conn:
        # The row alone is the point: its request need not exist for this check.
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET session_replication_role = replica")
        else:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.execute(insert, {"digest": digest, "token": token, "at": "2026-11-30 08:00:00"})
        conn.commit()
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET session_replication_role = DEFAULT")
    upgrade()
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("customer_links")}
    assert columns == {"id", "request_id", "serial", "token_hash", "created_at", "revoked_at"}
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT request_id, serial, token_hash, revoked_at FROM customer_links")).all()
    assert [tuple(row) for row in rows] == [(7, 0, digest, None)]
