"""Customers, contacts, products and equipment over JSON."""

import sqlalchemy as sa
from flask import request
from flask_login import current_user

from fieldservice.auth.permissions import require
from fieldservice.core.api import ErrorEnvelope, PageArgs, api_blueprint, page_of
from fieldservice.core.errors import NotFound, ValidationFailed
from fieldservice.customers import importing
from fieldservice.customers import operations as ops
from fieldservice.customers.models import Contact, Customer, Equipment, Product
from fieldservice.customers.permissions import CUSTOMERS_READ, CUSTOMERS_WRITE, PRODUCTS_WRITE
from fieldservice.customers.schemas import (
    N_,
    ContactArgs,
    ContactSchema,
    CustomerArgs,
    CustomerQueryArgs,
    CustomerSchema,
    CustomerUpdateArgs,
    EquipmentArgs,
    EquipmentQueryArgs,
    EquipmentSchema,
    EquipmentUpdateArgs,
    ImportResultSchema,
    ProductArgs,
    ProductSchema,
    ProductUpdateArgs,
    updatable,
)
from fieldservice.extensions import db

blp = api_blueprint("customers_api", __name__, "Customers, contacts, products and equipment")


@blp.route("/customers")
@require(CUSTOMERS_READ)
@blp.arguments(CustomerQueryArgs, location="query")
@blp.response(200)
def list_customers(args):
    """Customers, searched by name, phone, address or equipment serial number."""
    return page_of(
        ops.search_customers(args["q"], args["zone"]), CustomerSchema(), args["page"], args["per_page"]
    )


@blp.route("/customers", methods=["POST"])
@require(CUSTOMERS_WRITE)
@blp.arguments(CustomerArgs)
@blp.response(201, CustomerSchema)
def create_customer(args):
    customer = ops.create_customer(args, current_user)
    db.session.commit()
    return customer


@blp.route("/customers/<int:customer_id>")
@require(CUSTOMERS_READ)
@blp.response(200, CustomerSchema)
def get_customer(customer_id):
    return ops.get_or_404(Customer, customer_id, "customer")


@blp.route("/customers/<int:customer_id>", methods=["PATCH"])
@require(CUSTOMERS_WRITE)
@blp.arguments(updatable(CustomerUpdateArgs))
@blp.response(200, CustomerSchema)
def update_customer(args, customer_id):
    customer = ops.update_customer(ops.get_or_404(Customer, customer_id, "customer"), args, current_user)
    db.session.commit()
    return customer


@blp.route("/customers/<int:customer_id>/contacts", methods=["POST"])
@require(CUSTOMERS_WRITE)
@blp.arguments(ContactArgs)
@blp.response(201, ContactSchema)
def add_contact(args, customer_id):
    contact = ops.add_contact(ops.get_or_404(Customer, customer_id, "customer"), args, current_user)
    db.session.commit()
    return contact


@blp.route("/customers/<int:customer_id>/contacts/<int:contact_id>", methods=["DELETE"])
@require(CUSTOMERS_WRITE)
@blp.response(204)
def remove_contact(customer_id, contact_id):
    contact = ops.get_or_404(Contact, contact_id, "contact")
    if contact.customer_id != customer_id:
        raise NotFound("not_found", "No such contact.")
    ops.remove_contact(contact, current_user)
    db.session.commit()


@blp.route("/customers/<int:customer_id>/equipment")
@require(CUSTOMERS_READ)
@blp.response(200, EquipmentSchema(many=True))
def customer_equipment(customer_id):
    return ops.get_or_404(Customer, customer_id, "customer").equipment


@blp.route("/products")
@require(CUSTOMERS_READ)
@blp.arguments(PageArgs, location="query")
@blp.response(200)
def list_products(args):
    query = sa.select(Product).order_by(Product.category, Product.name)
    return page_of(query, ProductSchema(), args["page"], args["per_page"])


