"""The sweep in sets: batches, a writer holding a row meanwhile, and the counts the list's totals read."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.errors import Conflict
from fieldservice.core.models import utcnow
from fieldservice.requests import operations as ops
from fieldservice.requests.models import RequestEvent, ServiceRequest


def past(make_request, **kw):
    start = utcnow() - timedelta(days=2)
    return make_request(now=start, required_by=start + timedelta(days=1), **kw)


def events_of(db, request_id):
    return db.session.scalars(
        sa.select(RequestEvent).where(RequestEvent.request_id == request_id).order_by(RequestEvent.id)
    ).all()


def test_a_backlog_larger_than_a_batch_is_swept_whole_with_one_event_and_one_version_per_change(db, make_request):
    due = [past(make_request).id for _ in range(5)]
    fresh = make_request().id
    db.session.expunge_all()
    versions = {i: db.session.get(ServiceRequest, i).version for i in due}
    # lock and resolution_breach (priority 3: 7 days to resolve, logged 2 days ago: not yet) per row
    assert ops.sweep_requests(utcnow(), batch=2) == 5
    db.session.commit()
    db.session.expire_all()
    for request_id in due:
        sr = db.session.get(ServiceRequest, request_id)
        assert (sr.status, sr.deadline_swept, sr.version) == ("locked", True, versions[request_id] + 1)
        lock = events_of(db, request_id)[-1]
        assert (lock.action, lock.from_status, lock.to_status, lock.actor_label) == (
            "lock",
            "awaiting_assignment",
            "locked",
            "system",
        )
        # The coded note of rule 3a, worded when read.
        assert lock.data == {"note_code": "lock"}
    assert db.session.get(ServiceRequest, fresh).status == "awaiting_assignment"
    assert ops.sweep_requests(utcnow(), batch=2) == 0


def test_release_records_the_engineer_who_let_it_go(db, make_request, engineer, make_user):
    sr = past(make_request)
    ops.perform(
        sr, "assign", make_user("dispatcher"), sr.version, engineer_id=engineer.id, now=utcnow() - timedelta(days=2)
    )
    db.session.commit()
    assert ops.sweep_requests(utcnow()) == 1
    release = events_of(db, sr.id)[-1]
    assert (release.action, release.from_status, release.to_status) == ("release", "assigned", "awaiting_assignment")
    assert release.data == {"engineer_id": engineer.id, "note_code": "release"}
    assert (sr.status, sr.engineer_id, sr.assigned_at) == ("awaiting_assignment", None, None)


@pytest.mark.postgres
def test_the_sweep_skips_a_row_a_writer_holds_and_the_writer_keeps_its_change(
    app, db, make_request, make_user, engineer
):
    """A dispatcher assigns a due request while the sweep runs: the sweep passes over the row the dispatcher
    holds (SKIP LOCKED, no waiting), sweeps the others, and the assignment is kept whole once committed."""
    from fieldservice.auth.models import User

    held = past(make_request)
    others = [past(make_request).id for _ in range(3)]
    held_id, dispatcher_id, engineer_id = held.id, make_user("dispatcher").id, engineer.id
    db.session.expunge_all()
    locked, release, outcome = threading.Event(), threading.Event(), {}

    def writer():
        with app.app_context():
            try:
                sr = db.session.get(ServiceRequest, held_id)
                ops.perform(sr, "assign", db.session.get(User, dispatcher_id), sr.version, engineer_id=engineer_id)
                locked.set()  # the row is updated, its lock held until the commit
                release.wait(20)
                db.session.commit()
                outcome["version"] = sr.version
            except Exception as exc:  # noqa: BLE001 - reported to the test
                outcome["error"] = exc
                locked.set()
            finally:
                db.session.remove()

    thread = threading.Thread(target=writer)
    thread.start()
    assert locked.wait(20) and "error" not in outcome
    db.session.execute(sa.text("SET LOCAL lock_timeout = '2s'"))  # waiting on the held row would fail here
    assert ops.sweep_requests(utcnow()) == 3
    db.session.commit()
    release.set()
    thread.join(20)
    assert "error" not in outcome
    db.session.expire_all()
    assert {db.session.get(ServiceRequest, i).status for i in others} == {"locked"}
    sr = db.session.get(ServiceRequest, held_id)
    assert (sr.status, sr.engineer_id, sr.version) == ("assigned", engineer_id, outcome["version"])
    # Assigned after its required date: rules 3a and 4 are done with it; the next sweep leaves it alone.
    assert ops.sweep_requests(utcnow()) == 0
    assert [e.action for e in events_of(db, held_id)] == ["create", "assign"]


@pytest.mark.postgres
def test_a_writer_that_read_before_the_sweep_gets_409(app, db, make_request, make_user, engineer):
    sr = past(make_request)
    read_version = sr.version
    assert ops.sweep_requests(utcnow()) == 1
    db.session.commit()
    with pytest.raises(Conflict) as info:
        ops.perform(sr, "cancel", make_user("manager"), read_version, reason="客户取消")
    assert info.value.code == "stale_version"
    db.session.rollback()
    assert sr.status == "locked"


@pytest.mark.postgres
def test_kept_counts_match_a_recount_through_intake_changes_and_the_sweep(
    db, make_request, make_user, engineer, api_as
):
    from fieldservice.requests.models import RequestCount

    due = [past(make_request, priority=p) for p in (1, 2, 3, 3)]
    open_ = [make_request(priority=p) for p in (1, 4)]
    ops.perform(open_[0], "assign", make_user("dispatcher"), open_[0].version, engineer_id=engineer.id)
    ops.perform(open_[1], "suspend", make_user("dispatcher"), open_[1].version, reason="客户出差")
    db.session.commit()
    ops.sweep_requests(utcnow())  # locks the due ones and folds the counts
    db.session.commit()
    ops.perform(due[0], "cancel", make_user("manager"), due[0].version, reason="客户取消")
    db.session.commit()

    def recount(status=None, priority=None):
        query = sa.select(sa.func.count()).select_from(ServiceRequest)
        if status:
            query = query.where(ServiceRequest.status.in_(status))
        if priority:
            query = query.where(ServiceRequest.priority == priority)
        return db.session.scalar(query)

    manager = make_user("manager")
    for status in (None, ["locked"], ["awaiting_assignment", "assigned", "locked", "suspended"], ["cancelled"]):
        for priority in (None, 1, 3):
            assert ops.listed_total(manager, status=status, priority=priority) == recount(status, priority)
    # Folded: one row per (status, priority) with requests, the sums unchanged.
    before = ops.listed_total(manager)
    ops.fold_request_counts()
    rows = db.session.execute(sa.select(RequestCount.status, RequestCount.priority)).all()
    assert len(rows) == len(set(rows)) and ops.listed_total(manager) == before == 6
    # The API's total is the kept count; with another filter, a count of the rows.
    api = api_as("dispatcher")
    assert api.get("/api/v1/requests?status=locked").get_json()["total"] == recount(["locked"]) == 3
    assert api.get("/api/v1/requests?priority=3&zone=浦东").get_json()["total"] == recount(priority=3) == 2
    # An engineer's list is counted, never read from the counts.
    assert ops.listed_total(engineer.user, status=["assigned"]) is None


def test_the_sweeps_events_are_stored_as_the_mapped_entries_would_be_and_read_as_stored(db, make_request):
    """The sweep's own insert (a COPY on PostgreSQL) writes the row _new_event and insert_many write for the same
    change, and hands the receivers what was stored."""
    from fieldservice.core.models import insert_many

    sr = make_request()
    at = utcnow().replace(microsecond=123456)
    changes = [
        ("release", "assigned", "awaiting_assignment", {"engineer_id": 7, "note_code": "release"}),
        ("response_breach", "locked", "locked", {"note_code": "response_breach"}),
        ("lock", None, "locked", None),
    ]
    swept = ops._insert_swept_events([ops._swept_event(sr.id, at, *change) for change in changes])
    mapped = [ops._new_event(sr, action, None, was, now, None, data, at=at) for action, was, now, data in changes]
    insert_many(mapped)
    db.session.expunge_all()
    columns = [c.key for c in RequestEvent.__table__.columns if c.key != "id"]

    def stored(event_id):
        return db.session.execute(sa.select(RequestEvent.__table__).where(RequestEvent.id == event_id)).one()._asdict()

    assert len({event.id for event in swept + mapped}) == 6
    for event, twin in zip(swept, mapped, strict=True):
        row, twin_row = stored(event.id), stored(twin.id)
        assert {c: row[c] for c in columns} == {c: twin_row[c] for c in columns}
        loaded = db.session.get(RequestEvent, event.id)
        assert {c: getattr(event, c) for c in ["id", *columns]} == {c: getattr(loaded, c) for c in ["id", *columns]}
    assert ops._insert_swept_events([]) == []


def test_the_sweep_queues_a_webhook_delivery_per_change_with_the_stored_event(db, make_request):
    """Integrators hear each change of the sweep: a state change as request.status_changed, a breach flag as
    request.event, each naming the timeline entry as stored; the batch stores the deliveries with its messages."""
    from fieldservice.notifications.models import WebhookDelivery, WebhookSubscription

    start = utcnow() - timedelta(days=9)  # lock, then both breaches (priority 3: 7 days to resolve)
    due = [make_request(now=start, required_by=start + timedelta(days=1)).id for _ in range(3)]
    db.session.add(WebhookSubscription(name="CRM", url="http://crm.example/hook", secret="s" * 32, events=["*"]))
    db.session.commit()
    assert ops.sweep_requests(utcnow(), batch=2) == 9
    db.session.commit()
    db.session.expunge_all()
    deliveries = db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    sent = sorted((d.event_type, d.payload["request"]["id"], d.payload["event"]["id"]) for d in deliveries)
    expected = sorted(
        ("request.status_changed" if event.action == "lock" else "request.event", request_id, event.id)
        for request_id in due
        for event in events_of(db, request_id)
        if event.action in ("lock", "response_breach", "resolution_breach")
    )
    assert sent == expected and len(sent) == 9
    assert {(d.status, d.attempts) for d in deliveries} == {("pending", 0)}
    assert len({d.event_id for d in deliveries}) == 9
