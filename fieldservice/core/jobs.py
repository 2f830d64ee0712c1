"""Background jobs: one decorator, queue names in one place, periodic jobs as data.

A job is queued only once the transaction that asked for it commits (a worker must see the rows the job is about).
With REDIS_URL set the job goes to rq, retried on failure and when its worker dies (core.worker); without it, it
runs inline right after that commit. A job may run twice: its body must be idempotent.
"""

import importlib
import logging
import threading
import time
from collections.abc import Callable
from functools import wraps

from flask import current_app, has_app_context
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from fieldservice.extensions import db

QUEUES = ["high", "default", "low"]
APP_FACTORY = "fieldservice.create_app"

# Periodic jobs: stable ids, import paths, every N seconds (or the config key that says how many). The worker's
# beat enqueues each once per slot, whatever the number of workers (a Redis SET NX per slot).
PERIODIC: list[dict] = []

# A job that fails, or whose worker dies under it (core.worker gives it back), runs again after these waits;
# job bodies are idempotent. Past the last, it stays in rq's failed registry and the reconcilers take over.
RETRY_INTERVALS = [5, 30, 120, 600, 1800]

log = logging.getLogger("fieldservice.jobs")

_PENDING = "fieldservice_jobs_pending"
_READY = "fieldservice_jobs_ready"


def register_periodic(job_id: str, func_path: str, every_seconds: int | str) -> None:
    if not any(p["id"] == job_id for p in PERIODIC):
        PERIODIC.append({"id": job_id, "func": func_path, "every": every_seconds})


def job(queue: str = "default", timeout: int = 600) -> Callable:
    """Make *func* a job: `func.delay(*ids)` queues it after commit; calling it directly runs it now."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorator(func):
        path = f"{func.__module__}.{func.__qualname__}"

        @wraps(func)
        def run(*args, **kwargs):
            return func(*args, **kwargs)

        def delay(*args, **kwargs):
            # Join (or begin) the session's transaction so that a rollback, even before any SQL, drops the job;
            # remember the savepoint it was queued in, whose rollback drops it too.
            db.session.connection()
            session = db.session()
            transaction = session.get_nested_transaction() or session.get_transaction()
            db.session.info.setdefault(_PENDING, []).append((transaction, (path, queue, timeout, args, kwargs)))

        run.delay = delay
        run.job_path = path
        run.queue = queue
        return run

    return decorator


@event.listens_for(Session, "after_commit")
def _promote_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint is released: its jobs wait for the outermost commit
    pending = session.info.pop(_PENDING, [])
    if pending:
        session.info.setdefault(_READY, []).extend(job for _, job in pending)


def _within(transaction, ended) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    """A rollback drops the jobs queued in what it undid: the whole transaction, or a savepoint and those inside."""
    if not session.in_transaction():
        session.info.pop(_PENDING, None)
        return
    pending = session.info.get(_PENDING)
    if pending:
        pending[:] = [(t, job) for t, job in pending if not _within(t, previous_transaction)]


def dispatch_committed_jobs() -> int:
    """Send jobs whose transaction committed: to rq, or run them inline. Returns how many were dispatched."""
    count = 0
    while True:
        ready = db.session.info.pop(_READY, [])
        if not ready:
            return count
        for path, queue, timeout, args, kwargs in ready:
            count += 1
            if current_app.config["INLINE_JOBS"]:
                _run_inline(path, args, kwargs)
                continue
            try:
                get_queue(queue).enqueue(
                    "fieldservice.core.jobs.execute", path, *args, job_timeout=timeout, retry=_retry(), **kwargs
                )
            except RedisError:
                # The change behind the job is committed: losing the job (or answering 500 for a saved change)
                # is worse than doing the work here. Jobs are idempotent, so a later retry cannot double it.
                log.warning("Redis unavailable: running job %s inline", path, exc_info=True)
                _run_inline(path, args, kwargs)


def _retry():
    from rq import Retry

    return Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)


def _run_inline(path: str, args, kwargs) -> None:
    try:
        resolve(path)(*args, **kwargs)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("inline job %s failed", path)


def resolve(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def execute(path: str, *args, **kwargs):
    """Entry point of every rq job: run *path* inside an app context, commit, then dispatch what it queued."""
    if has_app_context():
        return _execute_here(path, args, kwargs)
    # A plain `rq worker` (not `fieldservice worker`) runs jobs without the app: build it by its import path, as
    # gunicorn does, since core sits below the package root that composes the app.
    with resolve(APP_FACTORY)().app_context():
        return _execute_here(path, args, kwargs)


def _execute_here(path, args, kwargs):
    try:
        result = resolve(path)(*args, **kwargs)
        db.session.commit()
        dispatch_committed_jobs()
        return result
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()


def redis_connection():
    from redis import Redis

    app = current_app
    conn = app.extensions.get("fieldservice_redis")
    if conn is None:
        # A short connect timeout: a Redis that is away must not hold a web request for long (reads keep rq's own).
        conn = Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2)
        app.extensions["fieldservice_redis"] = conn
    return conn


def get_queue(name: str = "default"):
    from rq import Queue

    return Queue(name, connection=redis_connection())


def run_periodic_due(now: float | None = None, enqueue: bool = True) -> list[str]:
    """Queue each periodic job whose slot has started, once across all workers. Returns the ids queued."""
    now = time.time() if now is None else now
    queued = []
    for periodic in PERIODIC:
        every = periodic["every"]
        every = int(current_app.config[every]) if isinstance(every, str) else every
        slot = int(now // every)
        if enqueue:
            key = f"fieldservice:periodic:{periodic['id']}:{slot}"
            if not redis_connection().set(key, "1", nx=True, ex=every * 2):
                continue
            get_queue("default").enqueue(
                "fieldservice.core.jobs.execute",
                periodic["func"],
                job_id=f"periodic-{periodic['id']}-{slot}",
                retry=_retry(),
            )
        else:
            _run_inline(periodic["func"], (), {})
            dispatch_committed_jobs()  # what the job queued runs now too
        queued.append(periodic["id"])
    return queued


def pending_calls(path: str) -> set[tuple]:
    """The argument tuples of the jobs running *path* that rq holds and will run: queued, running or waiting to be
    retried (not failed for good). Empty when jobs run inline."""
    if current_app.config["INLINE_JOBS"]:
        return set()
    from rq.job import Job

    connection = redis_connection()
    calls = set()
    for name in QUEUES:
        queue = get_queue(name)
        job_ids = queue.get_job_ids()
        job_ids += queue.started_job_registry.get_job_ids(cleanup=False)
        job_ids += queue.scheduled_job_registry.get_job_ids(cleanup=False)
        for found in Job.fetch_many(job_ids, connection=connection, serializer=queue.serializer):
            if found is not None and found.args and found.args[0] == path:
                calls.add(tuple(found.args[1:]))
    return calls


def start_inline_beat(app, interval: float = 60.0) -> threading.Thread:
    """Without Redis (the demo), run periodic jobs in a daemon thread of the web process."""

    def loop():
        while True:
            with app.app_context():
                try:
                    run_periodic_due(enqueue=False)
                finally:
                    db.session.remove()
            time.sleep(interval)

    thread = threading.Thread(target=loop, name="fieldservice-inline-beat", daemon=True)
    thread.start()
    return thread
