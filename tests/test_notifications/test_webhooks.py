"""Outgoing webhooks: admin-managed subscriptions, signed deliveries a receiver can verify, retries,
give-up, log."""

import hashlib
import hmac
import json
import time

import pytest

from fieldservice.core.models import utcnow
from fieldservice.parts.part_requests import apply_part_request, perform_part_request


@pytest.fixture
def subscribe(api_as, receiver, app):
    """subscribe(events) -> the new subscription (JSON, with its secret), pointed at the local receiver."""
    app.config["FIELDSERVICE_OUTBOX_BACKOFF"] = "0"
    admin = api_as("admin")

    def make(events=("*",), **kw):
        response = admin.post(
            "/api/v1/webhooks/subscriptions",
            json={"name": "CRM", "url": receiver.url, "events": list(events), **kw},
        )
        assert response.status_code == 201, response.json
        return response.json

    make.admin = admin
    return make


def drain() -> dict:
    """Drain the outbox; what happened to the webhook deliveries."""
    from fieldservice.notifications.jobs import drain_outbox

    return drain_outbox().get("webhook_deliveries", {})


def _deliveries(db):
    from fieldservice.notifications.models import WebhookDelivery

    return db.session.scalars(db.select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def receiver_verifies(secret: str, headers: dict, body: bytes) -> bool:
    """What an integrator writes, independent of the app's code: HMAC-SHA256 over "<timestamp>.<body>"."""
    timestamp = headers["X-Fieldservice-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(expected, headers["X-Fieldservice-Signature"])


def test_signed_delivery_verifiable_by_the_receiver(db, subscribe, receiver, log_request):
    from fieldservice.notifications import webhooks

    subscription = subscribe(["request.created"])
    sr = log_request()
    drain()
    [hit] = receiver.received
    assert receiver_verifies(subscription["secret"], hit["headers"], hit["body"])
    assert webhooks.verify(subscription["secret"], hit["headers"], hit["body"])
    envelope = json.loads(hit["body"])
    assert envelope["type"] == "request.created" and hit["headers"]["X-Fieldservice-Event"] == "request.created"
    assert envelope["data"]["request"]["number"] == sr.number
    assert envelope["id"] == hit["headers"]["X-Fieldservice-Delivery"]
    # A changed body, a wrong secret or an old timestamp do not verify.
    assert not receiver_verifies(subscription["secret"], hit["headers"], hit["body"].replace(b"SR-", b"XX-"))
    assert not receiver_verifies("another-secret-0123456789", hit["headers"], hit["body"])
    assert not webhooks.verify(subscription["secret"], hit["headers"], hit["body"], now=time.time() + 3600)
    [delivery] = _deliveries(db)
    assert (delivery.status, delivery.last_status_code, delivery.attempts) == ("sent", 200, 1)


def test_event_types_and_patterns(db, subscribe, receiver, setup_request, log_request, make_user):
    from fieldservice.parts.models import Part
    from fieldservice.requests import operations as ops

    subscribe(["request.status_changed", "visit.finished", "part_request.*"])
    sr = log_request()
    engineer = setup_request["engineer"]
    ops.perform(sr, "assign", setup_request["dispatcher"], sr.version, engineer_id=engineer.id)
    db.session.commit()
    now = utcnow()
    ops.record_visit(
        sr, {"outcome": "resolved", "arrived_at": now, "finished_at": now, "labour_hours": 1}, engineer.user
    )
    db.session.commit()
    part = Part(part_number="F-9", name="滤芯", category="water_purifier")
    db.session.add(part)
    db.session.commit()
    pr = apply_part_request(
        {"engineer_id": engineer.id, "lines": [{"part_id": part.id, "qty": 1}]}, setup_request["dispatcher"]
    )
    db.session.commit()
    perform_part_request(pr, "approve", make_user("manager"), pr.version)
    db.session.commit()
    drain()
    types = [json.loads(h["body"])["type"] for h in receiver.received]
    assert types == [
        "request.status_changed",
        "request.status_changed",
        "visit.finished",
        "part_request.applied",
        "part_request.approved",
    ]
    changes = [json.loads(h["body"])["data"]["event"] for h in receiver.received[:2]]
    assert [(c["from_status"], c["to_status"]) for c in changes] == [
        ("awaiting_assignment", "assigned"),
        ("assigned", "resolved"),
    ]
    visit = json.loads(receiver.received[2]["body"])["data"]["visit"]
    assert visit["outcome"] == "resolved"
    applied = json.loads(receiver.received[3]["body"])["data"]["part_request"]
    assert applied["number"] == pr.number and applied["lines"] == [{"part_id": part.id, "qty": 1}]


def test_retry_then_give_up_with_a_delivery_log(db, app, subscribe, receiver, log_request):

    app.config["FIELDSERVICE_OUTBOX_MAX_ATTEMPTS"] = "3"
    subscribe(["request.created"])
    receiver.statuses = [500, 502, 200]
    log_request()
    assert [drain() for _ in range(3)] == [{"failed": 1}, {"failed": 1}, {"sent": 1}]
    [delivery] = _deliveries(db)
    assert [(a.ok, a.status_code) for a in delivery.attempts_log] == [(False, 500), (False, 502), (True, 200)]
    # Every retry is the same event: the receiver can drop repeats by its id.
    assert len({h["headers"]["X-Fieldservice-Delivery"] for h in receiver.received}) == 1

    receiver.statuses = [503]
    log_request()
    assert [drain() for _ in range(4)] == [{"failed": 1}, {"failed": 1}, {"gave_up": 1}, {}]
    gave_up = _deliveries(db)[-1]
    assert (gave_up.status, gave_up.attempts, gave_up.last_error) == ("gave_up", 3, "HTTP 503")
    log = subscribe.admin.get("/api/v1/webhooks/deliveries", query_string={"status": "gave_up"}).json
    assert [d["id"] for d in log["items"]] == [gave_up.id]
    assert [a["status_code"] for a in log["items"][0]["attempts_log"]] == [503, 503, 503]
    # An admin resends it once the receiver is fixed.
    receiver.statuses = [200]
    resent = subscribe.admin.post(f"/api/v1/webhooks/deliveries/{gave_up.id}/resend", json={"version": gave_up.version})
    assert resent.status_code == 200
    assert _deliveries(db)[-1].status == "sent"  # drained inline after the API's commit


def test_unreachable_endpoint_is_retried(db, app, subscribe, log_request):

    subscribe(["request.created"], url="http://127.0.0.1:9/nothing-listens-here")
    log_request()
    assert drain() == {"failed": 1}
    [delivery] = _deliveries(db)
    assert delivery.last_status_code is None and delivery.last_error


def test_disabled_subscription_gets_nothing_and_pending_ones_give_up(db, subscribe, receiver, log_request):

    subscription = subscribe(["request.created"])
    log_request()
    patched = subscribe.admin.patch(
        f"/api/v1/webhooks/subscriptions/{subscription['id']}",
        json={"version": subscription["version"], "active": False},
    )
    assert patched.status_code == 200 and patched.json["active"] is False
    assert drain() == {"gave_up": 1}
    assert [(d.status, d.last_error) for d in _deliveries(db)] == [("gave_up", "the subscription is disabled")]
    log_request()
    assert len(_deliveries(db)) == 1 and receiver.received == []


def test_subscriptions_are_for_admins_and_validated(api_as, subscribe, receiver):
    subscription = subscribe(["part_request.*"])
    assert "secret" in subscription and len(subscription["secret"]) >= 32
    admin = subscribe.admin
    listed = admin.get("/api/v1/webhooks/subscriptions").json
    assert [s["id"] for s in listed] == [subscription["id"]] and "secret" not in listed[0]
    bad = admin.post(
        "/api/v1/webhooks/subscriptions",
        json={"name": "x", "url": "ftp://example.com", "events": ["request.nothing"]},
    )
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"url", "events"}
    assert admin.post("/api/v1/webhooks/subscriptions", json={"name": "x"}).status_code == 422
    stale = admin.patch(
        f"/api/v1/webhooks/subscriptions/{subscription['id']}",
        json={"version": subscription["version"] + 5, "name": "y"},
    )
    assert stale.status_code == 409
    for role in ("manager", "dispatcher", "engineer"):
        assert api_as(role).get("/api/v1/webhooks/subscriptions").status_code == 403
    deleted = admin.delete(
        f"/api/v1/webhooks/subscriptions/{subscription['id']}",
        query_string={"version": subscription["version"]},
    )
    assert deleted.status_code == 204 and admin.get("/api/v1/webhooks/subscriptions").json == []


def test_console_manages_subscriptions(db, console_as, receiver):
    from fieldservice.notifications.models import WebhookSubscription

    admin = console_as("admin")
    page = admin.post(
        "/notifications/webhooks?lang=en",
        data={
            "name": "工单系统",
            "url": receiver.url,
            "events": ["request.created", "visit.finished"],
            "active": "y",
        },
    )
    assert page.status_code == 200
    [subscription] = db.session.scalars(db.select(WebhookSubscription)).all()
    assert subscription.secret in page.data.decode()  # shown once
    assert subscription.events == ["request.created", "visit.finished"]
    bad = admin.post("/notifications/webhooks?lang=en", data={"name": "x", "url": "ftp://x", "events": ["*"]})
    assert bad.status_code == 422 and "http://" in bad.data.decode()
    response = admin.post(f"/notifications/webhooks/{subscription.id}/disable", data={"version": subscription.version})
    assert response.status_code == 302
    db.session.refresh(subscription)
    assert subscription.active is False
    assert console_as("manager").get("/notifications/webhooks").status_code == 403
