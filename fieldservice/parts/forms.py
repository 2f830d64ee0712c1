"""Console forms for parts. They render and carry the CSRF token; the operations enforce the rules."""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from fieldservice.customers.categories import CATEGORIES
from fieldservice.extensions import db
from fieldservice.parts import states
from fieldservice.parts.catalog import compatible_products
from fieldservice.parts.models import Part, Supplier, Warehouse
from fieldservice.parts.part_requests import engineers_by_name

_REQUIRED = _l("This field is required.")


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


def split_serials(text: str | None) -> list[str]:
    """Serial numbers typed one per line or separated by commas or spaces."""
    return [s for s in (text or "").replace(",", " ").replace("，", " ").split() if s]


def part_choices(blank: bool = False) -> list[tuple]:
    parts = db.session.scalars(sa.select(Part).where(Part.active).order_by(Part.category, Part.part_number))
    choices = [(p.id, f"{p.part_number} · {p.name}") for p in parts]
    return [("", "—"), *choices] if blank else choices


def warehouse_choices(kinds=states.STOCK_KINDS, blank: bool = False) -> list[tuple]:
    rows = db.session.scalars(
        sa.select(Warehouse).where(Warehouse.kind.in_(kinds), Warehouse.active).order_by(Warehouse.kind, Warehouse.name)
    )
    choices = [(w.id, f"{w.name} ({states.label(states.LOCATION_KINDS, w.kind)})") for w in rows]
    return [("", "—"), *choices] if blank else choices


class SupplierForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_REQUIRED), Length(max=200)])
    contact = StringField(_l("Contact person"), validators=[Optional(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])


class PartForm(FlaskForm):
    part_number = StringField(_l("Part number"), validators=[DataRequired(_REQUIRED), Length(max=60)])
    name = StringField(_l("Name"), validators=[DataRequired(_REQUIRED), Length(max=200)])
    category = SelectField(_l("Category"))
    unit_price = DecimalField(_l("Unit price"), places=2, validators=[InputRequired(_REQUIRED), NumberRange(min=0)])
    serial_tracked = BooleanField(_l("Serial-tracked"))
    return_required = BooleanField(_l("Old part goes back for inspection"), default=True)
    supplier_id = SelectField(_l("Supplier"), coerce=_optional_int, validators=[Optional()])
    supplier_warranty_months = IntegerField(
        _l("Supplier warranty (months)"),
        default=12,
        validators=[InputRequired(_REQUIRED), NumberRange(0, 240)],
    )
    reorder_threshold = IntegerField(
        _l("Reorder threshold"), default=0, validators=[InputRequired(_REQUIRED), NumberRange(0, 1000000)]
    )
    product_ids = SelectMultipleField(_l("Compatible products"), coerce=int, validators=[Optional()])
    active = BooleanField(_l("Active"), default=True)
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    version = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = list(CATEGORIES.items())
        if self.category.data and self.category.data not in CATEGORIES:
            self.category.choices.append((self.category.data, self.category.data))
        suppliers = db.session.scalars(sa.select(Supplier).order_by(Supplier.name))
        self.supplier_id.choices = [(None, "—"), *((s.id, s.name) for s in suppliers)]
        self.product_ids.choices = [(p.id, f"{p.name} · {p.model}") for p in compatible_products()]

    def content(self) -> dict:
        return {
            name: self[name].data
            for name in (
                "part_number",
                "name",
                "category",
                "unit_price",
                "serial_tracked",
                "return_required",
                "supplier_id",
                "supplier_warranty_months",
                "reorder_threshold",
                "product_ids",
                "active",
                "description",
            )
        }


class StockMoveForm(FlaskForm):
    """One line of a receipt, transfer or stocktake adjustment (the kind comes from the page)."""

    from_warehouse_id = SelectField(_l("From warehouse"), coerce=_optional_int, validators=[Optional()])
    warehouse_id = SelectField(_l("Warehouse"), coerce=_optional_int, validators=[DataRequired(_REQUIRED)])
    part_id = SelectField(_l("Part"), coerce=_optional_int, validators=[DataRequired(_REQUIRED)])
    qty = IntegerField(_l("Quantity"), validators=[InputRequired(_REQUIRED)])
    serials = TextAreaField(_l("Serial numbers (one per unit)"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])

    def __init__(self, kind: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        targets = ("central", "regional") if kind == "receipt" else states.STOCK_KINDS
        self.warehouse_id.choices = warehouse_choices(targets, blank=True)
        self.from_warehouse_id.choices = warehouse_choices(blank=True)
        self.part_id.choices = part_choices(blank=True)


class LineForm(Form):
    part_id = SelectField(_l("Part"), coerce=_optional_int, validators=[Optional()])
    qty = IntegerField(_l("Quantity"), validators=[Optional(), NumberRange(min=1, max=100000)])


class PartRequestForm(FlaskForm):
    engineer_id = SelectField(_l("For engineer"), coerce=_optional_int, validators=[Optional()])
    request_id = IntegerField(_l("Service request id"), validators=[Optional()])
    lines = FieldList(FormField(LineForm), min_entries=4, max_entries=20)
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.engineer_id.choices = [("", "—"), *((e.id, e.name) for e in engineers_by_name())]
        parts = part_choices(blank=True)
        for line in self.lines:
            line.part_id.choices = parts

    def content(self) -> dict:
        return {
            "engineer_id": self.engineer_id.data,
            "request_id": self.request_id.data,
            "note": self.note.data or None,
            "lines": [{"part_id": ln.part_id.data, "qty": ln.qty.data or 1} for ln in self.lines if ln.part_id.data],
        }


class ActionForm(FlaskForm):
    """The body of a step on a part request, a return or a claim; each step reads what it needs."""

    version = HiddenField()
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])
    source_warehouse_id = SelectField(_l("Ship from"), coerce=_optional_int, validators=[Optional()])
    serials = TextAreaField(_l("Serial numbers shipped"), validators=[Optional()])
    tracking_number = StringField(_l("Tracking number"), validators=[Optional(), Length(max=80)])
    warehouse_id = SelectField(_l("Receiving warehouse"), coerce=_optional_int, validators=[Optional()])
    refurbished_qty = IntegerField(_l("Refurbishable units"), default=0, validators=[Optional(), NumberRange(min=0)])
    scrapped_qty = IntegerField(_l("Scrapped units"), default=0, validators=[Optional(), NumberRange(min=0)])
    amount = DecimalField(_l("Amount"), places=2, validators=[Optional(), NumberRange(min=0)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stores = warehouse_choices(("central", "regional"), blank=True)
        self.source_warehouse_id.choices = stores
        self.warehouse_id.choices = stores

    def version_number(self) -> int | None:
        return int(self.version.data) if (self.version.data or "").isdigit() else None


class ReturnForm(FlaskForm):
    warehouse_id = SelectField(_l("Warehouse or van"), coerce=_optional_int, validators=[Optional()])
    part_id = SelectField(_l("Part"), coerce=_optional_int, validators=[DataRequired(_REQUIRED)])
    qty = IntegerField(_l("Quantity"), default=1, validators=[InputRequired(_REQUIRED), NumberRange(1, 100000)])
    serial = StringField(_l("Serial number"), validators=[Optional(), Length(max=120)])
    fault_description = StringField(_l("Fault"), validators=[Optional(), Length(max=500)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.warehouse_id.choices = warehouse_choices(blank=True)
        self.part_id.choices = part_choices(blank=True)
