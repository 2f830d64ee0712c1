"""Console pages of the request loop: intake, the list with saved filters, the detail page, problem types."""

from datetime import datetime, timedelta

import marshmallow as ma
import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload

from fieldservice.auth.permissions import require
from fieldservice.console.navigation import add_home_card, add_nav
from fieldservice.console.panels import home_panels
from fieldservice.contracts.panels import agreement_panels
from fieldservice.contracts.permissions import CONTRACTS_READ
from fieldservice.core.clock import local_date, site_zone
from fieldservice.core.errors import ApiError
from fieldservice.core.forms import apply_api_error
from fieldservice.core.models import utcnow
from fieldservice.customers.categories import CATEGORIES, category_label
from fieldservice.customers.models import Customer, Equipment, Product
from fieldservice.customers.operations import customer_zones, search_customers
from fieldservice.customers.panels import customer_panels
from fieldservice.engineers.models import Engineer
from fieldservice.extensions import db
from fieldservice.requests import maintenance, saved_filters, signals
from fieldservice.requests import operations as ops
from fieldservice.requests.forms import (
    ACTION_FORMS,
    CHANNEL_LABELS,
    COVERAGE_LABELS,
    OUTCOME_LABELS,
    PRIORITY_LABELS,
    WORK_KINDS,
    DetailsForm,
    IntakeForm,
    ProblemTypeForm,
    SaveFilterForm,
    action_payload,
)
from fieldservice.requests.models import ProblemType, RequestEvent, ServiceRequest
from fieldservice.requests.panels import request_panels
from fieldservice.requests.permissions import LOCKED_WORK, PROBLEM_TYPES_MANAGE, REQUESTS_CREATE, REQUESTS_READ
from fieldservice.requests.schemas import RequestQueryArgs
from fieldservice.requests.states import (
    ACTION_LABELS,
    ACTIVE,
    AWAITING,
    DISPATCH,
    EDITABLE_FIELDS,
    LOCKED,
    OPEN,
    STATUS_LABELS,
    STATUSES,
    event_note,
)

bp = Blueprint(
    "requests",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/requests",
)

PER_PAGE = 25
HISTORY_SIZE = 10

add_nav("requests.index", _l("Service requests"), REQUESTS_READ, order=10, group="requests")
add_nav("requests.new", _l("New request"), REQUESTS_CREATE, order=11, group="requests")
add_nav("requests.problem_types", _l("Problem types"), PROBLEM_TYPES_MANAGE, order=80, group="system")


@bp.app_template_global()
def request_status_label(status: str | None) -> str:
    return str(STATUS_LABELS.get(status, status or ""))


@bp.app_template_global()
def request_action_label(action: str | None) -> str:
    return str(ACTION_LABELS.get(action, action or ""))


bp.add_app_template_global(event_note, "request_event_note")


def _problem_type_labels() -> dict[str, str]:
    locale = "en" if str(get_locale()) == "en" else "zh"
    return {p.code: p.label(locale) for p in ops.problem_types(active_only=False)}


def _open_count() -> dict:
    late = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ServiceRequest)
        .where(ServiceRequest.status.in_(tuple(ACTIVE)), ServiceRequest.required_by < utcnow())
    )
    return {
        "label": _("Overdue requests"),
        "value": late,
        "url": url_for("requests.index", overdue="true"),
        "tone": "bad" if late else "good",
    }


add_home_card("requests_overdue", REQUESTS_CREATE, _open_count, order=10)

HOME_ROWS = 8


def _home_queue(user) -> dict:
    """The dispatcher's queue: requests awaiting assignment, the most urgent (earliest required date) first."""
    query = (
        ops.filter_requests(ops.visible_requests(user), status=[AWAITING], sort="due")
        .options(*LIST_LOADS)
        .limit(HOME_ROWS)
    )
    waiting = db.session.scalar(
        sa.select(sa.func.count()).select_from(ServiceRequest).where(ServiceRequest.status == AWAITING)
    )
    return {
        "rows": db.session.scalars(query).unique().all(),
        "total": waiting,
        "now": utcnow(),
        "problem_labels": _problem_type_labels(),
    }


