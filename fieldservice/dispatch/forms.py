"""Console forms of the board. They render and carry the CSRF token; the operations do the checking."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField


class AssignForm(FlaskForm):
    engineer_id = SelectField(_l("Engineer"), coerce=int)
    version = HiddenField()


class AutoDispatchForm(FlaskForm):
    apply = HiddenField(default="0")
