"""Console forms. They render and carry the CSRF token; the API's marshmallow schemas do the validating."""

from datetime import date

import marshmallow as ma
import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField, TextAreaField

from fieldservice.customers.categories import CATEGORIES
from fieldservice.customers.importing import MUST_NOT_BE_EMPTY
from fieldservice.customers.models import Product
from fieldservice.extensions import db


class CustomerForm(FlaskForm):
    name = StringField(_l("Name"))
    phone = StringField(_l("Phone"))
    address = StringField(_l("Address"))
    zone = StringField(_l("Zone"))
    lat = StringField(_l("Latitude"))
    lng = StringField(_l("Longitude"))
    email = StringField(_l("E-mail"))
    notes = TextAreaField(_l("Notes"))
    version = HiddenField()


class ContactForm(FlaskForm):
    name = StringField(_l("Name"))
    title = StringField(_l("Position"))
    phone = StringField(_l("Phone"))
    email = StringField(_l("E-mail"))


class ProductForm(FlaskForm):
    name = StringField(_l("Name"))
    model = StringField(_l("Model"))
    category = SelectField(_l("Category"))
    version = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(code, label) for code, label in CATEGORIES.items()]
        # A category created through the API that the console does not know stays selectable.
        if self.category.data and self.category.data not in CATEGORIES:
            choices.append((self.category.data, self.category.data))
        self.category.choices = choices


class EquipmentForm(FlaskForm):
    product_id = SelectField(_l("Product"), coerce=int)
    serial_number = StringField(_l("Serial number"))
    installed_on = StringField(_l("Installed on"), render_kw={"type": "date"})
    warranty_until = StringField(_l("Warranty until"), render_kw={"type": "date"})
    location = StringField(_l("Location on site"))
    version = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        products = db.session.scalars(
            sa.select(Product).order_by(Product.category, Product.name, Product.model)
        )
        self.product_id.choices = [(p.id, f"{p.name} · {p.model}") for p in products]


class ImportForm(FlaskForm):
    kind = SelectField(
        _l("What the file holds"), choices=[("customers", _l("Customers")), ("equipment", _l("Equipment"))]
    )
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))])


def load_form(form: FlaskForm, schema: ma.Schema, extra: dict | None = None) -> dict | None:
    """Load the form's fields through *schema*; on errors put them on the fields (translated) and return None."""
    data = dict(extra or {})
    required = set()
    for name, schema_field in schema.fields.items():
        if name not in form or name in data:
            continue
        value = form[name].data
        if isinstance(value, str):
            value = value.strip()
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, float):
            value = str(value)
        if value in ("", None):
            # An empty optional field clears the value; an empty required one is "must not be empty".
            partial = schema.partial is True or name in (schema.partial or ())
            if schema_field.required and not partial:
                required.add(name)
                value = ""
            else:
                value = None
        data[name] = value
    try:
        return schema.load(data)
    except ma.ValidationError as exc:
        for name, messages in exc.normalized_messages().items():
            if name in required:
                messages = [MUST_NOT_BE_EMPTY]
            texts = [_(str(m)) for m in (messages if isinstance(messages, list) else [messages])]
            if name in form and name != "version":
                form[name].errors = [*form[name].errors, *texts]
            else:
                form.form_errors.extend(texts)
        return None