def _home_locked(user) -> dict:
    """The manager's: locked requests (theirs to act on) and open ones past their required date."""
    late = sa.and_(ServiceRequest.status.in_(tuple(ACTIVE)), ServiceRequest.required_by < utcnow())
    query = (
        sa.select(ServiceRequest)
        .where(sa.or_(ServiceRequest.status == LOCKED, late))
        .order_by((ServiceRequest.status == LOCKED).desc(), ServiceRequest.required_by, ServiceRequest.id)
        .options(*LIST_LOADS)
        .limit(HOME_ROWS)
    )
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(ServiceRequest).where(sa.or_(ServiceRequest.status == LOCKED, late))
    )
    return {
        "rows": db.session.scalars(query).unique().all(),
        "total": total,
        "now": utcnow(),
        "problem_labels": _problem_type_labels(),
    }


home_panels.add("requests/_home_queue.html", _home_queue, REQUESTS_CREATE)
home_panels.add("requests/_home_locked.html", _home_locked, LOCKED_WORK)


def _customer_equipment(customer_id: int) -> list:
    return db.session.scalars(
        sa.select(Equipment)
        .where(Equipment.customer_id == customer_id)
        .options(selectinload(Equipment.product))
        .order_by(Equipment.serial_number)
    ).all()


def _customer_history(customer) -> dict:
    """What the dispatcher sees of a customer at intake: earlier requests, equipment, coverage now."""

    earlier = db.session.scalars(
        sa.select(ServiceRequest)
        .where(ServiceRequest.customer_id == customer.id)
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        .limit(HISTORY_SIZE)
    ).all()
    equipment = _customer_equipment(customer.id)
    return {
        "earlier_requests": earlier,
        "equipment": equipment,
        # The customer's agreement; a unit's warranty shows on its row (the preview names the chosen unit's).
        "coverage": ops.coverage_at(customer.id, None, utcnow()),
        "today": local_date(utcnow()),
        "problem_labels": _problem_type_labels(),
    }


customer_panels.add("requests/_customer_history.html", _customer_history, REQUESTS_READ)


def _agreement_requests(agreement, limit: int = 20) -> dict:
    query = (
        sa.select(ServiceRequest)
        .where(ServiceRequest.agreement_id == agreement.id)
        .order_by(ServiceRequest.created_at.desc())
        .limit(limit)
    )
    return {"service_requests": list(db.session.scalars(query))}


def _agreement_maintenance(agreement) -> dict:
    return {"schedule": maintenance.schedule_of(agreement)}


agreement_panels.add("requests/_agreement_maintenance.html", _agreement_maintenance, CONTRACTS_READ)
agreement_panels.add("requests/_agreement_requests.html", _agreement_requests, CONTRACTS_READ)


# The list
# ----------------------------------------------------------------------------------------------------------


# Actions that end or give up work: shown in red, taken only after a second, explicit click.
DANGER_ACTIONS = frozenset({"cancel", "hand_back"})

# The console's list opens on the work still to do; "all" shows closed and cancelled requests too.
ALL_STATUSES = "all"


def _list_filters(args) -> dict:
    """The API's list arguments from the page's query string; a value that does not parse is dropped."""
    schema = RequestQueryArgs()
    raw = {k: v for k, v in args.items() if k in schema.fields and v.strip()}
    if raw.get("status") == ALL_STATUSES:
        del raw["status"]
    elif "status" not in raw:
        raw["status"] = ",".join(s for s in STATUSES if s in OPEN)
    try:
        return schema.load(raw)
    except ma.ValidationError as exc:
        return schema.load({k: v for k, v in raw.items() if k not in exc.messages})


def _engineer_choices():
    return db.session.scalars(sa.select(Engineer).where(Engineer.active).order_by(Engineer.name)).all()


# The console's list shows the request's customer, product, equipment and engineer: joined into the page's query.
LIST_LOADS = (
    joinedload(ServiceRequest.customer),
    joinedload(ServiceRequest.product),
    joinedload(ServiceRequest.equipment),
    joinedload(ServiceRequest.engineer),
)


