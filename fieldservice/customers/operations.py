"""Customers, contacts, products and equipment: the writes, with their rules."""

import logging

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from fieldservice.core.errors import ValidationFailed
from fieldservice.core.models import check_version
from fieldservice.core.models import get_or_404 as core_get_or_404
from fieldservice.core.search import contains_text
from fieldservice.customers.models import Contact, Customer, Equipment, Product
from fieldservice.customers.schemas import N_, WARRANTY_BEFORE_INSTALL
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.customers")

_NOT_FOUND = {
    "customer": N_("No such customer."),
    "contact": N_("No such contact."),
    "product": N_("No such product."),
    "equipment": N_("No such equipment."),
}
SERIAL_TAKEN = N_("That serial number is registered already.")
MODEL_TAKEN = N_("That model exists already.")
NOT_VALID = N_("Some fields are not valid.")


def get_or_404(model, object_id: int, what: str):
    """The core lookup, with the fixed sentences the console translates."""
    return core_get_or_404(model, object_id, what, _NOT_FOUND.get(what, "No such resource."))


def create_customer(data: dict, actor) -> Customer:
    customer = Customer(**data, updated_by_id=actor.id)
    db.session.add(customer)
    db.session.flush()
    log.info("customer %s %r created by %s", customer.id, customer.name, actor.username)
    return customer


def update_customer(customer: Customer, data: dict, actor) -> Customer:
    check_version(customer, data.pop("version", None))
    for key, value in data.items():
        setattr(customer, key, value)
    customer.updated_by_id = actor.id
    db.session.flush()
    log.info("customer %s updated by %s: %s", customer.id, actor.username, sorted(data))
    return customer


def add_contact(customer: Customer, data: dict, actor) -> Contact:
    contact = Contact(customer=customer, **data)
    db.session.add(contact)
    db.session.flush()
    log.info("contact %s added to customer %s by %s", contact.id, customer.id, actor.username)
    return contact


def remove_contact(contact: Contact, actor) -> None:
    log.info("contact %s removed from customer %s by %s", contact.id, contact.customer_id, actor.username)
    db.session.delete(contact)
    db.session.flush()


def search_customers(q: str = "", zone: str | None = None) -> sa.Select:
    """Customers whose name, phone, address or one of whose equipment serial numbers contains *q*."""
    query = sa.select(Customer).options(selectinload(Customer.contacts)).order_by(Customer.name, Customer.id)
    if q and q.strip():
        serial_match = sa.select(Equipment.customer_id).where(contains_text(q, Equipment.serial_number))
        query = query.where(
            sa.or_(
                contains_text(q, Customer.name, Customer.phone, Customer.address),
                Customer.id.in_(serial_match),
            )
        )
    if zone:
        query = query.where(Customer.zone == zone)
    return query


def customer_zones() -> list[str]:
    """The zones customers are in, for the list's filter."""
    return list(
        db.session.scalars(
            sa.select(Customer.zone).where(Customer.zone.is_not(None)).distinct().order_by(Customer.zone)
        )
    )


def search_equipment(q: str = "", customer_id: int | None = None) -> sa.Select:
    query = sa.select(Equipment).options(selectinload(Equipment.product)).order_by(Equipment.serial_number)
    if q and q.strip():
        query = query.where(contains_text(q, Equipment.serial_number))
    if customer_id:
        query = query.where(Equipment.customer_id == customer_id)
    return query


def _check_product_model_free(model: str, exclude_id: int | None = None) -> None:
    query = sa.select(Product.id).where(Product.model == model)
    if exclude_id:
        query = query.where(Product.id != exclude_id)
    if db.session.scalar(query):
        raise ValidationFailed("duplicate", MODEL_TAKEN, {"model": MODEL_TAKEN})


def create_product(data: dict, actor) -> Product:
    _check_product_model_free(data["model"])
    product = Product(**data, updated_by_id=actor.id)
    db.session.add(product)
    db.session.flush()
    log.info("product %s %s created by %s", product.id, product.model, actor.username)
    return product


def update_product(product: Product, data: dict, actor) -> Product:
    check_version(product, data.pop("version", None))
    if "model" in data:
        _check_product_model_free(data["model"], product.id)
    for key, value in data.items():
        setattr(product, key, value)
    product.updated_by_id = actor.id
    db.session.flush()
    log.info("product %s updated by %s", product.id, actor.username)
    return product


def _check_equipment_refs(data: dict, exclude_id: int | None = None) -> None:
    fields = {}
    if "customer_id" in data and db.session.get(Customer, data["customer_id"]) is None:
        fields["customer_id"] = _NOT_FOUND["customer"]
    if "product_id" in data and db.session.get(Product, data["product_id"]) is None:
        fields["product_id"] = _NOT_FOUND["product"]
    if "serial_number" in data:
        query = sa.select(Equipment.id).where(Equipment.serial_number == data["serial_number"])
        if exclude_id:
            query = query.where(Equipment.id != exclude_id)
        if db.session.scalar(query):
            fields["serial_number"] = SERIAL_TAKEN
    if fields:
        raise ValidationFailed("validation_failed", NOT_VALID, fields)


def create_equipment(data: dict, actor) -> Equipment:
    _check_equipment_refs(data)
    equipment = Equipment(**data, updated_by_id=actor.id)
    db.session.add(equipment)
    db.session.flush()
    log.info("equipment %s (%s) created by %s", equipment.id, equipment.serial_number, actor.username)
    return equipment


def update_equipment(equipment: Equipment, data: dict, actor) -> Equipment:
    check_version(equipment, data.pop("version", None))
    _check_equipment_refs(data, equipment.id)
    # A partial update is checked against the stored dates the request leaves alone.
    installed = data.get("installed_on", equipment.installed_on)
    until = data.get("warranty_until", equipment.warranty_until)
    if installed and until and until < installed:
        raise ValidationFailed("validation_failed", NOT_VALID, {"warranty_until": WARRANTY_BEFORE_INSTALL})
    for key, value in data.items():
        setattr(equipment, key, value)
    equipment.updated_by_id = actor.id
    db.session.flush()
    log.info("equipment %s updated by %s", equipment.id, actor.username)
    return equipment
