from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectMultipleField, StringField, URLField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from fieldservice.notifications.webhooks import EVENT_TYPES, WEBHOOK_EVENT_LABELS


class VersionForm(FlaskForm):
    """A button that changes one row: resend, enable, disable, delete."""

    version = HiddenField()


class SubscriptionForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    url = URLField(_l("Endpoint URL"), validators=[DataRequired(), Length(max=500)])
    events = SelectMultipleField(
        _l("Events"),
        choices=[(e, WEBHOOK_EVENT_LABELS[e]) for e in ("*", *EVENT_TYPES, "part_request.*")],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )
    active = BooleanField(_l("Active"), default=True)
