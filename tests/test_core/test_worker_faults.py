"""A worker that dies loses no job, leaves no process behind, and a job run twice has one effect (issue #20)."""

import os
import signal
import time

import pytest
import sqlalchemy as sa

from bench.fault_drill import ROOT, session_members, start_worker, wait_until_working
from fieldservice.auth.models import LoginAttempt
from fieldservice.core.jobs import QUEUES, dispatch_committed_jobs, get_queue, pending_calls, redis_connection
from fieldservice.core.pdf import die_with_parent, html_to_pdf_in_child
from fieldservice.core.worker import move_due_retries
from tests.test_core.sample_jobs import fail_first_run, record_after_a_hang, record_run


def _worker_env(app) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "worker-test",
    }


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
@pytest.mark.redis
def test_a_job_killed_mid_way_is_retried_completes_once_and_no_child_lives_on(worker_app, tmp_path):
    from fieldservice.extensions import db

    record_after_a_hang.delay("killed")
    db.session.commit()
    dispatch_committed_jobs()
    log = tmp_path / "worker.log"
    env = _worker_env(worker_app)
    first = start_worker(env, log)
    try:
        wait_until_working(first, log)
        _wait_for(lambda: redis_connection().get("test:runs:killed") == b"1", 60, "the job to start")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    time.sleep(0.2)
    # rq's scheduler (forked by work(with_scheduler=True)) used to live on here, holding its locks.
    left = session_members(first.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []

    second = start_worker(env, log)
    try:
        _wait_for(
            lambda: db.session.scalar(sa.select(sa.func.count()).where(LoginAttempt.username == "killed")) == 1,
            90,
            "the job to be given back and run again",
        )
        db.session.rollback()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert "abandoned by worker" in log.read_text()
    assert redis_connection().get("test:runs:killed") == b"2"
    assert db.session.scalar(sa.select(sa.func.count()).where(LoginAttempt.username == "killed")) == 1
    assert sum(get_queue(name).failed_job_registry.count for name in QUEUES) == 0


@pytest.mark.redis
def test_a_failing_job_is_queued_again_after_its_wait(worker_app, run_worker, monkeypatch):
    from fieldservice.core.jobs import RETRY_INTERVALS
    from fieldservice.extensions import db

    fail_first_run.delay("flaky")
    db.session.commit()
    dispatch_committed_jobs()
    queue = get_queue("default")
    job = queue.jobs[0]
    assert job.retries_left == len(RETRY_INTERVALS)
    run_worker()  # fails: kept for a retry, not in the failed registry (the fixture checks)
    assert queue.scheduled_job_registry.get_job_ids() == [job.id]
    assert move_due_retries(redis_connection()) == 0  # its wait has not passed
    monkeypatch.setattr(time, "time", lambda: 10**10)
    assert move_due_retries(redis_connection()) == 1
    monkeypatch.undo()
    run_worker()
    assert db.session.scalar(sa.select(sa.func.count()).where(LoginAttempt.username == "flaky")) == 1


@pytest.mark.redis
def test_pending_calls_are_those_rq_will_still_run(worker_app, run_worker):
    from fieldservice.extensions import db

    record_run.delay("waiting")
    db.session.commit()
    dispatch_committed_jobs()
    assert pending_calls(record_run.job_path) == {("waiting",)}
    run_worker()
    assert pending_calls(record_run.job_path) == set()


def test_a_pdf_rendered_in_a_child_comes_back_and_so_do_its_errors(app, monkeypatch):
    from fieldservice.core import pdf

    assert html_to_pdf_in_child("<p>服务报告</p>").startswith(b"%PDF")

    def fail(html):
        raise pdf.RefusedURL(f"refused in {os.getpid()}")

    monkeypatch.setattr(pdf, "html_to_pdf", fail)
    with pytest.raises(pdf.RefusedURL) as refused:
        html_to_pdf_in_child("<p>x</p>")
    assert str(os.getpid()) not in str(refused.value)  # raised in the child, re-raised here


def test_a_forked_child_dies_with_its_parent(tmp_path):
    """The PDF renderer's child must not outlive a worker killed with SIGKILL (prctl PR_SET_PDEATHSIG)."""
    pid_file = tmp_path / "child.pid"
    parent = os.fork()
    if parent == 0:  # the "worker": forks a child that would sleep for ever, then waits to be killed
        try:
            os.setsid()
            me = os.getpid()
            child = os.fork()
            if child == 0:
                die_with_parent(me)
                pid_file.write_text(str(os.getpid()))
                time.sleep(300)
            time.sleep(300)
        finally:
            os._exit(0)
    _wait_for(lambda: pid_file.exists() and pid_file.read_text(), 10, "the child to start")
    os.kill(parent, signal.SIGKILL)
    os.waitpid(parent, 0)
    time.sleep(0.3)
    left = session_members(parent)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []


@pytest.mark.redis
def test_a_worker_past_its_memory_limit_stops_between_jobs(worker_app):
    from fieldservice.core.worker import Worker, rss_mb
    from fieldservice.extensions import db

    record_run.delay("first")
    record_run.delay("second")
    db.session.commit()
    dispatch_committed_jobs()
    queue = get_queue("default")
    assert rss_mb() > 1
    Worker([queue], connection=redis_connection(), max_memory_mb=1).work(burst=True)
    assert queue.count == 1  # stopped after the first job, for its supervisor to start it again
    Worker([queue], connection=redis_connection(), max_memory_mb=100_000).work(burst=True)
    assert queue.count == 0


@pytest.mark.redis
def test_the_worker_leaves_what_is_alive_at_its_start_out_of_the_collectors_passes(worker_app):
    import gc

    from fieldservice.core.worker import run_worker
    from fieldservice.extensions import db

    record_run.delay("frozen")
    db.session.commit()
    dispatch_committed_jobs()
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        run_worker(["default"], burst=True)
        assert gc.get_freeze_count() > 100_000
        assert get_queue("default").count == 0
    finally:
        gc.unfreeze()
