"""Console pages of the knowledge base, the suggestion partial for intake, and the proposal review."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.auth.permissions import can, require
from fieldservice.console.navigation import add_home_card, add_nav
from fieldservice.core.errors import ApiError, Conflict, ValidationFailed
from fieldservice.core.forms import apply_api_error
from fieldservice.customers.models import Equipment
from fieldservice.engineers.skills import category_label
from fieldservice.extensions import db
from fieldservice.knowledge import operations as ops
from fieldservice.knowledge.forms import (
    EntryForm,
    ProposalForm,
    ReviewForm,
    add_blank_rows,
    category_choices,
    entry_form_data,
    known_categories,
    product_choices,
)
from fieldservice.knowledge.models import KnowledgeEntry, KnowledgeProposal
from fieldservice.knowledge.permissions import KNOWLEDGE_PROPOSE, KNOWLEDGE_READ, KNOWLEDGE_WRITE
from fieldservice.requests.models import ServiceRequest, Visit
from fieldservice.requests.operations import get_visible_request

bp = Blueprint("knowledge", __name__, template_folder="templates")

STATUS_LABELS = {"draft": _l("Draft"), "published": _l("Published"), "archived": _l("Archived")}
STATUS_TONES = {"draft": "warn", "published": "good", "archived": ""}
PROPOSAL_LABELS = {"pending": _l("Pending review"), "published": _l("Published"), "rejected": _l("Rejected")}
PROPOSAL_TONES = {"pending": "warn", "published": "good", "rejected": "bad"}
FIELD_LABELS = {
    "symptom": _l("Symptom"),
    "fault_code": _l("Fault code"),
    "category": _l("Category"),
    "product_id": _l("Product"),
    "status": _l("Status"),
    "causes": _l("Causes and solutions"),
}
ACTION_LABELS = {"publish": _l("Publish"), "unpublish": _l("Back to draft"), "archive": _l("Archive")}
# The operations' errors in the user's language (their own messages are English, for the API).
ERROR_MESSAGES = {
    "illegal_transition": _l("That is not possible in the entry's current state."),
    "stale_version": _l("Someone else changed this entry meanwhile: look at it again, then retry."),
    "not_publishable": _l("Give at least one cause with a solution before publishing."),
    "forbidden": _l("Only service managers see draft and archived entries."),
    "validation_failed": _l("Check the filters: one of them is not valid."),
}
PER_PAGE = 20
SUGGESTIONS = 5

add_nav("knowledge.index", _l("Knowledge base"), KNOWLEDGE_READ, order=60, group="field")


def _pending_card() -> dict:
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(KnowledgeProposal).where(KnowledgeProposal.status == "pending")
    )
    return {
        "label": _("Knowledge proposals to review"),
        "value": count,
        "url": url_for("knowledge.proposals", status="pending"),
        "tone": "warn" if count else "plain",
    }


add_home_card("knowledge_proposals", KNOWLEDGE_WRITE, _pending_card, order=80)


@bp.context_processor
def _labels():
    return {
        "status_labels": STATUS_LABELS,
        "status_tones": STATUS_TONES,
        "proposal_labels": PROPOSAL_LABELS,
        "proposal_tones": PROPOSAL_TONES,
        "field_labels": FIELD_LABELS,
        "action_labels": ACTION_LABELS,
        "category_label": category_label,
        "can_write": can(current_user, KNOWLEDGE_WRITE),
        "can_propose": can(current_user, KNOWLEDGE_PROPOSE),
    }


def _error_message(exc: ApiError) -> str:
    return str(ERROR_MESSAGES.get(exc.code, exc.message))


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() else None


@bp.route("/knowledge")
@require(KNOWLEDGE_READ)
def index():
    q = request.args.get("q", "").strip()
    category = request.args.get("category") or None
    product_id = _int_arg("product_id")
    status = request.args.get("status") or None
    page = max(_int_arg("page") or 1, 1)
    try:
        hits, total = ops.find_entries(current_user, q, product_id, category, status, PER_PAGE, (page - 1) * PER_PAGE)
    except ApiError as exc:
        flash(_error_message(exc), "error")
        hits, total = [], 0
    counts = dict(
        db.session.execute(
            sa.select(KnowledgeEntry.category, sa.func.count())
            .where(KnowledgeEntry.status == "published")
            .group_by(KnowledgeEntry.category)
        ).all()
    )
    return render_template(
        "knowledge/index.html",
        hits=hits,
        total=total,
        page=page,
        per_page=PER_PAGE,
        q=q,
        category=category,
        product_id=product_id,
        status=status,
        categories=[c for c in known_categories() if counts.get(c)],
        counts=counts,
        products=product_choices()[1:],
        pending=db.session.scalar(
            sa.select(sa.func.count()).select_from(KnowledgeProposal).where(KnowledgeProposal.status == "pending")
        )
        if can(current_user, KNOWLEDGE_WRITE)
        else 0,
    )


@bp.route("/knowledge/suggest")
@require(KNOWLEDGE_READ)
def suggest():
    """A small list of entries for what is being typed (the intake form places it under the description)."""
    q = (request.args.get("q") or request.args.get("description") or "").strip()
    # The intake form's service category is the product category.
    category = request.args.get("category") or request.args.get("service_category") or None
    product_id = _suggest_product()
    request_id = _int_arg("request_id")
    if request_id is not None:
        q, product_id, category = _request_problem(request_id)
    hits = []
    if q:
        try:
            hits = ops.search(q, product_id, category, limit=SUGGESTIONS)
        except ApiError:
            # An unknown product while the form is half filled: suggest from the text alone.
            hits = ops.search(q, None, category, limit=SUGGESTIONS)
    return render_template("knowledge/_suggest.html", hits=hits, q=q)


def _request_problem(request_id: int) -> tuple[str, int | None, str | None]:
    """The description, product and category of a request the user may see (nothing otherwise)."""
    try:
        sr = get_visible_request(request_id, current_user)
    except ApiError:
        return "", None, None
    product_id = sr.product_id or (sr.equipment.product_id if sr.equipment is not None else None)
    return sr.description or "", product_id, sr.service_category or None


def _suggest_product() -> int | None:
    """The product named by the intake form: product_id, or the chosen equipment's product."""
    product_id = _int_arg("product_id")
    equipment_id = _int_arg("equipment_id")
    if product_id is None and equipment_id is not None:
        equipment = db.session.get(Equipment, equipment_id)
        product_id = equipment.product_id if equipment is not None else None
    return product_id


