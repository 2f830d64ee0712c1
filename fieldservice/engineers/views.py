"""Console pages: engineers (list, profile, forms, leave)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from fieldservice.auth.permissions import can, require
from fieldservice.console.navigation import add_nav
from fieldservice.core.errors import ApiError
from fieldservice.core.forms import apply_api_error
from fieldservice.core.models import utcnow
from fieldservice.customers.categories import CATEGORIES, category_label
from fieldservice.customers.forms import load_form
from fieldservice.engineers import operations as ops
from fieldservice.engineers import schedule
from fieldservice.engineers.api import search_engineers
from fieldservice.engineers.forms import WEEKDAYS, LeaveForm, engineer_form, local_to_iso
from fieldservice.engineers.panels import engineer_panels
from fieldservice.engineers.permissions import ENGINEERS_READ, ENGINEERS_WRITE
from fieldservice.engineers.schemas import EngineerArgs, EngineerUpdateArgs, LeaveArgs
from fieldservice.extensions import db

bp = Blueprint("engineers", __name__, template_folder="templates")

PER_PAGE = 25

add_nav("engineers.index", _l("Engineers"), ENGINEERS_READ, order=30, group="dispatch")


@bp.app_template_global()
def skill_labels(codes) -> str:
    return "、".join(category_label(c) for c in codes)


def _weekday_labels(engineer) -> str:
    return " ".join(str(label) for day, label in WEEKDAYS if day in engineer.weekdays)


# Engineers --------------------------------------------------------------------------------------------------


def _on_leave_now(engineers) -> set[int]:
    now = utcnow()
    return {e.id for e in engineers if schedule.on_leave([(lv.starts_at, lv.ends_at) for lv in e.leaves], now)}


@bp.route("/engineers")
@require(ENGINEERS_READ)
def index():
    args = {
        "q": request.args.get("q", "").strip(),
        "zone": request.args.get("zone") or None,
        "skill": request.args.get("skill") or None,
    }
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(search_engineers(args), page=page, per_page=PER_PAGE, error_out=False)
    engineers = pagination.items
    return render_template(
        "engineers/list.html",
        engineers=engineers,
        loads=ops.current_loads(e.id for e in engineers),
        on_leave=_on_leave_now(engineers),
        total=pagination.total,
        page=page,
        per_page=PER_PAGE,
        args=args,
        zones=ops.zones(),
        categories=CATEGORIES,
        weekday_labels=_weekday_labels,
        can_write=can(current_user, ENGINEERS_WRITE),
    )


def _save(form, schema, save, extra=None):
    """Load *form* through the API's *schema* and run *save(data)*, committing once. (saved, status)."""
    if not form.validate_on_submit():
        return None, 422 if form.errors else 200
    data = load_form(form, schema, extra)
    if data is None:
        return None, 422
    try:
        saved = save(data)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        form.form_errors.append(_("Someone else changed this record meanwhile. Reload it and try again."))
        return None, 409
    except ApiError as exc:
        db.session.rollback()
        return None, apply_api_error(form, exc)
    return saved, 200


def _profile_extra(form) -> dict:
    """The list fields, which load_form would send as they are but an empty list must still count."""
    return {"skills": form.skills.data or [], "work_days": form.work_days.data or [1, 2, 3, 4, 5]}


@bp.route("/engineers/new", methods=["GET", "POST"])
@require(ENGINEERS_WRITE)
def new_engineer():
    form = engineer_form()
    engineer, status = _save(
        form, EngineerArgs(), lambda data: ops.create_engineer(data, current_user), extra=_profile_extra(form)
    )
    if engineer is not None:
        flash(
            _(
                "Engineer %(name)s created, with the login %(username)s.",
                name=engineer.name,
                username=engineer.user.username,
            ),
            "success",
        )
        return redirect(url_for("engineers.profile", engineer_id=engineer.id))
    return render_template("engineers/form.html", form=form, engineer=None), status


@bp.route("/engineers/<int:engineer_id>/edit", methods=["GET", "POST"])
@require(ENGINEERS_WRITE)
def edit_engineer(engineer_id: int):
    engineer = ops.get_engineer(engineer_id)
    form = engineer_form(engineer)
    extra = _profile_extra(form) if request.method == "POST" else None
    saved, status = _save(
        form,
        EngineerUpdateArgs(),
        lambda data: ops.update_engineer(engineer, data, current_user),
        extra=extra,
    )
    if saved is not None:
        flash(_("Engineer %(name)s saved.", name=saved.name), "success")
        return redirect(url_for("engineers.profile", engineer_id=saved.id))
    if status == 409:
        # Show what is stored now, with the version the next save must send.
        db.session.refresh(engineer)
        errors = form.form_errors
        form = engineer_form(engineer)
        form.version.data = engineer.version
        form.form_errors.extend(errors)
    return render_template("engineers/form.html", form=form, engineer=engineer), status


def _render_profile(engineer, leave_form, status=200):
    now = utcnow()
    return render_template(
        "engineers/profile.html",
        engineer=engineer,
        load=ops.current_loads([engineer.id])[engineer.id],
        leave_form=leave_form,
        # The layers above add what they know of the engineer (their jobs, their figures).
        panels=engineer_panels.render(engineer, current_user),
        on_duty=schedule.on_duty(engineer, now),
        available_from=schedule.engineer_available_from(engineer, now),
        on_leave=engineer.id in _on_leave_now([engineer]),
        weekday_labels=_weekday_labels(engineer),
        can_write=can(current_user, ENGINEERS_WRITE),
        now=now,
    ), status


@bp.route("/engineers/<int:engineer_id>")
@require(ENGINEERS_READ)
def profile(engineer_id: int):
    return _render_profile(ops.get_engineer(engineer_id), LeaveForm(formdata=None))


@bp.route("/engineers/<int:engineer_id>/leaves", methods=["POST"])
@require(ENGINEERS_WRITE)
def add_leave(engineer_id: int):
    engineer = ops.get_engineer(engineer_id)
    form = LeaveForm()
    extra = {"starts_at": local_to_iso(form.starts_at.data), "ends_at": local_to_iso(form.ends_at.data)}
    if None in extra.values():
        # Let the schema say "required" for the empty ones.
        extra = {k: v for k, v in extra.items() if v is not None}
    leave, status = _save(form, LeaveArgs(), lambda data: ops.add_leave(engineer, data, current_user), extra=extra)
    if leave is not None:
        flash(_("Leave recorded."), "success")
        return redirect(url_for("engineers.profile", engineer_id=engineer.id))
    return _render_profile(engineer, form, status)


@bp.route("/engineers/<int:engineer_id>/leaves/<int:leave_id>/delete", methods=["POST"])
@require(ENGINEERS_WRITE)
def remove_leave(engineer_id: int, leave_id: int):
    engineer = ops.get_engineer(engineer_id)
    ops.remove_leave(engineer, leave_id, current_user)
    db.session.commit()
    flash(_("Leave removed."), "success")
    return redirect(url_for("engineers.profile", engineer_id=engineer.id))
