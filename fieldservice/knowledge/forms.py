"""Console forms: an entry with its causes and solutions as nested lists, and a proposal."""

from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from fieldservice.customers.models import Product
from fieldservice.engineers.skills import CATEGORY_LABELS, category_label
from fieldservice.extensions import db
from fieldservice.knowledge.models import KnowledgeEntry
from fieldservice.knowledge.operations import entry_content


class SolutionForm(Form):
    id = HiddenField()
    summary = StringField(_l("Solution"), validators=[Optional(), Length(max=300)])
    steps = TextAreaField(_l("Steps (one per line)"), validators=[Optional(), Length(max=8000)])
    parts = StringField(_l("Parts usually needed"), validators=[Optional(), Length(max=500)])
    estimated_hours = DecimalField(
        _l("Estimated hours"), places=2, validators=[Optional(), NumberRange(min=0, max=999)]
    )


class CauseForm(Form):
    id = HiddenField()
    description = TextAreaField(_l("Cause"), validators=[Optional(), Length(max=2000)])
    solutions = FieldList(FormField(SolutionForm), min_entries=1)


class EntryForm(FlaskForm):
    product_id = SelectField(_l("Product"), choices=[], validators=[Optional()])
    category = SelectField(_l("Category"), choices=[], validators=[Optional()])
    symptom = StringField(_l("Symptom"), validators=[DataRequired(), Length(max=300)])
    fault_code = StringField(_l("Fault code"), validators=[Optional(), Length(max=40)])
    causes = FieldList(FormField(CauseForm), min_entries=1)
    version = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not (self.product_id.data or self.category.data):
            self.category.errors = [*self.category.errors, _("Name a product or a category.")]
            ok = False
        # A FormField's own `id` and `description` shadow the subform's fields: read them through `.form`.
        for cause in (c.form for c in self.causes):
            filled = [s.form for s in cause.solutions if s.form.summary.data or s.form.steps.data]
            if filled and not (cause.description.data or "").strip():
                cause.description.errors = [
                    *cause.description.errors,
                    _("Describe the cause of these solutions."),
                ]
                ok = False
            for solution in filled:
                if not (solution.summary.data or "").strip():
                    solution.summary.errors = [*solution.summary.errors, _("Sum the solution up in a line.")]
                    ok = False
        if not any((c.form.description.data or "").strip() for c in self.causes):
            self.form_errors.append(_("Give at least one cause."))
            ok = False
        return ok

    def content(self) -> dict:
        """The form as the operations' data: blank rows dropped, steps split into lines."""
        causes = []
        for cause in (c.form for c in self.causes):
            if not (cause.description.data or "").strip():
                continue
            solutions = [
                {
                    "id": int(s.id.data) if s.id.data else None,
                    "summary": s.summary.data,
                    "steps": (s.steps.data or "").splitlines(),
                    "parts": s.parts.data,
                    "estimated_hours": s.estimated_hours.data,
                }
                for s in (s.form for s in cause.solutions)
                if (s.summary.data or "").strip()
            ]
            causes.append(
                {
                    "id": int(cause.id.data) if cause.id.data else None,
                    "description": cause.description.data,
                    "solutions": solutions,
                }
            )
        return {
            "product_id": int(self.product_id.data) if self.product_id.data else None,
            "category": self.category.data or None,
            "symptom": self.symptom.data,
            "fault_code": self.fault_code.data,
            "causes": causes,
        }


def entry_form_data(entry: KnowledgeEntry) -> dict:
    """An entry as the form's initial data: its content, with steps as lines and hours as a number."""
    content = entry_content(entry)
    for cause in content["causes"]:
        for solution in cause["solutions"]:
            solution["steps"] = "\n".join(solution["steps"])
            solution["parts"] = solution["parts"] or ""
            hours = solution["estimated_hours"]
            solution["estimated_hours"] = Decimal(hours) if hours is not None else None
    return {
        **content,
        "product_id": str(entry.product_id or ""),
        "fault_code": entry.fault_code or "",
        "version": entry.version,
    }


def add_blank_rows(form: EntryForm) -> None:
    """One empty solution under each cause and one empty cause: room to add without JavaScript."""
    for cause in (c.form for c in form.causes):
        if any((s.form.summary.data or "").strip() for s in cause.solutions):
            cause.solutions.append_entry()
    if any((c.form.description.data or "").strip() for c in form.causes):
        form.causes.append_entry()


def product_choices() -> list[tuple[str, str]]:
    products = db.session.scalars(sa.select(Product).order_by(Product.category, Product.name)).all()
    return [("", _("— Whole category —"))] + [
        (str(p.id), f"{p.name} {p.model} · {category_label(p.category)}") for p in products
    ]


def known_categories() -> list[str]:
    """The categories in use: the standard ones, then any others products or entries carry."""
    used = set(db.session.scalars(sa.select(Product.category).distinct())) | set(
        db.session.scalars(sa.select(KnowledgeEntry.category).distinct())
    )
    return list(CATEGORY_LABELS) + sorted(used - set(CATEGORY_LABELS))


def category_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(c, category_label(c)) for c in known_categories()]
    return [("", blank)] + choices if blank is not None else choices


class ProposalForm(FlaskForm):
    request_id = HiddenField()
    product_id = SelectField(_l("Product"), choices=[], validators=[Optional()])
    category = SelectField(_l("Category"), choices=[], validators=[Optional()])
    symptom = StringField(_l("Symptom"), validators=[DataRequired(), Length(max=300)])
    fault_code = StringField(_l("Fault code"), validators=[Optional(), Length(max=40)])
    cause = TextAreaField(_l("Cause"), validators=[DataRequired(), Length(max=2000)])
    solution = TextAreaField(
        _l("Solution (first line: summary; then one step per line)"),
        validators=[DataRequired(), Length(max=4000)],
    )
    version = HiddenField()

    def content(self) -> dict:
        return {
            "request_id": int(self.request_id.data) if self.request_id.data else None,
            "product_id": int(self.product_id.data) if self.product_id.data else None,
            "category": self.category.data or None,
            "symptom": self.symptom.data,
            "fault_code": self.fault_code.data,
            "cause": self.cause.data,
            "solution": self.solution.data,
        }


class ReviewForm(FlaskForm):
    """The manager's decision on a proposal."""

    version = HiddenField()
    entry_id = StringField(
        _l("Add to existing entry (number, optional)"), validators=[Optional(), Length(max=12)]
    )
    reason = StringField(_l("Reason for rejecting"), validators=[Optional(), Length(max=500)])