@bp.route("/knowledge/<int:entry_id>")
@require(KNOWLEDGE_READ)
def detail(entry_id: int):
    entry = _entry_or_404(entry_id)
    return render_template("knowledge/detail.html", entry=entry, actions=ops.allowed_actions(entry))


def _entry_or_404(entry_id: int) -> KnowledgeEntry:
    try:
        return ops.get_entry(entry_id, current_user)
    except ApiError:
        abort(404)


def _prepare(form: EntryForm | ProposalForm) -> None:
    form.product_id.choices = product_choices()
    form.category.choices = category_choices(blank=_("— From the product —"))


@bp.route("/knowledge/new", methods=["GET", "POST"])
@require(KNOWLEDGE_WRITE)
def new_entry():
    form = EntryForm()
    _prepare(form)
    status = 200
    if request.method == "GET":
        form.category.data = request.args.get("category") or ""
    if form.validate_on_submit():
        publish = request.form.get("publish") == "1"
        data = {**form.content(), "status": "published" if publish else "draft"}
        status, entry = _save(form, lambda: ops.create_entry(data, current_user))
        if entry is not None:
            return redirect(url_for("knowledge.detail", entry_id=entry.id))
    elif form.errors or form.form_errors:
        status = 422
    add_blank_rows(form)
    return render_template("knowledge/form.html", form=form, entry=None, changes=None), status


def _save(form: EntryForm, write) -> tuple[int, KnowledgeEntry | None]:
    """Run *write*: commit and flash, or roll back and put the error on the form. (status, entry or None)"""
    try:
        entry = write()
    except ApiError as exc:
        db.session.rollback()
        if isinstance(exc, Conflict) and "changes" in exc.extra:
            raise  # a stale edit: the editor shows what changed
        return apply_api_error(form, exc), None
    db.session.commit()
    flash(_("Entry saved."), "success")
    return 200, entry


@bp.route("/knowledge/<int:entry_id>/edit", methods=["GET", "POST"])
@require(KNOWLEDGE_WRITE)
def edit_entry(entry_id: int):
    entry = _entry_or_404(entry_id)
    form = EntryForm() if request.method == "POST" else EntryForm(data=entry_form_data(entry))
    _prepare(form)
    status, changes = 200, None
    if form.validate_on_submit():
        data = {**form.content(), "version": int(form.version.data or 0)}
        try:
            status, saved = _save(form, lambda: ops.update_entry(entry, data, current_user))
        except Conflict as exc:
            # Show what the other person changed; the next save, with their version, keeps this form's
            # content.
            changes = exc.extra["changes"]
            form.version.data = exc.extra["current_version"]
            form.form_errors.append(
                _(
                    "Someone else changed this entry while you were editing it. Review their changes below, "
                    "then save again to keep yours."
                )
            )
            status, saved = 409, None
        if saved is not None:
            return redirect(url_for("knowledge.detail", entry_id=entry.id))
    elif form.errors or form.form_errors:
        status = 422
    add_blank_rows(form)
    return render_template("knowledge/form.html", form=form, entry=entry, changes=changes), status


@bp.route("/knowledge/<int:entry_id>/<any(publish, unpublish, archive):action>", methods=["POST"])
@require(KNOWLEDGE_WRITE)
def change_status(entry_id: int, action: str):
    entry = _entry_or_404(entry_id)
    version = request.form.get("version", "")
    try:
        ops.change_status(entry, action, current_user, int(version) if version.isdigit() else None)
    except ApiError as exc:
        db.session.rollback()
        flash(_error_message(exc), "error")
    else:
        db.session.commit()
        flash(_("Entry is now: %(status)s.", status=STATUS_LABELS[entry.status]), "success")
    return redirect(url_for("knowledge.detail", entry_id=entry_id))