@bp.route("/requests")
@require(REQUESTS_READ)
def index():
    filters = _list_filters(request.args)
    page, per_page = filters.pop("page"), PER_PAGE
    filters.pop("per_page")
    known = ops.listed_total(current_user, **filters)
    try:
        listed = ops.request_page(ops.visible_requests(current_user), page, per_page, total=known, **filters)
    except ops.PastSearchWindow as past:  # the window's last page instead
        flash(_("A search shows its first %(count)s matches: narrow it to see the others.", count=past.window))
        last = (past.window - 1) // per_page + 1
        return redirect(url_for("requests.index", **dict(request.args, page=last)))
    items = db.session.scalars(listed.select.options(*LIST_LOADS)).all()
    dispatching = current_user.role in DISPATCH
    return render_template(
        "requests/list.html",
        requests=items,
        total=listed.total,
        total_capped=listed.capped,
        page=page,
        per_page=per_page,
        filters=filters,
        statuses=STATUSES,
        priorities=PRIORITY_LABELS,
        zones=customer_zones() if dispatching else [],
        engineers=_engineer_choices() if dispatching else [],
        saved=saved_filters.filters_for(current_user),
        save_form=SaveFilterForm(formdata=None, query=request.query_string.decode()),
        problem_labels=_problem_type_labels(),
        appointments=signals.appointments_of(sr.id for sr in items),
        now=utcnow(),
    )


