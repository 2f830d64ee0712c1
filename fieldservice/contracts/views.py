"""Console pages: agreements (list, expiring, detail, create, edit, renew) and agreement types."""

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from fieldservice.auth.permissions import can, require
from fieldservice.console.navigation import add_home_card, add_nav
from fieldservice.contracts import maintenance
from fieldservice.contracts import operations as ops
from fieldservice.contracts.forms import (
    CHARGING_LABELS,
    SERVICE_ITEM_LABELS,
    STATUS_LABELS,
    AgreementForm,
    AgreementTypeForm,
    RenewForm,
)
from fieldservice.contracts.models import Agreement, AgreementType
from fieldservice.contracts.panels import agreement_panels
from fieldservice.contracts.permissions import (
    CONTRACTS_READ,
    CONTRACTS_WRITE,
)
from fieldservice.contracts.schemas import (
    AGREEMENT_STATUSES,
    AgreementArgs,
    AgreementTypeArgs,
    AgreementTypeUpdateArgs,
    AgreementUpdateArgs,
    RenewArgs,
)
from fieldservice.core import clock
from fieldservice.core.errors import ApiError, Conflict
from fieldservice.core.forms import apply_api_error
from fieldservice.core.models import get_or_404
from fieldservice.customers.forms import load_form
from fieldservice.customers.panels import customer_panels
from fieldservice.customers.schemas import updatable
from fieldservice.extensions import db

bp = Blueprint("contracts", __name__, template_folder="templates")

PER_PAGE = 25
# The list's extra filter: expiring soon and not renewed yet, the renewal worklist.
TO_RENEW = "to_renew"

add_nav("contracts.index", _l("Agreements"), CONTRACTS_READ, order=30, group="customers")
add_nav("contracts.types", _l("Agreement types"), CONTRACTS_WRITE, order=35, group="customers")


@bp.app_context_processor
def _labels() -> dict:
    return {
        "charging_labels": CHARGING_LABELS,
        "service_item_labels": SERVICE_ITEM_LABELS,
        "agreement_status_labels": STATUS_LABELS,
    }


def _to_renew_card() -> dict:
    count = db.session.scalar(sa.select(sa.func.count()).select_from(ops.expiring_agreements().subquery()))
    return {
        "label": _("Agreements to renew (next %(days)s days)", days=ops.EXPIRING_DAYS),
        "value": count,
        "url": url_for("contracts.index", status=TO_RENEW),
        "tone": "warn" if count else "good",
    }


add_home_card("contracts_to_renew", CONTRACTS_WRITE, _to_renew_card, order=40)
customer_panels.add(
    "contracts/_customer_panel.html",
    lambda customer: {
        "agreements": ops.customer_agreements(customer.id),
        "can_write": can(current_user, CONTRACTS_WRITE),
    },
    CONTRACTS_READ,
)


def _is_stale(exc: Exception) -> bool:
    return isinstance(exc, StaleDataError) or (isinstance(exc, Conflict) and exc.code == "stale_version")


def save_form(form, schema, save, extra: dict | None = None):
    """Validate *form* with the API's *schema*, run *save(data)* and commit once: (saved, HTTP status).

    Refusals go on the form's fields. A stale edit saves nothing and says so; the user reloads to see it.
    """
    if not form.validate_on_submit():
        return None, 422 if form.errors else 200
    data = load_form(form, schema, extra)
    if data is None:
        return None, 422
    try:
        saved = save(data)
        db.session.commit()
    except (ApiError, StaleDataError) as exc:
        db.session.rollback()
        if _is_stale(exc):
            form.form_errors.append(
                _(
                    "Someone else changed this record while you were editing it. "
                    "Nothing was saved: reload the page."
                )
            )
            return None, 409
        return None, apply_api_error(form, exc)
    return saved, 200


# Agreements -------------------------------------------------------------------------------------------------


@bp.route("/contracts")
@require(CONTRACTS_READ)
def index():
    q = request.args.get("q", "").strip()
    status = request.args.get("status") or None
    customer_id = request.args.get("customer_id", type=int)
    page = max(request.args.get("page", 1, type=int), 1)
    if status == TO_RENEW:
        query = ops.expiring_agreements()
    else:
        query = ops.search_agreements(customer_id, status if status in AGREEMENT_STATUSES else None, q)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    return render_template(
        "contracts/list.html",
        agreements=pagination.items,
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        q=q,
        status=status,
        statuses=[*AGREEMENT_STATUSES, TO_RENEW],
        today=clock.today(),
        can_write=can(current_user, CONTRACTS_WRITE),
    )


@bp.route("/contracts/<int:agreement_id>")
@require(CONTRACTS_READ)
def detail(agreement_id: int):
    agreement = get_or_404(Agreement, agreement_id, "agreement")
    return render_template(
        "contracts/detail.html",
        agreement=agreement,
        status=agreement.status_on(clock.today()),
        equipment=maintenance.equipment_for(agreement),
        panels=agreement_panels.render(agreement, current_user),
        can_write=can(current_user, CONTRACTS_WRITE),
    )


