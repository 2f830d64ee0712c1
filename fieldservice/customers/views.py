"""Console pages: customers (list, detail, forms, contacts), equipment, products, CSV import."""

import sqlalchemy as sa
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError
from wtforms import SelectField

from fieldservice.auth.permissions import USERS_MANAGE, can, require
from fieldservice.console.navigation import add_nav
from fieldservice.core.clock import today
from fieldservice.core.errors import ApiError, Conflict, NotFound
from fieldservice.core.forms import apply_api_error
from fieldservice.customers import importing
from fieldservice.customers import operations as ops
from fieldservice.customers.categories import CATEGORIES, category_label
from fieldservice.customers.forms import (
    ContactForm,
    CustomerForm,
    EquipmentForm,
    ImportForm,
    ProductForm,
    load_form,
)
from fieldservice.customers.models import Contact, Customer, Equipment, Product
from fieldservice.customers.panels import customer_panels, equipment_panels
from fieldservice.customers.permissions import CUSTOMERS_READ, CUSTOMERS_WRITE, PRODUCTS_WRITE
from fieldservice.customers.schemas import (
    ContactArgs,
    CustomerArgs,
    CustomerUpdateArgs,
    EquipmentArgs,
    EquipmentUpdateArgs,
    ProductArgs,
    ProductUpdateArgs,
)
from fieldservice.extensions import db

bp = Blueprint("customers", __name__, template_folder="templates")

PER_PAGE = 25

add_nav("customers.index", _l("Customers"), CUSTOMERS_READ, order=20, group="customers")
add_nav("customers.products", _l("Products"), CUSTOMERS_READ, order=25, group="customers")
# The auth domain's user administration has no entry of its own; it belongs at the end of the menu.
add_nav("auth.users", _l("Users"), USERS_MANAGE, order=900, group="system")

COLUMN_HELP = {
    "name": _l("Customer name (company or person)"),
    "phone": _l("Main phone number"),
    "address": _l("Service address"),
    "zone": _l("Service zone, e.g. a district"),
    "lat": _l("Latitude, decimal degrees"),
    "lng": _l("Longitude, decimal degrees"),
    "email": _l("E-mail address"),
    "notes": _l("Free notes"),
    "customer_phone": _l("The customer's phone number as registered (or give customer_id)"),
    "customer_id": _l("The customer's id (or give customer_phone)"),
    "product_model": _l("The product's model, as in the product list"),
    "serial_number": _l("Serial number, unique"),
    "installed_on": _l("Install date, 2024-03-15 or 2024/3/15"),
    "warranty_until": _l("Last day of warranty, same formats"),
    "location": _l("Where the unit is on site"),
}


@bp.app_template_global()
def product_category_label(code: str | None) -> str:
    return category_label(code)


def _is_stale(exc: Exception) -> bool:
    return isinstance(exc, StaleDataError) or (isinstance(exc, Conflict) and exc.code == "stale_version")


def _shown(field, value) -> str:
    if isinstance(field, SelectField):
        return str(dict(field.choices or []).get(value, value if value not in (None, "") else ""))
    return "" if value is None else str(value).strip()


def _stale_report(obj, mine: dict, current_form) -> dict:
    """Who saved *obj* meanwhile, and each field where what the user typed differs from what is stored now."""
    changes = []
    for name, value in mine.items():
        field = current_form[name]
        yours, now = _shown(field, value), _shown(field, field.data)
        if yours != now:
            changes.append({"label": field.label.text, "yours": yours, "current": now})
    return {
        "at": obj.updated_at,
        "by": obj.updated_by.display_name if obj.updated_by else None,
        "version": obj.version,
        "changes": changes,
    }


def submit(form, schema, save, obj=None, extra=None):
    """Validate *form* with the API's *schema* and run *save(data)*, committing once.

    Returns (form, saved, status, stale). A stale edit answers 409 with a fresh form holding the stored values and
    a report of who changed the record and which of the user's entries differ: nothing is overwritten silently.
    """
    if not form.validate_on_submit():
        return form, None, 422 if form.errors else 200, None
    data = load_form(form, schema, extra)
    if data is None:
        return form, None, 422, None
    try:
        saved = save(data)
        db.session.commit()
    except (ApiError, StaleDataError) as exc:
        db.session.rollback()
        if not _is_stale(exc):
            return form, None, apply_api_error(form, exc), None
        mine = {f.name: f.data for f in form if f.name in schema.fields and f.name != "version"}
        fresh = type(form)(formdata=None, obj=obj)
        fresh.version.data = obj.version
        return fresh, None, 409, _stale_report(obj, mine, fresh)
    return form, saved, 200, None


