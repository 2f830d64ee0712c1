"""The appointment's states and warnings as the console and the customer's page name them."""

from flask_babel import lazy_gettext as _l

from fieldservice.appointments.models import BOOKED, CANCELLED, KEPT, MISSED
from fieldservice.core.states import label_of

STATUS_LABELS = {
    BOOKED: _l("Booked"),
    KEPT: _l("Kept"),
    MISSED: _l("Missed"),
    CANCELLED: _l("Cancelled"),
}
WARNING_LABELS = {
    "past_required_by": _l("The window ends after the customer's required date."),
    "past_resolution_due": _l("The window ends after the request's resolution due time."),
}


def status_label(status: str) -> str:
    return label_of(STATUS_LABELS, status)


def warning_label(code: str) -> str:
    return label_of(WARNING_LABELS, code)