@bp.route("/knowledge/<int:entry_id>/revisions")
@require(KNOWLEDGE_WRITE)
def revisions(entry_id: int):
    entry = _entry_or_404(entry_id)
    history = ops.entry_revisions(entry)
    # Each revision beside what it changed from the one before it (the oldest: everything is new).
    rows = [
        (rev, ops.content_changes(history[i + 1].content, rev.content) if i + 1 < len(history) else None)
        for i, rev in enumerate(history)
    ]
    return render_template("knowledge/revisions.html", entry=entry, rows=rows)


# --- proposals
# ------------------------------------------------------------------------------------------------


@bp.route("/knowledge/proposals")
@require(KNOWLEDGE_PROPOSE)
def proposals():
    status = request.args.get("status") or None
    if status not in (None, *ops.PROPOSAL_STATUSES):
        status = None
    items = db.session.scalars(ops.visible_proposals(current_user, status).limit(200)).all()
    return render_template("knowledge/proposals.html", items=items, status=status)


def _prefill_from_request(form: ProposalForm, request_id: int) -> None:
    """Start from the request's description and its last resolved visit."""
    sr = db.session.get(ServiceRequest, request_id)
    if sr is None:
        return
    form.request_id.data = str(sr.id)
    form.product_id.data = str(sr.product_id or "")
    form.category.data = getattr(sr, "service_category", None) or ""
    visit = db.session.scalar(
        sa.select(Visit)
        .where(Visit.request_id == sr.id, Visit.outcome == "resolved")
        .order_by(Visit.id.desc())
        .limit(1)
    )
    form.symptom.data = ((visit.fault if visit else None) or sr.description or "")[:300]
    if visit is not None:
        form.cause.data = visit.cause or ""
        form.solution.data = visit.solution or ""


@bp.route("/knowledge/proposals/new", methods=["GET", "POST"])
@require(KNOWLEDGE_PROPOSE)
def new_proposal():
    form = ProposalForm()
    _prepare(form)
    status = 200
    if request.method == "GET" and _int_arg("request_id"):
        _prefill_from_request(form, _int_arg("request_id"))
    if form.validate_on_submit():
        try:
            proposal = ops.create_proposal(form.content(), current_user)
        except ApiError as exc:
            db.session.rollback()
            status = apply_api_error(form, exc)
        else:
            db.session.commit()
            flash(_("Thank you: a manager will review your proposal."), "success")
            return redirect(url_for("knowledge.proposal", proposal_id=proposal.id))
    elif form.errors:
        status = 422
    return render_template("knowledge/proposal_form.html", form=form), status


@bp.route("/knowledge/proposals/<int:proposal_id>", methods=["GET", "POST"])
@require(KNOWLEDGE_PROPOSE)
def proposal(proposal_id: int):
    """The proposal; a manager edits it here and publishes or rejects it."""
    try:
        item = ops.get_proposal(proposal_id, current_user)
    except ApiError:
        abort(404)
    editable = can(current_user, KNOWLEDGE_WRITE) and item.status == "pending"
    form = ProposalForm(obj=item) if request.method == "GET" else ProposalForm()
    _prepare(form)
    review = ReviewForm(prefix="review")
    if request.method == "GET":
        form.product_id.data = str(item.product_id or "")
        form.version.data = item.version
    status = 200
    if request.method == "POST":
        if not editable:
            abort(403)
        decision = request.form.get("decision", "save")
        if form.validate_on_submit() and review.validate():
            try:
                _decide(item, form, review, decision)
            except ApiError as exc:
                db.session.rollback()
                status = apply_api_error(review if decision == "reject" or "entry_id" in exc.fields else form, exc)
            else:
                db.session.commit()
                flash(
                    _("Proposal saved.")
                    if decision == "save"
                    else _("Proposal %(status)s.", status=PROPOSAL_LABELS[item.status]),
                    "success",
                )
                return redirect(url_for("knowledge.proposal", proposal_id=item.id))
        else:
            status = 422
    source = db.session.get(ServiceRequest, item.request_id) if item.request_id else None
    return render_template(
        "knowledge/proposal.html", item=item, form=form, review=review, editable=editable, source=source
    ), status


def _decide(item: KnowledgeProposal, form: ProposalForm, review: ReviewForm, decision: str) -> None:
    data = form.content()
    data.pop("request_id")
    version = int(form.version.data or 0)
    if decision == "reject":
        ops.reject_proposal(item, current_user, version, review.reason.data)
        return
    ops.update_proposal(item, {**data, "version": version}, current_user)
    if decision == "publish":
        entry_id = (review.entry_id.data or "").strip()
        if entry_id and not entry_id.isdigit():
            raise ValidationFailed("validation_failed", "Give an entry number.", {"entry_id": "Give an entry number."})
        ops.publish_proposal(item, current_user, item.version, int(entry_id) if entry_id else None)
