"""Console forms: show an operation's refusal on the form, field by field."""

from flask_babel import gettext as _
from flask_wtf import FlaskForm

from fieldservice.core.errors import ApiError


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
