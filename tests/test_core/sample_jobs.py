"""Jobs used by the job tests: each records that it ran, as a row another process can see."""

import sqlalchemy as sa

from fieldservice.auth.models import LoginAttempt
from fieldservice.core.jobs import job
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
