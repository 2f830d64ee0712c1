"""A batch's timeline written at the end of each run of the engineer's ops (requests_ops.TimelineStoredLater): the
same rows, ids, order, versions and answers as one flush per op; a run that cannot be trusted is applied again."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.appointments.models import Appointment
from fieldservice.appointments.operations import KEPT_EVENT
from fieldservice.core.models import utcnow
from fieldservice.extensions import db as _db
from fieldservice.notifications.models import Notification
from fieldservice.requests import operations as requests_ops
from fieldservice.requests.models import RequestEvent, ServiceRequest, Visit
from fieldservice.settlement.models import Verification
from fieldservice.sync import operations as sync_ops
from tests.test_sync.conftest import op, visit_payload


@pytest.fixture(autouse=True)
def _postgresql_only(db):
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("the events are stored later only where ids are drawn ahead (PostgreSQL)")


def _day(db, phone, engineer, jobs) -> tuple[list, list]:
    """A day on *jobs* (each with a booked window: arriving keeps it, an extra event), an edit amid the run; what the
    batch answered and wrote, ids replaced by their rank, jobs by their index."""
    for sr in jobs:
        start = utcnow() + timedelta(hours=1)
        db.session.add(
            Appointment(request_id=sr.id, engineer_id=engineer.id, starts_at=start, ends_at=start + timedelta(hours=1))
        )
    db.session.commit()
    initial = {sr.id: sr.version for sr in jobs}
    numbers = {sr.id: sr.number for sr in jobs}
    first, second = jobs
    ops = [
        op("accept", first.id),
        op("accept", second.id),
        op("depart", first.id),
        op("arrive", first.id),
        op("note", first.id, {"note": "客户在场"}),
        op("edit", second.id, {"base_version": second.version + 1, "changes": {"engineer_note": "带增压泵"}}),
        op("depart", second.id),
        op("record_visit", first.id, visit_payload()),
        op("arrive", second.id),
        op("note", second.id, {"note": "明天再来"}),
        op("record_visit", second.id, visit_payload(outcome="unresolved")),
    ]
    response = phone.post("/api/v1/sync", json={"ops": ops})
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [r["status"] for r in results] == ["applied"] * len(ops), results
    db.session.expire_all()
    index = {sr.id: i for i, sr in enumerate(jobs)}
    events = db.session.scalars(
        sa.select(RequestEvent).where(RequestEvent.request_id.in_(index)).order_by(RequestEvent.id)
    ).all()
    rank = {e.id: i for i, e in enumerate(events)}
    visits = db.session.scalars(sa.select(Visit).where(Visit.request_id.in_(index)).order_by(Visit.id)).all()
    visit_rank = {v.id: i for i, v in enumerate(visits)}
    answers = []
    for o, r in zip(ops, results, strict=True):
        result = dict(r["result"])
        if "version" in result:
            result["version"] -= initial[o["request_id"]]
        if "event_id" in result:
            result["event_id"] = rank[result["event_id"]]
        if "visit_id" in result:
            result["visit_id"] = visit_rank[result["visit_id"]]
        answers.append(result)
    written = [
        (index[e.request_id], e.action, e.from_status, e.to_status, e.note, e.actor_id, sorted(e.data or {}))
        for e in events
    ]
    written += [
        (
            index[n.request_id],
            n.event,
            n.channel,
            n.body.replace(numbers[n.request_id], "#"),
            _ranked(n.dedupe_key, rank),
        )
        for n in db.session.scalars(
            sa.select(Notification).where(Notification.request_id.in_(index)).order_by(Notification.id)
        )
    ]
    written += [
        (index[v.request_id], visit_rank[v.visit_id], v.status, v.overrun)
        for v in db.session.scalars(sa.select(Verification).where(Verification.request_id.in_(index)))
    ]
    written += [
        (i, sr.status, sr.version - initial[sr.id], sr.engineer_note, sr.visit_count)
        for i, sr in enumerate(db.session.get(ServiceRequest, sr.id) for sr in jobs)
    ]
    # Ids ascending: events in the order they were made, with no id between them taken by another row.
    assert [e.id for e in events] == list(range(events[0].id, events[0].id + len(events)))
    return answers, written


def _ranked(dedupe_key: str, rank: dict) -> str:
    event, _, rest = dedupe_key.partition(":")
    return f"ev#{rank[int(event[2:])]}:{rest}" if event.startswith("ev") else rest


def test_a_day_writes_what_one_flush_per_op_writes(db, phone, engineer, make_job, monkeypatch):
    stored_later = _day(db, phone, engineer, [make_job(engineer), make_job(engineer)])
    monkeypatch.setattr(requests_ops, "timeline_stored_later", lambda: None)
    flushed_per_op = _day(db, phone, engineer, [make_job(engineer), make_job(engineer)])
    assert stored_later == flushed_per_op
    answers, written = stored_later
    assert answers[4]["event_id"] == [w[1] for w in written].index("note")
    assert [w[1] for w in written].count(KEPT_EVENT) == 2  # the receivers' own events are in the run too


def test_a_run_is_stored_in_few_statements(db, phone, job, engineer, make_job):
    second = make_job(engineer)
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    ops = [op(kind, sr.id) for sr in (job, second) for kind in ("accept", "depart", "arrive")]
    ops += [op("note", sr.id, {"note": "已到场"}) for sr in (job, second)]
    sa.event.listen(_db.engine, "before_cursor_execute", count)
    try:
        response = phone.post("/api/v1/sync", json={"ops": ops})
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", count)
    assert [r["status"] for r in response.json["results"]] == ["applied"] * len(ops)
    # One INSERT for all the events (not one per op), in the order the ops came.
    assert sum(s.startswith("INSERT INTO request_events") for s in statements) == 1
    db.session.expire_all()
    actions = db.session.scalars(
        sa.select(RequestEvent.action).where(RequestEvent.request_id == second.id).order_by(RequestEvent.id)
    ).all()
    assert actions[-4:] == ["accept", "depart", "arrive", "note"]


def test_a_savepoint_rolled_back_inside_a_run_applies_the_batch_again_guarded(db, phone, job, monkeypatch):
    real = requests_ops.add_event

    def add_event_then_undo_a_savepoint(*args, **kwargs):
        event = real(*args, **kwargs)
        _db.session.begin_nested().rollback()  # what a receiver's own failed savepoint would do
        return event

    monkeypatch.setattr(requests_ops, "add_event", add_event_then_undo_a_savepoint)
    guarded = []
    real_apply_op = sync_ops.apply_op
    monkeypatch.setattr(sync_ops, "apply_op", lambda *a, **kw: guarded.append(1) or real_apply_op(*a, **kw))
    response = phone.post("/api/v1/sync", json={"ops": [op("accept", job.id), op("note", job.id, {"note": "到"})]})
    assert [r["status"] for r in response.json["results"]] == ["applied", "applied"]
    assert guarded == [1, 1]
    db.session.expire_all()
    actions = db.session.scalars(
        sa.select(RequestEvent.action).where(RequestEvent.request_id == job.id).order_by(RequestEvent.id)
    ).all()
    assert actions[-2:] == ["accept", "note"]


def _versions_after(db, phone, make_job, engineer, ops_of) -> tuple[list, int]:
    sr = make_job(engineer)
    start = sr.version
    response = phone.post("/api/v1/sync", json={"ops": ops_of(sr)})
    assert response.status_code == 200, response.json
    db.session.expire_all()
    results = response.json["results"]
    assert [r["status"] for r in results] == ["applied"] * len(results), results
    return [r["result"].get("version", 0) - start for r in results], db.session.get(
        ServiceRequest, sr.id
    ).version - start


def test_a_receiver_changing_the_job_between_ops_gets_the_versions_of_one_flush_per_op(
    db, phone, make_job, engineer, monkeypatch
):
    from fieldservice.requests import signals

    def note_on_accept(sr, event=None, **_):
        if event.action == "accept":
            sr.engineer_note = f"accepted at {event.at.isoformat()}"

    signals.event_added.connect(note_on_accept)
    try:

        def day(sr):
            return [op("accept", sr.id), op("depart", sr.id), op("arrive", sr.id), op("note", sr.id, {"note": "到"})]

        stored_later = _versions_after(db, phone, make_job, engineer, day)
        monkeypatch.setattr(requests_ops, "timeline_stored_later", lambda: None)
        flushed_per_op = _versions_after(db, phone, make_job, engineer, day)
    finally:
        signals.event_added.disconnect(note_on_accept)
    assert stored_later == flushed_per_op
    assert flushed_per_op[1] == 3  # accept, the receiver's change (flushed with depart), arrive


def test_an_unresolved_visit_ends_a_run_stored(db, phone, make_job, engineer, monkeypatch):
    def day(sr):
        return [op("arrive", sr.id), op("record_visit", sr.id, visit_payload(outcome="unresolved"))]

    stored_later = _versions_after(db, phone, make_job, engineer, day)
    monkeypatch.setattr(requests_ops, "timeline_stored_later", lambda: None)
    assert stored_later == _versions_after(db, phone, make_job, engineer, day)
    visit = db.session.scalars(sa.select(Visit).order_by(Visit.id)).all()[-2]
    assert visit.signature_id is not None and visit.signature.visit_id == visit.id and len(visit.photos) == 1