# Customers ------------------------------------------------------------------------------------------------------


@bp.route("/customers")
@require(CUSTOMERS_READ)
def index():
    q = request.args.get("q", "").strip()
    zone = request.args.get("zone") or None
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(ops.search_customers(q, zone), page=page, per_page=PER_PAGE, error_out=False)
    ids = [c.id for c in pagination.items]
    counts = (
        dict(
            db.session.execute(
                sa.select(Equipment.customer_id, sa.func.count())
                .where(Equipment.customer_id.in_(ids))
                .group_by(Equipment.customer_id)
            ).all()
        )
        if ids
        else {}
    )
    return render_template(
        "customers/list.html",
        customers=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        q=q,
        zone=zone,
        zones=ops.customer_zones(),
        equipment_counts=counts,
    )


def _render_detail(customer: Customer, contact_form: ContactForm, status: int = 200):
    return render_template(
        "customers/detail.html",
        customer=customer,
        contact_form=contact_form,
        # A warranty ends at the end of its last local day at the site.
        today=today(),
        panels=customer_panels.render(customer, current_user),
    ), status


@bp.route("/customers/<int:customer_id>")
@require(CUSTOMERS_READ)
def detail(customer_id: int):
    return _render_detail(ops.get_or_404(Customer, customer_id, "customer"), ContactForm(formdata=None))


@bp.route("/customers/new", methods=["GET", "POST"])
@require(CUSTOMERS_WRITE)
def new_customer():
    form, customer, status, _stale = submit(
        CustomerForm(), CustomerArgs(), lambda data: ops.create_customer(data, current_user)
    )
    if customer is not None:
        flash(_("Customer %(name)s created.", name=customer.name), "success")
        return redirect(url_for("customers.detail", customer_id=customer.id))
    return render_template("customers/customer_form.html", form=form, customer=None, stale=None), status


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@require(CUSTOMERS_WRITE)
def edit_customer(customer_id: int):
    customer = ops.get_or_404(Customer, customer_id, "customer")
    form, saved, status, stale = submit(
        CustomerForm(obj=customer),
        CustomerUpdateArgs(),
        lambda data: ops.update_customer(customer, data, current_user),
        obj=customer,
    )
    if saved is not None:
        flash(_("Customer %(name)s saved.", name=saved.name), "success")
        return redirect(url_for("customers.detail", customer_id=saved.id))
    return render_template("customers/customer_form.html", form=form, customer=customer, stale=stale), status


@bp.route("/customers/<int:customer_id>/contacts", methods=["POST"])
@require(CUSTOMERS_WRITE)
def add_contact(customer_id: int):
    customer = ops.get_or_404(Customer, customer_id, "customer")
    form, contact, status, _stale = submit(
        ContactForm(), ContactArgs(), lambda data: ops.add_contact(customer, data, current_user)
    )
    if contact is not None:
        flash(_("Contact %(name)s added.", name=contact.name), "success")
        return redirect(url_for("customers.detail", customer_id=customer.id) + "#contacts")
    return _render_detail(customer, form, status)


@bp.route("/customers/<int:customer_id>/contacts/<int:contact_id>/remove", methods=["POST"])
@require(CUSTOMERS_WRITE)
def remove_contact(customer_id: int, contact_id: int):
    contact = ops.get_or_404(Contact, contact_id, "contact")
    if contact.customer_id != customer_id:
        raise NotFound("not_found", "No such contact.")
    name = contact.name
    ops.remove_contact(contact, current_user)
    db.session.commit()
    flash(_("Contact %(name)s removed.", name=name), "success")
    return redirect(url_for("customers.detail", customer_id=customer_id) + "#contacts")


# Equipment ------------------------------------------------------------------------------------------------------


def _no_products_yet() -> bool:
    return db.session.scalar(sa.select(Product.id).limit(1)) is None


@bp.route("/customers/<int:customer_id>/equipment/new", methods=["GET", "POST"])
@require(CUSTOMERS_WRITE)
def new_equipment(customer_id: int):
    customer = ops.get_or_404(Customer, customer_id, "customer")
    form, equipment, status, _stale = submit(
        EquipmentForm(),
        EquipmentArgs(),
        lambda data: ops.create_equipment(data, current_user),
        extra={"customer_id": customer.id},
    )
    if equipment is not None:
        flash(_("Equipment %(serial)s registered.", serial=equipment.serial_number), "success")
        return redirect(url_for("customers.detail", customer_id=customer.id) + "#equipment")
    return render_template(
        "customers/equipment_form.html",
        form=form,
        customer=customer,
        equipment=None,
        stale=None,
        no_products=_no_products_yet(),
    ), status


