"""The console's home page, the menu every page shows, and the holiday calendar's admin page."""

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fieldservice.auth.permissions import CALENDAR_MANAGE, CONSOLE, require
from fieldservice.console.navigation import add_nav, grouped_menu_for, home_cards_for
from fieldservice.console.panels import home_panels
from fieldservice.core import clock
from fieldservice.core.errors import ApiError
from fieldservice.core.forms import CALENDAR_KIND_LABELS, CalendarDayForm, apply_api_error
from fieldservice.extensions import db

bp = Blueprint("console", __name__, template_folder="templates")

add_nav("console.calendar", _l("Holiday calendar"), CALENDAR_MANAGE, order=895, group="system")


@bp.route("/home")
@require(CONSOLE)
def home():
    return render_template(
        "console/home.html",
        menu=grouped_menu_for(current_user),
        cards=home_cards_for(current_user),
        panels=home_panels.render(current_user, current_user),
    )


@bp.app_context_processor
def _inject_menu():
    return {"nav_menu": grouped_menu_for(current_user) if current_user and current_user.is_authenticated else []}


def _render_calendar(form: CalendarDayForm, year: int, status: int = 200):
    return render_template(
        "console/calendar.html", form=form, year=year, days=clock.calendar_year(year), kinds=CALENDAR_KIND_LABELS
    ), status


@bp.route("/admin/calendar")
@require(CALENDAR_MANAGE)
def calendar():
    year = request.args.get("year", type=int) or clock.today().year
    if not 1900 < year < 3000:
        abort(404)
    return _render_calendar(CalendarDayForm(), year)


@bp.route("/admin/calendar", methods=["POST"])
@require(CALENDAR_MANAGE)
def add_calendar_day():
    form = CalendarDayForm()
    year = form.day.data.year if form.day.data else clock.today().year
    if not form.validate_on_submit():
        return _render_calendar(form, year, 422)
    try:
        entry = clock.add_calendar_day(
            {"day": form.day.data, "kind": form.kind.data, "name_zh": form.name_zh.data, "name_en": form.name_en.data},
            current_user,
        )
    except ApiError as exc:
        db.session.rollback()
        return _render_calendar(form, year, apply_api_error(form, exc))
    db.session.commit()
    flash(_("%(day)s added to the calendar.", day=entry.day.isoformat()), "success")
    return redirect(url_for("console.calendar", year=entry.day.year))


@bp.route("/admin/calendar/<day>/delete", methods=["POST"])
@require(CALENDAR_MANAGE)
def delete_calendar_day(day: str):
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    try:
        clock.delete_calendar_day(when, current_user)
    except ApiError:
        db.session.rollback()
        abort(404)
    db.session.commit()
    flash(_("%(day)s removed from the calendar.", day=when.isoformat()), "success")
    return redirect(url_for("console.calendar", year=when.year))
