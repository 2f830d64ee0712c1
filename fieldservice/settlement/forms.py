"""Console forms of settlement. They render and carry the CSRF token; the operations validate."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField

from fieldservice.customers.categories import CATEGORIES

PRICING_LABELS = {"hourly": _l("Standard hours at the labour rate"), "fixed": _l("Fixed price")}
VERIFICATION_LABELS = {
    "pending": _l("Waiting for verification"),
    "approved": _l("Verified"),
    "returned": _l("Returned"),
}
STATEMENT_LABELS = {"draft": _l("Draft"), "issued": _l("Issued")}
CLAIM_LABELS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted to the manufacturer"),
    "accepted": _l("Accepted in full"),
    "partly_accepted": _l("Accepted in part"),
    "rejected": _l("Rejected by the manufacturer"),
    "cancelled": _l("Cancelled"),
}
CLAIM_KIND_LABELS = {
    "item": _l("Repair item"),
    "part": _l("Part"),
    "warranty": _l("Warranty work"),
    "returned": _l("Returned part"),
}
PROBLEM_LABELS = {
    "no_items": _l("No repair items"),
    "overrun": _l("Hours over the standard"),
    "no_signature": _l("No signature"),
    "parts_mismatch": _l("Parts differ from the van ledger"),
}


class RepairItemForm(FlaskForm):
    category = SelectField(_l("Product category"))
    code = StringField(_l("Code"))
    name_zh = StringField(_l("Name (Chinese)"))
    name_en = StringField(_l("Name (English)"))
    standard_hours = StringField(_l("Standard hours"))
    pricing = SelectField(_l("Pricing"), choices=list(PRICING_LABELS.items()))
    fixed_price = StringField(_l("Fixed price"))
    reimbursable = BooleanField(_l("The manufacturer reimburses it under warranty"))
    active = BooleanField(_l("Active"), default=True)
    version = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = list(CATEGORIES.items())
        if self.category.data and self.category.data not in CATEGORIES:
            self.category.choices.append((self.category.data, self.category.data))

    def content(self) -> dict:
        return {
            name: getattr(self, name).data
            for name in (
                "category",
                "code",
                "name_zh",
                "name_en",
                "standard_hours",
                "pricing",
                "fixed_price",
                "reimbursable",
                "active",
            )
        }


class ActionForm(FlaskForm):
    """A button's form: the version read, and a reason where the step needs one."""

    reason = StringField(_l("Reason"))
    version = HiddenField()
