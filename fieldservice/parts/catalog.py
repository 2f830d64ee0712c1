"""Suppliers and the part catalog: the only writers of those tables. Operations flush and never commit."""

import logging

import sqlalchemy as sa

from fieldservice.core.errors import Conflict, ValidationFailed
from fieldservice.core.models import check_version
from fieldservice.core.search import contains_text
from fieldservice.customers.models import Product
from fieldservice.engineers.models import Engineer
from fieldservice.extensions import db
from fieldservice.parts.models import Part, StockMovement, Supplier
from fieldservice.parts.operations import actor_name, invalid

log = logging.getLogger("fieldservice.parts")


def _check_supplier_name_free(name: str, exclude_id: int | None = None) -> None:
    query = sa.select(Supplier.id).where(Supplier.name == name)
    if exclude_id:
        query = query.where(Supplier.id != exclude_id)
    if db.session.scalar(query):
        raise ValidationFailed("duplicate", "A supplier with that name exists.", {"name": "That name is taken."})


def create_supplier(data: dict, actor) -> Supplier:
    _check_supplier_name_free(data["name"])
    supplier = Supplier(**data)
    db.session.add(supplier)
    db.session.flush()
    log.info("supplier %s %r created by %s", supplier.id, supplier.name, actor_name(actor))
    return supplier


def update_supplier(supplier: Supplier, data: dict, actor) -> Supplier:
    check_version(supplier, data.pop("version", None))
    if "name" in data:
        _check_supplier_name_free(data["name"], supplier.id)
    for key, value in data.items():
        setattr(supplier, key, value)
    db.session.flush()
    log.info("supplier %s updated by %s: %s", supplier.id, actor_name(actor), sorted(data))
    return supplier


def _check_part_refs(data: dict, exclude_id: int | None = None) -> list[Product] | None:
    fields = {}
    if "part_number" in data:
        query = sa.select(Part.id).where(Part.part_number == data["part_number"])
        if exclude_id:
            query = query.where(Part.id != exclude_id)
        if db.session.scalar(query):
            fields["part_number"] = "That part number is taken."
    if data.get("supplier_id") is not None and db.session.get(Supplier, data["supplier_id"]) is None:
        fields["supplier_id"] = "No such supplier."
    products = None
    if "product_ids" in data:
        ids = sorted(set(data["product_ids"] or []))
        products = db.session.scalars(sa.select(Product).where(Product.id.in_(ids))).all() if ids else []
        missing = set(ids) - {p.id for p in products}
        if missing:
            fields["product_ids"] = f"No such product: {', '.join(map(str, sorted(missing)))}."
    if fields:
        raise invalid(fields)
    return products


def create_part(data: dict, actor) -> Part:
    data = dict(data)
    products = _check_part_refs(data)
    data.pop("product_ids", None)
    part = Part(**data, products=products or [])
    db.session.add(part)
    db.session.flush()
    log.info("part %s %s created by %s", part.id, part.part_number, actor_name(actor))
    return part


def update_part(part: Part, data: dict, actor) -> Part:
    data = dict(data)
    check_version(part, data.pop("version", None))
    if "serial_tracked" in data and data["serial_tracked"] != part.serial_tracked and _has_stock_history(part):
        # Existing units would have no serials (or serials the ledger then ignores): stock could not be
        # counted.
        raise Conflict(
            "part_has_stock",
            "Serial tracking cannot change once the part has stock movements.",
            fields={"serial_tracked": "The part has stock movements already."},
        )
    products = _check_part_refs(data, part.id)
    data.pop("product_ids", None)
    for key, value in data.items():
        setattr(part, key, value)
    if products is not None:
        part.products = products
    db.session.flush()
    log.info("part %s updated by %s: %s", part.id, actor_name(actor), sorted(data))
    return part


def _has_stock_history(part: Part) -> bool:
    return db.session.scalar(sa.select(StockMovement.id).where(StockMovement.part_id == part.id).limit(1)) is not None


def search_parts(
    q: str = "",
    category: str | None = None,
    supplier_id: int | None = None,
    product_id: int | None = None,
    active: bool | None = True,
) -> sa.Select:
    query = sa.select(Part).order_by(Part.category, Part.part_number)
    if q:
        query = query.where(contains_text(q, Part.part_number, Part.name))
    if category:
        query = query.where(Part.category == category)
    if supplier_id:
        query = query.where(Part.supplier_id == supplier_id)
    if product_id:
        query = query.where(Part.products.any(Product.id == product_id))
    if active is not None:
        query = query.where(Part.active == active)
    return query


def catalog_for(engineer: Engineer) -> list[Part]:
    """The active parts of the engineer's skills (product categories)."""
    categories = engineer.skill_categories
    if not categories:
        return []
    return list(
        db.session.scalars(
            sa.select(Part).where(Part.active, Part.category.in_(categories)).order_by(Part.category, Part.part_number)
        )
    )


def compatible_products() -> list[Product]:
    """The products a part can fit, for the part form's choices."""
    return list(db.session.scalars(sa.select(Product).order_by(Product.category, Product.name)))
