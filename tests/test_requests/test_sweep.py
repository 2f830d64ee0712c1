"""The time rules (API.md): `fieldservice sweep` and the minute job run one idempotent, due-only sweep."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.models import utcnow
from fieldservice.requests import operations as ops
from fieldservice.requests.models import RequestEvent, ServiceRequest


def actions(db, sr):
    return [
        e.action
        for e in db.session.scalars(
            sa.select(RequestEvent).where(RequestEvent.request_id == sr.id).order_by(RequestEvent.id)
        )
    ]


def past(make_request, days=2, required_after=timedelta(days=1), **kw):
    start = utcnow() - timedelta(days=days)
    return make_request(now=start, required_by=start + required_after, **kw)


def test_sweep_is_idempotent_and_records_one_event_per_change(db, make_request):
    late = past(make_request, priority=1)  # also past its 2 h response and 24 h resolution times
    now = utcnow()
    changed = ops.sweep_requests(now)
    db.session.commit()
    assert changed == 3
    assert late.status == "locked" and late.response_breached and late.resolution_breached
    assert actions(db, late) == ["create", "lock", "response_breach", "resolution_breach"]
    version = late.version
    assert ops.sweep_requests(now) == 0
    assert ops.sweep_requests(now + timedelta(hours=1)) == 0
    assert late.version == version and len(actions(db, late)) == 4


def test_sweep_touches_only_due_rows(db, make_request):
    fresh = [make_request().id for _ in range(8)]
    due = [past(make_request).id for _ in range(2)]
    db.session.commit()
    db.session.expunge_all()
    loaded = []

    def count(target, *args):
        loaded.append(target.id)

    sa.event.listen(ServiceRequest, "load", count)
    try:
        assert ops.sweep_requests(utcnow()) == 2
    finally:
        sa.event.remove(ServiceRequest, "load", count)
    assert sorted(set(loaded)) == sorted(due)
    assert {db.session.get(ServiceRequest, i).status for i in fresh} == {"awaiting_assignment"}


def test_sweep_leaves_suspended_and_closed_requests_alone(db, make_request, make_user):
    parked = past(make_request, suspended=True)
    cancelled = past(make_request)
    ops.perform(
        cancelled,
        "cancel",
        make_user("dispatcher"),
        None,
        reason="重复报修",
        now=utcnow() - timedelta(days=2, hours=23),
    )
    db.session.commit()
    assert ops.sweep_requests(utcnow()) == 0
    assert (parked.status, cancelled.status) == ("suspended", "cancelled")


def test_resumed_after_the_required_date_locks_at_the_next_sweep(db, make_request, make_user):
    parked = past(make_request, suspended=True)
    ops.perform(parked, "resume", make_user("dispatcher"), None)
    ops.sweep_requests(utcnow())
    assert parked.status == "locked"


def test_response_breach_stops_once_responded(db, make_request, engineer, make_user):
    start = utcnow() - timedelta(hours=5)
    sr = make_request(now=start, priority=1, required_by=utcnow() + timedelta(days=1))
    ops.perform(
        sr, "assign", make_user("dispatcher"), None, engineer_id=engineer.id, now=start + timedelta(minutes=5)
    )
    ops.perform(sr, "accept", engineer.user, None, now=start + timedelta(minutes=30))  # responded within 2 h
    ops.sweep_requests(utcnow())
    assert not sr.response_breached and sr.status == "assigned"


def test_cli_sweep(runner, make_request, db):
    sr = past(make_request)
    result = runner.invoke(args=["sweep"])
    assert result.exit_code == 0, result.output
    assert "requests 1" in result.output
    db.session.expire_all()
    assert sr.status == "locked"
    assert "requests 0" in runner.invoke(args=["sweep"]).output


def test_the_sweeper_and_the_minute_job_are_registered(app):
    from fieldservice.core.jobs import PERIODIC
    from fieldservice.core.sweep import SWEEPERS

    assert ("requests", ops.sweep_requests) in SWEEPERS
    assert any(p["id"] == "sweep" and p["every"] == 60 for p in PERIODIC)


@pytest.mark.redis
def test_sweep_job_runs_in_a_real_worker(worker_app, run_worker):
    from fieldservice.auth.operations import create_user
    from fieldservice.core.jobs import dispatch_committed_jobs
    from fieldservice.core.sweep import sweep_job
    from fieldservice.customers.models import Customer, Product
    from fieldservice.extensions import db
    from fieldservice.requests.models import ProblemType

    customer = Customer(name="上海冷链物流", phone="13800001111", address="浦东新区", zone="浦东")
    product = Product(name="冷库机组", model="CR-9", category="hvac")
    db.session.add_all(
        [customer, product, ProblemType(code="no_cooling", name_zh="不制冷", name_en="Not cooling")]
    )
    dispatcher = create_user("sweep-dispatcher", "password123", "dispatcher")
    db.session.commit()
    start = utcnow() - timedelta(days=2)
    sr = ops.create_request(
        {
            "customer_id": customer.id,
            "product_id": product.id,
            "problem_type": "no_cooling",
            "description": "不制冷",
            "priority": 3,
            "required_by": start + timedelta(hours=12),
        },
        dispatcher,
        now=start,
    )
    db.session.commit()
    sr_id = sr.id
    dispatch_committed_jobs()  # what other domains queued on intake
    run_worker()
    sweep_job.delay()
    db.session.commit()
    assert dispatch_committed_jobs() == 1
    assert run_worker() == 1
    db.session.expire_all()
    assert db.session.get(ServiceRequest, sr_id).status == "locked"
    # The next minute's run finds nothing due.
    sweep_job.delay()
    db.session.commit()
    dispatch_committed_jobs()
    run_worker()
    events = db.session.scalars(sa.select(RequestEvent.action).where(RequestEvent.request_id == sr_id)).all()
    assert events == ["create", "lock"]
