"""The outbox through a real rq worker on Redis, and through a Redis outage: nothing lost, nothing sent
twice."""

import json
import time
from datetime import timedelta

import pytest
from redis import Redis

from fieldservice.core.models import utcnow

pytestmark = pytest.mark.redis


@pytest.fixture
def world(worker_app, receiver):
    """Master data made directly (the factory fixtures belong to the inline `app`), and an API client."""
    from fieldservice.auth.operations import create_user, issue_token
    from fieldservice.customers.models import Customer, Equipment, Product
    from fieldservice.engineers.models import Engineer, EngineerSkill
    from fieldservice.extensions import db
    from fieldservice.requests.models import ProblemType

    worker_app.config.update(FIELDSERVICE_SMS_URL=receiver.url, FIELDSERVICE_OUTBOX_BACKOFF="0")
    customer = Customer(name="上海冷链物流", phone="13800001111", address="浦东新区", zone="浦东")
    product = Product(name="冷库机组", model="CR-9", category="hvac")
    db.session.add_all(
        [customer, product, ProblemType(code="no_cooling", name_zh="不制冷", name_en="Not cooling")]
    )
    db.session.flush()
    equipment = Equipment(customer_id=customer.id, product_id=product.id, serial_number="CR9-0001")
    dispatcher = create_user("outbox-dispatcher", "password123", "dispatcher")
    engineer_user = create_user("outbox-engineer", "password123", "engineer")
    db.session.add(equipment)
    db.session.flush()
    engineer = Engineer(
        user_id=engineer_user.id, name="李师傅", zone="浦东", skills=[EngineerSkill(category="hvac")]
    )
    db.session.add(engineer)
    db.session.commit()
    client = worker_app.test_client()
    headers = {"Authorization": f"Bearer {issue_token(dispatcher)}"}
    db.session.commit()

    def log_request():
        response = client.post(
            "/api/v1/requests",
            headers=headers,
            json={
                "customer_id": customer.id,
                "equipment_id": equipment.id,
                "problem_type": "no_cooling",
                "description": "冷库温度降不下来",
                "priority": 2,
                "required_by": (utcnow() + timedelta(days=1)).isoformat(),
            },
        )
        assert response.status_code == 201, response.json
        return response.json

    def assign(sr):
        response = client.post(
            f"/api/v1/requests/{sr['id']}/assign",
            headers=headers,
            json={"version": sr["version"], "engineer_id": engineer.id},
        )
        assert response.status_code == 200, response.json
        return response.json

    return {"log_request": log_request, "assign": assign}


def _rows():
    from fieldservice.extensions import db
    from fieldservice.notifications.models import Notification

    db.session.expire_all()
    return db.session.scalars(db.select(Notification).order_by(Notification.id)).all()


def test_the_worker_sends_what_a_change_queued(world, receiver, run_worker):
    from fieldservice.core.jobs import run_periodic_due

    sr = world["log_request"]()
    assert "notifications-outbox" in run_periodic_due()  # what the worker's beat does every 10 s
    run_worker()
    [n] = _rows()
    assert (n.event, n.status, n.attempts) == ("created", "sent", 1)
    assert [json.loads(r["body"])["idempotency_key"] for r in receiver.received] == [f"notification-{n.id}"]
    assert sr["number"] in json.loads(receiver.received[0]["body"])["text"]
    run_periodic_due(time.time() + 10)
    run_worker()
    assert len(receiver.received) == 1


def test_redis_and_provider_outage_lose_nothing_and_send_once(worker_app, world, receiver, run_worker):
    from fieldservice.core.jobs import redis_connection, run_periodic_due

    real = redis_connection()
    receiver.statuses = [503]  # the SMS provider is down too
    worker_app.extensions["fieldservice_redis"] = Redis.from_url(
        "redis://127.0.0.1:1/9", socket_connect_timeout=0.2
    )
    # Changes go through while Redis is down: the messages wait in the database.
    first = world["log_request"]()
    world["assign"](first)
    world["log_request"]()
    rows = _rows()
    assert [(n.event, n.status) for n in rows] == [
        ("created", "pending"),
        ("assigned", "pending"),
        ("created", "pending"),
    ]
    assert receiver.received == []
    keys = sorted(f"notification-{n.id}" for n in rows)

    worker_app.extensions["fieldservice_redis"] = real  # Redis is back
    assert "notifications-outbox" in run_periodic_due()
    run_worker()
    assert [(n.status, n.attempts) for n in _rows()] == [("failed", 1)] * 3
    assert len(receiver.received) == 3

    receiver.statuses = [200]  # the provider is back
    assert "notifications-outbox" in run_periodic_due(now=time.time() + 10)
    run_worker()
    assert [n.status for n in _rows()] == ["sent"] * 3
    delivered = [json.loads(r["body"])["idempotency_key"] for r in receiver.received if r["status"] == 200]
    assert sorted(delivered) == keys  # each exactly once
    # Later drains find nothing to send.
    run_periodic_due(now=time.time() + 20)
    run_worker()
    assert len([r for r in receiver.received if r["status"] == 200]) == 3
