"""Jobs used by the job tests: each records that it ran, as a row another process can see."""

import time

import sqlalchemy as sa

from fieldservice.auth.models import LoginAttempt
from fieldservice.core.jobs import job, redis_connection
from fieldservice.extensions import db


@job(queue="default")
def record_run(marker: str) -> str:
    # Idempotent: a second run with the same marker adds nothing.
    if not db.session.scalar(sa.select(LoginAttempt.id).where(LoginAttempt.username == marker)):
        db.session.add(LoginAttempt(username=marker, success=True))
    return marker


@job(queue="low")
def chain(marker: str) -> None:
    record_run.delay(marker + "-child")


@job(queue="default")
def record_after_a_hang(marker: str) -> None:
    """Hang on the first run (the test kills the worker meanwhile); record *marker* on the next."""
    if redis_connection().incr(f"test:runs:{marker}") == 1:
        time.sleep(300)
    record_run(marker)


@job(queue="default")
def fail_first_run(marker: str) -> None:
    """Fail on the first run; record *marker* on the next."""
    if redis_connection().incr(f"test:runs:{marker}") == 1:
        raise RuntimeError("the first run fails")
    record_run(marker)


@job(queue="default")
def count_run(marker: str) -> None:
    """Count every run of *marker* in Redis (a job run twice shows as 2), then record it."""
    redis_connection().incr(f"test:runs:{marker}")
    record_run(marker)
