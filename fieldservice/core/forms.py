"""Console forms: show an operation's refusal on the form, field by field; the holiday calendar's form."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from fieldservice.core.errors import ApiError
from fieldservice.core.holidays import HOLIDAY, WORKDAY

CALENDAR_KIND_LABELS = {HOLIDAY: _l("Public holiday"), WORKDAY: _l("Make-up working day")}


def apply_api_error(form: FlaskForm, exc: ApiError) -> int:
    """Put *exc*'s field messages on the form's fields (the rest on the form itself); return the HTTP status."""
    for name, message in exc.fields.items():
        field = getattr(form, name.split(".")[0], None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, _(message)]
        else:
            form.form_errors.append(f"{name}: {_(message)}")
    if not exc.fields:
        form.form_errors.append(_(exc.message))
    return exc.status


class CalendarDayForm(FlaskForm):
    day = DateField(_l("Date"), validators=[InputRequired(message=_l("Give the date, as 2026-10-01."))])
    kind = SelectField(_l("Kind"), choices=list(CALENDAR_KIND_LABELS.items()))
    name_zh = StringField(_l("Name in Chinese"), validators=[Length(max=80)])
    name_en = StringField(_l("Name in English"), validators=[Length(max=80)])
