"""Customer notifications: queued with the change, sent by the outbox drain, retried, given up, resent."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.models import utcnow
from tests.test_notifications.conftest import request_body


def _sms(receiver) -> list[dict]:
    return [json.loads(r["body"]) for r in receiver.received]


def drain() -> dict:
    """Drain the outbox; what happened to the notifications."""
    from fieldservice.notifications.jobs import drain_outbox

    return drain_outbox().get("notifications", {})


def _notifications(db):
    from fieldservice.notifications.models import Notification

    return db.session.scalars(db.select(Notification).order_by(Notification.id)).all()


def test_messages_in_chinese_and_english(app):
    from fieldservice.notifications.messages import render

    subject, body = render("assigned", "zh_Hans", number="SR-1", engineer="张师傅")
    assert subject == "服务请求 SR-1" and "张师傅" in body and "工程师" in body
    subject, body = render("assigned", "en", number="SR-1", engineer="Zhang")
    assert subject == "Service request SR-1"
    assert body == "Engineer Zhang will handle your service request SR-1."
    _, body = render("resolved", "en", number="SR-1", report_url="http://fs.test/r/abc")
    assert body.endswith("http://fs.test/r/abc")


def test_every_step_reaches_the_customer_once(db, api_as, setup_request, sms_to):
    """Logged, assigned (with the engineer's name), on the way, resolved (with the report link), revisit."""
    from fieldservice.requests import operations as ops

    s = setup_request
    dispatcher = api_as("dispatcher", user=s["dispatcher"])
    created = dispatcher.post("/api/v1/requests", json=request_body(s["equipment"]))
    assert created.status_code == 201, created.json
    sr_id = created.json["id"]
    assert (
        dispatcher.post(
            f"/api/v1/requests/{sr_id}/assign",
            json={"version": created.json["version"], "engineer_id": s["engineer"].id},
        ).status_code
        == 200
    )
    engineer = api_as("engineer", user=s["engineer"].user)
    version = engineer.get(f"/api/v1/requests/{sr_id}").json["version"]
    assert engineer.post(f"/api/v1/requests/{sr_id}/depart", json={"version": version}).status_code == 200
    now = utcnow()
    visit = engineer.post(
        f"/api/v1/requests/{sr_id}/visits",
        json={
            "outcome": "resolved",
            "arrived_at": now.isoformat(),
            "finished_at": now.isoformat(),
            "labour_hours": 1,
            "solution": "更换密封圈",
        },
    )
    assert visit.status_code == 201, visit.json
    from fieldservice.requests.models import ServiceRequest

    sr = db.session.get(ServiceRequest, sr_id)
    ops.perform(
        sr,
        "revisit",
        s["callback"],
        sr.version,
        satisfied=True,
        scores={"timeliness": 5, "attitude": 5, "quality": 5},
    )
    db.session.commit()
    drain()

    rows = _notifications(db)
    assert [n.event for n in rows] == ["created", "assigned", "on_the_way", "resolved", "revisited"]
    assert {n.status for n in rows} == {"sent"} and {n.channel for n in rows} == {"sms"}
    sent = _sms(sms_to)
    assert [m["idempotency_key"] for m in sent] == [f"notification-{n.id}" for n in rows]
    assert all(m["to"] == s["equipment"].customer.phone for m in sent)
    assert "张师傅" in sent[1]["text"] and "张师傅" in sent[2]["text"]
    from fieldservice.reports.operations import urls_for

    assert urls_for(sr)["url"] in sent[3]["text"]
    assert sms_to.received[0]["headers"]["Authorization"] == "Bearer sms-token"
    # Draining again sends nothing more.

    assert drain() == {}
    assert len(sms_to.received) == 5


def test_a_change_rolled_back_queues_nothing(db, setup_request, sms_to):
    from fieldservice.requests import operations as ops

    s = setup_request
    # The request is logged in a transaction that has written already (pysqlite would otherwise commit the
    # operation's own SAVEPOINT as the transaction), then something later in it fails.
    s["dispatcher"].name = "值班调度"
    db.session.flush()
    body = {**request_body(s["equipment"]), "required_by": utcnow() + timedelta(days=1)}
    ops.create_request(body, s["dispatcher"])
    db.session.rollback()
    assert _notifications(db) == []


def test_email_channel_over_smtp(db, app, setup_request, smtp_server, log_request):

    app.config.update(
        FIELDSERVICE_SMTP_HOST="127.0.0.1",
        FIELDSERVICE_SMTP_PORT=str(smtp_server.server_address[1]),
        FIELDSERVICE_NOTIFY_LOCALE="en",
    )
    customer = setup_request["equipment"].customer
    customer.email = "buyer@example.com"
    db.session.commit()
    sr = log_request()
    drain()
    [notification] = _notifications(db)
    assert (notification.channel, notification.status, notification.locale) == ("email", "sent", "en")
    [message] = smtp_server.messages
    assert message["to"] == ["buyer@example.com"]
    assert f"Subject: Service request {sr.number}".encode() in message["data"]
    assert notification.provider_ref.encode() in message["data"]  # the Message-ID, the same on every try


def test_retry_with_backoff_then_sent(db, app, setup_request, sms_to, log_request):
    from fieldservice.notifications import operations as nops

    sms_to.statuses = [503, 500, 200]
    log_request()
    assert drain() == {"failed": 1}
    [n] = _notifications(db)
    assert (n.status, n.attempts, n.last_error) == ("failed", 1, "HTTP 503")
    assert drain() == {"failed": 1}
    assert drain() == {"sent": 1}
    db.session.refresh(n)
    assert (n.status, n.attempts, n.last_error) == ("sent", 3, None)
    assert [(a.ok, a.error) for a in n.attempts_log] == [
        (False, "HTTP 503"),
        (False, "HTTP 500"),
        (True, None),
    ]
    # The waits double from the base, up to the cap.
    app.config.update(FIELDSERVICE_OUTBOX_BACKOFF="30", FIELDSERVICE_OUTBOX_BACKOFF_MAX="100")
    assert [nops.backoff(i).total_seconds() for i in (1, 2, 3, 4)] == [30, 60, 100, 100]


def test_a_failed_message_waits_for_its_backoff(db, app, setup_request, sms_to, log_request):
    from fieldservice.notifications import operations as nops
    from fieldservice.notifications.models import Notification

    app.config["FIELDSERVICE_OUTBOX_BACKOFF"] = "60"
    sms_to.statuses = [500, 200]
    log_request()
    assert drain() == {"failed": 1}
    assert drain() == {}  # not due for another minute
    assert nops.claim_due(Notification, now=utcnow() + timedelta(seconds=61)) != []


def test_gives_up_after_the_last_attempt_and_on_a_final_refusal(db, app, setup_request, sms_to, log_request):

    app.config["FIELDSERVICE_OUTBOX_MAX_ATTEMPTS"] = "3"
    sms_to.statuses = [500]
    log_request()
    assert [drain() for _ in range(4)] == [{"failed": 1}, {"failed": 1}, {"gave_up": 1}, {}]
    [n] = _notifications(db)
    assert (n.status, n.attempts, len(n.attempts_log)) == ("gave_up", 3, 3)
    # A 4xx from the provider (a bad number) is final at once.
    sms_to.statuses = [400]
    log_request()
    assert drain() == {"gave_up": 1}


def test_a_claimed_row_is_not_claimed_twice(db, setup_request, sms_to, log_request):
    from fieldservice.notifications import operations as nops
    from fieldservice.notifications.models import Notification

    log_request()
    first = nops.claim_due(Notification)
    db.session.commit()
    assert len(first) == 1 and nops.claim_due(Notification) == []
    # A worker that died mid-send: the lease runs out and the row is due again.
    assert nops.claim_due(Notification, now=utcnow() + nops.lease() + timedelta(seconds=1)) == first


def test_a_message_claimed_by_a_worker_that_died_is_sent_once_by_the_next(
    db, app, setup_request, sms_to, log_request
):
    from fieldservice.notifications import operations as nops
    from fieldservice.notifications.models import DeliveryAttempt, Notification

    app.config["FIELDSERVICE_OUTBOX_LEASE"] = "0"  # the dead worker's lease has run out at once
    log_request()
    assert len(nops.claim_due(Notification)) == 1  # claimed, then the worker died before sending
    db.session.commit()
    assert drain() == {"sent": 1}
    assert drain() == {}  # the drain job run again: nothing more to send
    assert len(_sms(sms_to)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DeliveryAttempt)) == 1


