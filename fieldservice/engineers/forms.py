"""Console forms. They render and carry the CSRF token; the API's marshmallow schemas do the validating."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from fieldservice.core.clock import site_zone
from fieldservice.customers.categories import CATEGORIES

WEEKDAYS = [
    (1, _l("Mon")),
    (2, _l("Tue")),
    (3, _l("Wed")),
    (4, _l("Thu")),
    (5, _l("Fri")),
    (6, _l("Sat")),
    (7, _l("Sun")),
]


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes (keyboard friendly, no script)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        """Choices are checked by the API schema, which also accepts categories the console does not list."""


class EngineerForm(FlaskForm):
    username = StringField(_l("Username"))
    password = PasswordField(_l("Password"))
    name = StringField(_l("Full name"))
    phone = StringField(_l("Phone"))
    skills = CheckboxesField(_l("Skills"))
    zone = StringField(_l("Zone"))
    lat = StringField(_l("Home latitude"))
    lng = StringField(_l("Home longitude"))
    max_open_jobs = StringField(_l("Cap on open jobs"), render_kw={"type": "number", "min": 1, "max": 50})
    work_start = StringField(_l("Shift starts"), render_kw={"type": "time"})
    work_end = StringField(_l("Shift ends"), render_kw={"type": "time"})
    work_days = CheckboxesField(_l("Work days"), coerce=int, choices=WEEKDAYS)
    active = BooleanField(_l("On staff"))
    version = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_skill_choices()

    def set_skill_choices(self) -> None:
        choices = list(CATEGORIES.items())
        # A skill given through the API that the console does not know stays visible and kept.
        choices += [(code, code) for code in (self.skills.data or []) if code not in CATEGORIES]
        self.skills.choices = choices


def engineer_form(engineer=None) -> EngineerForm:
    """The profile form (a posted one reads the request), filled from *engineer* when editing."""
    if engineer is None:
        return EngineerForm()
    data = {
        "skills": engineer.skill_categories,
        "work_days": sorted(engineer.weekdays),
        "work_start": engineer.work_start.strftime("%H:%M"),
        "work_end": engineer.work_end.strftime("%H:%M"),
        "max_open_jobs": str(engineer.max_open_jobs),
    }
    form = EngineerForm(obj=engineer)
    if not form.is_submitted():
        # Not through data=: WTForms prefers the object's attribute, and engineer.skills holds rows, not codes.
        for name, value in data.items():
            getattr(form, name).data = value
        form.set_skill_choices()
    return form


class LeaveForm(FlaskForm):
    starts_at = StringField(_l("From"), render_kw={"type": "datetime-local"})
    ends_at = StringField(_l("Until"), render_kw={"type": "datetime-local"})
    reason = StringField(_l("Reason"))


def local_to_iso(value: str | None) -> str | None:
    """A datetime-local input (site time, no offset) as ISO 8601 with the site's offset; unparsable stays as
    is."""
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return value
    if naive.tzinfo is not None:
        return naive.isoformat()
    return naive.replace(tzinfo=site_zone()).isoformat()
