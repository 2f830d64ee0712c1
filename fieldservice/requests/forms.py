"""Console forms of the service-request loop: intake, the actions on a request, the list's saved filters."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

# The channels a dispatcher takes requests from (the API accepts a few more: qr, maintenance, api).
CHANNEL_LABELS = {
    "phone": _l("Phone"),
    "web": _l("Web"),
    "wechat": _l("WeChat"),
    "email": _l("E-mail"),
    "walk_in": _l("Walk-in"),
    "qr": _l("QR page"),
    "maintenance": _l("Planned maintenance"),
    "api": _l("API"),
    "other": _l("Other"),
}
INTAKE_CHANNELS = ("phone", "web", "wechat", "email", "walk_in", "other")
# DOMAIN.md "Priorities".
PRIORITY_LABELS = {
    1: _l("1 · Immediate (safety risk)"),
    2: _l("2 · High: respond within 24 h"),
    3: _l("3 · Normal: respond within 72 h"),
    4: _l("4 · Low: within 5 working days"),
}
COVERAGE_LABELS = {
    "agreement": _l("Service agreement"),
    "warranty": _l("Warranty"),
    "none": _l("Not covered"),
}
OUTCOME_LABELS = {"resolved": _l("Solved"), "unresolved": _l("Not solved")}
COST_LABELS = {
    "travel": _l("Travel"),
    "parking": _l("Parking"),
    "fee": _l("Service fee"),
    "labour": _l("Labour"),
    "parts": _l("Parts fee"),
    "other": _l("Other"),
}
WORK_KINDS = {
    "repair": _l("Repair"),
    "installation": _l("Installation"),
    "maintenance": _l("Maintenance"),
    "other": _l("Other"),
}
SCORE_CHOICES = [("", "—")] + [(str(n), str(n)) for n in range(5, 0, -1)]


def optional_int(value):
    """Coerce a select's value to int, an empty one to None."""
    if value in (None, "", "None"):
        return None
    return int(value)


class IntakeForm(FlaskForm):
    customer_id = IntegerField(
        _l("Customer"), validators=[InputRequired(_l("Find and choose the customer first."))]
    )
    problem_type = SelectField(_l("Problem type"), validators=[DataRequired(_l("Choose the problem type."))])
    product_id = SelectField(
        _l("Product"), coerce=optional_int, validators=[Optional()], validate_choice=False
    )
    equipment_id = SelectField(
        _l("Equipment"), coerce=optional_int, validators=[Optional()], validate_choice=False
    )
    service_category = SelectField(_l("Service category"), validators=[Optional()], validate_choice=False)
    priority = SelectField(
        _l("Priority"), coerce=int, default=3, choices=[(p, label) for p, label in PRIORITY_LABELS.items()]
    )
    required_by = DateTimeLocalField(
        _l("Required by"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[InputRequired(_l("Give the customer's required date and time."))],
    )
    channel = SelectField(
        _l("Channel"), default="phone", choices=[(c, CHANNEL_LABELS[c]) for c in INTAKE_CHANNELS]
    )
    description = TextAreaField(
        _l("Problem description"), validators=[DataRequired(_l("Describe the problem.")), Length(max=4000)]
    )
    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=120)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=40)])
    suspended = BooleanField(_l("Park as suspended (waiting for the customer or parts)"))

    def validate_equipment_id(self, field):
        # The pickers list the chosen customer's equipment only; a forged id is refused by the operation too.
        allowed = {value for value, _label in self.equipment_id.choices if value is not None}
        if field.data is not None and field.data not in allowed:
            raise ValueError(_l("Choose one of this customer's units."))


class ActionForm(FlaskForm):
    """Every action posts the version the user saw and the last timeline entry they saw (for a stale edit)."""

    version = HiddenField()
    seen = HiddenField()


class NoteForm(ActionForm):
    note = StringField(_l("Note"), validators=[Optional(), Length(max=2000)])


class DetailsForm(ActionForm):
    """The request's details its people change after intake (states.EDITABLE_FIELDS)."""

    contact_name = StringField(_l("Contact name"), validators=[Optional(), Length(max=120)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=40)])
    site_address = StringField(_l("Site address"), validators=[Optional(), Length(max=300)])
    engineer_note = TextAreaField(_l("Engineer's note"), validators=[Optional(), Length(max=2000)])


class OptionalReasonForm(ActionForm):
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])


class ReasonForm(ActionForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Give the reason.")), Length(max=500)])


class AssignForm(ActionForm):
    engineer_id = SelectField(
        _l("Engineer"), coerce=optional_int, validators=[InputRequired(_l("Choose an engineer."))]
    )
    reason = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class RevisitForm(ActionForm):
    satisfied = RadioField(
        _l("Is the customer satisfied?"),
        choices=[("yes", _l("Satisfied")), ("no", _l("Not satisfied"))],
        validators=[InputRequired(_l("Record the customer's answer."))],
    )
    timeliness = SelectField(
        _l("Timeliness"), choices=SCORE_CHOICES, coerce=optional_int, validators=[Optional()]
    )
    attitude = SelectField(
        _l("Attitude"), choices=SCORE_CHOICES, coerce=optional_int, validators=[Optional()]
    )
    quality = SelectField(_l("Quality"), choices=SCORE_CHOICES, coerce=optional_int, validators=[Optional()])
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)])


# One form per action of the TRANSITIONS table (states.ACTIONS); what each posts to operations.perform.
ACTION_FORMS: dict[str, type[ActionForm]] = {
    "assign": AssignForm,
    "claim": ActionForm,
    "suspend": OptionalReasonForm,
    "resume": OptionalReasonForm,
    "unlock": ReasonForm,
    "cancel": ReasonForm,
    "urge": NoteForm,
    "accept": NoteForm,
    "depart": NoteForm,
    "arrive": NoteForm,
    "hand_back": ReasonForm,
    "revisit": RevisitForm,
}


def action_payload(action: str, form: ActionForm) -> dict:
    """The keyword arguments operations.perform takes for *action*, from its validated form."""
    if action == "assign":
        return {"engineer_id": form.engineer_id.data, "reason": form.reason.data or None}
    if action == "revisit":
        scores = {
            k: getattr(form, k).data for k in ("timeliness", "attitude", "quality") if getattr(form, k).data
        }
        return {
            "satisfied": form.satisfied.data == "yes",
            "scores": scores,
            "comment": form.comment.data or None,
        }
    if hasattr(form, "reason"):
        return {"reason": form.reason.data.strip() if form.reason.data else None}
    if hasattr(form, "note"):
        return {"note": form.note.data or None}
    return {}


class SaveFilterForm(FlaskForm):
    name = StringField(
        _l("Name of this filter"), validators=[DataRequired(_l("Give the filter a name.")), Length(max=80)]
    )
    query = HiddenField()


class ProblemTypeForm(FlaskForm):
    version = HiddenField()
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(_l("Give a code.")),
            Length(max=40),
            Regexp(r"^[a-z0-9_]+$", message=_l("Lowercase letters, digits and _ only.")),
        ],
    )
    name_zh = StringField(
        _l("Name (Chinese)"), validators=[DataRequired(_l("Give the Chinese name.")), Length(max=80)]
    )
    name_en = StringField(
        _l("Name (English)"), validators=[DataRequired(_l("Give the English name.")), Length(max=80)]
    )
    category = SelectField(_l("Kind of work"), choices=[(k, v) for k, v in WORK_KINDS.items()])
    sort_order = IntegerField(_l("Order in the list"), default=0, validators=[Optional()])
    active = BooleanField(_l("Offered at intake"), default=True)
