"""Console forms of the contracts domain. They render and carry the CSRF token; the API's schemas validate."""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from fieldservice.contracts.models import CHARGING_METHODS, SERVICE_ITEMS, AgreementType
from fieldservice.customers.models import Customer, Equipment
from fieldservice.extensions import db

CHARGING_LABELS = {
    "covered": _l("Covered in full"),
    "labour_only": _l("Labour only"),
    "per_visit": _l("Per visit"),
    "time_and_materials": _l("Time and materials"),
}
SERVICE_ITEM_LABELS = {
    "repair": _l("Repair"),
    "maintenance": _l("Maintenance"),
    "installation": _l("Installation"),
    "other": _l("Other work"),
}
STATUS_LABELS = {
    "upcoming": _l("Not yet started"),
    "active": _l("In force"),
    "expiring": _l("Expiring"),
    "expired": _l("Expired"),
}


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as checkboxes; the operation, not the form, judges which values are allowed."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, validate_choice=False, **kwargs)


class TermsMixin:
    """The commercial terms shared by agreement types and agreements."""

    response_hours = StringField(_l("Response time (hours)"), render_kw={"inputmode": "numeric"})
    resolution_hours = StringField(_l("Resolution time (hours)"), render_kw={"inputmode": "numeric"})
    charging_method = SelectField(
        _l("Charging method"), choices=[(m, CHARGING_LABELS[m]) for m in CHARGING_METHODS]
    )
    labour_rate = StringField(_l("Labour rate (per hour)"), render_kw={"inputmode": "decimal"})
    visit_fee = StringField(_l("Visit fee"), render_kw={"inputmode": "decimal"})
    maintenance_cycle_months = StringField(
        _l("Maintenance cycle (months, empty for none)"), render_kw={"inputmode": "numeric"}
    )
    service_items = CheckboxesField(
        _l("Service items covered"), choices=[(i, SERVICE_ITEM_LABELS[i]) for i in SERVICE_ITEMS]
    )
    terms = TextAreaField(_l("Service terms"))
    version = HiddenField()


class AgreementTypeForm(TermsMixin, FlaskForm):
    code = StringField(_l("Code"))
    name = StringField(_l("Name"))
    active = BooleanField(_l("Offered to new customers"), default=True)


class AgreementForm(TermsMixin, FlaskForm):
    customer_id = SelectField(_l("Customer"), validate_choice=False)
    type_id = SelectField(_l("Agreement type"), validate_choice=False)
    name = StringField(_l("Name"))
    starts_on = StringField(_l("Starts on"), render_kw={"type": "date"})
    ends_on = StringField(_l("Ends on"), render_kw={"type": "date"})
    maintenance_lead_days = StringField(
        _l("Create maintenance requests this many days ahead"), render_kw={"inputmode": "numeric"}
    )
    equipment_ids = CheckboxesField(_l("Covered equipment (none ticked: all of the customer's)"))

    def fill_choices(self, customer_id: int | None) -> None:
        """Customers, active types, and the chosen customer's equipment as the choices."""
        customers = db.session.execute(sa.select(Customer.id, Customer.name).order_by(Customer.name)).all()
        self.customer_id.choices = [("", _l("Choose a customer"))] + [(str(i), n) for i, n in customers]
        types = db.session.scalars(
            sa.select(AgreementType).where(AgreementType.active).order_by(AgreementType.id)
        ).all()
        self.type_id.choices = [("", _l("None: set the terms below"))] + [(str(t.id), t.name) for t in types]
        equipment = (
            db.session.scalars(
                sa.select(Equipment).where(Equipment.customer_id == customer_id).order_by(Equipment.id)
            ).all()
            if customer_id
            else []
        )
        self.equipment_ids.choices = [(str(e.id), f"{e.serial_number} · {e.product.name}") for e in equipment]
        # Ticked boxes come back as strings; the stored ids are ints: compare them as strings.
        self.equipment_ids.data = [str(i) for i in self.equipment_ids.data or []]


class RenewForm(FlaskForm):
    starts_on = StringField(_l("Starts on"), render_kw={"type": "date"})
    ends_on = StringField(_l("Ends on"), render_kw={"type": "date"})
    version = HiddenField()
