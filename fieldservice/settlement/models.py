"""Repair items (维修项目), the items done on a visit, a visit's verification (核销) and engineers' statements."""

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.core.models import TimestampMixin, VersionMixin, utcnow
from fieldservice.extensions import db

PRICINGS = ("hourly", "fixed")
VERIFICATION_STATES = ("pending", "approved", "returned")
STATEMENT_STATES = ("draft", "issued")
WARRANTY_CLAIM_STATES = ("draft", "submitted", "accepted", "partly_accepted", "rejected", "cancelled")


class RepairItem(TimestampMixin, VersionMixin, db.Model):
    """A standard piece of work on a product category, with its standard hours and how it is priced."""

    __tablename__ = "repair_items"
    __table_args__ = (
        sa.UniqueConstraint("category", "code", name="uq_repair_items_category_code"),
        sa.CheckConstraint("standard_hours >= 0", name="standard_hours_not_negative"),
        sa.CheckConstraint("pricing IN ('hourly', 'fixed')", name="pricing_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(80), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name_zh: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    standard_hours: Mapped[Decimal]
    pricing: Mapped[str] = mapped_column(sa.String(10), default="hourly")
    fixed_price: Mapped[Decimal | None]
    # Whether the manufacturer pays it back when the work is under its warranty (二次索赔).
    reimbursable: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True, index=True)

    def __repr__(self) -> str:
        return f"<RepairItem {self.id} {self.category}/{self.code}>"


class VisitItem(db.Model):
    """A repair item done on a visit. The standard and price are copied: a later catalog change leaves it."""

    __tablename__ = "visit_items"
    __table_args__ = (
        sa.UniqueConstraint("visit_id", "repair_item_id", name="uq_visit_items_visit_item"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    repair_item_id: Mapped[int] = mapped_column(sa.ForeignKey("repair_items.id"), index=True)
    quantity: Mapped[int]
    standard_hours: Mapped[Decimal]
    pricing: Mapped[str] = mapped_column(sa.String(10))
    fixed_price: Mapped[Decimal | None]

    item: Mapped[RepairItem] = relationship()

    def __repr__(self) -> str:
        return f"<VisitItem visit={self.visit_id} item={self.repair_item_id} x{self.quantity}>"


class Verification(VersionMixin, db.Model):
    """The manager's verification (核销) of one resolved visit: pending, approved (frozen) or returned."""

    __tablename__ = "visit_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"), unique=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("engineers.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending", index=True)
    # The actual hours beyond the standard times the configured factor (SETTLEMENT_OVERRUN_FACTOR).
    overrun: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    rounds: Mapped[int] = mapped_column(default=1)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(index=True)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    visit = relationship("Visit")

    def __repr__(self) -> str:
        return f"<Verification visit={self.visit_id} {self.status}>"


class Statement(TimestampMixin, VersionMixin, db.Model):
    """An engineer's statement (结算单) for one period (a month, YYYY-MM): draft, then issued and frozen."""

    __tablename__ = "engineer_statements"
    __table_args__ = (sa.UniqueConstraint("engineer_id", "period", name="uq_engineer_statements_engineer_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engineer_id: Mapped[int] = mapped_column(sa.ForeignKey("engineers.id"), index=True)
    period: Mapped[str] = mapped_column(sa.String(7), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    number: Mapped[str | None] = mapped_column(sa.String(30), unique=True)
    visits: Mapped[int] = mapped_column(default=0)
    standard_hours: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    actual_hours: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    labour_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    parts_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    costs_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    adjustments_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    issued_at: Mapped[datetime | None]
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    engineer = relationship("Engineer")
    lines: Mapped[list["StatementLine"]] = relationship(
        back_populates="statement",
        cascade="all, delete-orphan",
        order_by="StatementLine.id",
        foreign_keys="StatementLine.statement_id",
    )

    def __repr__(self) -> str:
        return f"<Statement {self.id} engineer={self.engineer_id} {self.period} {self.status}>"


class StatementLine(db.Model):
    """One verified visit on a statement, or an adjustment (a correction of an issued statement)."""

    __tablename__ = "engineer_statement_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("engineer_statements.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="visit")
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    # The issued statement an adjustment corrects.
    corrects_id: Mapped[int | None] = mapped_column(sa.ForeignKey("engineer_statements.id"))
    request_number: Mapped[str | None] = mapped_column(sa.String(40))
    items: Mapped[str | None] = mapped_column(sa.Text)
    standard_hours: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    actual_hours: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    labour_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    parts_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    costs_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    statement: Mapped[Statement] = relationship(back_populates="lines", foreign_keys=[statement_id])

    def __repr__(self) -> str:
        return f"<StatementLine {self.id} {self.kind} visit={self.visit_id} {self.amount}>"


class ProductManufacturer(db.Model):
    """Who makes a product and so pays back the warranty work on its units (二次索赔): one of the suppliers."""

    __tablename__ = "product_manufacturers"

    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    supplier_id: Mapped[int] = mapped_column(sa.ForeignKey("suppliers.id"), index=True)

    product = relationship("Product")
    supplier = relationship("Supplier")

    def __repr__(self) -> str:
        return f"<ProductManufacturer product={self.product_id} supplier={self.supplier_id}>"


class WarrantyClaim(TimestampMixin, VersionMixin, db.Model):
    """A claim to a manufacturer (二次索赔) for the verified warranty visits of a period: draft, submitted, then
    accepted in full, in part (line by line, with reasons) or rejected; or a draft cancelled."""

    __tablename__ = "warranty_claims"
    __table_args__ = (
        sa.CheckConstraint("claimed_amount >= 0", name="claimed_not_negative"),
        sa.CheckConstraint("accepted_amount >= 0 AND accepted_amount <= claimed_amount", name="accepted_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    supplier_id: Mapped[int] = mapped_column(sa.ForeignKey("suppliers.id"), index=True)
    period: Mapped[str] = mapped_column(sa.String(7), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="draft", index=True)
    claimed_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    accepted_amount: Mapped[Decimal | None]
    # Why the manufacturer rejected the claim as a whole.
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    supplier = relationship("Supplier")
    lines: Mapped[list["WarrantyClaimLine"]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="WarrantyClaimLine.id"
    )

    def __repr__(self) -> str:
        return f"<WarrantyClaim {self.id} {self.number} {self.status}>"


class WarrantyClaimVisit(db.Model):
    """The claim a verified visit went into: its key makes a visit part of one live claim only."""

    __tablename__ = "warranty_claim_visits"

    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("warranty_claims.id", ondelete="CASCADE"), index=True)

    def __repr__(self) -> str:
        return f"<WarrantyClaimVisit visit={self.visit_id} claim={self.claim_id}>"


class WarrantyClaimLine(db.Model):
    """One reimbursable repair item or one part of a visit on a claim, as claimed and as the manufacturer accepted."""

    __tablename__ = "warranty_claim_lines"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('item', 'part')", name="kind_known"),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
        sa.CheckConstraint("accepted_amount >= 0 AND accepted_amount <= amount", name="accepted_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("warranty_claims.id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    request_number: Mapped[str] = mapped_column(sa.String(40))
    equipment_serial: Mapped[str | None] = mapped_column(sa.String(120))
    code: Mapped[str] = mapped_column(sa.String(60))
    name_zh: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    quantity: Mapped[int]
    hours: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    old_serial: Mapped[str | None] = mapped_column(sa.String(120))
    new_serial: Mapped[str | None] = mapped_column(sa.String(120))
    amount: Mapped[Decimal]
    accepted_amount: Mapped[Decimal | None]
    # Why the manufacturer accepted less than claimed.
    reason: Mapped[str | None] = mapped_column(sa.Text)

    claim: Mapped[WarrantyClaim] = relationship(back_populates="lines")

    def __repr__(self) -> str:
        return f"<WarrantyClaimLine {self.id} {self.kind} {self.code} {self.amount}>"