@bp.route("/equipment/<int:equipment_id>/edit", methods=["GET", "POST"])
@require(CUSTOMERS_WRITE)
def edit_equipment(equipment_id: int):
    equipment = ops.get_or_404(Equipment, equipment_id, "equipment")
    form, saved, status, stale = submit(
        EquipmentForm(obj=equipment),
        EquipmentUpdateArgs(partial=("customer_id",)),
        lambda data: ops.update_equipment(equipment, data, current_user),
        obj=equipment,
    )
    if saved is not None:
        flash(_("Equipment %(serial)s saved.", serial=saved.serial_number), "success")
        return redirect(url_for("customers.detail", customer_id=saved.customer_id) + "#equipment")
    return render_template(
        "customers/equipment_form.html",
        form=form,
        customer=equipment.customer,
        equipment=equipment,
        stale=stale,
        no_products=False,
        panels=equipment_panels.render(equipment, current_user),
    ), status


# Products -------------------------------------------------------------------------------------------------------


@bp.route("/products")
@require(CUSTOMERS_READ)
def products():
    category = request.args.get("category") or None
    query = sa.select(Product).order_by(Product.category, Product.name, Product.model)
    if category:
        query = query.where(Product.category == category)
    counts = dict(
        db.session.execute(
            sa.select(Equipment.product_id, sa.func.count()).group_by(Equipment.product_id)
        ).all()
    )
    return render_template(
        "customers/products.html",
        products=db.session.scalars(query).all(),
        counts=counts,
        category=category,
        categories=CATEGORIES,
        can_edit=can(current_user, PRODUCTS_WRITE),
    )


@bp.route("/products/new", methods=["GET", "POST"])
@require(PRODUCTS_WRITE)
def new_product():
    form, product, status, _stale = submit(
        ProductForm(), ProductArgs(), lambda data: ops.create_product(data, current_user)
    )
    if product is not None:
        flash(_("Product %(model)s created.", model=product.model), "success")
        return redirect(url_for("customers.products"))
    return render_template("customers/product_form.html", form=form, product=None, stale=None), status


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@require(PRODUCTS_WRITE)
def edit_product(product_id: int):
    product = ops.get_or_404(Product, product_id, "product")
    form, saved, status, stale = submit(
        ProductForm(obj=product),
        ProductUpdateArgs(),
        lambda data: ops.update_product(product, data, current_user),
        obj=product,
    )
    if saved is not None:
        flash(_("Product %(model)s saved.", model=saved.model), "success")
        return redirect(url_for("customers.products"))
    return render_template("customers/product_form.html", form=form, product=product, stale=stale), status


# CSV import -----------------------------------------------------------------------------------------------------


@bp.route("/customers/import", methods=["GET", "POST"])
@require(CUSTOMERS_WRITE)
def import_csv():
    form = ImportForm(kind=request.args.get("kind", "customers"))
    failed, status = None, 200
    if form.validate_on_submit():
        try:
            result = importing.import_file(form.kind.data, form.file.data.read(), current_user)
            db.session.commit()
        except importing.ImportFailed as exc:
            db.session.rollback()
            failed, status = exc, 422
        except ApiError as exc:
            db.session.rollback()
            status = apply_api_error(form, exc)
        else:
            message = (
                _(
                    "Imported %(count)s customers (file read as %(encoding)s).",
                    count=result.count,
                    encoding=result.encoding,
                )
                if result.kind == "customers"
                else _(
                    "Imported %(count)s equipment units (file read as %(encoding)s).",
                    count=result.count,
                    encoding=result.encoding,
                )
            )
            flash(message, "success")
            return redirect(url_for("customers.import_csv", kind=result.kind))
    elif form.errors:
        status = 422
    return render_template(
        "customers/import.html", form=form, failed=failed, kinds=importing.KINDS, column_help=COLUMN_HELP
    ), status


@bp.route("/customers/import/<any(customers, equipment):kind>-template.csv")
@require(CUSTOMERS_WRITE)
def import_template(kind: str):
    return Response(
        importing.template_csv(importing.KINDS[kind]),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={kind}-template.csv"},
    )
