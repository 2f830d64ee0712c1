"""Redis away: the customer's pages, the health check and intake keep answering; rate limits count in the database."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice import create_app
from fieldservice.core.models import utcnow
from fieldservice.core.ratelimit import RateLimitBucket, allow
from fieldservice.extensions import db
from fieldservice.reports import operations as ops

UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_away(app_config, _schema):
    """A second app on the same database whose Redis cannot be reached; the test's own app context stays out."""
    app = create_app({**app_config, "REDIS_URL": UNREACHABLE})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # this app's own pool: its connections must not outlive the test


def test_the_customer_page_answers_and_counts_in_the_database(db, resolved_request, redis_away, caplog):
    token = ops.urls_for(resolved_request)["url"].rsplit("/r/", 1)[1]
    db.session.commit()
    client = redis_away.test_client()
    assert client.get(f"/r/{token}").status_code == 200
    assert client.get(f"/r/{token}").status_code == 200
    assert client.get("/r/not-a-token").status_code == 404
    assert "Redis unreachable" in caplog.text
    with redis_away.app_context():
        counted = db.session.scalar(
            sa.select(sa.func.sum(RateLimitBucket.count)).where(RateLimitBucket.key.like("r:view:%"))
        )
    assert counted == 3


def test_the_limit_still_holds_without_redis(redis_away):
    with redis_away.app_context():
        results = [allow("r:test:203.0.113.9", 3, 60, now=1_000_000.0) for _ in range(5)]
    assert results == [True, True, True, False, False]


def test_a_short_window_does_not_empty_a_day_long_one_in_the_database(redis_away):
    day_start = 1_000_000 * 86400.0
    with redis_away.app_context():
        assert allow("r:daily:1", 2, 86400, now=day_start)
        # Minutes later, a minute-long key counts and tidies up old buckets: the day's bucket must stay.
        assert allow("r:view:203.0.113.9", 100, 60, now=day_start + 3600)
        assert [allow("r:daily:1", 2, 86400, now=day_start + 7200) for _ in range(2)] == [True, False]


def test_health_says_redis_is_down_but_answers(redis_away):
    answer = redis_away.test_client().get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "degraded", "database": "ok", "redis": "down"}


def test_health_is_503_when_the_database_is_down(app_config, tmp_path):
    app = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path}/missing/folder/fs.db"})
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "unavailable", "database": "down", "redis": "not configured"}
    with app.app_context():
        db.engine.dispose()


def test_intake_answers_while_redis_is_away(redis_away, make_user, make_equipment):
    from fieldservice.auth.operations import issue_token
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leaking", category="repair"))
    unit = make_equipment()
    token = issue_token(make_user("dispatcher"))
    db.session.commit()
    answer = redis_away.test_client().post(
        "/api/v1/requests",
        json={
            "customer_id": unit.customer_id,
            "equipment_id": unit.id,
            "problem_type": "leak",
            "description": "漏水",
            "priority": 3,
            "required_by": (utcnow() + timedelta(days=2)).isoformat(),
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.get_json()
