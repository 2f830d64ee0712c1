"""The rq worker with a beat thread: periodic jobs, retries that are due, and jobs whose worker died.

rq's own scheduler is not used: `work(with_scheduler=True)` forks a scheduler process that a `kill -9` of the worker
leaves orphaned, holding its Redis locks, and a restarted worker waits minutes before it takes them over. The beat
does that work in this process instead (moving due retries to their queues), under a lock of a few seconds.

A worker that dies mid-job (kill -9, out of memory) leaves the job in rq's started registry until its timeout has
run out (ten minutes and more). Every worker keeps a liveness key that lives a few seconds; the beat gives back the
jobs of workers whose key has run out, at once: retried within their budget (rq `Retry`), failed beyond it.
"""

import gc
import logging
import os
import threading
import time
import uuid

from flask import current_app
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure

from fieldservice.core.jobs import QUEUES, get_queue, redis_connection, run_periodic_due

log = logging.getLogger("fieldservice.worker")

ALIVE_KEY = "fieldservice:worker-alive:{}"
ALIVE_SECONDS = 15  # how long a worker that stopped beating is still taken for alive
BEAT_LOCK = "fieldservice:beat-lock"
ABANDONED = "AbandonedJobError: the worker running this job died (its liveness key ran out)"


def mark_alive(connection, worker_name: str) -> None:
    connection.set(ALIVE_KEY.format(worker_name), "1", ex=ALIVE_SECONDS)


def _with_beat_lock(connection, work) -> bool:
    """Run *work* if no other worker's beat is running it; the lock outlives a dead holder by seconds only."""
    token = uuid.uuid4().hex
    if not connection.set(BEAT_LOCK, token, nx=True, ex=10):
        return False
    try:
        work()
    finally:
        if connection.get(BEAT_LOCK) == token.encode():
            connection.delete(BEAT_LOCK)
    return True


def move_due_retries(connection, queue_names=QUEUES) -> int:
    """Queue the retries (and `enqueue_in` jobs) whose time has come. Returns how many."""
    moved = 0
    for name in queue_names:
        queue = get_queue(name)
        registry = queue.scheduled_job_registry
        job_ids = registry.get_jobs_to_schedule(int(time.time()))
        if not job_ids:
            continue
        jobs = Job.fetch_many(job_ids, connection=connection, serializer=queue.serializer)
        with connection.pipeline() as pipeline:
            for job_id, job in zip(job_ids, jobs, strict=True):
                if job is not None:
                    queue.enqueue_job(job, pipeline=pipeline)
                    moved += 1
                registry.remove(job_id, pipeline=pipeline)
            pipeline.execute()
    return moved


def requeue_abandoned(connection, queue_names=QUEUES) -> list[str]:
    """Give back the jobs of workers that died mid-job: retried within their budget, else failed. Returns ids."""
    given_back = []
    for name in queue_names:
        queue = get_queue(name)
        registry = queue.started_job_registry
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            execution = _fetch_execution(execution_id, job_id, connection)
            if execution.worker_name and connection.exists(ALIVE_KEY.format(execution.worker_name)):
                continue
            job = queue.fetch_job(job_id)
            with connection.pipeline() as pipeline:
                registry.remove_execution(execution, pipeline=pipeline)
                if job is not None and job.get_status(refresh=False) == JobStatus.STARTED:
                    if job.retries_left:
                        job.retry(queue, pipeline)
                    else:
                        record_job_failure(job, ABANDONED, pipeline)
                    given_back.append(job_id)
                pipeline.execute()
            if job_id in given_back:
                log.warning("job %s %s abandoned by worker %s: given back", job_id, job.args[:2], execution.worker_name)
    return given_back


def _fetch_execution(execution_id: str, job_id: str, connection) -> Execution:
    try:
        return Execution.fetch(execution_id, job_id, connection)
    except ValueError:  # its hash has expired: nobody is running it
        return Execution(id=execution_id, job_id=job_id, connection=connection)


def beat_once(connection, worker_name: str, periodic: bool = True) -> None:
    """One tick of the beat: say this worker is alive, then (one worker at a time) retries and abandoned jobs."""
    mark_alive(connection, worker_name)

    def housekeeping():
        move_due_retries(connection)
        requeue_abandoned(connection)

    _with_beat_lock(connection, housekeeping)
    if periodic:
        run_periodic_due()


def _beat(app, worker_name: str, stop: threading.Event, periodic: bool, tick: float = 1.0) -> None:
    while not stop.is_set():
        with app.app_context():
            try:
                beat_once(redis_connection(), worker_name, periodic)
            except RedisError:
                log.warning("beat: Redis unavailable; retrying", exc_info=True)
            except Exception:
                log.exception("beat failed; retrying")
        stop.wait(tick)


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux; elsewhere its peak)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Worker(SimpleWorker):
    """SimpleWorker that stops between jobs once its memory has passed *max_memory_mb* (its supervisor starts
    it again): whatever a job leaks, a worker's memory stays bounded."""

    def __init__(self, *args, max_memory_mb: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_memory_mb = max_memory_mb

    def execute_job(self, job, queue):
        super().execute_job(job, queue)
        if self.max_memory_mb and (used := rss_mb()) > self.max_memory_mb:
            log.warning(
                "worker %s uses %.0f MB (limit %s MB): stopping to be restarted", self.name, used, self.max_memory_mb
            )
            self._stop_requested = True


def run_worker(
    queue_names: list[str], burst: bool = False, max_jobs: int | None = None, max_memory_mb: int | None = None
) -> None:
    app = current_app._get_current_object()
    queues = [get_queue(name) for name in queue_names]
    # SimpleWorker runs jobs in this process, inside the app context, with its own connection pool: no forked
    # children sharing database connections. (A report's PDF is rendered in a child that exits: core.pdf.)
    rq_worker = Worker(queues, connection=redis_connection(), max_memory_mb=max_memory_mb)
    mark_alive(redis_connection(), rq_worker.name)
    stop = threading.Event()
    # Burst workers beat too (their jobs must not look abandoned), without queueing periodic jobs.
    threading.Thread(
        target=_beat, args=(app, rq_worker.name, stop, not burst), name="fieldservice-beat", daemon=True
    ).start()
    # What is alive now (modules, mappers, templates, the app: ~290,000 objects) lives as long as the worker: out
    # of the collector's full passes, which walked them all whenever a job's garbage set one off (the sweep of a
    # 4,000-row backlog: ~170 ms of its time at 1,000,000 requests, bench/requests_list.py).
    gc.freeze()
    try:
        rq_worker.work(burst=burst, with_scheduler=False, max_jobs=max_jobs)
    finally:
        stop.set()