def test_resend_from_the_api_and_the_console(db, api_as, console_as, setup_request, sms_to, log_request):

    log_request()
    drain()
    [n] = _notifications(db)
    manager = api_as("manager")
    listed = manager.get("/api/v1/notifications", query_string={"status": "sent"})
    assert listed.status_code == 200 and [i["id"] for i in listed.json["items"]] == [n.id]
    assert listed.json["items"][0]["attempts_log"][0]["ok"] is True
    stale = manager.post(f"/api/v1/notifications/{n.id}/resend", json={"version": n.version - 1})
    assert stale.status_code == 409
    again = manager.post(f"/api/v1/notifications/{n.id}/resend", json={"version": n.version})
    assert again.status_code == 200 and again.json["status"] in ("pending", "sent")
    drain()
    assert len(sms_to.received) == 2
    assert api_as("dispatcher").post(f"/api/v1/notifications/{n.id}/resend", json={}).status_code == 403
    assert manager.get("/api/v1/notifications?status=nonsense").status_code == 422
    assert manager.post("/api/v1/notifications/999999/resend", json={}).status_code == 404

    console = console_as("manager")
    page = console.get("/notifications/?lang=en")
    assert page.status_code == 200 and "Resend" in page.data.decode()
    db.session.refresh(n)
    response = console.post(f"/notifications/{n.id}/resend", data={"version": n.version})
    assert response.status_code == 302
    assert len(sms_to.received) == 3  # sent inline after the console's commit
    assert console_as("dispatcher").get("/notifications/").status_code == 403