@blp.route("/products", methods=["POST"])
@require(PRODUCTS_WRITE)
@blp.arguments(ProductArgs)
@blp.response(201, ProductSchema)
def create_product(args):
    product = ops.create_product(args, current_user)
    db.session.commit()
    return product


@blp.route("/products/<int:product_id>")
@require(CUSTOMERS_READ)
@blp.response(200, ProductSchema)
def get_product(product_id):
    return ops.get_or_404(Product, product_id, "product")


@blp.route("/products/<int:product_id>", methods=["PATCH"])
@require(PRODUCTS_WRITE)
@blp.arguments(updatable(ProductUpdateArgs))
@blp.response(200, ProductSchema)
def update_product(args, product_id):
    product = ops.update_product(ops.get_or_404(Product, product_id, "product"), args, current_user)
    db.session.commit()
    return product


@blp.route("/equipment")
@require(CUSTOMERS_READ)
@blp.arguments(EquipmentQueryArgs, location="query")
@blp.response(200)
def list_equipment(args):
    """Equipment, by part of its serial number and by customer."""
    query = ops.search_equipment(args["q"], args["customer_id"])
    return page_of(query, EquipmentSchema(), args["page"], args["per_page"])


@blp.route("/equipment", methods=["POST"])
@require(CUSTOMERS_WRITE)
@blp.arguments(EquipmentArgs)
@blp.response(201, EquipmentSchema)
def create_equipment(args):
    equipment = ops.create_equipment(args, current_user)
    db.session.commit()
    return equipment


@blp.route("/equipment/<int:equipment_id>")
@require(CUSTOMERS_READ)
@blp.response(200, EquipmentSchema)
def get_equipment(equipment_id):
    return ops.get_or_404(Equipment, equipment_id, "equipment")


@blp.route("/equipment/<int:equipment_id>", methods=["PATCH"])
@require(CUSTOMERS_WRITE)
@blp.arguments(updatable(EquipmentUpdateArgs))
@blp.response(200, EquipmentSchema)
def update_equipment(args, equipment_id):
    equipment = ops.update_equipment(ops.get_or_404(Equipment, equipment_id, "equipment"), args, current_user)
    db.session.commit()
    return equipment


_CSV_BODY = {
    "description": "The CSV file: as the body (Content-Type: text/csv) or as a multipart file named `file`. "
    "UTF-8 with or without BOM, or GBK/GB18030; the first line names the columns.",
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
        },
    },
}
_IMPORT_FAILED = (
    "Nothing was imported. `fields` names every bad cell as `line N.column`; `rows` lists them as "
    "`{line, field, message}`; `encoding` says how the file was read."
)


def _uploaded_csv() -> bytes:
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        raw = upload.read() if upload is not None else b""
    else:
        raw = request.get_data()
    if not raw:
        message = N_("Send the CSV as the request body or as a multipart file named file.")
        raise ValidationFailed("validation_failed", message, {"file": message})
    return raw


def _import(kind: str) -> dict:
    result = importing.import_file(kind, _uploaded_csv(), current_user)
    db.session.commit()
    return {"imported": result.count, "encoding": result.encoding, "ids": [obj.id for obj in result.created]}


@blp.route("/customers/import", methods=["POST"])
@require(CUSTOMERS_WRITE)
@blp.doc(requestBody=_CSV_BODY)
@blp.response(201, ImportResultSchema)
@blp.alt_response(422, schema=ErrorEnvelope, description=_IMPORT_FAILED)
def import_customers():
    """Import customers from CSV (columns: name, phone, address, zone, lat, lng, email, notes); all or nothing."""
    return _import("customers")


@blp.route("/equipment/import", methods=["POST"])
@require(CUSTOMERS_WRITE)
@blp.doc(requestBody=_CSV_BODY)
@blp.response(201, ImportResultSchema)
@blp.alt_response(422, schema=ErrorEnvelope, description=_IMPORT_FAILED)
def import_equipment():
    """Import equipment from CSV (columns: customer_phone or customer_id, product_model, serial_number,
    installed_on, warranty_until, location); all or nothing."""
    return _import("equipment")
