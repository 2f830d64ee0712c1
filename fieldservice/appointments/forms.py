"""The console's booking form on the request page."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, Optional

from fieldservice.core.clock import site_zone


def _engineer_id(value):
    return int(value) if value not in (None, "", "None") else None


class AppointmentForm(FlaskForm):
    version = HiddenField()
    day = DateField(_l("Date"), validators=[InputRequired(message=_l("Give the date."))])
    start = TimeField(_l("Start time"), validators=[InputRequired(message=_l("Give the start time."))])
    end = TimeField(_l("End time"), validators=[InputRequired(message=_l("Give the end time."))])
    engineer_id = SelectField(_l("Engineer"), coerce=_engineer_id, validators=[Optional()])
    reason = StringField(_l("Reason for the change"), validators=[Length(max=500)])
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])
    # The engineer's first free window, offered when nothing is booked (start, end), or None.
    proposed = None

    def payload(self) -> dict:
        """What book_appointment takes: the window in the site's time zone."""
        zone = site_zone()
        return {
            "start": datetime.combine(self.day.data, self.start.data, tzinfo=zone),
            "end": datetime.combine(self.day.data, self.end.data, tzinfo=zone),
            "engineer_id": self.engineer_id.data,
            "reason": self.reason.data,
            "note": self.note.data,
        }
