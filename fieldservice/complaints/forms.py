"""Console forms of complaints. They render and carry the CSRF token; the schemas and operations validate."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField

from fieldservice.complaints.states import ACTION_KINDS, CHANNELS, SEVERITIES, TYPES


def _choices(table: dict, blank=None) -> list[tuple[str, object]]:
    return ([("", blank)] if blank is not None else []) + list(table.items())


class ComplaintForm(FlaskForm):
    # Choices are checked by the API's schema (load_form), which names every bad field at once.
    channel = SelectField(_l("Channel"), choices=_choices(CHANNELS), validate_choice=False)
    kind = SelectField(_l("Type"), choices=_choices(TYPES), validate_choice=False)
    severity = SelectField(
        _l("Severity"), choices=_choices(SEVERITIES), default="medium", validate_choice=False
    )
    summary = StringField(_l("Summary"))
    description = TextAreaField(_l("What the customer says"))
    customer_id = StringField(_l("Customer id"))
    contact_name = StringField(_l("Contact name"))
    contact_phone = StringField(_l("Contact phone"))
    request_id = StringField(_l("Service request id"))
    engineer_id = StringField(_l("Engineer id"))
    part_id = StringField(_l("Part id"))
    handler_id = SelectField(_l("Handler"), choices=[], validate_choice=False)


class AssignForm(FlaskForm):
    handler_id = SelectField(_l("Handler"), choices=[], validate_choice=False)
    note = StringField(_l("Note"))
    version = HiddenField()


class StartForm(FlaskForm):
    note = StringField(_l("Note"))
    version = HiddenField()


class ActForm(FlaskForm):
    kind = SelectField(_l("Step"), choices=_choices(ACTION_KINDS), validate_choice=False)
    note = TextAreaField(_l("What was done or found"))
    version = HiddenField()


class CloseForm(FlaskForm):
    outcome = TextAreaField(_l("Outcome"))
    customer_feedback = TextAreaField(_l("Customer's feedback"))
    customer_satisfied = RadioField(
        _l("Customer accepts the outcome?"),
        choices=[("yes", _l("Yes")), ("no", _l("No")), ("", _l("Not asked"))],
        default="",
        validate_choice=False,
    )
    version = HiddenField()


class ReopenForm(FlaskForm):
    reason = TextAreaField(_l("Reason"))
    version = HiddenField()


ACTION_FORMS = {
    "assign": AssignForm,
    "start": StartForm,
    "act": ActForm,
    "close": CloseForm,
    "reopen": ReopenForm,
}
