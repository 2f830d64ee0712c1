"""The appointment: one visit window agreed with the customer for a request, with an engineer.

A change books a new row and cancels the old one, so the rows of a request are its history; the partial unique
index keeps at most one booked row per request, the current one.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.core.models import VersionMixin, utcnow
from fieldservice.extensions import db

BOOKED, KEPT, MISSED, CANCELLED = "booked", "kept", "missed", "cancelled"
# A window longer than a working day is not an appointment the customer can wait in for.
LONGEST_WINDOW = timedelta(hours=12)
STATUSES = (BOOKED, KEPT, MISSED, CANCELLED)

_BOOKED_SQL = sa.text("status = 'booked'")


class Appointment(VersionMixin, db.Model):
    __tablename__ = "appointments"
    __table_args__ = (
        sa.Index(
            "uq_appointments_request_booked",
            "request_id",
            unique=True,
            postgresql_where=_BOOKED_SQL,
            sqlite_where=_BOOKED_SQL,
        ),
        # An engineer's day (the overlap check, the schedule board) and the sweep's due rows.
        sa.Index("ix_appointments_engineer_id_starts_at", "engineer_id", "starts_at"),
        sa.Index("ix_appointments_status_ends_at", "status", "ends_at"),
        # The schedule's days across all engineers (starts_at bounded both ways: windows are at most 12 hours).
        sa.Index("ix_appointments_starts_at", "starts_at"),
        sa.CheckConstraint("ends_at > starts_at", name="window_order"),
        sa.CheckConstraint("status IN ('booked', 'kept', 'missed', 'cancelled')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("engineers.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(16), default=BOOKED)
    # How many times the window was changed before this row (改约): the row it replaced had one less.
    reschedules: Mapped[int] = mapped_column(default=0)
    set_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Why this window replaced the one before (required for a change), or why it was cancelled.
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    note: Mapped[str | None] = mapped_column(sa.String(2000))
    # The customer asked for another window from the QR page: a flag for the dispatcher, not a change.
    change_requested_at: Mapped[datetime | None]
    change_request_note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    request = relationship("ServiceRequest")
    engineer = relationship("Engineer")
    set_by = relationship("User")

    def __repr__(self) -> str:
        return f"<Appointment {self.id} of request {self.request_id} {self.status} {self.starts_at}..{self.ends_at}>"
