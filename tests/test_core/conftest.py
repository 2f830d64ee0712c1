import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa


@pytest.fixture
def fresh_database_url(database_url, tmp_path):
    """An empty database of the same kind as the test database, dropped afterwards."""
    if not database_url.startswith("postgres"):
        yield "sqlite:///" + str(tmp_path / "fresh.db")
        return
    name = f"fs_fresh_{uuid.uuid4().hex[:10]}"
    admin_url = sa.engine.make_url(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    engine = sa.create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def fresh_app(app_config, fresh_database_url):
    from fieldservice import create_app
    from fieldservice.extensions import db

    app = create_app({**app_config, "DATABASE_URL": fresh_database_url})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def intake(db, api_as, make_equipment):
    """A dispatcher's client and a valid intake body, as raw JSON pieces to spoil."""
    from fieldservice.core.models import utcnow
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
    unit = make_equipment()
    db.session.commit()
    body = {
        "customer_id": unit.customer_id,
        "equipment_id": unit.id,
        "problem_type": "leak",
        "description": "漏水",
        "priority": 3,
        "required_by": (utcnow() + timedelta(days=2)).isoformat(),
    }
    return api_as("dispatcher"), body