def test_no_provider_configured_goes_to_the_log_channel(db, setup_request, log_request):

    log_request()
    drain()
    [n] = _notifications(db)
    assert (n.channel, n.status, n.provider_ref) == ("log", "sent", f"log-{n.id}")


@pytest.mark.parametrize("locale,word", [("zh_Hans", "已登记"), ("en", "logged")])
def test_customer_locale(db, app, setup_request, sms_to, locale, word, log_request):

    app.config["FIELDSERVICE_NOTIFY_LOCALE"] = locale
    log_request()
    drain()
    assert word in _sms(sms_to)[0]["text"]


def test_a_signal_replayed_queues_its_message_once(db, setup_request, sms_to, log_request):
    """The same change's message asked for again, in the same transaction or a later one, is queued once; a
    savepoint rolled back takes its message along and a later ask queues it again."""
    from fieldservice.notifications import operations as ops

    sr = log_request()
    before = len(_notifications(db))
    ops.notify_customer(sr, "revisited", "replay-test")
    ops.notify_customer(sr, "revisited", "replay-test")  # same transaction, not flushed yet
    db.session.commit()
    ops.notify_customer(sr, "revisited", "replay-test")  # a later transaction: the stored row counts
    db.session.commit()
    assert len(_notifications(db)) == before + 1

    savepoint = db.session.begin_nested()
    ops.notify_customer(sr, "reopened", "undone-test")
    db.session.flush()
    savepoint.rollback()
    ops.notify_customer(sr, "reopened", "undone-test")
    db.session.commit()
    assert [n.dedupe_key for n in _notifications(db)].count("undone-test:sms") == 1


def test_a_batch_of_messages_is_stored_in_bulk_with_ids(db, setup_request, sms_to, make_equipment):
    """Many messages of one flush (automatic dispatch) are written together and stay usable as rows."""
    from fieldservice.notifications import operations as ops
    from fieldservice.requests import operations as requests_ops

    sr = requests_ops.create_request(
        {**request_body(setup_request["equipment"]), "required_by": utcnow() + timedelta(days=1)},
        setup_request["dispatcher"],
    )
    queued = [n for i in range(30) for n in ops.notify_customer(sr, "revisited", f"bulk-{i}", fresh=True)]
    db.session.commit()
    assert len(queued) == 30 and all(n.id for n in queued)
    stored = {n.id: n.dedupe_key for n in _notifications(db)}
    assert all(stored[n.id] == n.dedupe_key for n in queued)


def test_a_batch_puts_its_messages_in_its_list_and_stores_them_together(db, setup_request, sms_to):
    """A batch (requests.operations.assign_many) hands its receivers a list: the messages go there, not into
    the session, keep their dedupe rules, and the batch stores them in one go with ids."""
    from fieldservice.core.models import insert_many
    from fieldservice.notifications import operations as ops
    from fieldservice.notifications.models import Notification
    from fieldservice.requests import operations as requests_ops

    sr = requests_ops.create_request(
        {**request_body(setup_request["equipment"]), "required_by": utcnow() + timedelta(days=1)},
        setup_request["dispatcher"],
    )
    db.session.commit()
    ops.notify_customer(sr, "revisited", "stored-before")
    db.session.commit()
    rows: list = []
    queued = [n for i in range(5) for n in ops.notify_customer(sr, "revisited", f"batch-{i}", new_rows=rows)]
    assert ops.notify_customer(sr, "revisited", "batch-0", new_rows=rows) == []  # queued in this batch already
    assert ops.notify_customer(sr, "revisited", "stored-before", new_rows=rows) == []  # stored already
    assert rows == queued and len(rows) == 5 and not any(n in db.session for n in rows)
    insert_many(rows)
    db.session.commit()
    assert all(n.id for n in queued)
    keys = [n.dedupe_key for n in _notifications(db)]
    assert all(keys.count(f"batch-{i}:sms") == 1 for i in range(5)) and keys.count("stored-before:sms") == 1
    assert db.session.get(Notification, queued[0].id).dedupe_key == "batch-0:sms"


def test_automatic_assignment_in_one_batch_messages_each_customer_once(db, setup_request, sms_to):
    """assign_many's customer messages reach the outbox through the batch's own store, one per request."""
    from fieldservice.requests import operations as requests_ops

    engineer = setup_request["engineer"]
    requests = [
        requests_ops.create_request(
            {**request_body(setup_request["equipment"]), "required_by": utcnow() + timedelta(days=1)},
            setup_request["dispatcher"],
        )
        for _ in range(3)
    ]
    db.session.commit()
    assigned, refused = requests_ops.assign_many([(sr.id, engineer.id) for sr in requests], setup_request["dispatcher"])
    db.session.commit()
    assert len(assigned) == 3 and not refused
    messages = [n for n in _notifications(db) if n.event == "assigned"]
    assert sorted(n.request_id for n in messages) == sorted(sr.id for sr in requests)
    assert all(n.id and n.channel == "sms" for n in messages)
