import pytest
import sqlalchemy as sa

from fieldservice.auth.models import LoginAttempt
from fieldservice.core.jobs import dispatch_committed_jobs, get_queue
from tests.test_core.sample_jobs import chain, record_run


def _markers(db):
    return sorted(db.session.scalars(sa.select(LoginAttempt.username)))


def test_inline_job_runs_after_commit_only(db):
    record_run.delay("a")
    assert dispatch_committed_jobs() == 0  # not committed yet
    db.session.commit()
    assert dispatch_committed_jobs() == 1
    assert _markers(db) == ["a"]


def test_rolled_back_job_never_runs(db):
    record_run.delay("gone")
    db.session.rollback()
    db.session.commit()
    assert dispatch_committed_jobs() == 0
    assert _markers(db) == []


def test_inline_job_may_queue_another(db):
    chain.delay("p")
    db.session.commit()
    assert dispatch_committed_jobs() == 2
    assert _markers(db) == ["p-child"]


@pytest.mark.redis
def test_real_worker_runs_queued_jobs_once(worker_app, run_worker):
    from fieldservice.extensions import db

    chain.delay("w")
    record_run.delay("w2")
    db.session.commit()
    dispatch_committed_jobs()
    assert get_queue("low").count == 1 and get_queue("default").count == 1
    assert run_worker() == 3  # chain, record_run, and the child chain queued from inside the worker
    db.session.expire_all()
    assert _markers(db) == ["w-child", "w2"]
    # Running the same job again changes nothing (idempotent bodies).
    record_run.delay("w2")
    db.session.commit()
    dispatch_committed_jobs()
    run_worker()
    assert _markers(db) == ["w-child", "w2"]


@pytest.mark.redis
def test_periodic_jobs_are_queued_once_per_slot_across_workers(worker_app):
    from fieldservice.core.jobs import run_periodic_due

    first = run_periodic_due(now=1_000_020.0)
    second = run_periodic_due(now=1_000_030.0)  # same 60 s slot: another worker's beat
    assert "sweep" in first and "sweep" not in second
    assert "sweep" in run_periodic_due(now=1_000_080.0)  # next slot


def test_a_job_runs_inline_when_redis_is_down(app_config, _schema):
    """A committed change must not lose its job (nor answer 500) because Redis is unreachable."""
    from fieldservice import create_app
    from fieldservice.extensions import db

    app = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0", "INLINE_JOBS": False})
    with app.app_context():
        try:
            record_run.delay("redis-down")
            db.session.commit()
            assert dispatch_committed_jobs() == 1
            assert "redis-down" in _markers(db)
        finally:
            db.session.query(LoginAttempt).delete()
            db.session.commit()
            db.session.remove()
            db.engine.dispose()  # this app's own pool: its connections must not outlive the test


def test_a_job_queued_in_a_rolled_back_savepoint_never_runs(db):
    record_run.delay("kept")
    savepoint = db.session.begin_nested()
    record_run.delay("undone")
    savepoint.rollback()
    db.session.commit()
    assert dispatch_committed_jobs() == 1
    assert _markers(db) == ["kept"]


def test_a_released_savepoint_holds_its_jobs_until_the_outer_commit(db):
    with db.session.begin_nested():
        record_run.delay("inner")
    # The savepoint is released, the transaction is not committed: nothing may run yet.
    assert dispatch_committed_jobs() == 0
    db.session.rollback()
    db.session.commit()
    assert dispatch_committed_jobs() == 0
    assert _markers(db) == []


def test_a_job_of_a_released_savepoint_runs_after_the_outer_commit(db):
    with db.session.begin_nested():
        record_run.delay("inner")
    db.session.commit()
    assert dispatch_committed_jobs() == 1
    assert _markers(db) == ["inner"]
