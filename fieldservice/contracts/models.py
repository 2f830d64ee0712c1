"""Service agreements: types (templates), customer agreements, and maintenance occurrences."""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.core.models import TimestampMixin, VersionMixin, utcnow
from fieldservice.customers.models import Customer, Equipment
from fieldservice.extensions import db

# How work is charged, from the customer's most favourable to the least.
CHARGING_METHODS = ("covered", "labour_only", "per_visit", "time_and_materials")

# What an agreement may cover: the kinds of work of the requests' problem types (ProblemType.category).
SERVICE_ITEMS = ("repair", "maintenance", "installation", "other")


class AgreementType(TimestampMixin, VersionMixin, db.Model):
    """A standard agreement (Gold, Silver, per-call...): the template a customer agreement starts from."""

    __tablename__ = "agreement_types"
    __table_args__ = (
        sa.CheckConstraint("response_hours > 0 AND resolution_hours >= response_hours", name="hours"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    response_hours: Mapped[int]
    resolution_hours: Mapped[int]
    terms: Mapped[str] = mapped_column(sa.Text, default="")
    service_items: Mapped[list] = mapped_column(sa.JSON, default=list)
    charging_method: Mapped[str] = mapped_column(sa.String(30))
    labour_rate: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    visit_fee: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    maintenance_cycle_months: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"<AgreementType {self.id} {self.code}>"


agreement_equipment = sa.Table(
    "agreement_equipment",
    db.metadata,
    sa.Column("agreement_id", sa.ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "equipment_id", sa.ForeignKey("equipment.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class Agreement(TimestampMixin, VersionMixin, db.Model):
    """A customer's agreement for one period: its own copy of the type's terms, which it may override."""

    __tablename__ = "agreements"
    __table_args__ = (
        sa.CheckConstraint("ends_on >= starts_on", name="period"),
        sa.CheckConstraint("response_hours > 0 AND resolution_hours >= response_hours", name="hours"),
        sa.Index("ix_agreements_customer_period", "customer_id", "starts_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agreement_types.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    starts_on: Mapped[date]
    ends_on: Mapped[date] = mapped_column(index=True)
    response_hours: Mapped[int]
    resolution_hours: Mapped[int]
    terms: Mapped[str] = mapped_column(sa.Text, default="")
    service_items: Mapped[list] = mapped_column(sa.JSON, default=list)
    charging_method: Mapped[str] = mapped_column(sa.String(30))
    labour_rate: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    visit_fee: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    maintenance_cycle_months: Mapped[int | None]
    # Maintenance requests are created this many days before a cycle starts.
    maintenance_lead_days: Mapped[int] = mapped_column(default=7)
    renewed_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agreements.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
    type: Mapped[AgreementType | None] = relationship()
    equipment: Mapped[list[Equipment]] = relationship(secondary=agreement_equipment, order_by=Equipment.id)
    renewed_from: Mapped["Agreement | None"] = relationship(remote_side=[id], back_populates="renewal")
    renewal: Mapped["Agreement | None"] = relationship(back_populates="renewed_from")

    def __repr__(self) -> str:
        return f"<Agreement {self.id} {self.number} customer {self.customer_id}>"

    @property
    def covers_all_equipment(self) -> bool:
        return not self.equipment

    @property
    def equipment_ids(self) -> list[int]:
        return [e.id for e in self.equipment]

    def status_on(self, day: date, expiring_days: int = 30) -> str:
        """upcoming, active, expiring (ends within *expiring_days*) or expired."""
        if day < self.starts_on:
            return "upcoming"
        if day > self.ends_on:
            return "expired"
        if (self.ends_on - day).days < expiring_days:
            return "expiring"
        return "active"


class MaintenanceOccurrence(db.Model):
    """One preventive-maintenance visit owed: inserted before its request, so the unique key stops a second one."""

    __tablename__ = "maintenance_occurrences"
    __table_args__ = (
        sa.UniqueConstraint(
            "agreement_id",
            "equipment_id",
            "cycle_start",
            name="uq_maintenance_occurrences_agreement_equipment_cycle",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreements.id", ondelete="CASCADE"))
    equipment_id: Mapped[int] = mapped_column(sa.ForeignKey("equipment.id", ondelete="CASCADE"), index=True)
    cycle_start: Mapped[date]
    request_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("service_requests.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agreement: Mapped[Agreement] = relationship()
    equipment: Mapped[Equipment] = relationship()

    def __repr__(self) -> str:
        return f"<MaintenanceOccurrence {self.id} {self.agreement_id}/{self.equipment_id} {self.cycle_start}>"
