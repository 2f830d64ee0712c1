"""Invoices (发票) customers ask for on what they pay for a service request."""

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.core.models import TimestampMixin, VersionMixin, utcnow
from fieldservice.customers.models import Customer
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest

INVOICE_STATES = ("requested", "issued", "cancelled")


class Invoice(TimestampMixin, VersionMixin, db.Model):
    """A customer's request for an invoice (发票) for a service request, issued with a number by a manager."""

    __tablename__ = "invoices"
    __table_args__ = (
        # One live invoice per service request: a second ask while one is requested or issued is refused.
        sa.Index(
            "uq_invoices_live_request",
            "request_id",
            unique=True,
            postgresql_where=sa.text("status <> 'cancelled'"),
            sqlite_where=sa.text("status <> 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_requests.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="requested", index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    tax_id: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(200))
    amount: Mapped[Decimal]
    note: Mapped[str | None] = mapped_column(sa.Text)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Null when the customer asked from the report page (no account).
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    issued_at: Mapped[datetime | None]
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
    request: Mapped[ServiceRequest] = relationship()

    def __repr__(self) -> str:
        return f"<Invoice {self.id} {self.number or '-'} {self.status}>"