@bp.route("/requests/filters", methods=["POST"])
@require(REQUESTS_READ)
def save_filter():
    form = SaveFilterForm()
    query = form.query.data or ""
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("requests.index") + ("?" + query if query else ""))
    try:
        saved = saved_filters.save_filter(current_user, form.name.data, query)
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        flash(" ".join(_(m) for m in exc.fields.values()) or _(exc.message), "error")
        return redirect(url_for("requests.index") + ("?" + query if query else ""))
    flash(_("Filter %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("requests.index") + "?" + saved.query)


@bp.route("/requests/filters/<int:filter_id>/delete", methods=["POST"])
@require(REQUESTS_READ)
def delete_filter(filter_id: int):
    saved_filters.delete_filter(current_user, filter_id)
    db.session.commit()
    flash(_("Filter deleted."), "success")
    return redirect(url_for("requests.index"))


# Intake
# ------------------------------------------------------------------------------------------------------------


def _customer_matches(q: str):
    if not q.strip():
        return []
    return db.session.scalars(search_customers(q.strip()).limit(10)).all()


def _local_input(value: datetime) -> str:
    """A UTC time as a datetime-local input value in the site's time zone, rounded up to a quarter hour."""
    local = value.astimezone(site_zone())
    local += timedelta(minutes=(15 - local.minute % 15) % 15)
    return local.strftime("%Y-%m-%dT%H:%M")


def _due_preview(priority: int, customer, equipment_id: int | None) -> dict:
    """The due times this request would get now, and the default required date (the response due)."""
    now = utcnow()
    coverage = ops.coverage_at(customer.id, equipment_id, now) if customer else None
    response_due, resolution_due = ops.due_times(priority, now, coverage)
    return {
        "priority": priority,
        "coverage": coverage,
        "response_due": response_due,
        "resolution_due": resolution_due,
        "default_required": _local_input(response_due),
    }


def _intake_choices(form: IntakeForm, customer) -> None:
    locale = "en" if str(get_locale()) == "en" else "zh"
    form.problem_type.choices = [("", "—")] + [(p.code, p.label(locale)) for p in ops.problem_types()]
    units = _customer_equipment(customer.id) if customer is not None else []
    form.equipment_id.choices = [(None, "—")] + [(u.id, f"{u.serial_number} · {u.product.name}") for u in units]
    products = db.session.scalars(sa.select(Product).order_by(Product.name)).all()
    form.product_id.choices = [(None, "—")] + [(p.id, f"{p.name} ({p.model})") for p in products]
    form.service_category.choices = [("", "—")] + [(c, category_label(c)) for c in CATEGORIES]


def _intake_data(form: IntakeForm) -> dict:
    required = form.required_by.data
    return {
        "customer_id": form.customer_id.data,
        "problem_type": form.problem_type.data,
        "product_id": form.product_id.data,
        "equipment_id": form.equipment_id.data,
        "service_category": form.service_category.data or None,
        "priority": form.priority.data,
        "required_by": required.replace(tzinfo=site_zone()) if required else None,
        "channel": form.channel.data,
        "description": (form.description.data or "").strip(),
        "contact_name": form.contact_name.data or None,
        "contact_phone": form.contact_phone.data or None,
        "suspended": form.suspended.data,
    }


@bp.route("/requests/new", methods=["GET", "POST"])
@require(REQUESTS_CREATE)
def new():
    customer_id = request.values.get("customer_id", type=int)
    customer = db.session.get(Customer, customer_id) if customer_id else None
    form = IntakeForm()
    _intake_choices(form, customer)
    status = 200
    if request.method == "GET":
        form.customer_id.data = customer.id if customer else None
        if customer is not None:
            form.contact_name.data, form.contact_phone.data = customer.name, customer.phone
        form.required_by.data = datetime.strptime(
            _due_preview(form.priority.data, customer, None)["default_required"], "%Y-%m-%dT%H:%M"
        )
    elif form.validate_on_submit():
        try:
            sr = ops.create_request(_intake_data(form), current_user)
            db.session.commit()
        except ApiError as exc:
            db.session.rollback()
            status = apply_api_error(form, exc)
        else:
            flash(_("Request %(number)s logged.", number=sr.number), "success")
            return redirect(url_for("requests.detail", request_id=sr.id))
    else:
        status = 422
    q = request.args.get("q", "")
    return render_template(
        "requests/intake.html",
        form=form,
        customer=customer,
        q=q,
        matches=_customer_matches(q),
        history=_customer_history(customer) if customer else None,
        preview=_due_preview(form.priority.data or 3, customer, form.equipment_id.data),
        coverage_labels=COVERAGE_LABELS,
    ), status


@bp.route("/requests/new/customers")
@require(REQUESTS_CREATE)
def customer_search():
    """The intake form's customer search (htmx partial)."""
    q = request.args.get("q", "")
    return render_template("requests/_customer_results.html", matches=_customer_matches(q), q=q)


@bp.route("/requests/new/due")
@require(REQUESTS_CREATE)
def due_preview():
    """The due times for the chosen priority and equipment (htmx partial): the required date's default."""
    priority = request.args.get("priority", 3, type=int)
    if priority not in ops.PRIORITY_TERMS:
        priority = 3
    customer_id = request.args.get("customer_id", type=int)
    customer = db.session.get(Customer, customer_id) if customer_id else None
    preview = _due_preview(priority, customer, request.args.get("equipment_id", type=int))
    return render_template("requests/_due_preview.html", preview=preview, coverage_labels=COVERAGE_LABELS)


# The detail page and its actions
# ---------------------------------------------------------------------------------


def _action_form(action: str, sr: ServiceRequest, formdata=None):
    form = ACTION_FORMS[action](formdata=formdata, prefix=action)
    if formdata is None:
        form.version.data = sr.version
        form.seen.data = _last_event_id(sr)
    if action == "assign":
        engineers = [e for e in _engineer_choices() if sr.service_category in e.skill_categories] or _engineer_choices()
        load = ops.open_load(e.id for e in engineers)
        form.engineer_id.choices = [(None, "—")] + [
            (e.id, f"{e.name} · {e.zone or ''} · {load[e.id]}/{e.max_open_jobs}") for e in engineers
        ]
    return form


def _last_event_id(sr: ServiceRequest) -> int:
    return db.session.scalar(sa.select(sa.func.max(RequestEvent.id)).where(RequestEvent.request_id == sr.id)) or 0


def _changes_since(sr: ServiceRequest, seen) -> list[RequestEvent]:
    """The timeline entries the user had not seen when they acted: who changed what meanwhile."""
    try:
        seen_id = int(seen or 0)
    except ValueError:
        seen_id = 0
    return db.session.scalars(
        sa.select(RequestEvent)
        .where(RequestEvent.request_id == sr.id, RequestEvent.id > seen_id)
        .order_by(RequestEvent.id)
    ).all()


def render_detail(sr: ServiceRequest, *, failed: str | None = None, form=None, stale=None, status: int = 200):
    """The request's page; a higher domain's view re-renders it with its refused form (its panel reads it)."""
    actions = ops.allowed_actions(sr, current_user)
    forms = {a: _action_form(a, sr) for a in actions if a in ACTION_FORMS}
    if failed and form is not None:
        forms[failed] = form
    clocks_stopped = not sr.is_open
    details_form = None
    if ops.may_edit_details(sr, current_user):
        details_form = form if failed == "details" else _details_form(sr)
    return render_template(
        "requests/detail.html",
        sr=sr,
        actions=actions,
        forms=forms,
        details_form=details_form,
        danger_actions=DANGER_ACTIONS,
        failed=failed,
        failed_form=form if failed else None,
        stale=stale,
        events=ops.timeline(sr),
        visits=sr.visits,
        surveys=ops.surveys(sr),
        clocks=_clocks(sr, clocks_stopped),
        problem_labels=_problem_type_labels(),
        channel_labels=CHANNEL_LABELS,
        coverage_labels=COVERAGE_LABELS,
        outcome_labels=OUTCOME_LABELS,
        priority_labels=PRIORITY_LABELS,
        now=utcnow(),
        panels=request_panels.render(sr, current_user),
    ), status


def _clocks(sr: ServiceRequest, stopped: bool) -> list[dict]:
    """The SLA clocks: each counts down to its due time and stops when met (or the request closed)."""
    return [
        {
            "key": "required",
            "label": _("Required by"),
            "due": sr.required_by,
            "stopped": stopped or sr.status not in ("awaiting_assignment", "assigned"),
            "breached": False,
        },
        {
            "key": "response",
            "label": _("Response due"),
            "due": sr.response_due,
            "stopped": stopped or sr.responded_at is not None,
            "breached": sr.response_breached,
            "met_at": sr.responded_at,
        },
        {
            "key": "resolution",
            "label": _("Resolution due"),
            "due": sr.resolution_due,
            "stopped": stopped or sr.resolved_at is not None,
            "breached": sr.resolution_breached,
            "met_at": sr.resolved_at,
        },
    ]


@bp.route("/requests/<int:request_id>")
@require(REQUESTS_READ)
def detail(request_id: int):
    return render_detail(ops.get_visible_request(request_id, current_user))


@bp.route("/requests/<int:request_id>/do/<action>", methods=["POST"])
@require(REQUESTS_READ)
def act(request_id: int, action: str):
    """Take one action from the detail page; a refusal re-renders the page with the reason."""
    if action not in ACTION_FORMS:
        abort(404)
    sr = ops.get_visible_request(request_id, current_user)
    form = _action_form(action, sr, formdata=request.form)
    stale = None
    if not form.validate_on_submit():
        return render_detail(sr, failed=action, form=form, status=422)
    try:
        version = int(form.version.data) if form.version.data else None
        ops.perform(sr, action, current_user, version, **action_payload(action, form))
        db.session.commit()
    except (ApiError, ValueError) as exc:
        db.session.rollback()
        if not isinstance(exc, ApiError):
            abort(400)
        status = apply_api_error(form, exc)
        sr = ops.get_visible_request(request_id, current_user)
        if exc.code == "stale_version":
            stale = _changes_since(sr, form.seen.data)
            # The user must look at the new state before trying again: the next post carries the current
            # version.
            form.version.data, form.seen.data = sr.version, _last_event_id(sr)
        return render_detail(sr, failed=action, form=form, stale=stale, status=status)
    flash(_("%(action)s: done.", action=request_action_label(action)), "success")
    if not ops.is_visible(sr.id, current_user):
        # An engineer handing a job back no longer sees it.
        return redirect(url_for("requests.index"))
    return redirect(url_for("requests.detail", request_id=sr.id))


def _details_form(sr: ServiceRequest, formdata=None) -> DetailsForm:
    form = DetailsForm(formdata=formdata, prefix="details")
    if formdata is None:
        form.version.data, form.seen.data = sr.version, _last_event_id(sr)
        for name in EDITABLE_FIELDS:
            getattr(form, name).data = getattr(sr, name)
    return form


@bp.route("/requests/<int:request_id>/details", methods=["POST"])
@require(REQUESTS_READ)
def edit_details(request_id: int):
    """Change the contact, the site address or the engineer's note; a stale version shows what changed."""
    sr = ops.get_visible_request(request_id, current_user)
    form = _details_form(sr, formdata=request.form)
    if not form.validate_on_submit():
        return render_detail(sr, failed="details", form=form, status=422)
    changes = {name: (getattr(form, name).data or "").strip() or None for name in EDITABLE_FIELDS}
    try:
        version = int(form.version.data) if form.version.data else None
        ops.edit_details(sr, changes, current_user, version)
        db.session.commit()
    except (ApiError, ValueError) as exc:
        db.session.rollback()
        if not isinstance(exc, ApiError):
            abort(400)
        status = apply_api_error(form, exc)
        sr = ops.get_visible_request(request_id, current_user)
        stale = None
        if exc.code == "stale_version":
            stale = _changes_since(sr, form.seen.data)
            form.version.data, form.seen.data = sr.version, _last_event_id(sr)
        return render_detail(sr, failed="details", form=form, stale=stale, status=status)
    flash(_("Details saved."), "success")
    return redirect(url_for("requests.detail", request_id=sr.id))


# Problem types
# -----------------------------------------------------------------------------------------------------


def _problem_type_data(form: ProblemTypeForm) -> dict:
    return {
        "name_zh": form.name_zh.data.strip(),
        "name_en": form.name_en.data.strip(),
        "category": form.category.data,
        "sort_order": form.sort_order.data or 0,
        "active": form.active.data,
    }


def _save_problem_type(form: ProblemTypeForm, save) -> tuple[object, int]:
    if not form.validate_on_submit():
        return None, 422
    try:
        saved = save()
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        return None, apply_api_error(form, exc)
    return saved, 200


@bp.route("/problem-types", methods=["GET", "POST"])
@require(PROBLEM_TYPES_MANAGE)
def problem_types():
    form = ProblemTypeForm()
    status = 200
    if request.method == "POST":
        saved, status = _save_problem_type(
            form,
            lambda: ops.create_problem_type({"code": form.code.data, **_problem_type_data(form)}, current_user),
        )
        if saved is not None:
            flash(_("Problem type %(code)s added.", code=saved.code), "success")
            return redirect(url_for("requests.problem_types"))
    counts = ops.problem_type_counts()
    return render_template(
        "requests/problem_types.html",
        form=form,
        types=ops.problem_types(active_only=False),
        counts=counts,
        kinds=WORK_KINDS,
    ), status


@bp.route("/problem-types/<int:problem_type_id>/edit", methods=["GET", "POST"])
@require(PROBLEM_TYPES_MANAGE)
def edit_problem_type(problem_type_id: int):
    problem_type = db.session.get(ProblemType, problem_type_id)
    if problem_type is None:
        abort(404)
    form = ProblemTypeForm(obj=problem_type)
    # The code is what requests refer to: it is shown, never edited.
    form.code.data = problem_type.code
    status = 200
    if request.method == "POST":
        saved, status = _save_problem_type(
            form,
            lambda: ops.update_problem_type(
                problem_type,
                {"version": int(form.version.data or 0), **_problem_type_data(form)},
                current_user,
            ),
        )
        if saved is not None:
            flash(_("Problem type %(code)s saved.", code=saved.code), "success")
            return redirect(url_for("requests.problem_types"))
        if status == 409:
            db.session.refresh(problem_type)
            form.version.data = problem_type.version
    return render_template("requests/problem_type_form.html", form=form, problem_type=problem_type), status
