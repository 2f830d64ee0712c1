"""operations.assign_many: the batch assign of automatic dispatch; same rules and signals as perform."""

import pytest
import sqlalchemy as sa

from fieldservice.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.requests import operations as ops
from fieldservice.requests import signals
from fieldservice.requests.models import RequestEvent, ServiceRequest


def _events(db, sr):
    return db.session.scalars(
        sa.select(RequestEvent).where(RequestEvent.request_id == sr.id).order_by(RequestEvent.id)
    ).all()


@pytest.fixture
def heard():
    """Every event_added / status_changed sent while the test runs: (signal, request id, event action)."""
    seen = []

    def on_event(sr, event=None, **_):
        seen.append(("event_added", sr.id, event.action, event.id is not None))

    def on_status(sr, event=None, **_):
        seen.append(("status_changed", sr.id, event.to_status, sr.engineer.name))

    signals.event_added.connect(on_event)
    signals.status_changed.connect(on_status)
    yield seen
    signals.event_added.disconnect(on_event)
    signals.status_changed.disconnect(on_status)


def test_assigns_the_batch_with_events_versions_and_signals(
    db, make_request, make_engineer, make_user, heard
):
    first, second = make_engineer(skills=["water_purifier"]), make_engineer(skills=["water_purifier"])
    requests = [make_request() for _ in range(3)]
    versions = [sr.version for sr in requests]
    actor = make_user("dispatcher")
    heard.clear()
    pairs = [
        (requests[0].id, first.id, "最近的工程师"),
        (requests[1].id, second.id),
        (requests[2].id, first.id, "同片区"),
    ]
    assigned, refused = ops.assign_many(pairs, actor)
    db.session.commit()
    assert refused == {} and [sr.id for sr in assigned] == [sr.id for sr in requests]
    db.session.expire_all()
    for sr, version, (_, engineer_id, *reason) in zip(requests, versions, pairs, strict=True):
        stored = db.session.get(ServiceRequest, sr.id)
        assert (stored.status, stored.engineer_id, stored.version) == ("assigned", engineer_id, version + 1)
        assert stored.assigned_at is not None and stored.arrived_at is None
        event = _events(db, sr)[-1]
        assert (event.action, event.from_status, event.to_status, event.actor_id) == (
            "assign",
            "awaiting_assignment",
            "assigned",
            actor.id,
        )
        assert event.note == (reason[0] if reason else None)
        assert event.data["engineer_id"] == engineer_id
    # Each request's signals, as perform sends them: subscribers see every change (with the engineer loaded).
    assert heard == [
        signal
        for sr, (_, engineer_id, *_r) in zip(requests, pairs, strict=True)
        for signal in (
            ("event_added", sr.id, "assign", True),
            ("status_changed", sr.id, "assigned", db.session.get(ServiceRequest, sr.id).engineer.name),
        )
    ]


def test_refusals_are_per_request_and_change_nothing(db, make_request, make_engineer, make_user):
    engineer = make_engineer(skills=["water_purifier"])
    good, suspended, bad_engineer = make_request(), make_request(suspended=True), make_request()
    before = {sr.id: sr.version for sr in (good, suspended, bad_engineer)}
    assigned, refused = ops.assign_many(
        [(good.id, engineer.id), (suspended.id, engineer.id), (bad_engineer.id, 4242), (9999, engineer.id)],
        make_user("dispatcher"),
    )
    db.session.commit()
    assert [sr.id for sr in assigned] == [good.id]
    assert isinstance(refused[suspended.id], Conflict) and refused[suspended.id].code == "illegal_transition"
    assert isinstance(refused[bad_engineer.id], ValidationFailed)
    assert "engineer_id" in refused[bad_engineer.id].fields
    assert isinstance(refused[9999], NotFound)
    db.session.expire_all()
    for sr in (suspended, bad_engineer):
        stored = db.session.get(ServiceRequest, sr.id)
        assert stored.version == before[sr.id] and stored.engineer_id is None
        assert len(_events(db, stored)) == 1
    assert db.session.get(ServiceRequest, good.id).version == before[good.id] + 1


def test_roles_follow_the_transition_table(db, make_request, make_engineer, make_user):
    engineer = make_engineer(skills=["water_purifier"])
    sr = make_request()
    _, refused = ops.assign_many([(sr.id, engineer.id)], make_user("engineer"))
    assert isinstance(refused[sr.id], Forbidden)
    # A locked request is the manager's (rule 3): the dispatcher is refused, the manager assigns it.
    sr.status = "locked"
    db.session.commit()
    _, refused = ops.assign_many([(sr.id, engineer.id)], make_user("dispatcher"))
    assert isinstance(refused[sr.id], Forbidden)
    assigned, refused = ops.assign_many([(sr.id, engineer.id)], make_user("manager"))
    assert refused == {} and assigned[0].status == "assigned"


def test_a_request_twice_in_one_batch_is_refused_whole(db, make_request, make_engineer, make_user):
    engineer = make_engineer(skills=["water_purifier"])
    sr = make_request()
    with pytest.raises(ValidationFailed):
        ops.assign_many([(sr.id, engineer.id), (sr.id, engineer.id)], make_user("dispatcher"))
    assert ops.assign_many([], make_user("dispatcher")) == ([], {})


def test_the_same_result_as_one_by_one_perform(db, make_request, make_engineer, make_user):
    engineer = make_engineer(skills=["water_purifier"])
    actor = make_user("dispatcher")
    one, batch = make_request(), make_request()
    ops.perform(one, "assign", actor, None, engineer_id=engineer.id, reason="x")
    ops.assign_many([(batch.id, engineer.id, "x")], actor)
    db.session.commit()
    db.session.expire_all()
    columns = ("status", "engineer_id", "version", "deadline_swept", "arrived_at", "visit_count", "urged")
    a, b = db.session.get(ServiceRequest, one.id), db.session.get(ServiceRequest, batch.id)
    assert [getattr(a, c) for c in columns] == [getattr(b, c) for c in columns]
    ea, eb = _events(db, a)[-1], _events(db, b)[-1]
    fields = ("action", "from_status", "to_status", "note", "data", "actor_id", "actor_label")
    assert [getattr(ea, f) for f in fields] == [getattr(eb, f) for f in fields]


def test_the_batch_writes_each_request_once_and_leaves_it_stored(db, make_request, make_engineer, make_user):
    """The batch's own UPDATE stands for the ORM's flush: one statement, and the requests are left clean."""
    engineer = make_engineer(skills=["water_purifier"])
    requests = [make_request() for _ in range(2)]
    versions = [sr.version for sr in requests]
    # Held rows whose engineer was read before (none yet): the batch reads them no more, the engineer afresh.
    held = ops.lock_requests([sr.id for sr in requests])
    assert [held[sr.id].engineer for sr in requests] == [None, None]
    updates = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE service_requests"):
            updates.append(executemany)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assigned, _ = ops.assign_many([(sr.id, engineer.id) for sr in requests], make_user("dispatcher"))
        assert not any(sr in db.session.dirty for sr in assigned)
        db.session.flush()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert updates == [True]
    assert [sr.version for sr in assigned] == [v + 1 for v in versions]
    assert [sr.engineer.id for sr in assigned] == [engineer.id, engineer.id]
    db.session.commit()
    db.session.expire_all()
    assert [db.session.get(ServiceRequest, sr.id).version for sr in requests] == [v + 1 for v in versions]
