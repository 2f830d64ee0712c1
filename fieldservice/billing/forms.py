"""Console forms of billing. They render and carry the CSRF token; the operations validate."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

INVOICE_STATUS_LABELS = {"requested": _l("Requested"), "issued": _l("Issued"), "cancelled": _l("Cancelled")}


class InvoiceActionForm(FlaskForm):
    reason = StringField(_l("Reason"))
    version = HiddenField()
