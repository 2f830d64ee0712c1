"""The callback desk's own records: failed contact attempts, unreachable closings and low-score follow-ups.

The survey itself is the requests domain's Survey (written by the `revisit` action).
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.auth.models import User
from fieldservice.core.models import TimestampMixin, VersionMixin, utcnow
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest, Survey


class CallbackAttempt(db.Model):
    """One call to the customer about a resolved request that did not reach them."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("service_requests.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(sa.String(30))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    by = relationship(User)

    def __repr__(self) -> str:
        return f"<CallbackAttempt {self.id} request {self.request_id} {self.reason}>"


class UnreachableClosing(db.Model):
    """A request closed as revisited because the customer was unreachable: kept apart from real surveys."""

    __tablename__ = "callback_unreachable"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("service_requests.id", ondelete="CASCADE"), index=True
    )
    # Always None now: the `close_unreachable` transition writes no survey (kept for rows written before it).
    survey_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("request_surveys.id", ondelete="SET NULL"), unique=True
    )
    attempts: Mapped[int]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    request = relationship(ServiceRequest)
    by = relationship(User)

    def __repr__(self) -> str:
        return f"<UnreachableClosing request {self.request_id} after {self.attempts}>"


class FollowUp(TimestampMixin, VersionMixin, db.Model):
    """A manager's task raised by a survey with a score of 3 or less: one per survey."""

    __tablename__ = "callback_follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("service_requests.id", ondelete="CASCADE"), index=True
    )
    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("request_surveys.id", ondelete="CASCADE"), unique=True
    )
    low_scores: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(20), default="open", index=True)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(sa.Text)
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    request = relationship(ServiceRequest)
    survey = relationship(Survey)
    assignee = relationship(User, foreign_keys=[assignee_id])
    done_by = relationship(User, foreign_keys=[done_by_id])

    def __repr__(self) -> str:
        return f"<FollowUp {self.id} request {self.request_id} {self.status}>"
