"""Console forms of the callback desk. They render and carry the CSRF token; the operations validate."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField

from fieldservice.revisits.operations import ATTEMPT_REASONS

SCORE_CHOICES = [(str(n), str(n)) for n in range(1, 6)]
REASON_LABELS = {
    "no_answer": _l("No answer"),
    "busy": _l("Line busy"),
    "switched_off": _l("Phone switched off"),
    "wrong_number": _l("Wrong number"),
    "call_back_later": _l("Asked to call back later"),
    "refused": _l("Declined the survey"),
}
SCORE_LABELS = {"timeliness": _l("Timeliness"), "attitude": _l("Attitude"), "quality": _l("Quality")}


def _scale(label) -> RadioField:
    # Choices are checked by the operation, which names the field in its 422 like the API does.
    return RadioField(label, choices=SCORE_CHOICES, validate_choice=False)


class SurveyForm(FlaskForm):
    satisfied = RadioField(
        _l("Is the customer satisfied?"),
        choices=[("yes", _l("Yes")), ("no", _l("No"))],
        validate_choice=False,
    )
    timeliness = _scale(SCORE_LABELS["timeliness"])
    attitude = _scale(SCORE_LABELS["attitude"])
    quality = _scale(SCORE_LABELS["quality"])
    comment = TextAreaField(_l("What the customer said"))
    version = HiddenField()

    def payload(self) -> dict:
        """The survey as record_survey takes it; blanks stay None so that the operation names them."""
        scores = {name: _int(getattr(self, name).data) for name in SCORE_LABELS}
        satisfied = {"yes": True, "no": False}.get(self.satisfied.data)
        return {
            "satisfied": satisfied,
            "scores": scores,
            "comment": (self.comment.data or "").strip() or None,
        }


class AttemptForm(FlaskForm):
    reason = SelectField(
        _l("Why the call failed"),
        choices=[(r, REASON_LABELS[r]) for r in ATTEMPT_REASONS],
        validate_choice=False,
    )
    note = StringField(_l("Note"))
    version = HiddenField()


class FollowUpCloseForm(FlaskForm):
    outcome = TextAreaField(_l("What was done"))
    version = HiddenField()


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def version_of(form: FlaskForm) -> int | None:
    return _int(form.version.data)