def _prefill_from_type(form: AgreementForm, type_id: int | None) -> None:
    """A chosen agreement type fills the form with its terms (the user may then change any of them)."""
    agreement_type = db.session.get(AgreementType, type_id) if type_id else None
    if agreement_type is None:
        return
    form.type_id.data = str(agreement_type.id)
    form.name.data = agreement_type.name
    for name in ops.TERM_FIELDS:
        value = getattr(agreement_type, name)
        form[name].data = value if name == "service_items" else ("" if value is None else str(value))


@bp.route("/contracts/new", methods=["GET", "POST"])
@require(CONTRACTS_WRITE)
def new_agreement():
    form = AgreementForm()
    if request.method == "GET":
        form.customer_id.data = request.args.get("customer_id", "")
        today = clock.today()
        form.starts_on.data = today.isoformat()
        form.ends_on.data = (clock.add_months(today, 12) - timedelta(days=1)).isoformat()
        _prefill_from_type(form, request.args.get("type_id", type=int))
    customer_id = int(form.customer_id.data) if (form.customer_id.data or "").isdigit() else None
    form.fill_choices(customer_id)
    return _agreement_form_page(
        form, AgreementArgs(), lambda data: ops.create_agreement(data, current_user), None
    )


def _agreement_form_page(form: AgreementForm, schema, save, agreement: Agreement | None):
    """Save the agreement form and go to the agreement, or show the form again with what was refused."""
    saved, status = save_form(form, schema, save)
    if saved is not None:
        message = _("Agreement %(number)s saved.") if agreement else _("Agreement %(number)s created.")
        flash(message % {"number": saved.number}, "success")
        return redirect(url_for("contracts.detail", agreement_id=saved.id))
    return render_template("contracts/agreement_form.html", form=form, agreement=agreement), status


@bp.route("/contracts/<int:agreement_id>/edit", methods=["GET", "POST"])
@require(CONTRACTS_WRITE)
def edit_agreement(agreement_id: int):
    agreement = get_or_404(Agreement, agreement_id, "agreement")
    form = AgreementForm(obj=agreement)
    form.fill_choices(agreement.customer_id)
    return _agreement_form_page(
        form,
        updatable(AgreementUpdateArgs),
        lambda data: ops.update_agreement(agreement, data, current_user),
        agreement,
    )


@bp.route("/contracts/<int:agreement_id>/renew", methods=["GET", "POST"])
@require(CONTRACTS_WRITE)
def renew_agreement(agreement_id: int):
    agreement = get_or_404(Agreement, agreement_id, "agreement")
    form = RenewForm()
    if request.method == "GET":
        starts_on, ends_on = ops.next_period(agreement)
        form.starts_on.data, form.ends_on.data = starts_on.isoformat(), ends_on.isoformat()
        form.version.data = agreement.version
    renewal, status = save_form(
        form, RenewArgs(), lambda data: ops.renew_agreement(agreement, data, current_user)
    )
    if renewal is not None:
        flash(_("Agreement %(old)s renewed as %(new)s.", old=agreement.number, new=renewal.number), "success")
        return redirect(url_for("contracts.detail", agreement_id=renewal.id))
    return render_template("contracts/renew_form.html", form=form, agreement=agreement), status


# Agreement types --------------------------------------------------------------------------------------------


@bp.route("/contracts/types")
@require(CONTRACTS_WRITE)
def types():
    rows = db.session.scalars(
        sa.select(AgreementType).order_by(AgreementType.active.desc(), AgreementType.id)
    )
    return render_template("contracts/types.html", types=rows.all())


@bp.route("/contracts/types/new", methods=["GET", "POST"])
@require(CONTRACTS_WRITE)
def new_type():
    form = AgreementTypeForm()
    saved, status = save_form(
        form, AgreementTypeArgs(), lambda data: ops.create_agreement_type(data, current_user)
    )
    if saved is not None:
        flash(_("Agreement type %(name)s created.", name=saved.name), "success")
        return redirect(url_for("contracts.types"))
    return render_template("contracts/type_form.html", form=form, agreement_type=None), status


@bp.route("/contracts/types/<int:type_id>/edit", methods=["GET", "POST"])
@require(CONTRACTS_WRITE)
def edit_type(type_id: int):
    agreement_type = get_or_404(AgreementType, type_id, "agreement type")
    form = AgreementTypeForm(obj=agreement_type)
    saved, status = save_form(
        form,
        updatable(AgreementTypeUpdateArgs),
        lambda data: ops.update_agreement_type(agreement_type, data, current_user),
    )
    if saved is not None:
        flash(_("Agreement type %(name)s saved.", name=saved.name), "success")
        return redirect(url_for("contracts.types"))
    return render_template("contracts/type_form.html", form=form, agreement_type=agreement_type), status
