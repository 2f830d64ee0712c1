"""Spare parts: catalog, suppliers, locations, stock levels and serial units, the movement ledger, part
requests, parts used on visits, faulty-part returns and supplier claims.

Stock is money: a level changes only through a `StockMovement` written by `operations.move_stock`, and
every unit is always at some location (a real warehouse, a van, or a virtual place: in transit,
installed at a customer's, in the returns pipeline, scrapped, or still at the supplier)."""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.auth.models import User
from fieldservice.core.models import TimestampMixin, VersionMixin, utcnow
from fieldservice.customers.models import Product
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest

part_products = sa.Table(
    "part_products",
    db.metadata,
    sa.Column("part_id", sa.ForeignKey("parts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("product_id", sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
)


class Supplier(TimestampMixin, VersionMixin, db.Model):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    contact: Mapped[str | None] = mapped_column(sa.String(120))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(200))

    def __repr__(self) -> str:
        return f"<Supplier {self.id} {self.name}>"


class Part(TimestampMixin, VersionMixin, db.Model):
    __tablename__ = "parts"
    __table_args__ = (
        sa.CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        sa.CheckConstraint("reorder_threshold >= 0", name="reorder_threshold_not_negative"),
        sa.CheckConstraint("supplier_warranty_months >= 0", name="warranty_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    part_number: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    category: Mapped[str] = mapped_column(sa.String(80), index=True)
    unit_price: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    serial_tracked: Mapped[bool] = mapped_column(default=False)
    # A removed old part goes back for inspection (旧件返厂); consumables such as filters are thrown away.
    return_required: Mapped[bool] = mapped_column(default=True)
    supplier_id: Mapped[int | None] = mapped_column(sa.ForeignKey("suppliers.id"), index=True)
    supplier_warranty_months: Mapped[int] = mapped_column(default=12)
    reorder_threshold: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str | None] = mapped_column(sa.Text)

    supplier: Mapped[Supplier | None] = relationship()
    products: Mapped[list[Product]] = relationship(secondary=part_products, order_by=Product.id)

    def __repr__(self) -> str:
        return f"<Part {self.id} {self.part_number}>"

    @property
    def product_ids(self) -> list[int]:
        return [p.id for p in self.products]


class Warehouse(TimestampMixin, VersionMixin, db.Model):
    """A place stock can be: a real store, an engineer's van, or a virtual location (see
    states.LOCATION_KINDS)."""

    __tablename__ = "warehouses"
    __table_args__ = (
        # Exactly the vans belong to an engineer, and one van per engineer (the unique engineer_id below).
        sa.CheckConstraint("(kind = 'van') = (engineer_id IS NOT NULL)", name="van_has_engineer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(20), index=True)
    engineer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("engineers.id"), unique=True)
    zone: Mapped[str | None] = mapped_column(sa.String(60))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    active: Mapped[bool] = mapped_column(default=True)

    engineer = relationship("Engineer")

    def __repr__(self) -> str:
        return f"<Warehouse {self.id} {self.code} {self.kind}>"


class StockLevel(VersionMixin, db.Model):
    """How many units of a part are at a tracked location; written only by move_stock."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        sa.UniqueConstraint("warehouse_id", "part_id", name="uq_stock_levels_warehouse_part"),
        sa.CheckConstraint("qty >= 0", name="qty_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(sa.ForeignKey("warehouses.id"))
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("parts.id"), index=True)
    qty: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    warehouse: Mapped[Warehouse] = relationship()
    part: Mapped[Part] = relationship()

    def __repr__(self) -> str:
        return f"<StockLevel wh={self.warehouse_id} part={self.part_id} qty={self.qty}>"

    @property
    def low(self) -> bool:
        return self.qty <= self.part.reorder_threshold


class SerialUnit(TimestampMixin, VersionMixin, db.Model):
    """One unit of a serial-tracked part and where it is now."""

    __tablename__ = "serial_units"
    __table_args__ = (sa.UniqueConstraint("part_id", "serial", name="uq_serial_units_part_serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("parts.id"))
    serial: Mapped[str] = mapped_column(sa.String(120), index=True)
    warehouse_id: Mapped[int] = mapped_column(sa.ForeignKey("warehouses.id"), index=True)
    condition: Mapped[str] = mapped_column(sa.String(20), default="new")
    status: Mapped[str] = mapped_column(sa.String(20), default="in_stock")
    # The equipment it was last installed in, when the visit's request named one.
    equipment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("equipment.id"))

    part: Mapped[Part] = relationship()
    warehouse: Mapped[Warehouse] = relationship()

    def __repr__(self) -> str:
        return f"<SerialUnit {self.part_id}/{self.serial} at {self.warehouse_id} {self.condition}>"


class StockMovement(db.Model):
    """One line of the ledger: qty units of a part went from one location to another. Never updated."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        sa.CheckConstraint("qty > 0", name="qty_positive"),
        sa.CheckConstraint("from_warehouse_id <> to_warehouse_id", name="moves_somewhere"),
        sa.Index("ix_stock_movements_part_at", "part_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("parts.id"))
    qty: Mapped[int]
    from_warehouse_id: Mapped[int] = mapped_column(sa.ForeignKey("warehouses.id"), index=True)
    to_warehouse_id: Mapped[int] = mapped_column(sa.ForeignKey("warehouses.id"), index=True)
    serial: Mapped[str | None] = mapped_column(sa.String(120), index=True)
    reason: Mapped[str] = mapped_column(sa.String(20), index=True)
    # What the movement was for: at most a few of these are set.
    request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_requests.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    part_request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("part_requests.id"), index=True)
    return_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("return_orders.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(sa.String(120), default="")
    note: Mapped[str | None] = mapped_column(sa.String(500))

    part: Mapped[Part] = relationship()
    from_warehouse: Mapped[Warehouse] = relationship(foreign_keys=[from_warehouse_id])
    to_warehouse: Mapped[Warehouse] = relationship(foreign_keys=[to_warehouse_id])
    # Shown by their numbers in the ledgers (a database id means nothing to a reader).
    request: Mapped[ServiceRequest | None] = relationship()
    part_request: Mapped["PartRequest | None"] = relationship()
    return_order: Mapped["ReturnOrder | None"] = relationship()

    def __repr__(self) -> str:
        return (
            f"<StockMovement {self.id} {self.reason} part={self.part_id} x{self.qty} "
            f"{self.from_warehouse_id}->{self.to_warehouse_id}>"
        )


class PartRequest(TimestampMixin, VersionMixin, db.Model):
    """An application for parts to be sent to a van (or a store): applied, approved, shipped, signed."""

    __tablename__ = "part_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True, default="applied")
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_requests.id"), index=True)
    target_warehouse_id: Mapped[int] = mapped_column(sa.ForeignKey("warehouses.id"), index=True)
    source_warehouse_id: Mapped[int | None] = mapped_column(sa.ForeignKey("warehouses.id"))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    reject_reason: Mapped[str | None] = mapped_column(sa.String(500))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    shipped_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    shipped_at: Mapped[datetime | None]
    signed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    signed_at: Mapped[datetime | None]

    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    request: Mapped[ServiceRequest | None] = relationship()
    target_warehouse: Mapped[Warehouse] = relationship(foreign_keys=[target_warehouse_id])
    source_warehouse: Mapped[Warehouse | None] = relationship(foreign_keys=[source_warehouse_id])
    lines: Mapped[list["PartRequestLine"]] = relationship(
        back_populates="part_request", cascade="all, delete-orphan", order_by="PartRequestLine.id"
    )
    events: Mapped[list["PartRequestEvent"]] = relationship(
        back_populates="part_request", cascade="all, delete-orphan", order_by="PartRequestEvent.id"
    )

    def __repr__(self) -> str:
        return f"<PartRequest {self.id} {self.number} {self.status}>"


class PartRequestLine(db.Model):
    __tablename__ = "part_request_lines"
    __table_args__ = (
        sa.UniqueConstraint("part_request_id", "part_id", name="uq_part_request_lines_request_part"),
        sa.CheckConstraint("qty > 0", name="qty_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    part_request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("part_requests.id", ondelete="CASCADE"), index=True
    )
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("parts.id"))
    qty: Mapped[int]

    part_request: Mapped[PartRequest] = relationship(back_populates="lines")
    part: Mapped[Part] = relationship()

    def __repr__(self) -> str:
        return f"<PartRequestLine {self.part_request_id} part={self.part_id} x{self.qty}>"


class PartRequestEvent(db.Model):
    """The part request's own timeline: who did what, when, from which status to which."""

    __tablename__ = "part_request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("part_requests.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(sa.String(120), default="")
    action: Mapped[str] = mapped_column(sa.String(40))
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.String(500))

    part_request: Mapped[PartRequest] = relationship(back_populates="events")

    def __repr__(self) -> str:
        return f"<PartRequestEvent {self.part_request_id} {self.action} {self.from_status}->{self.to_status}>"


class VisitPart(db.Model):
    """A part line used on a visit. Written before any stock moves: its unique key makes consumption run
    once."""

    __tablename__ = "visit_parts"
    __table_args__ = (
        sa.UniqueConstraint("visit_id", "line_no", name="uq_visit_parts_visit_line"),
        sa.CheckConstraint("qty > 0", name="qty_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    line_no: Mapped[int]
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("parts.id"), index=True)
    qty: Mapped[int]
    # The price when used: reports and charges must not change when the catalog price does.
    unit_price: Mapped[Decimal]
    warehouse_id: Mapped[int] = mapped_column(sa.ForeignKey("warehouses.id"))
    old_serial: Mapped[str | None] = mapped_column(sa.String(120))
    new_serial: Mapped[str | None] = mapped_column(sa.String(120))
    return_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("return_orders.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    part: Mapped[Part] = relationship()

    def __repr__(self) -> str:
        return f"<VisitPart visit={self.visit_id} #{self.line_no} part={self.part_id} x{self.qty}>"


class ReturnOrder(TimestampMixin, VersionMixin, db.Model):
    """A removed (faulty) part on its way back: opened, shipped back, received, inspected (旧件返厂)."""

    __tablename__ = "return_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True, default="opened")
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("parts.id"), index=True)
    qty: Mapped[int]
    serial: Mapped[str | None] = mapped_column(sa.String(120))
    request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_requests.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    equipment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("equipment.id"))
    # Who holds the part until it is shipped back (the engineer who removed it), and where it was taken from.
    engineer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("engineers.id"), index=True)
    source_warehouse_id: Mapped[int] = mapped_column(sa.ForeignKey("warehouses.id"))
    receiving_warehouse_id: Mapped[int | None] = mapped_column(sa.ForeignKey("warehouses.id"))
    fault_description: Mapped[str | None] = mapped_column(sa.String(500))
    removed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The supplier's warranty, worked out when the return is opened.
    installed_on: Mapped[date | None]
    supplier_warranty_until: Mapped[date | None]
    in_supplier_warranty: Mapped[bool] = mapped_column(default=False)
    shipped_at: Mapped[datetime | None]
    tracking_number: Mapped[str | None] = mapped_column(sa.String(80))
    received_at: Mapped[datetime | None]
    inspected_at: Mapped[datetime | None]
    refurbished_qty: Mapped[int] = mapped_column(default=0)
    scrapped_qty: Mapped[int] = mapped_column(default=0)
    inspection_note: Mapped[str | None] = mapped_column(sa.String(500))
    opened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    part: Mapped[Part] = relationship()
    engineer = relationship("Engineer")
    request: Mapped[ServiceRequest | None] = relationship()
    source_warehouse: Mapped[Warehouse] = relationship(foreign_keys=[source_warehouse_id])
    receiving_warehouse: Mapped[Warehouse | None] = relationship(foreign_keys=[receiving_warehouse_id])
    claim: Mapped["SupplierClaim | None"] = relationship(back_populates="return_order", uselist=False)

    def __repr__(self) -> str:
        return f"<ReturnOrder {self.id} {self.number} {self.status}>"


class SupplierClaim(TimestampMixin, VersionMixin, db.Model):
    """A warranty claim against the supplier for a part that failed inside its warranty (二次索赔)."""

    __tablename__ = "supplier_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True, default="submitted")
    return_order_id: Mapped[int] = mapped_column(sa.ForeignKey("return_orders.id"), unique=True)
    supplier_id: Mapped[int] = mapped_column(sa.ForeignKey("suppliers.id"), index=True)
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("parts.id"))
    qty: Mapped[int]
    claimed_amount: Mapped[Decimal]
    accepted_amount: Mapped[Decimal | None]
    reject_reason: Mapped[str | None] = mapped_column(sa.String(500))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    return_order: Mapped[ReturnOrder] = relationship(back_populates="claim")
    supplier: Mapped[Supplier] = relationship()
    part: Mapped[Part] = relationship()

    def __repr__(self) -> str:
        return f"<SupplierClaim {self.id} {self.number} {self.status}>"
