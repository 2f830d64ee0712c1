"""Customer complaints (客户投诉) and their handling timeline.

The models a complaint links to are imported, not named: the mappers configure whatever was imported first.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.auth.models import User
from fieldservice.core.models import TimestampMixin, VersionMixin, utcnow
from fieldservice.customers.models import Customer
from fieldservice.engineers.models import Engineer
from fieldservice.extensions import db
from fieldservice.parts.models import Part
from fieldservice.requests.models import ServiceRequest


class Complaint(TimestampMixin, VersionMixin, db.Model):
    __tablename__ = "complaints"
    __table_args__ = (sa.Index("ix_complaints_open_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)
    channel: Mapped[str] = mapped_column(sa.String(20))
    kind: Mapped[str] = mapped_column(sa.String(30), index=True)
    severity: Mapped[str] = mapped_column(sa.String(10))
    summary: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    contact_name: Mapped[str | None] = mapped_column(sa.String(120))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_requests.id"), index=True)
    engineer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("engineers.id"), index=True)
    part_id: Mapped[int | None] = mapped_column(sa.ForeignKey("parts.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    handler_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    due_at: Mapped[datetime]
    escalated: Mapped[bool] = mapped_column(default=False)
    escalated_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.Text)
    customer_feedback: Mapped[str | None] = mapped_column(sa.Text)
    customer_satisfied: Mapped[bool | None]
    closed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    customer = relationship(Customer)
    request = relationship(ServiceRequest)
    engineer = relationship(Engineer)
    part = relationship(Part)
    handler = relationship(User, foreign_keys=[handler_id])
    created_by = relationship(User, foreign_keys=[created_by_id])
    actions: Mapped[list["ComplaintAction"]] = relationship(
        back_populates="complaint",
        order_by="ComplaintAction.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def __repr__(self) -> str:
        return f"<Complaint {self.id} {self.number} {self.status}>"


class ComplaintAction(db.Model):
    """One entry of a complaint's timeline: who did what, when, from which state to which, and why."""

    __tablename__ = "complaint_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(sa.ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(30))
    kind: Mapped[str | None] = mapped_column(sa.String(30))
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str | None] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict | None] = mapped_column(sa.JSON)

    complaint: Mapped[Complaint] = relationship(back_populates="actions")

    def __repr__(self) -> str:
        return f"<ComplaintAction {self.id} {self.action} on complaint {self.complaint_id}>"
