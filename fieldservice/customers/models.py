"""Customers with contacts, products, and equipment (one installed unit)."""

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from fieldservice.auth.models import User
from fieldservice.core.models import TimestampMixin, VersionMixin
from fieldservice.core.search import doubled_trigram_index, trigram_index
from fieldservice.extensions import db


class EditedByMixin:
    """Who saved the row last: a stale edit in the console names them next to `updated_at`."""

    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    @declared_attr
    def updated_by(cls) -> Mapped[User | None]:
        return relationship(User, foreign_keys=[cls.updated_by_id])


class Customer(EditedByMixin, TimestampMixin, VersionMixin, db.Model):
    __tablename__ = "customers"
    # The request list's search box finds requests by their customer's name and phone (core.search).
    __table_args__ = (
        trigram_index("ix_customers_name_trgm", "name"),
        trigram_index("ix_customers_phone_trgm", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    phone: Mapped[str] = mapped_column(sa.String(40), index=True)
    email: Mapped[str | None] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.String(300))
    zone: Mapped[str | None] = mapped_column(sa.String(60), index=True)
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)

    contacts: Mapped[list["Contact"]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Contact.id"
    )
    equipment: Mapped[list["Equipment"]] = relationship(back_populates="customer", order_by="Equipment.id")

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.name}>"


# A search of two characters (a surname and a given name, 张伟) has no trigram of its own: the name's index of its
# doubled text answers it (core.search.doubled_trigram_index), as the description's does.
doubled_trigram_index("ix_customers_name_doubled_trgm", Customer.name)


class Contact(TimestampMixin, db.Model):
    __tablename__ = "customer_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    title: Mapped[str | None] = mapped_column(sa.String(120))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(200))

    customer: Mapped[Customer] = relationship(back_populates="contacts")

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.name} of customer {self.customer_id}>"


class Product(EditedByMixin, TimestampMixin, VersionMixin, db.Model):
    __tablename__ = "products"
    __table_args__ = (sa.UniqueConstraint("model", name="uq_products_model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    model: Mapped[str] = mapped_column(sa.String(120))
    category: Mapped[str] = mapped_column(sa.String(80), index=True)

    def __repr__(self) -> str:
        return f"<Product {self.id} {self.model}>"


class Equipment(EditedByMixin, TimestampMixin, VersionMixin, db.Model):
    __tablename__ = "equipment"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    serial_number: Mapped[str] = mapped_column(sa.String(120), unique=True)
    installed_on: Mapped[date | None]
    warranty_until: Mapped[date | None]
    location: Mapped[str | None] = mapped_column(sa.String(200))

    customer: Mapped[Customer] = relationship(back_populates="equipment")
    product: Mapped[Product] = relationship()

    def __repr__(self) -> str:
        return f"<Equipment {self.id} {self.serial_number}>"

    def under_warranty(self, on: date) -> bool:
        return self.warranty_until is not None and on <= self.warranty_until
